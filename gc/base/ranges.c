/*
 * ranges.c -- growable range arrays (ranges.h), doubled in internal memory.
 */
#include "base/ranges.h"

#include <string.h>

#include "base/debug.h"
#include "base/os.h"

bool gc__ranges_push(gc_ranges_t *r, uintptr_t lo, uintptr_t hi) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    gc_range_t *v = gc__os_alloc(cap * sizeof *v);
    if (v == NULL) return false;
    if (r->n) memcpy(v, r->v, r->n * sizeof *v);
    gc__os_free(r->v, r->cap * sizeof *v);
    r->v = v;
    r->cap = cap;
  }
  r->v[r->n].lo = lo;
  r->v[r->n].hi = hi;
  r->n++;
  return true;
}

/* Pieces never overlap [lo, hi), so meeting them again in the loop is
 * harmless. */
void gc__ranges_remove(gc_ranges_t *r, uintptr_t lo, uintptr_t hi) {
  for (size_t i = 0; i < r->n;) {
    gc_range_t x = r->v[i];
    if (x.hi <= lo || x.lo >= hi) {
      i++;
    } else if (x.lo < lo) {
      r->v[i++].hi = lo;
      if (x.hi > hi && !gc__ranges_push(r, hi, x.hi)) gc__fatal("out of memory for the root table");
    } else if (x.hi > hi) {
      r->v[i++].lo = hi;
    } else {
      r->v[i] = r->v[--r->n];
    }
  }
}
