/*
 * alloc_inline.h -- the allocation fast path.
 *
 * A request of at most CGC_DIRECT_MAX bytes pops the head of the calling
 * thread's free list for its size class.  No lock, no atomic, no counter:
 * accounting happens when a span is handed to the thread (alloc/span.c), and
 * the objects were zeroed by the sweeper, so only the link word is
 * cleared here.  The thread context starts as a sentinel whose lists are
 * all empty, so an uninitialised thread simply takes the slow path.
 *
 * Budget: CGC_FAST_PATH_BUDGET instructions from gc_malloc's entry to its
 * `ret` on x86-64 (gcc 12 -O2, initial-exec TLS; libcgc.so and libcgc.a
 * alike).  Two checks fail past it:
 *   - tests/check-fastpath.sh (`make check`, optimised release builds
 *     only) disassembles gc_malloc and gc_malloc_atomic in libcgc.so and
 *     counts the straight line from the entry to the first `ret`, whose
 *     only branches may be the size check and the empty-list check, both
 *     to the noinline slow path (gc__alloc_slow);
 *   - `make bench-callgrind` counts the Ir per call of one million
 *     gc_malloc(24) and gc_malloc_atomic(24) calls under callgrind
 *     (bench/fastpath.c; refills amortised in; the measurements:
 *     docs/design/allocation.md).
 * An ASan build also unpoisons the slot it hands out (base/track.h).
 */
#ifndef CGC_ALLOC_INLINE_H
#define CGC_ALLOC_INLINE_H

#include "alloc/alloc.h"
#include "alloc/tctx.h"
#include "base/track.h"
#include "heap/geometry.h"
#include "heap/sizes.h"

/* The only place these numbers live: both checks read them from here. */
#define CGC_FAST_PATH_BUDGET 15
/* gc_malloc_atomic's lists lie CGC_NCLASSES words further into the
 * context: gcc 12 adds that to the class index instead of folding it into
 * the displacement, and returns the object from another register, so 17
 * (clang 14: 15). */
#define CGC_FAST_PATH_BUDGET_ATOMIC (CGC_FAST_PATH_BUDGET + 2)

CGC_INLINE void *gc__alloc_fast(size_t n, unsigned kind) {
  gc_tctx_t *t = gc__tl_ctx;
  unsigned cls = gc__direct_class[(n + CGC_GRANULE_SIZE - 1) >> CGC_GRANULE_SHIFT];
  void **head = &t->free[kind][cls];
  void *p = *head;
  if (CGC_UNLIKELY(p == NULL)) return gc__alloc_slow(n, kind);
  CGC_TRACK_ALLOC(p, gc__classes[cls].size); /* nothing unless ASan (base/track.h) */
  *head = *(void **)p;
  *(void **)p = NULL;
  return p;
}

#endif
