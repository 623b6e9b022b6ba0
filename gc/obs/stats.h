/*
 * stats.h -- cgc's own statistics counters, generated from the one schema
 * (CGC_STAT_FIELDS, include/cgc/stats.h).  Amounts that go up and down
 * (bytes mapped, live bytes) are gc_stat_count_t with current, peak and
 * total; the rest are plain counters.  Updated under the heap lock (L1),
 * except the schema's ATOMIC ones (`freed`), which gc_free adds to
 * atomically without it.
 */
#ifndef CGC_STATS_H
#define CGC_STATS_H

#include <stdint.h>

#include "cgc.h"

#include "base/compiler.h"

typedef struct gc_stat_count {
  int64_t current, peak, total;
} gc_stat_count_t;

/* One member per COUNTER or ATOMIC entry and per amount (its CURRENT
 * entry); PEAK, TOTAL and CONST entries add none. */
#define CGC_STAT_STORE_COUNTER(from) uint64_t from;
#define CGC_STAT_STORE_ATOMIC(from) uint64_t from;
#define CGC_STAT_STORE_CURRENT(from) gc_stat_count_t from;
#define CGC_STAT_STORE_PEAK(from)
#define CGC_STAT_STORE_TOTAL(from)
#define CGC_STAT_STORE_CONST(from)

typedef struct gc_stats_internal {
#define CGC_STAT_STORE(name, type, kind, from, desc) CGC_STAT_STORE_##kind(from)
  CGC_STAT_FIELDS(CGC_STAT_STORE)
#undef CGC_STAT_STORE
} gc_stats_internal_t;

CGC_INTERNAL extern gc_stats_internal_t gc__stats;

static inline void gc__stat_add(gc_stat_count_t *s, int64_t n) {
  s->current += n;
  if (n > 0) s->total += n;
  if (s->current > s->peak) s->peak = s->current;
}
static inline void gc__stat_set(gc_stat_count_t *s, int64_t v) { gc__stat_add(s, v - s->current); }

/* The public snapshot of gc__stats, every field but `size` (heap lock
 * held, so the numbers agree). */
CGC_INTERNAL void gc__stats_snapshot(gc_stats_t *out);

/* Format *s as gc_stats_json() does (same contract), without taking the
 * lock: gc_stats_json is this on a fresh snapshot. */
CGC_INTERNAL size_t gc__stats_format_json(const gc_stats_t *s, char *buf, size_t size);

/* The CGC_PRINT_STATS=1 lines: one per collection and the summary at exit
 * (heap lock held, so the numbers agree). */
CGC_INTERNAL void gc__stats_print_collection(uint64_t pause_ns, uint64_t live_atomic, uint64_t next_after);
CGC_INTERNAL void gc__stats_print_summary(void);
/* The CGC_PRINT_STATS=json line at exit: gc_stats_json's object, alone on
 * its line, in one write(2).  Takes the heap lock itself (not held). */
CGC_INTERNAL void gc__stats_print_json(void);

/* The hidden definitions behind gc_get_stats (collect/collect.c: the
 * snapshot is taken under the heap lock there) and gc_stats_json (here);
 * the public names are aliases, so libcgc's own calls bind locally. */
CGC_INTERNAL void gc__get_stats(gc_stats_t *s);
CGC_INTERNAL size_t gc__stats_json(char *buf, size_t size);

#endif
