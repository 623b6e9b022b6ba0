/*
 * reclaim.h -- the eager half of sweeping (sweep/reclaim.c): the post-mark
 * pass over span descriptors and bitmaps, and the per-class sweep queues
 * of spans with free slots that it fills and the allocator drains.
 */
#ifndef CGC_RECLAIM_H
#define CGC_RECLAIM_H

#include "base/compiler.h"
#include "heap/layout.h"

/* Heap lock held.  A queued span is small, unowned and flagged
 * CGC_SPAN_QUEUED (I5). */
CGC_INTERNAL void gc__queue_push(gc_span_t *sp);
CGC_INTERNAL gc_span_t *gc__queue_pop(unsigned kind, unsigned cls);
/* Right after marking (world stopped): free empty spans and dead large
 * objects, turn each small span's bitmaps around, queue spans with room,
 * and set gc__heap.live. */
CGC_INTERNAL void gc__reclaim(void);

#endif /* CGC_RECLAIM_H */
