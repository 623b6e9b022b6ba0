/*
 * sweep.c -- reclaiming dead objects.
 *
 * Right after marking, gc__reclaim makes one pass over the span
 * descriptors and the side bitmaps only (never the objects): spans with no
 * survivor go back to the page pool, dead large objects are freed, and
 * every other span that has a free slot is queued for its class.  The
 * same pass turns the bitmaps around for each small span:
 *     alloc := mark            (dead objects stop being objects at once)
 *     mark  := old alloc & ~mark   (the DEAD set: slots still to be zeroed)
 * The bytes of dead objects are zeroed later, lazily, when an allocating
 * thread takes the span (gc__span_take): sweeping touches a page just
 * before it is reused.  Heap lock held throughout.
 */
#include "internal.h"
#include "stats.h"

#include <string.h>

/* ---- sweep queues ------------------------------------------------------ */

void gc__queue_push(gc_span_t *sp) {
  cgc_assert(sp->state == CGC_PAGE_SMALL && sp->owner == NULL && !(sp->flags & CGC_SPAN_QUEUED));
  gc_span_t **q = &gc__heap.sweep_queue[sp->kind][sp->cls];
  sp->next = *q;
  *q = sp;
  sp->flags |= CGC_SPAN_QUEUED;
}

gc_span_t *gc__queue_pop(unsigned kind, unsigned cls) {
  gc_span_t **q = &gc__heap.sweep_queue[kind][cls];
  gc_span_t *sp = *q;
  if (sp != NULL) {
    *q = sp->next;
    sp->next = NULL;
    sp->flags &= (uint8_t)~CGC_SPAN_QUEUED;
  }
  return sp;
}

/* ---- spans of one size class ------------------------------------------- */

/* Zero one object.  Small objects are cleared with word stores in line: a
 * memset call per 32-byte object costs more than the stores themselves. */
static inline void zero_object(void *obj, size_t size) {
  if (size <= 128) {
    uint64_t *w = obj;
    for (size_t i = 0; i < size / sizeof(uint64_t); i++) w[i] = 0;
  } else {
    memset(obj, 0, size);
  }
}

/* A fresh span: every slot free and (for scanned kinds) zero, because
 * gc__pages_alloc zeroed dirty pages. */
void gc__span_init_small(gc_segment_t *seg, gc_span_t *sp, unsigned kind, unsigned cls) {
  (void)seg;
  const gc_class_info_t *ci = &gc__classes[cls];
  cgc_assert(sp->npages == ci->pages);
  sp->state = CGC_PAGE_SMALL;
  sp->kind = (uint8_t)kind;
  sp->cls = (uint8_t)cls;
  sp->flags = 0;
  sp->nobjs = ci->nobjs;
  sp->obj_size = ci->size;
  sp->divmagic = ci->divmagic;
  sp->live = 0;
  sp->owner = NULL;
}

enum { ZERO_NONE, ZERO_DEAD, ZERO_ALL };

/* Link every free slot of sp (alloc bit clear) into a list in address
 * order, set its alloc bit, and zero it as `mode` says.  Always inlined
 * with a constant mode, so each caller gets a loop without the tests it
 * does not need.  The alloc word being updated stays in a register until
 * the slots move on to the next word.  Returns the number of slots. */
static inline __attribute__((always_inline)) size_t
build_list(gc_segment_t *seg, gc_span_t *sp, void **headp, int mode) {
  const size_t size = sp->obj_size, gstep = size >> CGC_GRANULE_SHIFT;
  uintptr_t obj = gc__span_base(seg, sp);
  size_t g = gc__granule_index(seg, obj), count = 0;
  void **tail = headp;
  size_t wi = g >> 6;
  uint64_t aw = seg->bits[wi].alloc, set = 0;
  for (uint32_t i = sp->nobjs; i > 0; i--, g += gstep, obj += size) {
    if ((g >> 6) != wi) {
      if (set) gc__alloc_or_word(seg, wi, set); /* a gc_free may clear other bits meanwhile */
      wi = g >> 6;
      aw = seg->bits[wi].alloc;
      set = 0;
    }
    uint64_t bit = gc__bit(g);
    if (aw & bit) continue;
    set |= bit;
    if (mode == ZERO_ALL || (mode == ZERO_DEAD && (seg->bits[wi].mark & bit))) zero_object((void *)obj, size);
    *tail = (void *)obj;
    tail = (void **)obj;
    count++;
  }
  if (set) gc__alloc_or_word(seg, wi, set);
  *tail = NULL;
  return count;
}

/* Sweep sp and make thread t its owner: its free slots, linked in address
 * order, go to sp->rest, and the first batch of them is returned (with
 * its size in bytes) for the thread's free list.  Dead slots (and, for a
 * span flagged ZERO_ALL, every free slot) of scanned kinds are zeroed
 * here.  Every slot's alloc bit ends up set: the span is owned (I2).
 * Returns NULL (span left unowned) when no slot is free.  Bounds: one pass
 * over the span's slots. */
void *gc__span_take(gc_segment_t *seg, gc_span_t *sp, gc_tctx_t *t, size_t *free_bytes) {
  cgc_assert(sp->state == CGC_PAGE_SMALL && sp->owner == NULL);
  void *head = NULL;
  size_t count;
  AO_store(&sp->freed, 0); /* before reading bits: a later free is counted again */
  if (!gc__kind_scanned(sp->kind))
    count = build_list(seg, sp, &head, ZERO_NONE);
  else if (sp->flags & CGC_SPAN_ZERO_ALL)
    count = build_list(seg, sp, &head, ZERO_ALL);
  else if (sp->flags & CGC_SPAN_UNSWEPT)
    count = build_list(seg, sp, &head, ZERO_DEAD);
  else
    count = build_list(seg, sp, &head, ZERO_NONE);
  if (sp->flags & CGC_SPAN_UNSWEPT) {
    size_t w = gc__span_page(seg, sp) * CGC_BITMAP_WORDS_PER_PAGE;
    gc__marks_clear(seg, w, (size_t)sp->npages * CGC_BITMAP_WORDS_PER_PAGE);
  }
  sp->flags &= (uint8_t)~(CGC_SPAN_UNSWEPT | CGC_SPAN_ZERO_ALL);
  gc__stats.spans_swept++;
  if (count == 0) {
    *free_bytes = 0;
    return NULL;
  }
  sp->owner = t;
  t->span[sp->kind][sp->cls] = sp;
  sp->rest = head;
  return gc__span_next_batch(sp, free_bytes);
}

/* Take a span back from a thread cache: the objects still on its free
 * list stop counting as allocated (their alloc bits are cleared, so I1
 * holds again) and their link words are zeroed (I3).  Returns the bytes
 * that were never handed out (the public allocated_bytes keeps them: it
 * never decreases).  Bounds: the length of the list. */
size_t gc__span_release(gc_segment_t *seg, gc_span_t *sp, void *list) {
  size_t count = 0;
  void *lists[2] = {list, sp->rest};
  for (int i = 0; i < 2; i++) {
    for (void *p = lists[i]; p != NULL; count++) {
      void *next = *(void **)p;
      *(void **)p = NULL;
      size_t g = gc__granule_index(seg, (uintptr_t)p);
      gc__alloc_and_word(seg, g >> 6, ~gc__bit(g));
      p = next;
    }
  }
  sp->rest = NULL;
  sp->owner = NULL;
  return count * sp->obj_size;
}

/* Cut the first batch (CGC_BATCH_BYTES, at least one object) off the
 * owned span's `rest` list and return it; *bytes receives its size.
 * Bounds: one step per object of the batch. */
void *gc__span_next_batch(gc_span_t *sp, size_t *bytes) {
  void *batch = sp->rest;
  size_t n = CGC_BATCH_BYTES / sp->obj_size, count = 1;
  void **last = batch;
  while (count < n && *last != NULL) {
    last = *last;
    count++;
  }
  sp->rest = *last;
  *last = NULL;
  *bytes = count * sp->obj_size;
  return batch;
}

/* ---- the post-mark pass -------------------------------------------------- */

/* A span another thread owns (I2): count its survivors and clear their
 * marks, nothing else -- its owner may be stopped in the middle of a pop,
 * and its cached free objects look like dead ones.  Its dead objects are
 * reclaimed by the first collection after the owner lets go of it. */
static size_t reclaim_owned(gc_segment_t *seg, gc_span_t *sp) {
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

/* Returns the live bytes of a small span and re-files it (see top). */
static size_t reclaim_small(gc_segment_t *seg, gc_span_t *sp) {
  if (sp->owner != NULL) return reclaim_owned(seg, sp);
  size_t w0 = gc__span_page(seg, sp) * CGC_BITMAP_WORDS_PER_PAGE;
  size_t nw = (size_t)sp->npages * CGC_BITMAP_WORDS_PER_PAGE;
  size_t live = 0;
  AO_store(&sp->freed, 0); /* its free slots are re-counted right here */
  uint64_t any_dead = 0;
  for (size_t w = w0; w < w0 + nw; w++) {
    uint64_t m = seg->bits[w].mark, a = seg->bits[w].alloc;
    uint64_t dead = a & ~m;
    live += (size_t)__builtin_popcountll(m);
    any_dead |= dead;
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
