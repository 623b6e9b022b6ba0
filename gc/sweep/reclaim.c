/*
 * reclaim.c -- reclaiming dead objects: the post-mark pass and the sweep
 * queues.
 *
 * Right after marking, gc__reclaim makes one pass over the span
 * descriptors and the side bitmaps only (never the objects): spans with no
 * survivor go back to the page pool, dead large objects are freed, and
 * every other span that has a free slot is queued for its class.  The
 * same pass turns the bitmaps around for each small span:
 *     alloc := mark            (dead objects stop being objects at once)
 *     mark  := old alloc & ~mark   (the DEAD set: slots still to be zeroed)
 * The bytes of dead objects are zeroed later, lazily, when an allocating
 * thread takes the span (alloc/span.c: gc__span_take): sweeping touches a
 * page just before it is reused.  Heap lock held throughout.
 */
#include "sweep/reclaim.h"

#include <string.h>

#include "base/track.h"
#include "heap/heap.h"
#include "obs/stats.h"

/* ---- sweep queues ----------------------------------------------------- */

/* I5: only a small span that no thread owns is queued, once. */
void gc__queue_push(gc_span_t *sp) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(sp->state == CGC_PAGE_SMALL);
  CGC_ASSERT(sp->owner == NULL);
  CGC_ASSERT(!(sp->flags & CGC_SPAN_QUEUED));
  gc_span_t **q = &gc__heap.sweep_queue[sp->kind][sp->cls];
  sp->next = *q;
  *q = sp;
  sp->flags |= CGC_SPAN_QUEUED;
}

gc_span_t *gc__queue_pop(unsigned kind, unsigned cls) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(kind < CGC_NKINDS && cls < CGC_NCLASSES);
  gc_span_t **q = &gc__heap.sweep_queue[kind][cls];
  gc_span_t *sp = *q;
  if (sp != NULL) {
    CGC_ASSERT(sp->flags & CGC_SPAN_QUEUED);
    CGC_ASSERT(sp->owner == NULL);
    CGC_ASSERT(sp->state == CGC_PAGE_SMALL && sp->kind == kind && sp->cls == cls);
    *q = sp->next;
    sp->next = NULL;
    sp->flags &= (uint8_t)~CGC_SPAN_QUEUED;
  }
  return sp;
}

/* ---- the post-mark pass ----------------------------------------------- */

/* A span another thread owns: count its survivors and clear their marks,
 * nothing else (why: I2, heap/layout.h) -- its cached free objects look
 * like dead ones. */
static size_t reclaim_owned(gc_segment_t *seg, gc_span_t *sp) {
  CGC_ASSERT(!(sp->flags & CGC_SPAN_QUEUED)); /* I5 */
  size_t w0 = gc__span_page(seg, sp) * CGC_BITMAP_WORDS_PER_PAGE;
  size_t nw = (size_t)sp->npages * CGC_BITMAP_WORDS_PER_PAGE;
  size_t live = 0;
  for (size_t w = w0; w < w0 + nw; w++) {
    live += (size_t)__builtin_popcountll(seg->bits[w].mark);
    seg->bits[w].mark = 0;
  }
  sp->live = (uint32_t)live;
  return live * sp->obj_size;
}

/* Poison the slots of bitmap word w's DEAD set (base/track.h): a
 * program that still reaches one faults at its first touch. */
static void poison_dead(gc_segment_t *seg, size_t w, uint64_t dead, size_t size) {
  for (; dead != 0; dead &= dead - 1)
    CGC_TRACK_FREE((void *)((uintptr_t)seg + ((w * 64 + (size_t)__builtin_ctzll(dead)) << CGC_GRANULE_SHIFT)),
                   size);
}

/* Returns the live bytes of a small span and re-files it (see top). */
static size_t reclaim_small(gc_segment_t *seg, gc_span_t *sp) {
  if (sp->owner != NULL) return reclaim_owned(seg, sp);
  size_t w0 = gc__span_page(seg, sp) * CGC_BITMAP_WORDS_PER_PAGE;
  size_t nw = (size_t)sp->npages * CGC_BITMAP_WORDS_PER_PAGE;
  size_t live = 0;
  gc__store(&sp->freed, 0); /* its free slots are re-counted right here */
  uint64_t any_dead = 0;
  for (size_t w = w0; w < w0 + nw; w++) {
    uint64_t m = seg->bits[w].mark, a = seg->bits[w].alloc;
    uint64_t dead = a & ~m;
    live += (size_t)__builtin_popcountll(m);
    any_dead |= dead;
    if (CGC_ASAN) poison_dead(seg, w, dead, sp->obj_size);
    seg->bits[w].alloc = m;
    seg->bits[w].mark = dead;
  }
  /* A span still unswept from an earlier cycle lost that cycle's DEAD set
   * when the marks were cleared: zero every free slot when it is taken. */
  uint8_t flags = sp->flags & CGC_SPAN_ZERO_ALL;
  if (sp->flags & CGC_SPAN_UNSWEPT) flags |= CGC_SPAN_ZERO_ALL;
  if (any_dead) flags |= CGC_SPAN_UNSWEPT;
  sp->flags = flags;
  sp->live = (uint32_t)live;
  sp->next = NULL;
  if (live == 0) {
    gc__pages_free(seg, sp);
    gc__stats.spans_freed++;
    return 0;
  }
  if (live < sp->nobjs) gc__queue_push(sp);
  return live * sp->obj_size;
}

/* Returns the live bytes of a large object's span, freeing it if dead. */
static size_t reclaim_large(gc_segment_t *seg, gc_span_t *sp) {
  size_t g = gc__granule_index(seg, gc__span_base(seg, sp));
  if (gc__mark_test(seg, g)) {
    gc__mark_clear(seg, g);
    return sp->obj_size;
  }
  gc__pages_free(seg, sp);
  gc__stats.spans_freed++;
  return 0;
}

void gc__reclaim(void) {
  CGC_ASSERT_STOPPED();
  memset(gc__heap.sweep_queue, 0, sizeof gc__heap.sweep_queue);
  size_t live_kind[CGC_NKINDS] = {0};
  gc_segment_t *seg = gc__heap.segments;
  if (seg != NULL) {
    gc_segment_t *stop = seg->prev;
    for (;;) {
      gc_segment_t *next = seg->next;
      bool last = seg == stop;
      if (seg->huge) {
        gc_span_t *sp = &seg->spans[CGC_META_PAGES];
        size_t g = gc__granule_index(seg, gc__huge_base(seg));
        CGC_ASSERT(sp->state == CGC_PAGE_LARGE && gc__alloc_test(seg, g)); /* one live object (I1) */
        if (gc__mark_test(seg, g)) {
          gc__mark_clear(seg, g);
          live_kind[sp->kind] += sp->obj_size;
        } else {
          gc__huge_free(seg);
        }
      } else {
        for (size_t i = CGC_META_PAGES; i < CGC_PAGES_PER_SEGMENT;) {
          gc_span_t *sp = &seg->spans[i];
          size_t n = sp->state == CGC_PAGE_FREE ? 1 : sp->npages;
          if (sp->state == CGC_PAGE_SMALL)
            live_kind[sp->kind] += reclaim_small(seg, sp);
          else if (sp->state == CGC_PAGE_LARGE)
            live_kind[sp->kind] += reclaim_large(seg, sp);
          i += n;
        }
      }
      if (last) break;
      seg = next;
    }
  }
  gc__heap.live = live_kind[CGC_KIND_NORMAL] + live_kind[CGC_KIND_ATOMIC];
  gc__heap.live_atomic = live_kind[CGC_KIND_ATOMIC];
  gc__stat_set(&gc__stats.live, (int64_t)gc__heap.live);
}
