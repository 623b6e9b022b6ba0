/*
 * cache.c -- thread caches: the calling thread's context pointer, the
 * empty sentinel it starts as, and giving a cache's spans back to the heap.
 */
#include "alloc/tctx.h"

#include "alloc/span.h"
#include "heap/heap.h"
#include "sweep/reclaim.h"

gc_tctx_t gc__tctx_empty; /* all lists empty: the fast path falls through */
__thread gc_tctx_t *gc__tl_ctx __attribute__((tls_model("initial-exec"))) = &gc__tctx_empty;

/* Hand every span that thread cache t owns back to the heap (I2 -> I1):
 * objects still on its free lists stop counting as allocated, and spans
 * with free slots go back on their sweep queue.  Returns the bytes that
 * were taken but never handed out.  Heap lock held. */
size_t gc__tctx_release(gc_tctx_t *t) {
  CGC_ASSERT_LOCKED();
  size_t unused = 0;
  for (unsigned k = 0; k < CGC_NKINDS; k++) {
    for (unsigned c = 0; c < CGC_NCLASSES; c++) {
      gc_span_t *sp = t->span[k][c];
      if (sp == NULL) continue;
      CGC_ASSERT(sp->owner == t); /* I2 */
      unused += gc__span_release(gc__segment_of((uintptr_t)sp), sp, t->free[k][c]);
      t->free[k][c] = NULL;
      t->span[k][c] = NULL;
      if (!(sp->flags & CGC_SPAN_QUEUED)) gc__queue_push(sp);
    }
  }
  return unused;
}

/* The collecting thread's caches, before anything is marked: it is in
 * the collector, not in the middle of a pop, so its cached free objects
 * can be taken back and its spans swept.  Other threads keep theirs (why:
 * I2, heap/layout.h). */
void gc__release_caches(void) {
  CGC_ASSERT_LOCKED();
  gc_tctx_t *self = gc__tl_ctx;
  if (self->registered) (void)gc__tctx_release(self);
}
