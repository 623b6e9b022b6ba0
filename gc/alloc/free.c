/*
 * free.c -- explicit release (gc_free), gc_realloc, and the queries
 * gc_size and gc_base: everything that starts from a pointer the program
 * hands back.
 */
#include <string.h>

#include "cgc.h"

#include "alloc/alloc.h"
#include "alloc/tctx.h"
#include "base/track.h"
#include "heap/heap.h"
#include "obs/stats.h"
#include "sweep/reclaim.h"

/* ---- explicit release ------------------------------------------------- */

/* Resolve p, which the caller says is the start of a live object, or die
 * with a message that says what p really is.  No lock: the descriptors of
 * a live object's span do not change while it lives. */
static uintptr_t checked_object(const void *p, const char *who, gc_segment_t **segp, gc_span_t **spp) {
  uintptr_t a = (uintptr_t)p;
  uintptr_t obj = gc__find_object(a, segp, spp);
  if (CGC_LIKELY(obj == a)) return obj;
  if (obj != 0)
    gc__fatal("%s(%p): pointer into the middle of the cgc object at %p; pass the start of the object", who, p,
              (void *)obj);
  if (gc__radix_lookup(a) != NULL)
    gc__fatal("%s(%p): not a live cgc object (already freed, or never returned by cgc)", who, p);
  gc__fatal("%s(%p): not a pointer returned by cgc (outside the cgc heap)", who, p);
}

/* Zero an object being freed.  Unchecked in an ASan build: a gc_free of
 * the same object racing with this one (a double free, which the caller's
 * CAS reports) may have poisoned it already; plain stores, because ASan
 * checks memset wherever it is called from. */
CGC_NO_SANITIZE_ADDRESS static void wipe(void *obj, size_t size) {
#if CGC_ASAN
  for (volatile uint64_t *w = obj, *end = w + size / sizeof *w; w < end; w++) *w = 0;
#else
  memset(obj, 0, size);
#endif
}

/* Free a small object, without the heap lock on the common path.  Zero
 * it first (scanned kinds keep I3) and poison it (an ASan build faults on
 * a use after free), then clear its alloc bit with a CAS --
 * finding it clear means another gc_free got there first: a double free.
 * The span's `freed` count tells whoever sweeps or lets go of it that it
 * has room.  Only the first free into a span that nobody owns and that is
 * not queued (a full span) takes the lock, to queue it. */
static void release_small(gc_segment_t *seg, gc_span_t *sp, uintptr_t obj, const void *p) {
  size_t size = sp->obj_size;
  if (gc__kind_scanned(sp->kind)) wipe((void *)obj, size);
  CGC_TRACK_FREE((void *)obj, size); /* before the bit: then a take may reuse the slot */
  if (!gc__alloc_clear_cas(seg, gc__granule_index(seg, obj)))
    gc__fatal("gc_free(%p): not a live cgc object (freed twice?)", p);
  if (gc__fetch_add1(&sp->freed) != 0) return; /* someone already saw to it */
  gc_tctx_t *t = gc__tl_ctx;
  if (t->span[sp->kind][sp->cls] == sp) return; /* ours: re-filed when we let go of it */
  gc__lock();
  if (sp->state == CGC_PAGE_SMALL && sp->owner == NULL && !(sp->flags & CGC_SPAN_QUEUED)) gc__queue_push(sp);
  gc__unlock();
}

/* Large and huge: give the pages back now (heap lock). */
static void release_big(gc_segment_t *seg, gc_span_t *sp, uintptr_t obj, const void *p) {
  gc__lock();
  if (!gc__alloc_test(seg, gc__granule_index(seg, obj))) {
    gc__unlock();
    gc__fatal("gc_free(%p): not a live cgc object (freed twice?)", p);
  }
  if (seg->huge)
    gc__huge_free(seg);
  else
    gc__pages_free(seg, sp);
  gc__unlock();
}

void gc__free(void *p) {
  CGC_ASSERT_UNLOCKED(); /* it may take the lock */
  if (p == NULL) return;
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  uintptr_t obj = checked_object(p, "gc_free", &seg, &sp);
  size_t size = sp->obj_size;
  if (!seg->huge && sp->state == CGC_PAGE_SMALL)
    release_small(seg, sp, obj, p);
  else
    release_big(seg, sp, obj, p);
  /* Freed memory is reusable without a collection: take it off the
   * allocation budget, or realloc-heavy code would be charged twice for
   * the same bytes (once when first handed out, again when reused). */
  gc__fetch_add(&gc__heap.freed_credit, size);
  gc__fetch_add(gc__word(&gc__stats.freed), size);
}
void gc_free(void *p) CGC_ALIAS(gc__free);

/* ---- realloc ---------------------------------------------------------- */

void *gc_realloc(void *p, size_t n) {
  if (p == NULL) return gc__malloc(n);
  if (n == 0) {
    gc__free(p);
    return NULL;
  }
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  checked_object(p, "gc_realloc", &seg, &sp);
  size_t old = sp->obj_size;
  unsigned kind = sp->kind;
  /* In place when it fits and would not waste more than half the slot.
   * Scanned objects get the tail zeroed, so growing later reads zeros. */
  if (n <= old && (n >= old / 2 || old <= CGC_CLASS_LINEAR_MAX)) {
    if (gc__kind_scanned(kind)) memset((char *)p + n, 0, old - n);
    return p;
  }
  void *q = kind == CGC_KIND_ATOMIC ? gc__malloc_atomic(n) : gc__malloc(n);
  if (q == NULL) return NULL;
  memcpy(q, p, n < old ? n : old);
  gc__free(p);
  return q;
}

/* ---- queries ---------------------------------------------------------- */

size_t gc_size(const void *p) {
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  return gc__find_object((uintptr_t)p, &seg, &sp) != 0 ? sp->obj_size : 0;
}

void *gc_base(const void *p) {
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  return (void *)gc__find_object((uintptr_t)p, &seg, &sp);
}
