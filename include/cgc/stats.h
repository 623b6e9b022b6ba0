/*
 * cgc/stats.h -- the one schema of cgc's statistics (included by cgc.h).
 *
 * CGC_STAT_FIELDS(X) lists every statistic once, as
 *   X(name, type, kind, from, description)
 *   name         the gc_stats_t field, and the key in gc_stats_json()
 *   type         its C type in gc_stats_t
 *   kind, from   where cgc keeps it (internal, not part of the API):
 *                COUNTER    a counter `from`, updated under the heap lock;
 *                ATOMIC     a counter `from`, added to atomically without
 *                           the lock (gc_free's freed bytes);
 *                CURRENT, PEAK, TOTAL
 *                           the value now, the largest value and the sum of
 *                           the increases of an amount `from` (bytes that go
 *                           up and down); every amount has a CURRENT entry;
 *                CONST      the constant `from`.
 *   description  one line: what is counted, and its unit.
 * The struct gc_stats_t below, cgc's own counters, the copy gc_get_stats
 * makes, the CGC_PRINT_STATS printouts and the JSON of gc_stats_json() are
 * all generated from it, so they cannot disagree.
 *
 * Versioning: fields are only ever appended (at the end of the list), never
 * removed, retyped or reordered.  A caller sets gc_stats_t.size to the size
 * of the struct it was compiled with and cgc fills at most that many bytes,
 * so a program built against an older, shorter struct keeps working.
 * `version` (CGC_STATS_VERSION of the library that filled the struct) tells
 * a program built against a newer header what an older library filled:
 *   1  (no `version` field, which stays as the caller left it: zero the
 *      struct first) heap_bytes .. returned_bytes;
 *   2  every field up to and including `version`.
 * Each later version fills every field before the next bump's first one.
 */
#ifndef CGC_STATS_PUBLIC_H
#define CGC_STATS_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#define CGC_STATS_VERSION 2

/* allocated_bytes is counted when a thread takes a span of free slots, so
 * it runs ahead of the bytes the program has allocated by at most the free
 * slots cached per thread and size class. */
#define CGC_STAT_FIELDS(X)                                                                                  \
  X(heap_bytes, size_t, CURRENT, heap, "bytes mapped from the OS for the heap, now")                        \
  X(heap_bytes_peak, size_t, PEAK, heap, "the largest heap_bytes so far")                                   \
  X(live_bytes, size_t, CURRENT, live, "bytes in objects that survived the last collection")                \
  X(allocated_bytes, size_t, COUNTER, allocated, "bytes handed to threads for allocation; never decreases") \
  X(freed_bytes, size_t, ATOMIC, freed, "bytes released with gc_free/gc_realloc")                           \
  X(collections, size_t, COUNTER, collections, "collections completed")                                     \
  X(pause_total_ns, uint64_t, COUNTER, pause_total_ns, "time spent in collections, ns")                     \
  X(pause_max_ns, uint64_t, COUNTER, pause_max_ns, "the longest collection, ns")                            \
  X(pause_last_ns, uint64_t, COUNTER, pause_last_ns, "the latest collection, ns")                           \
  X(returned_bytes, size_t, COUNTER, returned, "bytes given back to the OS (madvise/munmap), total")        \
  X(heap_bytes_total, uint64_t, TOTAL, heap, "bytes ever mapped from the OS for the heap")                  \
  X(live_bytes_peak, uint64_t, PEAK, live, "the largest live_bytes so far")                                 \
  X(live_bytes_total, uint64_t, TOTAL, live, "the increases of live_bytes, summed")                         \
  X(mark_overflows, uint64_t, COUNTER, mark_overflows, "times a mark stack overflowed")                     \
  X(mark_total_ns, uint64_t, COUNTER, mark_total_ns, "time spent tracing, ns")                              \
  X(mark_last_ns, uint64_t, COUNTER, mark_last_ns, "tracing time of the latest collection, ns")             \
  X(parallel_marks, uint64_t, COUNTER, parallel_marks, "collections marked by more than one marker")        \
  X(steals, uint64_t, COUNTER, steals, "ranges a marker took from another marker's deque")                  \
  X(markers_last, uint64_t, COUNTER, markers_last, "markers in the latest collection")                      \
  X(spans_swept, uint64_t, COUNTER, spans_swept, "spans swept (lazily, when a thread takes one)")           \
  X(spans_freed, uint64_t, COUNTER, spans_freed, "spans found empty and returned to the page pool")         \
  X(segments_mapped, uint64_t, COUNTER, segments_mapped, "segments mapped from the OS")                     \
  X(segments_unmapped, uint64_t, COUNTER, segments_unmapped, "segments unmapped")                           \
  X(version, uint64_t, CONST, CGC_STATS_VERSION, "the schema version that filled this struct")

/* A snapshot of the statistics (gc_get_stats). */
typedef struct gc_stats_s {
  size_t size; /* in: sizeof(gc_stats_t) as the caller knows it; kept */
#define CGC_STAT_MEMBER_(name, type, kind, from, desc) type name;
  CGC_STAT_FIELDS(CGC_STAT_MEMBER_)
#undef CGC_STAT_MEMBER_
} gc_stats_t;

/* A buffer of CGC_STATS_JSON_SIZE bytes always holds gc_stats_json()'s
 * object and its NUL: per field `"name":` and at most 20 digits and a
 * comma, and the braces. */
#define CGC_STAT_JSON_BOUND_(name, type, kind, from, desc) +(sizeof(#name) + 23)
#define CGC_STATS_JSON_SIZE ((size_t)(3 CGC_STAT_FIELDS(CGC_STAT_JSON_BOUND_)))

#endif /* CGC_STATS_PUBLIC_H */
