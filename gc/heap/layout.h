/*
 * layout.h -- cgc's heap layout, its invariants, and the predicates that
 * test them: segments, spans (page descriptors), the side bitmaps, the
 * radix map, and object lookup.  The sizes are in heap/geometry.h; the
 * mutable heap state (queues, policy, the lock) is in heap/heap.h.
 *
 * ===================================================================
 *  Geometry
 * ===================================================================
 * The heap is made of SEGMENTS: 4 MiB mappings aligned to 4 MiB.  A
 * segment is 64 PAGES of 64 KiB.  Pages 0..1 hold the segment's metadata
 * (struct gc_segment below); pages 2..63 hold objects.  A run of pages
 * that is in use is a SPAN, described by the page descriptor (struct
 * gc_span) of its first page; every page of a run records the index of
 * that first page (`head`), so the descriptor of any address is found
 * with a mask, a shift and two loads -- no search.
 *
 *   SMALL span: objects of one size class and one kind; 1..32 pages,
 *               chosen per class so the tail waste is at most 1/16.
 *   LARGE span: one object bigger than the largest class (512 KiB), up
 *               to the 62 data pages of a segment.
 *   HUGE segment: one object too big for a segment gets a mapping of
 *               its own, aligned to 4 MiB, metadata in front as usual.
 *
 * Memory is handed out in GRANULES of 16 bytes.  Size classes step by
 * one granule up to 256 bytes and then by eighths of a power of two, so
 * a request never wastes more than 1/9 of its slot above 256 bytes and a
 * 16-byte request costs exactly 16 bytes.
 *
 * Finding the segment of an arbitrary word (conservative pointers) goes
 * through a two-level radix map over the 47-bit user address space, one
 * entry per 4 MiB chunk, which also covers every chunk of a huge segment.
 *
 * ===================================================================
 *  Metadata bits (side bitmaps, one bit per granule, per segment)
 * ===================================================================
 * (Both live in seg->bits[g / 64], alloc and mark words side by side.)
 * alloc[g]  "an allocated object starts at granule g".  Set only at
 *           object starts.  A word that points into a slot whose alloc
 *           bit is clear is not a pointer to an object: it never marks
 *           anything (a stale pointer to a freed slot resurrects nothing).
 * mark[g]   During marking: "the object starting at g is reachable".
 *           After the post-mark pass and until the span is swept: "the
 *           object starting at g died in the last collection and its
 *           bytes are not yet zeroed" (the DEAD set; see sweep/reclaim.c).
 *
 * Concurrency story.  Mutators allocate from their own caches without
 * locks; every slow path takes the heap lock; a collection holds the heap
 * lock and stops every other registered thread (world.c) before it reads
 * or writes any bitmap.
 *   - alloc bits of a span are set or cleared under the heap lock (span
 *     taken, released, post-mark pass), or with the world stopped, or by
 *     gc_free without the lock: it clears one bit with a CAS, so frees
 *     into one word from several threads never lose each other, and a
 *     bit it finds already clear is a double free.  Writers under the lock
 *     use atomic OR/AND on words a gc_free may touch at the same time.  A
 *     race between a take and a free can only leave a freed slot looking
 *     allocated until the next collection (never the reverse).
 *   - mark bits change only inside a collection (atomically when several
 *     markers run).
 *
 * ===================================================================
 *  Invariants (checked by gc__heap_is_valid, debug/verify.c)
 * ===================================================================
 * I1 (alloc exactness) Outside a collection, for every span that no
 *    thread owns: alloc[g] == 1 exactly when a live (not yet reclaimed,
 *    not gc_free'd) object starts at g.  Alloc bits are never set at a
 *    granule that is not an object start of its span.
 * I2 (owned spans) A span owned by a thread cache has every object-start
 *    alloc bit set, except slots released by gc_free since: the objects
 *    still on the cache's free list and on the span's `rest` list count as
 *    allocated, and so do the slots of the span's unlinked tail (from
 *    `unbuilt` to its end; see CGC_EXTEND_BYTES).  A collection releases
 *    the caches of the collecting thread only (the others may be stopped
 *    in the middle of a pop); the spans other threads own are not swept
 *    by it: their dead objects stay allocated until the first collection
 *    after the owner lets go.
 * I3 (zeroed free slots) In a span of a scanned kind, every slot whose
 *    alloc bit is clear is all zero, except (a) slots in the DEAD set of
 *    a span still waiting to be swept and (b) every free slot of a span
 *    flagged CGC_SPAN_ZERO_ALL; the sweeper zeroes those before they are
 *    handed out.  Free-list links are the only non-zero word of a cached
 *    free object and are cleared when it is handed out; a slot of an
 *    owned span's unlinked tail is all zero but for that word too (it is
 *    written when the owner links the slot).
 * I4 (pages) Every data page of a segment is either free (its bit set in
 *    `free_pages`) or belongs to exactly one span, whose descriptor is
 *    the one of the page `head` points to.
 * I5 (queues) A span is on at most one list: its class's sweep queue
 *    (CGC_SPAN_QUEUED) or a thread cache (owner != NULL), never both.
 */
#ifndef CGC_LAYOUT_H
#define CGC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/atomic.h"
#include "base/compiler.h"
#include "base/debug.h"
#include "heap/geometry.h"

/* ---- spans (page descriptors) ----------------------------------------- */
enum {
  CGC_PAGE_META = 0,  /* segment metadata; never holds objects */
  CGC_PAGE_FREE = 1,  /* in the page pool */
  CGC_PAGE_SMALL = 2, /* head of a span of one size class */
  CGC_PAGE_LARGE = 3, /* head of a span holding one large object */
  CGC_PAGE_TAIL = 4   /* a later page of a span; see `head` */
};
enum {
  CGC_SPAN_QUEUED = 1u << 0,  /* on its class's sweep queue */
  CGC_SPAN_UNSWEPT = 1u << 1, /* mark bitmap holds its DEAD set from the last collection */
  CGC_SPAN_ZERO_ALL = 1u << 2 /* every free slot must be zeroed before use */
};

struct gc_tctx;
typedef struct gc_span {
  uint8_t state;     /* CGC_PAGE_* */
  uint8_t kind;      /* gc_kind_t (SMALL/LARGE heads) */
  uint8_t cls;       /* size class (SMALL heads) */
  uint8_t flags;     /* CGC_SPAN_* */
  uint16_t npages;   /* run length (heads) */
  uint16_t head;     /* page index of the run's head (all pages) */
  uint32_t nobjs;    /* objects in the span (SMALL) */
  uint32_t live;     /* objects marked in the last collection */
  size_t obj_size;   /* bytes per object (usable size) */
  uint64_t divmagic; /* granule offset * divmagic >> 40 == object index */
  union {
    struct gc_span *next; /* queued: sweep queue link */
    uintptr_t unbuilt;    /* owned: first slot of the unlinked tail, or 0:
                             every slot from there to the span's end is
                             free, claimed (alloc bit set) and unlinked;
                             only the owner reads or writes it */
  };
  struct gc_tctx *owner; /* thread cache that owns it, or NULL */
  void *rest;            /* owned: free slots not yet handed to the owner's
                            list (handed out CGC_BATCH_BYTES at a time) */
  AO_t freed;            /* slots released by gc_free since the span was
                            last swept or taken (atomic; see gc_free) */
} gc_span_t;
static_assert(sizeof(gc_span_t) == 64, "a page descriptor is one cache line: index math is a shift");

/* ---- segments --------------------------------------------------------- */
#define CGC_SEGMENT_MAGIC 0x63676373u /* "cgcs" */
/* The alloc and mark words of the same 64 granules (1 KiB of heap) sit
 * side by side, so the marker's two bitmap reads for a candidate pointer
 * share one cache line. */
typedef struct gc_bitpair {
  uint64_t alloc, mark;
} gc_bitpair_t;
typedef struct gc_segment {
  uint32_t magic;
  uint32_t huge;                              /* 1: one huge object, mapping of `size` bytes */
  size_t size;                                /* bytes mapped */
  uint64_t free_pages;                        /* bit i: data page i is in the pool */
  uint64_t dirty_pages;                       /* bit i: page i may hold non-zero bytes */
  uint32_t free_since[CGC_PAGES_PER_SEGMENT]; /* collection count when freed */
  struct gc_segment *next, *prev;             /* all segments, a ring */
  gc_span_t spans[CGC_PAGES_PER_SEGMENT];
  gc_bitpair_t bits[CGC_BITMAP_WORDS];
} gc_segment_t;
static_assert(sizeof(gc_segment_t) <= CGC_META_PAGES * CGC_PAGE_SIZE,
              "segment metadata fits its metadata pages");
static_assert(CGC_META_PAGES * CGC_PAGE_SIZE <= CGC_SEGMENT_SIZE / 16,
              "metadata costs at most 1/16 of a segment's address space");

CGC_INLINE gc_segment_t *gc__segment_of(uintptr_t a) {
  return (gc_segment_t *)(a & ~(uintptr_t)CGC_SEGMENT_MASK);
}
CGC_INLINE size_t gc__granule_index(const gc_segment_t *seg, uintptr_t a) {
  return (a - (uintptr_t)seg) >> CGC_GRANULE_SHIFT;
}
CGC_INLINE uint64_t gc__bit(size_t g) { return (uint64_t)1 << (g & 63); }
/* Alloc words are read atomically (a plain load on x86-64): a lock-free
 * gc_free may clear a bit of the same word at any time. */
CGC_INLINE uint64_t gc__alloc_word(const gc_segment_t *seg, size_t w) {
  return gc__load((const volatile AO_t *)&seg->bits[w].alloc);
}
/* ... with acquire: the caller will reuse slots whose bit a gc_free
 * cleared, so that free's zeroing must be visible first. */
CGC_INLINE uint64_t gc__alloc_word_acquire(const gc_segment_t *seg, size_t w) {
  return gc__load_acquire((const volatile AO_t *)&seg->bits[w].alloc);
}
CGC_INLINE bool gc__alloc_test(const gc_segment_t *seg, size_t g) {
  return (gc__alloc_word(seg, g >> 6) & gc__bit(g)) != 0;
}
CGC_INLINE bool gc__mark_test(const gc_segment_t *seg, size_t g) {
  return (seg->bits[g >> 6].mark & gc__bit(g)) != 0;
}
CGC_INLINE void gc__alloc_set(gc_segment_t *seg, size_t g) { seg->bits[g >> 6].alloc |= gc__bit(g); }
CGC_INLINE void gc__alloc_clear(gc_segment_t *seg, size_t g) { seg->bits[g >> 6].alloc &= ~gc__bit(g); }
CGC_INLINE void gc__mark_clear(gc_segment_t *seg, size_t g) { seg->bits[g >> 6].mark &= ~gc__bit(g); }
/* Alloc-bit updates that may meet a lock-free gc_free on the same word
 * (see the concurrency story above).  gc__alloc_clear_cas returns false
 * when the bit was already clear. */
CGC_INLINE bool gc__alloc_clear_cas(gc_segment_t *seg, size_t g) {
  volatile AO_t *w = gc__word(&seg->bits[g >> 6].alloc);
  AO_t bit = gc__bit(g), old = gc__load(w);
  for (;;) {
    if (!(old & bit)) return false;
    AO_t seen = gc__cas_value(w, old, old & ~bit);
    if (seen == old) return true;
    old = seen;
  }
}
CGC_INLINE void gc__alloc_or_word(gc_segment_t *seg, size_t w, uint64_t bits) {
  gc__or(gc__word(&seg->bits[w].alloc), bits);
}
CGC_INLINE void gc__alloc_and_word(gc_segment_t *seg, size_t w, uint64_t bits) {
  gc__and(gc__word(&seg->bits[w].alloc), bits);
}
/* Clear the mark words of bitmap words [w, w+n), leaving the alloc words. */
CGC_INLINE void gc__marks_clear(gc_segment_t *seg, size_t w, size_t n) {
  for (size_t i = w; i < w + n; i++) seg->bits[i].mark = 0;
}
CGC_INLINE uintptr_t gc__page_addr(const gc_segment_t *seg, size_t page) {
  return (uintptr_t)seg + page * CGC_PAGE_SIZE;
}
CGC_INLINE size_t gc__span_page(const gc_segment_t *seg, const gc_span_t *sp) {
  return (size_t)(sp - seg->spans);
}
CGC_INLINE uintptr_t gc__span_base(const gc_segment_t *seg, const gc_span_t *sp) {
  return gc__page_addr(seg, gc__span_page(seg, sp));
}
CGC_INLINE size_t gc__span_bytes(const gc_span_t *sp) { return (size_t)sp->npages * CGC_PAGE_SIZE; }
/* The end of a small span's last slot (its tail waste lies beyond). */
CGC_INLINE uintptr_t gc__span_slots_end(const gc_segment_t *seg, const gc_span_t *sp) {
  return gc__span_base(seg, sp) + (uintptr_t)sp->nobjs * sp->obj_size;
}

/* The index of the object at granule offset gran_off of a span whose
 * objects are divmagic's size (heap/sizes.c: gc__divmagic). */
CGC_INLINE size_t gc__obj_index(uint64_t gran_off, uint64_t divmagic) {
  return (size_t)((gran_off * divmagic) >> 40);
}

CGC_INLINE uintptr_t gc__huge_base(const gc_segment_t *seg) {
  return (uintptr_t)seg + CGC_META_PAGES * CGC_PAGE_SIZE;
}

/* ---- the radix map ---------------------------------------------------- */
/* The address-space side of the layout: the bounds of all mappings (a
 * prefilter for candidate pointers) and the two-level radix map from
 * every 4 MiB chunk to its segment.  Written under the heap lock
 * (heap/segment.c, release stores: a segment is initialised before it
 * can be found) and read without it by gc_free, gc_size, gc_base and
 * gc_realloc: every access is an atomic word access (a plain mov on
 * x86-64). */
typedef struct gc_map {
  uintptr_t lo, hi;
  gc_segment_t **radix[1u << CGC_RADIX_TOP_BITS];
} gc_map_t;
CGC_INTERNAL extern gc_map_t gc__map;

/* The segment of a, for an a already known to lie in [heap.lo, heap.hi). */
CGC_INLINE gc_segment_t *gc__radix_lookup_inside(uintptr_t a) {
  gc_segment_t **leaf =
      (gc_segment_t **)gc__load_word(&gc__map.radix[a >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS)]);
  if (leaf == NULL) return NULL;
  return (gc_segment_t *)gc__load_word(&leaf[(a >> CGC_SEGMENT_SHIFT) & ((1u << CGC_RADIX_LEAF_BITS) - 1)]);
}
/* The radix leaf entries of the whole heap range as one array indexed by
 * (a - heap.lo) >> CGC_SEGMENT_SHIFT, when [heap.lo, heap.hi) lies in one
 * leaf (32 GiB of address space: the usual case); else NULL.  For the
 * marker, which looks up every candidate pointer: one load instead of
 * two.  Valid while lo, hi and the radix do not change: while the world is
 * stopped (helper markers use it too, without holding the heap lock). */
CGC_INLINE gc_segment_t **gc__radix_flat(void) {
  uintptr_t lo = gc__map.lo, hi = gc__map.hi;
  if (hi <= lo || lo >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS) !=
                      (hi - 1) >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS))
    return NULL;
  gc_segment_t **leaf = gc__map.radix[lo >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS)];
  return leaf == NULL ? NULL : &leaf[(lo >> CGC_SEGMENT_SHIFT) & ((1u << CGC_RADIX_LEAF_BITS) - 1)];
}
CGC_INLINE gc_segment_t *gc__radix_lookup(uintptr_t a) {
  uintptr_t lo = gc__load_word(&gc__map.lo), hi = gc__load_word(&gc__map.hi);
  if (CGC_UNLIKELY(a - lo >= hi - lo)) return NULL;
  return gc__radix_lookup_inside(a);
}
/* The object of a in segment seg (see gc__find_object). */
CGC_INLINE uintptr_t gc__find_object_in(gc_segment_t *seg, uintptr_t a, gc_span_t **spp) {
  /* A huge segment's descriptors are META and FREE pages and one LARGE
   * head, never SMALL, whatever 4 MiB block of it `a` lies in: so its
   * test waits until the common SMALL case is out of the way. */
  size_t head = seg->spans[(a & CGC_SEGMENT_MASK) >> CGC_PAGE_SHIFT].head;
  gc_span_t *sp = &seg->spans[head];
  uintptr_t obj;
  if (CGC_LIKELY(sp->state == CGC_PAGE_SMALL)) {
    uintptr_t base = gc__page_addr(seg, head);
    size_t idx = gc__obj_index((a - base) >> CGC_GRANULE_SHIFT, sp->divmagic);
    if (idx >= sp->nobjs) return 0;
    obj = base + idx * sp->obj_size;
  } else if (seg->huge) {
    sp = &seg->spans[CGC_META_PAGES];
    obj = gc__huge_base(seg);
    if (a - obj >= sp->obj_size) return 0;
  } else if (sp->state == CGC_PAGE_LARGE) {
    obj = gc__page_addr(seg, head);
    if (a - obj >= sp->obj_size) return 0;
  } else {
    return 0;
  }
  if (!gc__alloc_test(seg, gc__granule_index(seg, obj))) return 0;
  *spp = sp;
  if (obj == 0) __builtin_unreachable(); /* inside a segment; lets callers drop their test */
  return obj;
}
/* Look up the object containing address a: its start, or 0 when a is not
 * inside an allocated object (I1).  *spp and *segp receive its span and
 * segment.  No locks; no hash, no search: two radix loads, a descriptor,
 * a multiply-shift and a bitmap word. */
CGC_INLINE uintptr_t gc__find_object(uintptr_t a, gc_segment_t **segp, gc_span_t **spp) {
  gc_segment_t *seg = gc__radix_lookup(a);
  if (seg == NULL) return 0;
  *segp = seg;
  return gc__find_object_in(seg, a, spp);
}

#endif /* CGC_LAYOUT_H */
