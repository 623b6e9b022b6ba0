/*
 * verify.c -- the heap-invariant walker.  Checks I1..I5 of heap/layout.h
 * exactly as stated there, plus the bookkeeping they rest on (radix map,
 * page accounting, mapped bytes).  Expensive: it reads every free slot of
 * every scanned span.  Runs after every collection in debug level 2
 * builds or with CGC_VERIFY=1, and from tests.  The functions that read
 * slot bytes are CGC_NO_SANITIZE_ADDRESS: free slots are poisoned in an
 * ASan build (base/track.h).
 */
#include "debug/verify.h"

#include <string.h>

#include "alloc/tctx.h"
#include "heap/heap.h"
#include "threads/registry.h"
#include "threads/world.h"

static int failures;

#define CHECK(cond, ...)                                            \
  do {                                                              \
    if (!(cond)) {                                                  \
      if (failures++ < 20) gc__message("heap check: " __VA_ARGS__); \
    }                                                               \
  } while (0)

CGC_NO_SANITIZE_ADDRESS static bool all_zero(const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    if (c[i] != 0) return false;
  return true;
}

static bool thread_known(const gc_tctx_t *t) {
  for (const gc_tctx_t *x = gc__registry.threads; x != NULL; x = x->next)
    if (x == t) return true;
  return false;
}

/* I2 and the free list of an owned span. */
CGC_NO_SANITIZE_ADDRESS static void check_owned(gc_segment_t *seg, gc_span_t *sp) {
  const gc_tctx_t *t = sp->owner;
  CHECK(thread_known(t), "span %p owned by an unknown thread context", (void *)sp);
  CHECK(t->span[sp->kind][sp->cls] == sp, "span %p owner does not point back", (void *)sp);
  uintptr_t base = gc__span_base(seg, sp), end = gc__span_slots_end(seg, sp);
  size_t count = 0;
  void *lists[2] = {t->free[sp->kind][sp->cls], sp->rest};
  for (int l = 0; l < 2; l++) {
    for (void *p = lists[l]; p != NULL; p = *(void **)p) {
      uintptr_t a = (uintptr_t)p;
      if (++count > sp->nobjs) {
        CHECK(false, "free lists of span %p are longer than the span (cycle?)", (void *)sp);
        return;
      }
      if (a < base || a >= end || (a - base) % sp->obj_size != 0) {
        CHECK(false, "free list of span %p holds %p, not one of its slots", (void *)sp, p);
        return;
      }
      CHECK(gc__alloc_test(seg, gc__granule_index(seg, a)), "cached free object %p lacks its alloc bit (I2)",
            p);
      if (gc__kind_scanned(sp->kind))
        CHECK(all_zero((char *)p + sizeof(void *), sp->obj_size - sizeof(void *)),
              "cached free object %p is not zero (I3)", p);
    }
  }
  if (sp->unbuilt == 0) return;
  if (sp->npages != 1 || sp->unbuilt <= base || sp->unbuilt >= end ||
      (sp->unbuilt - base) % sp->obj_size != 0) {
    CHECK(false, "span %p: unlinked tail at %p is not one of its slots", (void *)sp, (void *)sp->unbuilt);
    return;
  }
  for (uintptr_t a = sp->unbuilt; a < end; a += sp->obj_size) {
    CHECK(gc__alloc_test(seg, gc__granule_index(seg, a)), "unlinked slot %p lacks its alloc bit (I2)",
          (void *)a);
    if (gc__kind_scanned(sp->kind))
      CHECK(all_zero((char *)a + sizeof(void *), sp->obj_size - sizeof(void *)),
            "unlinked slot %p is not zero (I3)", (void *)a);
  }
}

CGC_NO_SANITIZE_ADDRESS static void check_small(gc_segment_t *seg, gc_span_t *sp, size_t page) {
  CHECK(sp->cls < CGC_NCLASSES, "span %p class %u", (void *)sp, sp->cls);
  if (sp->cls >= CGC_NCLASSES) return;
  const gc_class_info_t *ci = &gc__classes[sp->cls];
  CHECK(sp->obj_size == ci->size && sp->nobjs == ci->nobjs && sp->npages == ci->pages &&
            sp->divmagic == ci->divmagic,
        "span %p disagrees with class %u", (void *)sp, sp->cls);
  CHECK(!(sp->owner != NULL && (sp->flags & CGC_SPAN_QUEUED)), "span %p both owned and queued (I5)",
        (void *)sp);
  uintptr_t base = gc__page_addr(seg, page);
  size_t g0 = gc__granule_index(seg, base), gstep = sp->obj_size >> CGC_GRANULE_SHIFT;
  size_t w0 = page * CGC_BITMAP_WORDS_PER_PAGE, nw = (size_t)sp->npages * CGC_BITMAP_WORDS_PER_PAGE;
  for (size_t w = w0; w < w0 + nw; w++) {
    for (uint64_t a = seg->bits[w].alloc; a != 0; a &= a - 1) {
      size_t g = w * 64 + (size_t)__builtin_ctzll(a);
      CHECK((g - g0) % gstep == 0 && (g - g0) / gstep < sp->nobjs,
            "alloc bit at granule %zu of span %p is not an object start (I1)", g, (void *)sp);
    }
    if (!(sp->flags & CGC_SPAN_UNSWEPT))
      CHECK(seg->bits[w].mark == 0, "span %p has mark bits outside a collection but is not unswept",
            (void *)sp);
    else
      CHECK((seg->bits[w].mark & seg->bits[w].alloc) == 0, "span %p: a DEAD slot is still allocated",
            (void *)sp);
  }
  if (sp->owner != NULL) {
    check_owned(seg, sp);
    return;
  }
  if (!gc__kind_scanned(sp->kind) || (sp->flags & CGC_SPAN_ZERO_ALL)) return;
  for (uint32_t i = 0; i < sp->nobjs; i++) { /* I3 */
    size_t g = g0 + i * gstep;
    if (gc__alloc_test(seg, g)) continue;
    if ((sp->flags & CGC_SPAN_UNSWEPT) && gc__mark_test(seg, g)) continue;
    CHECK(all_zero((void *)(base + i * sp->obj_size), sp->obj_size),
          "free slot %p of span %p is not zero (I3)", (void *)(base + i * sp->obj_size), (void *)sp);
  }
}

static size_t check_segment(gc_segment_t *seg, size_t *queued) {
  CHECK(seg->magic == CGC_SEGMENT_MAGIC, "segment %p has a bad magic", (void *)seg);
  for (uintptr_t c = (uintptr_t)seg; c < (uintptr_t)seg + seg->size; c += CGC_SEGMENT_SIZE)
    CHECK(gc__radix_lookup(c) == seg, "radix map does not find segment %p at %p", (void *)seg, (void *)c);
  if (seg->huge) {
    gc_span_t *sp = &seg->spans[CGC_META_PAGES];
    CHECK(sp->state == CGC_PAGE_LARGE, "huge segment %p without its object", (void *)seg);
    CHECK(gc__alloc_test(seg, gc__granule_index(seg, gc__huge_base(seg))), "huge object of %p not allocated",
          (void *)seg);
    return seg->size;
  }
  CHECK(seg->size == CGC_SEGMENT_SIZE, "segment %p size %zu", (void *)seg, seg->size);
  for (size_t i = 0; i < CGC_META_PAGES; i++)
    CHECK(seg->spans[i].state == CGC_PAGE_META && !((seg->free_pages >> i) & 1), "segment %p meta page %zu",
          (void *)seg, i);
  for (size_t i = CGC_META_PAGES; i < CGC_PAGES_PER_SEGMENT;) {
    gc_span_t *sp = &seg->spans[i];
    bool free_bit = (seg->free_pages >> i) & 1;
    if (sp->state == CGC_PAGE_FREE) { /* I4 */
      CHECK(free_bit && sp->head == i, "free page %zu of %p not in the pool", i, (void *)seg);
      for (size_t w = i * CGC_BITMAP_WORDS_PER_PAGE; w < (i + 1) * CGC_BITMAP_WORDS_PER_PAGE; w++)
        CHECK(seg->bits[w].alloc == 0 && seg->bits[w].mark == 0, "free page %zu of %p has bitmap bits", i,
              (void *)seg);
      i++;
      continue;
    }
    CHECK(!free_bit, "page %zu of %p is in use and in the pool (I4)", i, (void *)seg);
    CHECK(sp->head == i && (sp->state == CGC_PAGE_SMALL || sp->state == CGC_PAGE_LARGE),
          "page %zu of %p: expected a span head, state %u", i, (void *)seg, sp->state);
    size_t n = sp->npages;
    if (n == 0 || i + n > CGC_PAGES_PER_SEGMENT) {
      CHECK(false, "span at page %zu of %p has %zu pages", i, (void *)seg, n);
      return seg->size;
    }
    for (size_t j = i + 1; j < i + n; j++)
      CHECK(seg->spans[j].state == CGC_PAGE_TAIL && seg->spans[j].head == i && !((seg->free_pages >> j) & 1),
            "page %zu of %p is not a tail of the span at %zu (I4)", j, (void *)seg, i);
    if (sp->state == CGC_PAGE_SMALL) {
      check_small(seg, sp, i);
      if (sp->flags & CGC_SPAN_QUEUED) (*queued)++;
    } else {
      CHECK(sp->obj_size == n * CGC_PAGE_SIZE, "large span at %zu of %p: size %zu", i, (void *)seg,
            sp->obj_size);
      CHECK(gc__alloc_test(seg, gc__granule_index(seg, gc__page_addr(seg, i))),
            "large object at page %zu of %p not allocated", i, (void *)seg);
    }
    i += n;
  }
  return seg->size;
}

int gc__heap_check_locked(void) {
  CGC_ASSERT_STOPPED();
  failures = 0;
  size_t mapped = 0, queued = 0, in_queues = 0;
  gc_segment_t *seg = gc__heap.segments;
  if (seg != NULL) {
    do {
      mapped += check_segment(seg, &queued);
      seg = seg->next;
    } while (seg != gc__heap.segments);
  }
  CHECK(mapped == gc__heap.mapped, "mapped bytes %zu, segments add up to %zu", gc__heap.mapped, mapped);
  for (unsigned k = 0; k < CGC_NKINDS; k++) /* I5 */
    for (unsigned c = 0; c < CGC_NCLASSES; c++)
      for (gc_span_t *sp = gc__heap.sweep_queue[k][c]; sp != NULL; sp = sp->next) {
        CHECK(sp->state == CGC_PAGE_SMALL && sp->kind == k && sp->cls == c && (sp->flags & CGC_SPAN_QUEUED) &&
                  sp->owner == NULL,
              "span %p misfiled in sweep queue %u/%u", (void *)sp, k, c);
        if (++in_queues > queued + 1) break;
      }
  CHECK(in_queues == queued, "%zu spans flagged queued, %zu in the queues", queued, in_queues);
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
    for (unsigned k = 0; k < CGC_NKINDS; k++)
      for (unsigned c = 0; c < CGC_NCLASSES; c++)
        if (t->free[k][c] != NULL)
          CHECK(t->span[k][c] != NULL && t->span[k][c]->owner == t,
                "thread %p has a free list without an owned span", (void *)t);
  return failures == 0;
}

int gc__heap_is_valid(void) {
  if (gc__thread_ctx() == NULL) return 0;
  gc__lock();
  gc__world_stop(NULL); /* other threads' caches change without the lock */
  int ok = gc__heap_check_locked();
  gc__world_start();
  gc__unlock();
  return ok;
}
