/*
 * stats.h -- cgc's statistics, defined once.  Amounts that go up and down
 * (bytes mapped, live bytes) are gc_stat_count_t with current, peak and
 * total; events are plain counters.  Updated under the heap lock, except
 * `freed`, which gc_free adds to atomically without it.
 */
#ifndef CGC_STATS_H
#define CGC_STATS_H

#include <stdint.h>

#include "base/compiler.h"

typedef struct gc_stat_count {
  int64_t current, peak, total;
} gc_stat_count_t;

/* X(name, description) */
#define CGC_STAT_AMOUNTS(X)                        \
  X(heap, "bytes mapped from the OS for the heap") \
  X(live, "bytes live after the last collection")

#define CGC_STAT_COUNTERS(X)                                               \
  X(allocated, "bytes handed to threads for allocation (never decreases)") \
  X(freed, "bytes released with gc_free")                                  \
  X(returned, "bytes given back to the OS")                                \
  X(collections, "collections completed")                                  \
  X(pause_total_ns, "nanoseconds spent collecting")                        \
  X(pause_max_ns, "longest collection, ns")                                \
  X(pause_last_ns, "latest collection, ns")                                \
  X(mark_overflows, "times the mark stack overflowed")                     \
  X(mark_total_ns, "nanoseconds spent tracing (gc__mark_drain)")           \
  X(mark_last_ns, "tracing time of the latest collection, ns")             \
  X(parallel_marks, "collections marked by more than one marker")          \
  X(steals, "ranges a marker took from another marker's deque")            \
  X(markers_last, "markers in the latest collection")                      \
  X(spans_swept, "spans swept lazily")                                     \
  X(spans_freed, "spans found empty and returned to the pool")             \
  X(segments_mapped, "segments mapped")                                    \
  X(segments_unmapped, "segments unmapped")

typedef struct gc_stats_internal {
#define CGC_STAT_AMOUNT_FIELD(name, desc) gc_stat_count_t name;
  CGC_STAT_AMOUNTS(CGC_STAT_AMOUNT_FIELD)
#undef CGC_STAT_AMOUNT_FIELD
#define CGC_STAT_COUNTER_FIELD(name, desc) uint64_t name;
  CGC_STAT_COUNTERS(CGC_STAT_COUNTER_FIELD)
#undef CGC_STAT_COUNTER_FIELD
} gc_stats_internal_t;

CGC_INTERNAL extern gc_stats_internal_t gc__stats;

static inline void gc__stat_add(gc_stat_count_t *s, int64_t n) {
  s->current += n;
  if (n > 0) s->total += n;
  if (s->current > s->peak) s->peak = s->current;
}
static inline void gc__stat_set(gc_stat_count_t *s, int64_t v) { gc__stat_add(s, v - s->current); }

/* The CGC_PRINT_STATS lines (heap lock held, so the numbers agree). */
CGC_INTERNAL void gc__stats_print_collection(uint64_t pause_ns, uint64_t live_atomic, uint64_t next_after);
CGC_INTERNAL void gc__stats_print_summary(void);

#endif
