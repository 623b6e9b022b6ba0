/*
 * span.h -- taking a span of one size class for a thread cache, building
 * and extending its free list, and giving it back (alloc/span.c).  The
 * lazy half of sweeping: a span's dead slots are zeroed when a thread
 * takes it.
 */
#ifndef CGC_SPAN_H
#define CGC_SPAN_H

#include <stddef.h>

#include "alloc/tctx.h"
#include "base/compiler.h"
#include "heap/layout.h"

/* Heap lock held. */
CGC_INTERNAL void gc__span_init_small(gc_segment_t *seg, gc_span_t *sp, unsigned kind, unsigned cls);
CGC_INTERNAL void *gc__span_take(gc_segment_t *seg, gc_span_t *sp, gc_tctx_t *t, size_t *free_bytes);
CGC_INTERNAL size_t gc__span_release(gc_segment_t *seg, gc_span_t *sp, void *free_list);
/* By sp's owner, with the heap lock (refill) or without it
 * (gc__span_build): sp->rest is the owner's until a release. */
CGC_INTERNAL void *gc__span_next_batch(gc_span_t *sp, size_t *bytes);
/* Without the heap lock: build the free list of the span gc__span_take
 * claimed for t (t->build) and return its first batch. */
CGC_INTERNAL void *gc__span_build(gc_tctx_t *t);
/* Without the heap lock, by sp's owner: link the next chunk of sp's
 * unlinked tail (sp->unbuilt != 0) and return it. */
CGC_INTERNAL void *gc__span_extend(gc_span_t *sp);

#endif /* CGC_SPAN_H */
