/*
 * span.c -- a span of one size class in a thread cache: taking it (the
 * lazy sweep: dead slots of scanned kinds are zeroed here), building and
 * extending its free list, handing out batches, giving it back.  Heap lock
 * held, except for building the free list of a one-page span
 * (gc__span_build) and extending its unlinked tail (gc__span_extend),
 * which its owner does without the lock, and cutting a batch
 * (gc__span_next_batch), which the owner does either way.
 */
#include "alloc/span.h"

#include <string.h>

#include "base/track.h"
#include "heap/heap.h"
#include "obs/stats.h"

/* ---- debug level 2 checks (CGC_ASSERT_EXPENSIVE) ------------------------ */

/* Every node of `list` is a slot of sp with its alloc bit set: an owned
 * span's free slots count as allocated (I2).  Bounds: nobjs steps. */
static bool list_in_span(gc_segment_t *seg, const gc_span_t *sp, void *list) {
  const uintptr_t base = gc__span_base(seg, sp), end = gc__span_slots_end(seg, sp);
  size_t n = 0;
  for (void *p = list; p != NULL; p = *(void **)p) {
    uintptr_t a = (uintptr_t)p;
    if (a < base || a >= end || (a - base) % sp->obj_size != 0 || ++n > sp->nobjs) return false;
    if (!gc__alloc_test(seg, gc__granule_index(seg, a))) return false;
  }
  return true;
}

/* The n slots from obj on are claimed (alloc bit set) and, with `zero`
 * and a scanned kind, all zero: an unlinked tail is never written before
 * its owner links it (I2, I3).  Bounds: n slots. */
static bool slots_unlinked(gc_segment_t *seg, const gc_span_t *sp, uintptr_t obj, size_t n, bool zero) {
  for (; n > 0; n--, obj += sp->obj_size) {
    if (!gc__alloc_test(seg, gc__granule_index(seg, obj))) return false;
    if (!zero || !gc__kind_scanned(sp->kind)) continue;
    for (size_t i = 0; i < sp->obj_size / sizeof(uintptr_t); i++)
      if (((const uintptr_t *)obj)[i] != 0) return false;
  }
  return true;
}

/* Zero one free object; it stays poisoned (base/track.h).  Small objects
 * are cleared with word stores in line: a memset call per 32-byte object
 * costs more than the stores themselves. */
static inline void zero_object(void *obj, size_t size) {
  CGC_TRACK_ALLOC(obj, size);
  if (size <= 128) {
    uint64_t *w = obj;
    for (size_t i = 0; i < size / sizeof(uint64_t); i++) w[i] = 0;
  } else {
    memset(obj, 0, size);
  }
  CGC_TRACK_FREE(obj, size);
}

/* A fresh span: every slot free and (for scanned kinds) zero, because
 * gc__pages_alloc zeroed dirty pages -- or the caller flags it ZERO_ALL. */
void gc__span_init_small(gc_segment_t *seg, gc_span_t *sp, unsigned kind, unsigned cls) {
  (void)seg;
  CGC_ASSERT_LOCKED();
  const gc_class_info_t *ci = &gc__classes[cls];
  CGC_ASSERT(sp->state == CGC_PAGE_FREE && sp->owner == NULL); /* fresh from gc__pages_alloc */
  CGC_ASSERT(sp->npages == ci->pages);
  sp->state = CGC_PAGE_SMALL;
  sp->kind = (uint8_t)kind;
  sp->cls = (uint8_t)cls;
  sp->flags = 0;
  sp->nobjs = ci->nobjs;
  sp->obj_size = ci->size;
  sp->divmagic = ci->divmagic;
  sp->live = 0;
  sp->next = NULL;
  sp->owner = NULL;
}

enum { ZERO_NONE, ZERO_DEAD, ZERO_ALL };

/* Link every free slot of sp (alloc bit clear) into a list in address
 * order, set its alloc bit, and zero it as `mode` says.  Always inlined
 * with a constant mode, so each caller gets a loop without the tests it
 * does not need.  The alloc word being updated stays in a register until
 * the slots move on to the next word.  Returns the number of slots. */
static inline __attribute__((always_inline)) size_t build_list(gc_segment_t *seg, gc_span_t *sp, void **headp,
                                                               int mode) {
  const size_t size = sp->obj_size, gstep = size >> CGC_GRANULE_SHIFT;
  uintptr_t obj = gc__span_base(seg, sp), last = 0; /* the list's last slot so far */
  size_t g = gc__granule_index(seg, obj), count = 0;
  size_t wi = g >> 6;
  uint64_t aw = gc__alloc_word_acquire(seg, wi), set = 0;
  for (uint32_t i = sp->nobjs; i > 0; i--, g += gstep, obj += size) {
    if ((g >> 6) != wi) {
      if (set) gc__alloc_or_word(seg, wi, set); /* a gc_free may clear other bits meanwhile */
      wi = g >> 6;
      aw = gc__alloc_word_acquire(seg, wi);
      set = 0;
    }
    uint64_t bit = gc__bit(g);
    if (aw & bit) continue;
    set |= bit;
    if (mode == ZERO_ALL || (mode == ZERO_DEAD && (seg->bits[wi].mark & bit))) zero_object((void *)obj, size);
    if (last != 0)
      gc__link_store((void *)last, (void *)obj);
    else
      *headp = (void *)obj;
    last = obj;
    count++;
  }
  if (set) gc__alloc_or_word(seg, wi, set);
  if (last != 0) gc__link_store((void *)last, NULL);
  return count;
}

/* Claim the slots of bitmap word wi (index i of the span's page) whose
 * object starts are in `starts` and whose alloc bit is clear: record them
 * (and which to zero, per `mode`) in t->build_*, set their alloc bits.
 * Returns how many. */
static inline size_t claim_word(gc_segment_t *seg, gc_tctx_t *t, size_t wi, size_t i, uint64_t starts,
                                int mode) {
  uint64_t free = starts & ~gc__alloc_word_acquire(seg, wi);
  t->build_free[i] = free;
  t->build_zero[i] = mode == ZERO_ALL ? free : mode == ZERO_DEAD ? free & seg->bits[wi].mark : 0;
  if (free == 0) return 0;
  gc__alloc_or_word(seg, wi, free); /* a gc_free may clear other bits meanwhile */
  return (size_t)__builtin_popcountll(free);
}

/* Claim the free slots of a one-page span for t without touching them
 * (claim_word for each bitmap word with object starts).  The slow part --
 * writing the links and zeroing -- is gc__span_build's, after the heap
 * lock is released, so threads refilling at once do it in parallel.
 * Returns the number of free slots.  Bounds: one pass over the bitmap
 * words, or over the slots when their starts do not repeat per word. */
static size_t claim_page(gc_segment_t *seg, gc_span_t *sp, gc_tctx_t *t, int mode) {
  const size_t gstep = sp->obj_size >> CGC_GRANULE_SHIFT;
  size_t g = gc__granule_index(seg, gc__span_base(seg, sp));
  const size_t w0 = g >> 6; /* g is word-aligned: spans start on pages */
  size_t wi = w0, count = 0;
  memset(t->build_free, 0, sizeof t->build_free);
  memset(t->build_zero, 0, sizeof t->build_zero);
  if (64 % gstep == 0) { /* object starts repeat in every word: no per-object loop */
    uint64_t pattern = 0;
    for (size_t b = 0; b < 64; b += gstep) pattern |= (uint64_t)1 << b;
    const size_t glast = g + (size_t)(sp->nobjs - 1) * gstep;
    for (; wi <= glast >> 6; wi++) {
      uint64_t starts = pattern;
      if (wi == glast >> 6 && (glast & 63) != 63) starts &= ((uint64_t)2 << (glast & 63)) - 1;
      count += claim_word(seg, t, wi, wi - w0, starts, mode);
    }
    return count;
  }
  uint64_t starts = 0;
  for (uint32_t i = sp->nobjs;; g += gstep) {
    if (i == 0 || (g >> 6) != wi) { /* word wi has all its starts */
      count += claim_word(seg, t, wi, wi - w0, starts, mode);
      if (i == 0) break;
      wi = g >> 6;
      starts = 0;
    }
    starts |= gc__bit(g);
    i--;
  }
  return count;
}

/* Sweep sp and make thread t its owner.  A one-page span is only claimed
 * (claim_page): t->build is set, the first batch's size is returned in
 * *free_bytes and the list is left to gc__span_build.  Any other span's
 * free slots are linked in address order to sp->rest here, and the first
 * batch of them is returned (with its size in bytes) for the thread's free
 * list.  Dead slots (and, for a span flagged ZERO_ALL, every free slot) of
 * scanned kinds are zeroed, here or by the build.  Every slot's alloc bit
 * ends up set: the span is owned (I2).  Returns NULL (span left unowned,
 * t->build not set) when no slot is free.  Bounds: one pass over the
 * span's slots. */
void *gc__span_take(gc_segment_t *seg, gc_span_t *sp, gc_tctx_t *t, size_t *free_bytes) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(sp->state == CGC_PAGE_SMALL);
  CGC_ASSERT(sp->owner == NULL && !(sp->flags & CGC_SPAN_QUEUED));    /* on no list (I5) */
  CGC_ASSERT(t->build == NULL && t->span[sp->kind][sp->cls] == NULL); /* one span per class (I2) */
  void *head = NULL;
  size_t count;
  gc__store(&sp->freed, 0); /* before reading bits: a later free is counted again */
  int mode = !gc__kind_scanned(sp->kind)       ? ZERO_NONE
             : (sp->flags & CGC_SPAN_ZERO_ALL) ? ZERO_ALL
             : (sp->flags & CGC_SPAN_UNSWEPT)  ? ZERO_DEAD
                                               : ZERO_NONE;
  bool defer = sp->npages == 1;
  if (defer)
    count = claim_page(seg, sp, t, mode);
  else if (mode == ZERO_ALL)
    count = build_list(seg, sp, &head, ZERO_ALL);
  else if (mode == ZERO_DEAD)
    count = build_list(seg, sp, &head, ZERO_DEAD);
  else
    count = build_list(seg, sp, &head, ZERO_NONE);
  if (sp->flags & CGC_SPAN_UNSWEPT) {
    size_t w = gc__span_page(seg, sp) * CGC_BITMAP_WORDS_PER_PAGE;
    gc__marks_clear(seg, w, (size_t)sp->npages * CGC_BITMAP_WORDS_PER_PAGE);
  }
  sp->flags &= (uint8_t) ~(CGC_SPAN_UNSWEPT | CGC_SPAN_ZERO_ALL);
  gc__stats.spans_swept++;
  if (count == 0) {
    *free_bytes = 0;
    return NULL;
  }
  sp->owner = t;
  t->span[sp->kind][sp->cls] = sp;
  if (defer) {
    size_t n = CGC_BATCH_BYTES / sp->obj_size;
    if (n == 0) n = 1;
    *free_bytes = (count < n ? count : n) * sp->obj_size;
    sp->rest = NULL;
    t->build = sp;
    /* all slots free and to be zeroed all alike: one stride (and memset) */
    bool some = false, all = true;
    for (size_t i = 0; i < CGC_BITMAP_WORDS_PER_PAGE; i++) {
      some |= t->build_zero[i] != 0;
      all &= t->build_zero[i] == t->build_free[i];
    }
    t->build_all = count == sp->nobjs && (!some || all);
    t->build_zero_all = t->build_all && some;
    return NULL;
  }
  sp->rest = head;
  CGC_ASSERT_EXPENSIVE(list_in_span(seg, sp, head));
  return gc__span_next_batch(sp, free_bytes);
}

/* Link n slots of `size` bytes from obj on, in address order; returns the
 * head.  Writes the first word of each (the page's first touch when the
 * memory is fresh).  Bounds: n stores. */
static void *link_run(uintptr_t obj, size_t size, size_t n) {
  void *head = (void *)obj;
  for (; n > 1; n--, obj += size) gc__link_store((void *)obj, (void *)(obj + size));
  gc__link_store((void *)obj, NULL);
  return head;
}

/* Link the chunk of sp's free slots that starts at obj (CGC_EXTEND_BYTES,
 * at least one slot) and return it; the slots after it, if any, become
 * sp's unlinked tail.  `unbuilt` is stored only once the chunk is linked:
 * a collection that stops the owner here finds the chunk's slots still
 * allocated (I2), zero but for their first words (I3), and either in the
 * old tail or in none.  Bounds: one chunk. */
static void *link_chunk(gc_segment_t *seg, gc_span_t *sp, uintptr_t obj) {
  const size_t size = sp->obj_size;
  const uintptr_t end = gc__span_slots_end(seg, sp);
  CGC_ASSERT(sp->state == CGC_PAGE_SMALL && sp->owner != NULL);
  CGC_ASSERT(obj >= gc__span_base(seg, sp) && obj < end && (obj - gc__span_base(seg, sp)) % size == 0);
  size_t n = CGC_EXTEND_BYTES / size, left = (end - obj) / size;
  if (n == 0) n = 1;
  if (n > left) n = left;
  CGC_ASSERT_EXPENSIVE(slots_unlinked(seg, sp, obj, n, true));
  void *list = link_run(obj, size, n);
  sp->unbuilt = n < left ? obj + n * size : 0;
  return list;
}

/* Link the slots claim_page recorded into sp->rest in address order,
 * zeroing those it said, and cut the first batch off it -- the same batch
 * size gc__span_take already counted.  No lock: the span is t's, and
 * nothing but t reads t->build_*.  Bounds: one step per free slot. */
void *gc__span_build(gc_tctx_t *t) {
  CGC_ASSERT_UNLOCKED();
  gc_span_t *sp = t->build;
  CGC_ASSERT(sp != NULL && sp->owner == t && t->span[sp->kind][sp->cls] == sp);
  gc_segment_t *seg = gc__segment_of((uintptr_t)sp);
  const size_t size = sp->obj_size;
  const uintptr_t page = gc__span_base(seg, sp);
  if (t->build_all && !t->build_zero_all) { /* all free, nothing to zero: link one chunk */
    sp->rest = NULL;
    t->build = NULL;
    return link_chunk(seg, sp, page);
  }
  void *head = NULL;
  uintptr_t last = 0; /* the list's last slot so far */
  if (t->build_all) { /* every slot free and to be zeroed: one memset, one stride */
    CGC_TRACK_ALLOC((void *)page, CGC_PAGE_SIZE);
    memset((void *)page, 0, CGC_PAGE_SIZE);
    CGC_TRACK_FREE((void *)page, CGC_PAGE_SIZE);
    head = link_run(page, size, sp->nobjs);
  }
  for (size_t i = 0; i < CGC_BITMAP_WORDS_PER_PAGE && !t->build_all; i++) {
    uint64_t free = t->build_free[i], zero = t->build_zero[i];
    while (free != 0) {
      unsigned b = (unsigned)__builtin_ctzll(free);
      free &= free - 1;
      uintptr_t obj = page + (((i << 6) + b) << CGC_GRANULE_SHIFT);
      if ((zero >> b) & 1) zero_object((void *)obj, size);
      if (last != 0)
        gc__link_store((void *)last, (void *)obj);
      else
        head = (void *)obj;
      last = obj;
    }
  }
  if (last != 0) gc__link_store((void *)last, NULL);
  sp->rest = head;
  t->build = NULL;
  CGC_ASSERT_EXPENSIVE(list_in_span(seg, sp, head));
  size_t bytes;
  return gc__span_next_batch(sp, &bytes);
}

/* The next chunk of the owned span's unlinked tail, for its owner's free
 * list (the bytes were counted when the span was taken).  No lock: only
 * the owner uses `unbuilt`. */
void *gc__span_extend(gc_span_t *sp) {
  CGC_ASSERT_UNLOCKED();
  CGC_ASSERT(sp->owner == gc__tl_ctx && sp->unbuilt != 0);
  return link_chunk(gc__segment_of((uintptr_t)sp), sp, sp->unbuilt);
}

/* Take a span back from a thread cache: the objects still on its free
 * lists and its unlinked tail stop counting as allocated (their alloc
 * bits are cleared, so I1 holds again) and link words are zeroed (I3).
 * Returns the bytes that were never handed out (the public
 * allocated_bytes keeps them: it never decreases).  Bounds: the length of
 * the lists plus the tail's slots. */
size_t gc__span_release(gc_segment_t *seg, gc_span_t *sp, void *list) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(sp->state == CGC_PAGE_SMALL && !(sp->flags & CGC_SPAN_QUEUED));
  /* owned by the releasing context: the one whose list this is */
  CGC_ASSERT(sp->owner != NULL && sp->owner->span[sp->kind][sp->cls] == sp);
  CGC_ASSERT_EXPENSIVE(list_in_span(seg, sp, list) && list_in_span(seg, sp, sp->rest));
  /* (not zero: in a fork child, the owner may have been linking a chunk) */
  CGC_ASSERT_EXPENSIVE(sp->unbuilt == 0 ||
                       slots_unlinked(seg, sp, sp->unbuilt,
                                      (gc__span_slots_end(seg, sp) - sp->unbuilt) / sp->obj_size, false));
  size_t count = 0;
  void *lists[2] = {list, sp->rest};
  for (int i = 0; i < 2; i++) {
    for (void *p = lists[i]; p != NULL; count++) {
      void *next = gc__link_load(p);
      gc__link_store(p, NULL);
      size_t g = gc__granule_index(seg, (uintptr_t)p);
      gc__alloc_and_word(seg, g >> 6, ~gc__bit(g));
      p = next;
    }
  }
  if (sp->unbuilt != 0) { /* the unlinked tail: never written, nothing to clear but bits */
    const uintptr_t end = gc__span_slots_end(seg, sp);
    for (uintptr_t p = sp->unbuilt; p < end; p += sp->obj_size, count++) {
      size_t g = gc__granule_index(seg, p);
      gc__alloc_and_word(seg, g >> 6, ~gc__bit(g));
    }
    sp->unbuilt = 0;
  }
  sp->rest = NULL;
  sp->owner = NULL;
  return count * sp->obj_size;
}

/* Cut the first batch (CGC_BATCH_BYTES, at least one object) off the
 * owned span's `rest` list and return it; *bytes receives its size.
 * Bounds: one step per object of the batch. */
void *gc__span_next_batch(gc_span_t *sp, size_t *bytes) {
  CGC_ASSERT(sp->owner != NULL && sp->rest != NULL);
  void *batch = sp->rest;
  size_t n = CGC_BATCH_BYTES / sp->obj_size, count = 1;
  void *last = batch;
  for (void *next; count < n && (next = gc__link_load(last)) != NULL; count++) last = next;
  sp->rest = gc__link_load(last);
  gc__link_store(last, NULL);
  *bytes = count * sp->obj_size;
  return batch;
}
