/*
 * segment.c -- the page pool: 4 MiB aligned segments, runs of 64 KiB pages
 * inside them, huge objects in mappings of their own, the radix map that
 * finds a segment from any address, and returning idle memory to the OS.
 * Every function here runs with the heap lock held (the gc__ ones assert
 * it).
 */
#include <errno.h>
#include <string.h>

#include "base/options.h"
#include "base/os.h"
#include "base/track.h"
#include "heap/heap.h"
#include "obs/stats.h"

#define DATA_MASK (~(uint64_t)0 << CGC_META_PAGES) /* bits of the data pages */
#define LEAF_ENTRIES ((size_t)1 << CGC_RADIX_LEAF_BITS)

/* ---- radix map -------------------------------------------------------- */

/* Point every 4 MiB chunk of [a, a+size) at seg (or NULL).  Leaves are
 * internal memory, allocated on first use and kept. */
static bool radix_set(uintptr_t a, size_t size, gc_segment_t *seg) {
  for (uintptr_t c = a; c < a + size; c += CGC_SEGMENT_SIZE) {
    size_t top = c >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS);
    if (top >= ((size_t)1 << CGC_RADIX_TOP_BITS)) return false; /* beyond 47 bits */
    gc_segment_t **leaf = gc__map.radix[top];
    if (leaf == NULL) {
      if (seg == NULL) continue;
      leaf = gc__os_alloc(LEAF_ENTRIES * sizeof *leaf);
      if (leaf == NULL) return false;
      gc__store_word_release(&gc__map.radix[top], (uintptr_t)leaf);
    }
    gc__store_word_release(&leaf[(c >> CGC_SEGMENT_SHIFT) & (LEAF_ENTRIES - 1)], (uintptr_t)seg);
  }
  return true;
}

/* ---- mapping and unmapping -------------------------------------------- */

static bool cap_allows(size_t bytes) {
  return gc__heap.max_heap == 0 || gc__heap.mapped + bytes <= gc__heap.max_heap;
}

/* Map `size` bytes for a segment, register it everywhere it must be found
 * (radix map, the ring, the prefilter bounds, stats).  NULL with errno
 * ENOMEM when the cap or the OS says no. */
static gc_segment_t *segment_map(size_t size) {
  if (!cap_allows(size)) {
    errno = ENOMEM;
    return NULL;
  }
  gc_segment_t *seg = gc__os_map_aligned(size, CGC_SEGMENT_SIZE);
  if (seg == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  uintptr_t a = (uintptr_t)seg;
  seg->magic = CGC_SEGMENT_MAGIC;
  seg->size = size;
  for (size_t i = 0; i < CGC_PAGES_PER_SEGMENT; i++) {
    seg->spans[i].head = (uint16_t)i;
    seg->spans[i].state = i < CGC_META_PAGES ? CGC_PAGE_META : CGC_PAGE_FREE;
    seg->free_since[i] = gc__heap.gc_count;
  }
  if (!radix_set(a, size, seg)) { /* after the header: lock-free readers may find it at once */
    radix_set(a, size, NULL);
    gc__os_unmap(seg, size);
    errno = ENOMEM;
    return NULL;
  }
  if (gc__heap.segments == NULL) {
    seg->next = seg->prev = seg;
    gc__heap.segments = seg;
  } else {
    gc_segment_t *first = gc__heap.segments;
    seg->next = first;
    seg->prev = first->prev;
    first->prev->next = seg;
    first->prev = seg;
  }
  if (gc__map.hi == 0 || a < gc__map.lo) gc__store_word_release(&gc__map.lo, a);
  if (a + size > gc__map.hi) gc__store_word_release(&gc__map.hi, a + size);
  gc__heap.mapped += size;
  gc__stat_add(&gc__stats.heap, (int64_t)size);
  gc__stats.segments_mapped++;
  return seg;
}

static void segment_unmap(gc_segment_t *seg) {
  size_t size = seg->size;
  radix_set((uintptr_t)seg, size, NULL);
  if (seg->next == seg) {
    gc__heap.segments = NULL;
  } else {
    seg->prev->next = seg->next;
    seg->next->prev = seg->prev;
    if (gc__heap.segments == seg) gc__heap.segments = seg->next;
  }
  gc__heap.mapped -= size;
  gc__stat_add(&gc__stats.heap, -(int64_t)size);
  gc__stats.returned += size;
  gc__stats.segments_unmapped++;
  CGC_TRACK_ALLOC(seg, size); /* leave no poison behind for a later mapping there */
  gc__os_unmap(seg, size);
}

/* ---- page runs -------------------------------------------------------- */

/* Lowest index of n consecutive set bits of m, or -1.  Bounds: n <= 62
 * shifts. */
static int find_run(uint64_t m, size_t n) {
  uint64_t r = m;
  for (size_t i = 1; i < n && r != 0; i++) r &= m >> i;
  return r == 0 ? -1 : __builtin_ctzll(r);
}

static uint64_t run_mask(size_t first, size_t n) {
  return (n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << first;
}

/* Zero the pages of [first, first+n) that may hold old bytes.  Contiguous
 * dirty pages are cleared with one memset.  They stay poisoned, as pool
 * pages are (base/track.h): what is handed out of them is unpoisoned. */
static void zero_dirty(gc_segment_t *seg, size_t first, size_t n) {
  uint64_t d = seg->dirty_pages & run_mask(first, n);
  while (d != 0) {
    size_t i = (size_t)__builtin_ctzll(d), j = i;
    while (j < 64 && ((d >> j) & 1)) j++;
    void *p = (void *)gc__page_addr(seg, i);
    CGC_TRACK_ALLOC(p, (j - i) * CGC_PAGE_SIZE);
    memset(p, 0, (j - i) * CGC_PAGE_SIZE);
    CGC_TRACK_FREE(p, (j - i) * CGC_PAGE_SIZE);
    d &= ~run_mask(i, j - i);
  }
}

/* Debug level 2: no alloc or mark bit is set on the page run [first,
 * first+n) of the pool (gc__pages_free cleared them; fresh segments are
 * zero), so that no stale bit makes an object of the next use (I1).
 * Bounds: the run's bitmap words. */
static bool run_bits_clear(const gc_segment_t *seg, size_t first, size_t n) {
  for (size_t w = first * CGC_BITMAP_WORDS_PER_PAGE; w < (first + n) * CGC_BITMAP_WORDS_PER_PAGE; w++)
    if (seg->bits[w].alloc != 0 || seg->bits[w].mark != 0) return false;
  return true;
}

/* First fit over the segment ring, then a new segment.  Bounds: one load
 * per full segment plus find_run per segment with free pages. */
gc_span_t *gc__pages_alloc(size_t npages, bool zero, gc_segment_t **segp, bool *dirty) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(npages >= 1 && npages <= CGC_DATA_PAGES);
  gc_segment_t *seg = gc__heap.segments;
  int at = -1;
  if (seg != NULL) {
    do {
      if (!seg->huge && seg->free_pages != 0 && (at = find_run(seg->free_pages, npages)) >= 0) break;
      seg = seg->next;
    } while (seg != gc__heap.segments);
  }
  if (at < 0) {
    seg = segment_map(CGC_SEGMENT_SIZE);
    if (seg == NULL) return NULL;
    seg->free_pages = DATA_MASK;
    CGC_TRACK_FREE((void *)gc__page_addr(seg, CGC_META_PAGES), CGC_DATA_PAGES * CGC_PAGE_SIZE);
    at = CGC_META_PAGES;
  }
  size_t first = (size_t)at;
  CGC_ASSERT_EXPENSIVE(run_bits_clear(seg, first, npages));
  if (zero)
    zero_dirty(seg, first, npages);
  else if (dirty != NULL)
    *dirty = (seg->dirty_pages & run_mask(first, npages)) != 0;
  seg->free_pages &= ~run_mask(first, npages);
  seg->dirty_pages |= run_mask(first, npages);
  for (size_t i = first; i < first + npages; i++) {
    gc_span_t *p = &seg->spans[i];
    CGC_ASSERT(p->state == CGC_PAGE_FREE); /* I4: a pool page */
    memset(p, 0, sizeof *p);
    p->state = i == first ? CGC_PAGE_FREE : CGC_PAGE_TAIL; /* caller sets the head's state */
    p->head = (uint16_t)first;
  }
  seg->spans[first].npages = (uint16_t)npages;
  *segp = seg;
  return &seg->spans[first];
}

/* Return a span's pages to the pool.  Its alloc and mark bits are cleared
 * so that no stale bit survives into the next use of the pages (I1); its
 * bytes are poisoned (base/track.h). */
void gc__pages_free(gc_segment_t *seg, gc_span_t *sp) {
  CGC_ASSERT_LOCKED();
  size_t first = gc__span_page(seg, sp), n = sp->npages;
  /* a span in use, on no list (I5): a head, its pages not in the pool */
  CGC_ASSERT(!seg->huge);
  CGC_ASSERT(sp->state == CGC_PAGE_SMALL || sp->state == CGC_PAGE_LARGE);
  CGC_ASSERT(sp->head == first && first >= CGC_META_PAGES && n >= 1 && first + n <= CGC_PAGES_PER_SEGMENT);
  CGC_ASSERT(sp->owner == NULL && !(sp->flags & CGC_SPAN_QUEUED));
  CGC_ASSERT((seg->free_pages & run_mask(first, n)) == 0);
  CGC_TRACK_FREE((void *)gc__page_addr(seg, first), n * CGC_PAGE_SIZE);
  size_t w = first * CGC_BITMAP_WORDS_PER_PAGE, nw = n * CGC_BITMAP_WORDS_PER_PAGE;
  memset(&seg->bits[w], 0, nw * sizeof(gc_bitpair_t));
  for (size_t i = first; i < first + n; i++) {
    gc_span_t *p = &seg->spans[i];
    CGC_ASSERT(i == first || (p->state == CGC_PAGE_TAIL && p->head == first)); /* I4 */
    memset(p, 0, sizeof *p);
    p->state = CGC_PAGE_FREE;
    p->head = (uint16_t)i;
    seg->free_since[i] = gc__heap.gc_count;
  }
  seg->free_pages |= run_mask(first, n);
}

/* ---- huge objects ----------------------------------------------------- */

/* A mapping of its own for one object of `bytes` (already known to be too
 * big for a segment).  Fresh anonymous memory is zero. */
gc_segment_t *gc__huge_alloc(size_t bytes) {
  CGC_ASSERT_LOCKED();
  size_t meta = CGC_META_PAGES * CGC_PAGE_SIZE;
  size_t body = (bytes + CGC_OS_PAGE_SIZE - 1) & ~(CGC_OS_PAGE_SIZE - 1);
  if (body < bytes || body > SIZE_MAX - meta - CGC_SEGMENT_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  gc_segment_t *seg = segment_map(meta + body);
  if (seg == NULL) return NULL;
  seg->huge = 1;
  gc_span_t *sp = &seg->spans[CGC_META_PAGES];
  sp->state = CGC_PAGE_LARGE;
  sp->npages = 1;
  sp->obj_size = body;
  return seg;
}

void gc__huge_free(gc_segment_t *seg) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(seg->huge && seg->spans[CGC_META_PAGES].state == CGC_PAGE_LARGE);
  segment_unmap(seg);
}

/* ---- returning memory ------------------------------------------------- */

/* After a collection: pages free for at least CGC_DECOMMIT_DELAY
 * collections go back to the OS (madvise), and segments whose data pages
 * are all such pages are unmapped.  Bounds: one pass over the segment
 * ring, 64 pages each. */
void gc__decommit_idle(void) {
  CGC_ASSERT_LOCKED();
  uint32_t now = gc__heap.gc_count;
  uint32_t delay = (uint32_t)gc__option(CGC_OPT_DECOMMIT_DELAY);
  gc_segment_t *seg = gc__heap.segments;
  if (seg == NULL) return;
  gc_segment_t *stop = seg->prev;
  for (;;) {
    gc_segment_t *next = seg->next;
    bool last = seg == stop;
    if (!seg->huge && seg->free_pages != 0) {
      uint64_t idle = 0;
      for (size_t i = CGC_META_PAGES; i < CGC_PAGES_PER_SEGMENT; i++)
        if (((seg->free_pages >> i) & 1) && now - seg->free_since[i] >= delay) idle |= (uint64_t)1 << i;
      if (idle == DATA_MASK) {
        segment_unmap(seg);
      } else {
        uint64_t d = idle & seg->dirty_pages;
        while (d != 0) {
          size_t i = (size_t)__builtin_ctzll(d), j = i;
          while (j < 64 && ((d >> j) & 1)) j++;
          gc__os_decommit((void *)gc__page_addr(seg, i), (j - i) * CGC_PAGE_SIZE);
          gc__stats.returned += (j - i) * CGC_PAGE_SIZE;
          d &= ~run_mask(i, j - i);
        }
        seg->dirty_pages &= ~idle;
      }
    }
    if (last) break;
    seg = next;
  }
}
