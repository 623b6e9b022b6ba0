/*
 * test_sizes.c -- size classes: exact sizes for granule multiples, a usable
 * size >= the request with at most 12.5% waste from 256 bytes up (checked
 * for every request 1..600000 through the class table, and by allocation
 * for samples), a consistent class table, and exact object-index division.
 */
#include "common.h"

Test(sizes, exact_small_sizes) {
  cr_assert_eq(gc_size(gc_malloc(16)), 16);
  cr_assert_eq(gc_size(gc_malloc(1024)), 1024);
  cr_assert_eq(gc_size(gc_malloc(1)), 16, "a 1-byte request costs one 16-byte granule");
  for (size_t n = 16; n <= 256; n += 16) {
    cr_assert_eq(gc_size(gc_malloc(n)), n, "gc_size(gc_malloc(%zu))", n);
    cr_assert_eq(gc_size(gc_malloc_atomic(n)), n, "gc_size(gc_malloc_atomic(%zu))", n);
  }
}

Test(sizes, class_table_is_consistent) {
  gc_init();
  size_t prev = 0;
  for (unsigned c = 0; c < CGC_NCLASSES; c++) {
    const gc_class_info_t *ci = &gc__classes[c];
    cr_assert_gt(ci->size, prev, "class %u (%zu B) is not larger than class %u", c, ci->size, c - 1);
    cr_assert_eq(ci->size % CGC_GRANULE_SIZE, 0, "class %u size %zu is not whole granules", c, ci->size);
    cr_assert(ci->pages >= 1 && ci->pages <= CGC_MAX_SPAN_PAGES, "class %u: %u pages", c, ci->pages);
    size_t span = (size_t)ci->pages * CGC_PAGE_SIZE;
    cr_assert_eq(ci->nobjs, span / ci->size, "class %u: nobjs %u, span %zu, size %zu", c, ci->nobjs, span,
                 ci->size);
    cr_assert_geq(ci->nobjs, 1);
    size_t tail = span - (size_t)ci->nobjs * ci->size;
    cr_assert_leq(tail * 16, span, "class %u (%zu B): tail waste %zu of a %zu-byte span is over 1/16", c,
                  ci->size, tail, span);
    cr_assert_eq(ci->divmagic, gc__divmagic(ci->size), "class %u divmagic", c);
    cr_assert_eq(gc__size_to_class(ci->size), c, "a request of exactly class %u's size maps elsewhere", c);
    prev = ci->size;
  }
  cr_assert_eq(gc__classes[0].size, 16);
  cr_assert_eq(gc__classes[CGC_NCLASSES - 1].size, CGC_SMALL_MAX, "the largest class is not %zu",
               CGC_SMALL_MAX);
}

Test(sizes, divmagic_is_exact_for_every_granule) {
  gc_init();
  for (unsigned c = 0; c < CGC_NCLASSES; c++) {
    const gc_class_info_t *ci = &gc__classes[c];
    size_t gpo = ci->size >> CGC_GRANULE_SHIFT; /* granules per object */
    uint64_t span_granules = ((uint64_t)ci->pages * CGC_PAGE_SIZE) >> CGC_GRANULE_SHIFT;
    for (uint64_t g = 0; g < span_granules; g++) {
      size_t want = (size_t)(g / gpo);
      size_t got = gc__obj_index(g, ci->divmagic);
      if (got != want)
        cr_assert_fail("class %u (%zu B): granule %llu maps to object %zu, not %zu", c, ci->size,
                       (unsigned long long)g, got, want);
    }
  }
}

Test(sizes, every_request_up_to_600000) {
  gc_init();
  for (size_t n = 1; n <= CGC_SMALL_MAX; n++) {
    unsigned c = gc__size_to_class(n);
    if (c >= CGC_NCLASSES) cr_assert_fail("gc__size_to_class(%zu) = %u", n, c);
    size_t sz = gc__classes[c].size;
    if (sz < n) cr_assert_fail("request %zu gets class %u of %zu bytes", n, c, sz);
    if (c > 0 && gc__classes[c - 1].size >= n)
      cr_assert_fail("request %zu gets class %u (%zu B) though class %u (%zu B) fits", n, c, sz, c - 1,
                     gc__classes[c - 1].size);
    if (n < 256 && sz - n >= CGC_GRANULE_SIZE) cr_assert_fail("request %zu wastes %zu bytes", n, sz - n);
    if (n >= 256 && (sz - n) * 8 > n)
      cr_assert_fail("request %zu gets %zu bytes: waste %.2f%% > 12.5%%", n, sz,
                     100.0 * (double)(sz - n) / (double)n);
  }
  /* beyond the classes: large objects, sampled (and every page boundary) */
  for (size_t n = CGC_SMALL_MAX + 1; n <= 600000; n += (n % 3 == 0) ? 1021 : 2039) {
    const size_t probe[] = {n, (n | (CGC_PAGE_SIZE - 1)) + 1, ((n | (CGC_PAGE_SIZE - 1)) + 1) + 1};
    for (size_t k = 0; k < 3; k++) {
      size_t m = probe[k];
      void *p = (k & 1) ? gc_malloc_atomic(m) : gc_malloc(m);
      cr_assert_not_null(p, "gc_malloc(%zu)", m);
      size_t us = gc_size(p);
      cr_assert_geq(us, m, "gc_size(gc_malloc(%zu)) = %zu", m, us);
      cr_assert_leq((us - m) * 8, m, "request %zu gets %zu bytes: waste > 12.5%%", m, us);
      gc_free(p);
    }
  }
}

Test(sizes, allocation_agrees_with_class_table) {
  gc_init();
  uint64_t rs = 5;
  for (int i = 0; i < 3000; i++) {
    size_t n = (i < 1000) ? t_range(&rs, 1, 1024) : t_range(&rs, 1, CGC_SMALL_MAX);
    int atomic = i & 1;
    void *p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
    cr_assert_not_null(p);
    size_t want = gc__classes[gc__size_to_class(n)].size;
    cr_assert_eq(gc_size(p), want, "gc_size(gc_malloc%s(%zu)) = %zu, class size %zu", atomic ? "_atomic" : "",
                 n, gc_size(p), want);
    cr_assert_eq((uintptr_t)p % CGC_GRANULE_SIZE, 0);
    gc_free(p);
  }
  for (unsigned c = 0; c < CGC_NCLASSES; c++) {
    void *p = gc_malloc(gc__classes[c].size);
    cr_assert_eq(gc_size(p), gc__classes[c].size);
    gc_free(p);
  }
}

Test(sizes, large_and_huge_usable_sizes) {
  static const size_t sizes[] = {CGC_SMALL_MAX + 1,
                                 600000,
                                 T_MiB - 1,
                                 T_MiB,
                                 T_MiB + 1,
                                 3 * T_MiB,
                                 (size_t)CGC_DATA_PAGES * CGC_PAGE_SIZE - 1,
                                 (size_t)CGC_DATA_PAGES * CGC_PAGE_SIZE,
                                 (size_t)CGC_DATA_PAGES * CGC_PAGE_SIZE + 1,
                                 4 * T_MiB,
                                 16 * T_MiB,
                                 16 * T_MiB + 1,
                                 40 * T_MiB + 12345};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    unsigned char *p = gc_malloc(n);
    cr_assert_not_null(p, "gc_malloc(%zu)", n);
    size_t us = gc_size(p);
    cr_assert_geq(us, n, "gc_size(gc_malloc(%zu)) = %zu", n, us);
    cr_assert_leq((us - n) * 8, n, "request %zu gets %zu bytes: waste > 12.5%%", n, us);
    cr_assert_eq(gc_base(p + us - 1), p);
    T_ASSERT_ZERO(p, n, "large/huge gc_malloc");
    ((unsigned char *)t_launder(p))[us - 1] = 1;
    gc_free(p);
  }
  T_ASSERT_HEAP_VALID();
}
