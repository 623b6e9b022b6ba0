/*
 * stats.c -- the statistics struct and the CGC_PRINT_STATS report lines.
 * The public snapshot (gc_get_stats) is taken under the heap lock by
 * collect/collect.c.
 */
#include "obs/stats.h"

#include "base/debug.h"

gc_stats_internal_t gc__stats;

static double mib(int64_t b) { return (double)b / (1024.0 * 1024.0); }

void gc__stats_print_collection(uint64_t pause_ns, uint64_t live_atomic, uint64_t next_after) {
  gc__message(
      "gc #%llu: pause %.3f ms (mark %.3f ms, %llu markers), live %.2f MiB (%.2f atomic), heap %.2f MiB, "
      "next after %.2f MiB, returned %.2f MiB total",
      (unsigned long long)gc__stats.collections, (double)pause_ns / 1e6, (double)gc__stats.mark_last_ns / 1e6,
      (unsigned long long)gc__stats.markers_last, mib(gc__stats.live.current), mib((int64_t)live_atomic),
      mib(gc__stats.heap.current), mib((int64_t)next_after), mib((int64_t)gc__stats.returned));
}

void gc__stats_print_summary(void) {
  gc__message("summary: %llu collections, pause total %.3f ms, max %.3f ms",
              (unsigned long long)gc__stats.collections, (double)gc__stats.pause_total_ns / 1e6,
              (double)gc__stats.pause_max_ns / 1e6);
#define CGC_PRINT_AMOUNT(name, desc)                                                        \
  gc__message("  %-18s current %10.2f MiB  peak %10.2f MiB  total %10.2f MiB  (%s)", #name, \
              mib(gc__stats.name.current), mib(gc__stats.name.peak), mib(gc__stats.name.total), desc);
  CGC_STAT_AMOUNTS(CGC_PRINT_AMOUNT)
#undef CGC_PRINT_AMOUNT
#define CGC_PRINT_COUNTER(name, desc) \
  gc__message("  %-18s %14llu  (%s)", #name, (unsigned long long)gc__stats.name, desc);
  CGC_STAT_COUNTERS(CGC_PRINT_COUNTER)
#undef CGC_PRINT_COUNTER
}
