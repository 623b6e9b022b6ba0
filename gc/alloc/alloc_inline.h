/*
 * alloc_inline.h -- the allocation fast path.
 *
 * A request of at most CGC_DIRECT_MAX bytes pops the head of the calling
 * thread's free list for its size class.  No lock, no atomic, no counter:
 * accounting happens when a span is handed to the thread (sweep.c), and
 * the objects were zeroed by the sweeper, so only the link word is
 * cleared here.  The thread context starts as a sentinel whose lists are
 * all empty, so an uninitialised thread simply takes the slow path.
 *
 * Budget: 15 instructions from gc_malloc's entry to its `ret` on x86-64
 * (gcc 12 -O2, initial-exec TLS; libcgc.so and libcgc.a alike): callgrind
 * counts 15.0 Ir per call for a loop of one million gc_malloc(24) calls
 * (bench/fastpath.c; `make bench-callgrind` prints it).  One branch to
 * the noinline slow path (free list empty) besides the size check.  An
 * ASan build also unpoisons the slot it hands out (base/track.h).
 */
#ifndef CGC_ALLOC_INLINE_H
#define CGC_ALLOC_INLINE_H

#include "alloc/alloc.h"
#include "alloc/tctx.h"
#include "base/track.h"
#include "heap/geometry.h"
#include "heap/sizes.h"

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
