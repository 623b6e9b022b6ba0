/*
 * alloc.c -- the public allocation API (gc_malloc and friends), the slow
 * path that refills a thread's free list, large and huge objects, and the
 * allocation side of the heap policy.
 */
#include "alloc/alloc.h"

#include <errno.h>
#include <string.h>

#include "cgc.h"

#include "alloc/alloc_inline.h"
#include "alloc/span.h"
#include "alloc/tctx.h"
#include "base/track.h"
#include "heap/heap.h"
#include "obs/stats.h"
#include "sweep/reclaim.h"

/* ---- out of memory ---------------------------------------------------- */

/* Why: one place decides what a failed allocation returns -- the user's
 * handler, or NULL with errno ENOMEM.  Called without the heap lock so the
 * handler may call back into cgc. */
void *gc__oom(size_t n) {
  CGC_ASSERT_UNLOCKED();
  gc_oom_handler_t h = (gc_oom_handler_t)gc__load_acquire(&gc__heap.oom);
  if (h != NULL) return h(n);
  errno = ENOMEM;
  return NULL;
}

gc_oom_handler_t gc_set_oom_handler(gc_oom_handler_t handler) {
  gc__ensure_init();
  return (gc_oom_handler_t)gc__swap(&gc__heap.oom, (AO_t)handler);
}

/* ---- the heap policy -------------------------------------------------- */

/* Heap lock held.  Bytes freed with gc_free since the last look (added
 * without the lock) come off the allocation count first. */
static bool should_collect(size_t more) {
  CGC_ASSERT_LOCKED();
  size_t credit = (size_t)gc__load(&gc__heap.freed_credit);
  if (credit != 0) {
    gc__fetch_add(&gc__heap.freed_credit, (AO_t)0 - credit);
    gc__uncount_allocated(credit);
  }
  return gc__heap.disabled == 0 && gc__heap.since_gc + more >= gc__heap.trigger;
}

/* Take bytes back off the allocation count (freed, or never handed out),
 * never below zero.  Heap lock held. */
void gc__uncount_allocated(size_t bytes) {
  CGC_ASSERT_LOCKED();
  gc__heap.since_gc -= bytes < gc__heap.since_gc ? bytes : gc__heap.since_gc;
}

static void count_allocated(size_t bytes) {
  gc__heap.since_gc += bytes;
  gc__stats.allocated += bytes;
}

/* ---- small objects: refill a thread's free list ----------------------- */

/* Give the thread a new free list for (kind, cls): the next batch of the
 * span it owns, else from a span waiting to be swept, else (when the
 * policy says so) after a collection, else from a fresh span; collect once
 * more before giving up.  Heap lock held.  Returns the list, or NULL when
 * memory cannot be had -- or NULL with t->build set: a span claimed whose
 * list the caller builds once it has released the lock. */
static void *refill(gc_tctx_t *t, unsigned kind, unsigned cls) {
  CGC_ASSERT_LOCKED();
  gc_span_t *old = t->span[kind][cls];
  CGC_ASSERT(old == NULL || old->unbuilt == 0); /* the caller extends a tail without the lock */
  if (old != NULL && old->rest != NULL) {       /* the next batch of the owned span */
    size_t bytes;
    void *list = gc__span_next_batch(old, &bytes);
    count_allocated(bytes);
    return list;
  }
  if (old != NULL) { /* its free slots are all handed out: the span is full */
    old->owner = NULL;
    t->span[kind][cls] = NULL;
    if (gc__load(&old->freed) != 0) gc__queue_push(old); /* gc_free made room in it meanwhile */
  }
  bool collected = false;
  for (;;) {
    gc_span_t *sp;
    while ((sp = gc__queue_pop(kind, cls)) != NULL) {
      size_t bytes;
      void *list = gc__span_take(gc__segment_of((uintptr_t)sp), sp, t, &bytes);
      if (list != NULL || t->build != NULL) {
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
    /* A one-page span is zeroed slot by slot by its owner, out of the
     * lock (gc__span_build), rather than here with a memset. */
    bool scanned = gc__kind_scanned(kind), one = gc__classes[cls].pages == 1, dirty = false;
    sp = gc__pages_alloc(gc__classes[cls].pages, scanned && !one, &seg, &dirty);
    if (sp != NULL) {
      gc__span_init_small(seg, sp, kind, cls);
      if (scanned && dirty) sp->flags |= CGC_SPAN_ZERO_ALL;
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

/* ---- large and huge objects ------------------------------------------- */

/* One object in its own page run (or, past a segment, its own mapping).
 * Heap lock held.  Returns the object, zeroed if scanned, or 0. */
static uintptr_t alloc_large(size_t n, unsigned kind) {
  CGC_ASSERT_LOCKED();
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
      sp = gc__pages_alloc(need / CGC_PAGE_SIZE, gc__kind_scanned(kind), &seg, NULL);
      if (sp != NULL) {
        sp->state = CGC_PAGE_LARGE;
        sp->obj_size = need;
        obj = gc__span_base(seg, sp);
      }
    }
    if (obj != 0) {
      CGC_TRACK_ALLOC((void *)obj, sp->obj_size); /* its pages were poisoned in the pool */
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

/* ---- the slow path ---------------------------------------------------- */

/* Everything the inline fast path does not do: first allocation of a
 * thread, classes above CGC_DIRECT_MAX, refills, large objects, failure.
 * Heap lock NOT held (it takes it). */
CGC_NOINLINE void *gc__alloc_slow(size_t n, unsigned kind) {
  CGC_ASSERT_UNLOCKED();
  gc_tctx_t *t = gc__tl_ctx;
  /* A thread registered by pthread_create may allocate before anything
   * initialised the heap (acquire: pairs with init_once's release, so a
   * thread that sees it set also sees what start-up wrote). */
  if (CGC_UNLIKELY(!t->registered || !gc__is_initialized())) t = gc__thread_ctx();
  if (CGC_UNLIKELY(t == NULL)) return gc__oom(n);
  if (n <= CGC_SMALL_MAX) {
    unsigned cls = gc__size_to_class(n);
    void **head = &t->free[kind][cls];
    if (*head == NULL) {
      gc_span_t *own = t->span[kind][cls];
      void *list;
      if (own != NULL && own->unbuilt != 0) {
        list = gc__span_extend(own); /* the owner's own tail: no lock; counted when taken */
      } else {
        gc__lock();
        list = refill(t, kind, cls);
        gc__unlock();
        if (t->build != NULL) list = gc__span_build(t); /* claimed above, built unlocked */
      }
      if (list == NULL) return gc__oom(n);
      *head = list;
    }
    void *p = *head;
    CGC_TRACK_ALLOC(p, gc__classes[cls].size);
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

/* The public names are aliases of hidden definitions, so that calls from
 * inside libcgc never go through the PLT (a preloaded program could
 * interpose on them): tests/check-plt.sh. */
void *gc__malloc(size_t n) {
  if (CGC_LIKELY(n <= CGC_DIRECT_MAX)) return gc__alloc_fast(n, CGC_KIND_NORMAL);
  return gc__alloc_slow(n, CGC_KIND_NORMAL);
}
void *gc_malloc(size_t n) CGC_ALIAS(gc__malloc);

void *gc__malloc_atomic(size_t n) {
  if (CGC_LIKELY(n <= CGC_DIRECT_MAX)) return gc__alloc_fast(n, CGC_KIND_ATOMIC);
  return gc__alloc_slow(n, CGC_KIND_ATOMIC);
}
void *gc_malloc_atomic(size_t n) CGC_ALIAS(gc__malloc_atomic);

void *gc_calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) return gc__oom(SIZE_MAX);
  return gc__malloc(n);
}

static char *copy_string(const char *s, size_t len) {
  char *d = gc__malloc_atomic(len + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *gc_strndup(const char *s, size_t n) { return copy_string(s, strnlen(s, n)); }

char *gc_strdup(const char *s) { return copy_string(s, strlen(s)); }
