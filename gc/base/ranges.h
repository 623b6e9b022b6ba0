/*
 * ranges.h -- growable arrays of address ranges in internal memory (root
 * ranges, module data and TLS tables; base/ranges.c).
 */
#ifndef CGC_RANGES_H
#define CGC_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

typedef struct gc_range {
  uintptr_t lo, hi;
} gc_range_t;
typedef struct gc_ranges {
  gc_range_t *v;
  size_t n, cap;
} gc_ranges_t;

/* Append [lo, hi); false when internal memory cannot be had. */
CGC_INTERNAL bool gc__ranges_push(gc_ranges_t *r, uintptr_t lo, uintptr_t hi);
/* Cut [lo, hi) out of every range (a straddling range keeps both ends). */
CGC_INTERNAL void gc__ranges_remove(gc_ranges_t *r, uintptr_t lo, uintptr_t hi);

#endif /* CGC_RANGES_H */
