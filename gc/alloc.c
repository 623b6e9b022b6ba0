/*
 * alloc.c -- the public allocation API: gc_malloc and friends, the slow
 * path that refills a thread's free list, large and huge objects,
 * gc_free, gc_realloc, and the queries gc_size / gc_base.
 */
#include "internal.h"
#include "alloc_inline.h"
#include "options.h"
#include "stats.h"

#include <errno.h>
#include <string.h>

/* ---- out of memory ------------------------------------------------------ */

/* Why: one place decides what a failed allocation returns -- the user's
 * handler, or NULL with errno ENOMEM.  Called without the heap lock so the
 * handler may call back into cgc. */
void *gc__oom(size_t n) {
  gc_oom_handler_t h = __atomic_load_n(&gc__heap.oom, __ATOMIC_ACQUIRE);
  if (h != NULL) return h(n);
  errno = ENOMEM;
  return NULL;
}

gc_oom_handler_t gc_set_oom_handler(gc_oom_handler_t handler) {
  gc__ensure_init();
  return __atomic_exchange_n(&gc__heap.oom, handler, __ATOMIC_ACQ_REL);
}

/* ---- the heap policy ------------------------------------------------------- */

static bool should_collect(size_t more) {
  return gc__heap.disabled == 0 && gc__heap.since_gc + more >= gc__heap.trigger;
}

static void count_allocated(size_t bytes) {
  gc__heap.since_gc += bytes;
  gc__stats.allocated += bytes;
}

/* ---- small objects: refill a thread's free list ----------------------------- */

/* Give the thread a new free list for (kind, cls): the next batch of the
 * span it owns, else from a span waiting to be swept, else (when the
 * policy says so) after a collection, else from a fresh span; collect once
 * more before giving up.  Heap lock held.  Returns the list, or NULL when
 * memory cannot be had. */
static void *refill(gc_tctx_t *t, unsigned kind, unsigned cls) {
  gc_span_t *old = t->span[kind][cls];
  if (old != NULL && old->rest != NULL) { /* the next batch of the owned span */
    size_t bytes;
    void *list = gc__span_next_batch(old, &bytes);
    count_allocated(bytes);
    return list;
  }
  if (old != NULL) { /* its free slots are all handed out: the span is full */
    old->owner = NULL;
    t->span[kind][cls] = NULL;
    if (old->flags & CGC_SPAN_HAS_FREE) {
      old->flags &= (uint8_t)~CGC_SPAN_HAS_FREE;
      gc__queue_push(old);
    }
  }
  bool collected = false;
  for (;;) {
    gc_span_t *sp;
    while ((sp = gc__queue_pop(kind, cls)) != NULL) {
      size_t bytes;
      void *list = gc__span_take(gc__segment_of((uintptr_t)sp), sp, t, &bytes);
      if (list != NULL) {
        count_allocated(bytes);
        return list;
      }
    }
    if (!collected && should_collect(0)) {
      gc__collect_locked("allocation");
      collected = true;
      continue;
    }
    gc_segment_t *seg;
    sp = gc__pages_alloc(gc__classes[cls].pages, gc__kind_scanned(kind), &seg);
    if (sp != NULL) {
      gc__span_init_small(seg, sp, kind, cls);
      size_t bytes;
      void *list = gc__span_take(seg, sp, t, &bytes);
      count_allocated(bytes);
      return list;
    }
    if (collected || gc__heap.disabled) return NULL;
    gc__collect_locked("heap full");
    collected = true;
  }
}

/* ---- large and huge objects --------------------------------------------------- */

/* One object in its own page run (or, past a segment, its own mapping).
 * Heap lock held.  Returns the object, zeroed if scanned, or 0. */
static uintptr_t alloc_large(size_t n, unsigned kind) {
  size_t need = (n + CGC_PAGE_SIZE - 1) & ~(CGC_PAGE_SIZE - 1);
  bool huge = need > CGC_DATA_PAGES * CGC_PAGE_SIZE;
  bool collected = false;
  for (;;) {
    if (!collected && should_collect(need)) {
      gc__collect_locked("allocation");
      collected = true;
    }
    gc_segment_t *seg;
    gc_span_t *sp;
    uintptr_t obj = 0;
    if (huge) {
      seg = gc__huge_alloc(n);
      if (seg != NULL) {
        sp = &seg->spans[CGC_META_PAGES];
        obj = gc__huge_base(seg);
      }
    } else {
      sp = gc__pages_alloc(need / CGC_PAGE_SIZE, gc__kind_scanned(kind), &seg);
      if (sp != NULL) {
        sp->state = CGC_PAGE_LARGE;
        sp->obj_size = need;
        obj = gc__span_base(seg, sp);
      }
    }
    if (obj != 0) {
      sp->kind = (uint8_t)kind;
      gc__alloc_set(seg, gc__granule_index(seg, obj));
      count_allocated(sp->obj_size);
      return obj;
    }
    if (collected || gc__heap.disabled) return 0;
    gc__collect_locked("heap full");
    collected = true;
  }
}

/* ---- the slow path -------------------------------------------------------------- */

/* Everything the inline fast path does not do: first allocation of a
 * thread, classes above CGC_DIRECT_MAX, refills, large objects, failure. */
CGC_NOINLINE void *gc__alloc_slow(size_t n, unsigned kind) {
  gc_tctx_t *t = gc__tl_ctx;
  if (cgc_unlikely(!t->registered)) t = gc__thread_ctx();
  if (cgc_unlikely(t == NULL)) return gc__oom(n);
  if (n <= CGC_SMALL_MAX) {
    unsigned cls = gc__size_to_class(n);
    void **head = &t->free[kind][cls];
    if (*head == NULL) {
      gc__lock();
      *head = refill(t, kind, cls);
      gc__unlock();
      if (*head == NULL) return gc__oom(n);
    }
    void *p = *head;
    *head = *(void **)p;
    *(void **)p = NULL;
    return p;
  }
  if (n > PTRDIFF_MAX) return gc__oom(n);
  gc__lock();
  uintptr_t obj = alloc_large(n, kind);
  gc__unlock();
  return obj != 0 ? (void *)obj : gc__oom(n);
}

void *gc_malloc(size_t n) {
  if (cgc_likely(n <= CGC_DIRECT_MAX)) return gc__alloc_fast(n, CGC_KIND_NORMAL);
  return gc__alloc_slow(n, CGC_KIND_NORMAL);
}

void *gc_malloc_atomic(size_t n) {
  if (cgc_likely(n <= CGC_DIRECT_MAX)) return gc__alloc_fast(n, CGC_KIND_ATOMIC);
  return gc__alloc_slow(n, CGC_KIND_ATOMIC);
}

void *gc_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return gc__oom(SIZE_MAX);
  return gc_malloc(n);
}

static char *copy_string(const char *s, size_t len) {
  char *d = gc_malloc_atomic(len + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *gc_strndup(const char *s, size_t n) { return copy_string(s, strnlen(s, n)); }

char *gc_strdup(const char *s) { return copy_string(s, strlen(s)); }

/* ---- explicit release -------------------------------------------------------------- */

/* Resolve p, which the caller says is the start of a live object, or die
 * with a message that says what p really is.  Heap lock held. */
static uintptr_t checked_object(const void *p, const char *who, gc_segment_t **segp, gc_span_t **spp) {
  uintptr_t a = (uintptr_t)p;
  uintptr_t obj = gc__find_object(a, segp, spp);
  if (cgc_likely(obj == a)) return obj;
  gc__unlock();
  if (obj != 0)
    gc__fatal("%s(%p): pointer into the middle of the cgc object at %p; pass the start of the object",
              who, p, (void *)obj);
  if (gc__radix_lookup(a) != NULL)
    gc__fatal("%s(%p): not a live cgc object (already freed, or never returned by cgc)", who, p);
  gc__fatal("%s(%p): not a pointer returned by cgc (outside the cgc heap)", who, p);
}

/* Free the object at obj (validated).  Small: zero it (scanned kinds keep
 * I3), clear its alloc bit, and make sure its span is where an allocator
 * will find the slot.  Large and huge: give the pages back now. */
static void release(gc_segment_t *seg, gc_span_t *sp, uintptr_t obj) {
  size_t size = sp->obj_size;
  gc__stats.freed += size;
  /* Freed memory is reusable without a collection: take it off the
   * allocation budget, or realloc-heavy code would be charged twice for
   * the same bytes (once when first handed out, again when reused). */
  gc__heap.since_gc -= size < gc__heap.since_gc ? size : gc__heap.since_gc;
  if (seg->huge) {
    gc__huge_free(seg);
  } else if (sp->state == CGC_PAGE_LARGE) {
    gc__pages_free(seg, sp);
  } else {
    if (gc__kind_scanned(sp->kind)) memset((void *)obj, 0, size);
    size_t g = gc__granule_index(seg, obj);
    __atomic_fetch_and(&seg->bits[g >> 6].alloc, ~gc__bit(g), __ATOMIC_RELAXED);
    if (sp->owner != NULL)
      sp->flags |= CGC_SPAN_HAS_FREE;
    else if (!(sp->flags & CGC_SPAN_QUEUED))
      gc__queue_push(sp);
  }
}

void gc_free(void *p) {
  if (p == NULL) return;
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  gc__lock();
  uintptr_t obj = checked_object(p, "gc_free", &seg, &sp);
  release(seg, sp, obj);
  gc__unlock();
}

/* ---- realloc ------------------------------------------------------------------------ */

void *gc_realloc(void *p, size_t n) {
  if (p == NULL) return gc_malloc(n);
  if (n == 0) {
    gc_free(p);
    return NULL;
  }
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  gc__lock();
  checked_object(p, "gc_realloc", &seg, &sp);
  size_t old = sp->obj_size;
  unsigned kind = sp->kind;
  gc__unlock();
  /* In place when it fits and would not waste more than half the slot.
   * Scanned objects get the tail zeroed, so growing later reads zeros. */
  if (n <= old && (n >= old / 2 || old <= CGC_CLASS_LINEAR_MAX)) {
    if (gc__kind_scanned(kind)) memset((char *)p + n, 0, old - n);
    return p;
  }
  void *q = kind == CGC_KIND_ATOMIC ? gc_malloc_atomic(n) : gc_malloc(n);
  if (q == NULL) return NULL;
  memcpy(q, p, n < old ? n : old);
  gc_free(p);
  return q;
}

/* ---- queries ---------------------------------------------------------------------------- */

size_t gc_size(const void *p) {
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  gc__lock();
  size_t size = gc__find_object((uintptr_t)p, &seg, &sp) != 0 ? sp->obj_size : 0;
  gc__unlock();
  return size;
}

void *gc_base(const void *p) {
  gc__ensure_init();
  gc_segment_t *seg;
  gc_span_t *sp;
  gc__lock();
  uintptr_t obj = gc__find_object((uintptr_t)p, &seg, &sp);
  gc__unlock();
  return (void *)obj;
}
