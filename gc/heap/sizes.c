/*
 * sizes.c -- the size classes.
 *
 * Classes 0..15 are 16, 32, ..., 256 bytes (one granule apart); above 256
 * bytes each power of two is cut into eight steps (288, 320, ..., 512,
 * 576, ...), up to 512 KiB.  So a 16-byte request costs 16 bytes, a
 * 1024-byte request 1024, and above 256 bytes a request wastes less than
 * 1/9 of its slot.  Each class gets the smallest span (a run of 64 KiB
 * pages) whose tail waste is at most 1/16.
 */
#include "heap/sizes.h"

#include "base/debug.h"

gc_class_info_t gc__classes[CGC_NCLASSES];

/* The request -> class table of the inline fast path, a constant so that
 * a thread may read it before (or while) another thread runs start-up:
 * the fast path reads it before it knows whether anything is initialised.
 * Entry g is the class of a g-granule request, by the rule of
 * gc__size_to_class below written as a constant expression for requests
 * up to 1 KiB (floor(log2(16g - 1)) is 8 or 9 there); gc__sizes_init
 * checks every entry against gc__size_to_class. */
static_assert(CGC_DIRECT_MAX <= 1024 && CGC_DIRECT_MAX % CGC_GRANULE_SIZE == 0,
              "direct table rule covers 1 KiB");
static_assert(CGC_DIRECT_MAX / CGC_GRANULE_SIZE == 64, "direct table initialiser lists 65 entries");
#define DC_LOG(m) ((m) >= 512 ? 9 : 8)
#define DC_BIG(m) (CGC_CLASS_LINEAR + (DC_LOG(m) - 8) * 8 + (((m) >> (DC_LOG(m) - 3)) & 7))
/* In size_t, narrowed once: clang's conversion warnings look at untaken
 * branches too, and DC(0)'s linear one would be -1. */
#define DC(g)                                                               \
  ((uint8_t)((g) == 0                                       ? 0             \
             : (g)*CGC_GRANULE_SIZE <= CGC_CLASS_LINEAR_MAX ? (size_t)(g)-1 \
                                                            : DC_BIG((g)*CGC_GRANULE_SIZE - 1)))
#define DC4(g) DC(g), DC((g) + 1), DC((g) + 2), DC((g) + 3)
#define DC16(g) DC4(g), DC4((g) + 4), DC4((g) + 8), DC4((g) + 12)
const uint8_t gc__direct_class[CGC_DIRECT_MAX / CGC_GRANULE_SIZE + 1] = {DC16(0), DC16(16), DC16(32),
                                                                         DC16(48), DC(64)};
#undef DC16
#undef DC4
#undef DC
#undef DC_BIG
#undef DC_LOG

static size_t class_size(unsigned c) {
  if (c < CGC_CLASS_LINEAR) return (size_t)(c + 1) * CGC_GRANULE_SIZE;
  unsigned j = c - CGC_CLASS_LINEAR, b = 8 + j / 8, k = j % 8;
  return ((size_t)1 << b) + (size_t)(k + 1) * ((size_t)1 << (b - 3));
}

/* Exact for every granule offset n with n * (size/16) < 2^40, i.e. for
 * every offset inside a segment (n < 2^18) and class (size/16 <= 2^15):
 * m*g = 2^40 + e with 0 < e <= g, so the error n*e/2^40 stays below 1/g. */
uint64_t gc__divmagic(size_t obj_size) {
  uint64_t g = obj_size >> CGC_GRANULE_SHIFT;
  return ((uint64_t)1 << 40) / g + 1;
}

unsigned gc__size_to_class(size_t n) {
  if (n <= CGC_CLASS_LINEAR_MAX)
    return n == 0 ? 0 : (unsigned)((n + CGC_GRANULE_SIZE - 1) >> CGC_GRANULE_SHIFT) - 1;
  size_t m = n - 1;
  unsigned b = 63 - (unsigned)__builtin_clzll(m);
  unsigned k = (unsigned)(m >> (b - 3)) & 7;
  return CGC_CLASS_LINEAR + (b - 8) * 8 + k;
}

static unsigned span_pages(size_t s) {
  unsigned best = 0;
  size_t best_waste = SIZE_MAX;
  for (unsigned n = 1; n <= CGC_MAX_SPAN_PAGES; n++) {
    size_t bytes = (size_t)n * CGC_PAGE_SIZE;
    if (bytes < s) continue;
    size_t waste = bytes % s;
    if (waste * 16 <= bytes) return n;
    if (waste * best < best_waste * n) { /* compare waste/bytes fractions */
      best = n;
      best_waste = waste;
    }
  }
  return best;
}

/* Why: computed once instead of a generated table so the rules above are
 * the single source of truth; checked by static and run-time asserts. */
void gc__sizes_init(void) {
  for (unsigned c = 0; c < CGC_NCLASSES; c++) {
    gc_class_info_t *ci = &gc__classes[c];
    ci->size = class_size(c);
    ci->pages = span_pages(ci->size);
    ci->nobjs = (uint32_t)((size_t)ci->pages * CGC_PAGE_SIZE / ci->size);
    ci->divmagic = gc__divmagic(ci->size);
  }
  for (size_t g = 0; g <= CGC_DIRECT_MAX / CGC_GRANULE_SIZE; g++)
    if (gc__direct_class[g] != gc__size_to_class(g * CGC_GRANULE_SIZE))
      gc__fatal("direct size class table is inconsistent");
  if (class_size(CGC_NCLASSES - 1) != CGC_SMALL_MAX) gc__fatal("size class table is inconsistent");
}
