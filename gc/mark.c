/*
 * mark.c -- marking: an explicit mark stack of address ranges, the
 * conservative scan of a range, and recovery from mark-stack overflow.
 *
 * Every word of a scanned range is a candidate pointer.  A cheap bounds
 * test against the span of all mappings rejects most non-pointers; the
 * rest resolve through the radix map and the span descriptor to an object
 * start (gc__find_object), whose alloc bit must be set.  A newly marked
 * object of a scanned kind is pushed as the range [start, start+size).
 *
 * The stack grows (doubling, internal memory) up to CGC_MARK_STACK_MAX
 * entries.  Past that a push is dropped and `overflowed` set: the object
 * is marked but its contents not yet scanned.  When the stack drains, every
 * marked object of a scanned kind is scanned again, which reaches whatever
 * the dropped entries would have; this repeats until a round drops nothing.
 * Each round marks at least one new object, so it terminates, and the C
 * stack never grows with the depth of the object graph.
 */
#include "internal.h"
#include "options.h"
#include "stats.h"

#include <string.h>

#define INITIAL_ENTRIES 4096
#define SCAN_CHUNK ((uintptr_t)64 * 1024) /* scan big ranges in pieces */

static gc_mark_stack_t *const ms = &gc__heap.mstack;

void gc__mark_init(void) {
  size_t max = (size_t)gc__option(CGC_OPT_MARK_STACK_MAX);
  ms->max = max < 16 ? 16 : max;
  ms->cap = ms->max < INITIAL_ENTRIES ? ms->max : INITIAL_ENTRIES;
  ms->v = gc__os_alloc(ms->cap * sizeof(gc_range_t));
  if (ms->v == NULL) gc__fatal("cannot map the mark stack");
  ms->n = 0;
}

static bool grow(void) {
  if (ms->cap >= ms->max) return false;
  size_t cap = ms->cap * 2 > ms->max ? ms->max : ms->cap * 2;
  gc_range_t *v = gc__os_alloc(cap * sizeof(gc_range_t));
  if (v == NULL) return false;
  memcpy(v, ms->v, ms->n * sizeof(gc_range_t));
  gc__os_free(ms->v, ms->cap * sizeof(gc_range_t));
  ms->v = v;
  ms->cap = cap;
  return true;
}

/* Push outside the mark loop (overflow recovery).  Drops the entry and
 * sets `overflowed` when the stack cannot grow. */
static void push(uintptr_t lo, uintptr_t hi) {
  if (cgc_unlikely(ms->n == ms->cap) && !grow()) {
    if (!ms->overflowed) gc__stats.mark_overflows++;
    ms->overflowed = true;
    return;
  }
  ms->v[ms->n].lo = lo;
  ms->v[ms->n].hi = hi;
  ms->n++;
}

/* The mark loop: pop ranges and scan them until the stack is empty.
 *
 * Entries pass through a small FIFO on their way from the stack to the
 * scanner and are prefetched as they enter it: by the time an object is
 * scanned its cache line has had PREFETCH_DEPTH scans' worth of time to
 * arrive, instead of every scan waiting on a dependent miss (DFS order
 * alone gives no memory-level parallelism).  Big ranges are split so one
 * entry never stalls on megabytes at a time; the remainder always fits,
 * because a refill of the FIFO popped an entry since the last push.
 *
 * The stack top, its capacity and the heap bounds live in locals: stores
 * to the mark bitmap could otherwise alias them and force reloads. */
#define PREFETCH_DEPTH 16
#define PUSH(LO, HI)                                         \
  do {                                                       \
    if (cgc_unlikely(n == cap)) {                            \
      ms->n = n;                                             \
      push((LO), (HI));                                      \
      v = ms->v, n = ms->n, cap = ms->cap;                   \
    } else {                                                 \
      v[n].lo = (LO);                                        \
      v[n].hi = (HI);                                        \
      n++;                                                   \
    }                                                        \
  } while (0)

CGC_NO_SANITIZE_ADDRESS static void drain_stack(void) {
  gc_range_t *v = ms->v;
  size_t n = ms->n, cap = ms->cap;
  const uintptr_t hlo = gc__heap.lo, hspan = gc__heap.hi - gc__heap.lo;
  gc_range_t fifo[PREFETCH_DEPTH];
  unsigned head = 0, len = 0;
  for (;;) {
    while (len < PREFETCH_DEPTH && n > 0) {
      gc_range_t r = v[--n];
      __builtin_prefetch((const void *)r.lo);
      fifo[(head + len++) % PREFETCH_DEPTH] = r;
    }
    if (len == 0) break;
    gc_range_t r = fifo[head];
    head = (head + 1) % PREFETCH_DEPTH;
    len--;
    if (r.hi - r.lo > SCAN_CHUNK) {
      cgc_assert(n < cap);
      PUSH(r.lo + SCAN_CHUNK, r.hi);
      r.hi = r.lo + SCAN_CHUNK;
    }
    for (uintptr_t p = r.lo; p + CGC_WORD_SIZE <= r.hi; p += CGC_WORD_SIZE) {
      uintptr_t w = *(const uintptr_t *)p;
      if (cgc_likely(w - hlo >= hspan)) continue;
      gc_segment_t *seg = gc__radix_lookup_inside(w);
      if (seg == NULL) continue;
      gc_span_t *sp;
      uintptr_t obj = gc__find_object_in(seg, w, &sp);
      if (obj == 0) continue;
      size_t g = gc__granule_index(seg, obj);
      uint64_t *mw = &seg->bits[g >> 6].mark, bit = gc__bit(g), m = *mw;
      if (m & bit) continue;
      *mw = m | bit;
      if (gc__kind_scanned(sp->kind)) PUSH(obj, obj + sp->obj_size);
    }
  }
  ms->n = n;
}

/* Scan every marked object of a scanned kind again (overflow recovery).
 * Bounds: the mark bitmap of the whole heap plus every marked object. */
static void rescan_marked(void) {
  gc_segment_t *seg = gc__heap.segments;
  if (seg == NULL) return;
  do {
    if (seg->huge) {
      gc_span_t *sp = &seg->spans[CGC_META_PAGES];
      uintptr_t obj = gc__huge_base(seg);
      if (gc__kind_scanned(sp->kind) && gc__mark_test(seg, gc__granule_index(seg, obj))) {
        push(obj, obj + sp->obj_size);
        drain_stack();
      }
    } else {
      for (size_t i = CGC_META_PAGES; i < CGC_PAGES_PER_SEGMENT;) {
        gc_span_t *sp = &seg->spans[i];
        size_t n = sp->state == CGC_PAGE_FREE ? 1 : sp->npages;
        if ((sp->state == CGC_PAGE_SMALL || sp->state == CGC_PAGE_LARGE) && gc__kind_scanned(sp->kind)) {
          size_t w0 = i * CGC_BITMAP_WORDS_PER_PAGE, nw = n * CGC_BITMAP_WORDS_PER_PAGE;
          for (size_t w = w0; w < w0 + nw; w++) {
            for (uint64_t m = seg->bits[w].mark; m != 0; m &= m - 1) {
              uintptr_t obj = (uintptr_t)seg + ((w * 64 + (size_t)__builtin_ctzll(m)) << CGC_GRANULE_SHIFT);
              push(obj, obj + sp->obj_size);
              drain_stack();
            }
          }
        }
        i += n;
      }
    }
    seg = seg->next;
  } while (seg != gc__heap.segments);
}

void gc__mark_drain(void) {
  for (;;) {
    drain_stack();
    if (!ms->overflowed) return;
    ms->overflowed = false;
    rescan_marked();
  }
}

/* A root range: trace everything it reaches, now.  It goes through the
 * mark loop like any object (split into chunks there); the stack is empty
 * between root ranges, so the push cannot be dropped. */
void gc__mark_range(uintptr_t lo, uintptr_t hi) {
  lo = (lo + CGC_WORD_SIZE - 1) & ~(uintptr_t)(CGC_WORD_SIZE - 1);
  if (hi <= lo) return;
  cgc_assert(ms->n == 0);
  push(lo, hi);
  gc__mark_drain();
}

/* The serial marker has no threads to forget in a fork child. */
void gc__mark_atfork_child(void) {}
