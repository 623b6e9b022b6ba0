/*
 * stats.c -- the statistics counters, their snapshot, the JSON form and
 * the CGC_PRINT_STATS report lines, all generated from CGC_STAT_FIELDS
 * (include/cgc/stats.h).  The public snapshot (gc_get_stats) is taken
 * under the heap lock by collect/collect.c.  Nothing here allocates: cgc
 * may itself be the program's malloc.
 */
#include "obs/stats.h"

#include <assert.h>
#include <string.h>

#include "base/atomic.h"
#include "base/debug.h"

gc_stats_internal_t gc__stats;

/* Programs built against the first gc_stats_t (no `version`) read these
 * offsets. */
static_assert(offsetof(gc_stats_t, heap_bytes) == 8 && offsetof(gc_stats_t, collections) == 48 &&
                  offsetof(gc_stats_t, pause_total_ns) == 56 && offsetof(gc_stats_t, returned_bytes) == 80,
              "the first gc_stats_t fields keep their offsets");
#define CGC_STAT_IS_WORD(name, type, kind, from, desc) \
  static_assert(sizeof(type) == sizeof(uint64_t), #name ": JSON and the bound print 64-bit words");
CGC_STAT_FIELDS(CGC_STAT_IS_WORD)
#undef CGC_STAT_IS_WORD

/* How the snapshot reads each kind of entry (include/cgc/stats.h). */
#define CGC_STAT_READ_COUNTER(from) gc__stats.from
#define CGC_STAT_READ_ATOMIC(from) gc__load(gc__word(&gc__stats.from))
#define CGC_STAT_READ_CURRENT(from) gc__stats.from.current
#define CGC_STAT_READ_PEAK(from) gc__stats.from.peak
#define CGC_STAT_READ_TOTAL(from) gc__stats.from.total
#define CGC_STAT_READ_CONST(from) (from)

void gc__stats_snapshot(gc_stats_t *out) {
#define CGC_STAT_COPY(name, type, kind, from, desc) out->name = (type)CGC_STAT_READ_##kind(from);
  CGC_STAT_FIELDS(CGC_STAT_COPY)
#undef CGC_STAT_COPY
}

/* ---- JSON ------------------------------------------------------------ */

/* snprintf's bookkeeping: `len` counts every byte asked for, only the
 * first size - 1 are stored (the last byte is kept for the NUL). */
typedef struct {
  char *buf;
  size_t size, len;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++, o->len++)
    if (o->len + 1 < o->size) o->buf[o->len] = s[i];
}

static void put_u64(out_t *o, uint64_t v) {
  char d[20]; /* UINT64_MAX has 20 digits */
  size_t n = 0;
  do {
    d[sizeof d - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  put(o, d + sizeof d - n, n);
}

size_t gc__stats_format_json(const gc_stats_t *s, char *buf, size_t size) {
  out_t o = {buf, size, 0};
  put(&o, "{", 1);
  const char *sep = "";
#define CGC_STAT_JSON(name, type, kind, from, desc) \
  put(&o, sep, strlen(sep));                        \
  put(&o, "\"" #name "\":", sizeof #name + 2);      \
  put_u64(&o, (uint64_t)s->name);                   \
  sep = ",";
  CGC_STAT_FIELDS(CGC_STAT_JSON)
#undef CGC_STAT_JSON
  put(&o, "}", 1);
  if (size > 0) buf[o.len < size ? o.len : size - 1] = '\0';
  return o.len;
}

size_t gc__stats_json(char *buf, size_t size) {
  gc_stats_t s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  gc__get_stats(&s);
  return gc__stats_format_json(&s, buf, size);
}
size_t gc_stats_json(char *buf, size_t size) CGC_ALIAS(gc__stats_json);

void gc__stats_print_json(void) {
  char line[CGC_STATS_JSON_SIZE + 1]; /* the object, '\n' in place of its NUL, a NUL */
  size_t n = gc__stats_json(line, CGC_STATS_JSON_SIZE);
  if (n >= CGC_STATS_JSON_SIZE) n = CGC_STATS_JSON_SIZE - 1; /* cannot happen: the size is a bound */
  line[n++] = '\n';
  line[n] = '\0';
  gc__message_raw(line, n);
}

/* ---- text ------------------------------------------------------------ */

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
  gc_stats_t s;
  gc__stats_snapshot(&s);
  gc__message("summary: %llu collections, pause total %.3f ms, max %.3f ms",
              (unsigned long long)s.collections, (double)s.pause_total_ns / 1e6,
              (double)s.pause_max_ns / 1e6);
#define CGC_STAT_LINE(name, type, kind, from, desc) \
  gc__message("  %-18s %20llu  %s", #name, (unsigned long long)s.name, desc);
  CGC_STAT_FIELDS(CGC_STAT_LINE)
#undef CGC_STAT_LINE
}
