/*
 * test_stats.c -- the one statistics schema (include/cgc/stats.h): every
 * field of gc_stats_t is filled and moves as the work done says it must;
 * the public snapshot reads the right counter for each field; callers of
 * an older, shorter struct get their prefix only; gc_stats_json() writes
 * every field once with the snapshot's values and keeps snprintf's
 * contract; CGC_PRINT_STATS=json prints one JSON line at exit, and
 * CGC_PRINT_STATS=1 a line per field.
 */
#include "common.h"

#include <stdio.h>
#include <sys/wait.h>

#include "debug/hooks.h"
#include "obs/stats.h"

/* ======================================================================
 * the schema, seen from the tests
 * ====================================================================== */

typedef struct {
  const char *name;
  size_t offset;
} field_t;

static const field_t fields[] = {
#define T_FIELD(name, type, kind, from, desc) {#name, offsetof(gc_stats_t, name)},
    CGC_STAT_FIELDS(T_FIELD)
#undef T_FIELD
};
enum { NFIELDS = sizeof fields / sizeof fields[0] };

static uint64_t field_value(const gc_stats_t *s, size_t i) {
  uint64_t v;
  memcpy(&v, (const char *)s + fields[i].offset, sizeof v);
  return v;
}

Test(stats, layout_keeps_the_first_struct) {
  /* what programs built against the first gc_stats_t read */
  cr_assert_eq(offsetof(gc_stats_t, size), 0);
  cr_assert_eq(offsetof(gc_stats_t, heap_bytes), 8);
  cr_assert_eq(offsetof(gc_stats_t, heap_bytes_peak), 16);
  cr_assert_eq(offsetof(gc_stats_t, live_bytes), 24);
  cr_assert_eq(offsetof(gc_stats_t, allocated_bytes), 32);
  cr_assert_eq(offsetof(gc_stats_t, freed_bytes), 40);
  cr_assert_eq(offsetof(gc_stats_t, collections), 48);
  cr_assert_eq(offsetof(gc_stats_t, pause_total_ns), 56);
  cr_assert_eq(offsetof(gc_stats_t, pause_max_ns), 64);
  cr_assert_eq(offsetof(gc_stats_t, pause_last_ns), 72);
  cr_assert_eq(offsetof(gc_stats_t, returned_bytes), 80);
  /* then the schema's fields, appended in order, no padding */
  cr_assert_eq(sizeof(gc_stats_t), sizeof(size_t) + NFIELDS * sizeof(uint64_t));
  for (size_t i = 0; i < NFIELDS; i++)
    cr_assert_eq(fields[i].offset, sizeof(size_t) + i * sizeof(uint64_t), "field %s out of place",
                 fields[i].name);
  cr_assert_str_eq(fields[NFIELDS - 1].name, "version");
  cr_assert_eq(CGC_STATS_VERSION, 2);
}

/* ======================================================================
 * every field is filled and plausible after known work
 * ====================================================================== */

Test(stats, every_field_is_written) {
  union {
    gc_stats_t s;
    unsigned char b[sizeof(gc_stats_t)];
  } u;
  memset(u.b, 0xCD, sizeof u.b);
  u.s.size = sizeof u.s;
  gc_get_stats(&u.s);
  cr_assert_eq(u.s.size, sizeof(gc_stats_t), "size not kept");
  for (size_t i = 0; i < NFIELDS; i++)
    cr_assert_neq(field_value(&u.s, i), 0xCDCDCDCDCDCDCDCDu, "%s was not written", fields[i].name);
  cr_assert_eq(u.s.version, CGC_STATS_VERSION);
}

enum { SMALL_N = 20000, SMALL_SIZE = 64, BIG_N = 4, BIG_SIZE = 2 * 1024 * 1024, HUGE_SIZE = 9 * 1024 * 1024 };
static void **volatile g_small; /* SMALL_N objects of SMALL_SIZE */
static void *volatile g_big[BIG_N];
static void *volatile g_huge;

static T_NOINLINE void build_live(void) {
  g_small = gc_malloc(SMALL_N * sizeof(void *));
  cr_assert_not_null(g_small);
  for (size_t i = 0; i < SMALL_N; i++) g_small[i] = gc_malloc(SMALL_SIZE);
  for (size_t i = 0; i < BIG_N; i++) g_big[i] = gc_malloc_atomic(BIG_SIZE);
  g_huge = gc_malloc_atomic(HUGE_SIZE);
  for (size_t i = 0; i < SMALL_N; i++) cr_assert_not_null(g_small[i]);
  for (size_t i = 0; i < BIG_N; i++) cr_assert_not_null(g_big[i]);
  cr_assert_not_null(g_huge);
}

static T_NOINLINE void drop_every_other_small(void) {
  for (size_t i = 0; i < SMALL_N; i += 2) g_small[i] = NULL;
}

static T_NOINLINE void refill_small(void) {
  for (size_t i = 0; i < SMALL_N; i += 2) g_small[i] = gc_malloc(SMALL_SIZE);
  for (size_t i = 0; i < SMALL_N; i += 2) cr_assert_not_null(g_small[i]);
}

static T_NOINLINE void drop_all(void) {
  g_small = NULL;
  for (size_t i = 0; i < BIG_N; i++) g_big[i] = NULL;
  g_huge = NULL;
}

Test(stats, fields_follow_known_work, .timeout = 60.) {
  const size_t live = SMALL_N * SMALL_SIZE + BIG_N * BIG_SIZE + HUGE_SIZE;
  gc_stats_t s0 = t_stats();
  cr_assert_eq(s0.collections, 0);
  cr_assert_eq(s0.pause_total_ns + s0.pause_max_ns + s0.pause_last_ns, 0);
  cr_assert_eq(s0.mark_total_ns + s0.mark_last_ns + s0.markers_last + s0.parallel_marks + s0.steals, 0);
  cr_assert_eq(s0.live_bytes + s0.live_bytes_peak + s0.live_bytes_total, 0);
  cr_assert_eq(s0.spans_freed + s0.segments_unmapped + s0.returned_bytes + s0.freed_bytes, 0);
  cr_assert_eq(s0.version, CGC_STATS_VERSION);

  /* allocation maps segments and counts what it hands out */
  gc_disable();
  build_live();
  gc_enable();
  gc_stats_t s1 = t_stats();
  cr_assert_eq(s1.collections, 0);
  cr_assert_geq(s1.allocated_bytes - s0.allocated_bytes, live,
                "allocated_bytes grew by %zu after %zu allocated", s1.allocated_bytes - s0.allocated_bytes,
                live);
  cr_assert_geq(s1.segments_mapped, s0.segments_mapped + 4, "%llu segments for %zu bytes",
                (unsigned long long)s1.segments_mapped, live);
  cr_assert_geq(s1.heap_bytes, live);
  cr_assert_geq(s1.heap_bytes_peak, s1.heap_bytes);
  cr_assert_geq(s1.heap_bytes_total, s1.heap_bytes_peak);
  cr_assert_eq(s1.heap_bytes_total, s1.heap_bytes, "nothing was unmapped yet");
  cr_assert_eq(s1.segments_unmapped, 0);

  /* collections: pauses, tracing, markers, the live set */
  for (int i = 0; i < 3; i++) t_collect();
  gc_stats_t s2 = t_stats();
  cr_assert_eq(s2.collections, 3);
  cr_assert_gt(s2.pause_last_ns, 0);
  cr_assert_geq(s2.pause_max_ns, s2.pause_last_ns);
  cr_assert_geq(s2.pause_total_ns, s2.pause_max_ns);
  cr_assert_gt(s2.mark_last_ns, 0);
  cr_assert_geq(s2.mark_total_ns, s2.mark_last_ns);
  cr_assert_leq(s2.mark_total_ns, s2.pause_total_ns, "tracing took longer than the collections");
  cr_assert_geq(s2.markers_last, 1);
  cr_assert_leq(s2.markers_last, 16);
  cr_assert_leq(s2.parallel_marks, s2.collections);
  cr_assert_geq(s2.live_bytes, live, "live_bytes %zu < the %zu held", s2.live_bytes, live);
  cr_assert_leq(s2.live_bytes, s2.heap_bytes);
  cr_assert_geq(s2.live_bytes_peak, s2.live_bytes);
  cr_assert_geq(s2.live_bytes_total, s2.live_bytes_peak);
  cr_assert_eq(s2.spans_freed, s1.spans_freed, "spans freed with everything live");
  cr_assert_eq(s2.allocated_bytes, s1.allocated_bytes);

  /* gc_free counts its bytes */
  gc_free(g_big[0]);
  g_big[0] = NULL;
  gc_stats_t s3 = t_stats();
  cr_assert_geq(s3.freed_bytes - s2.freed_bytes, BIG_SIZE);

  /* half the small slots die; taking their spans again sweeps them */
  drop_every_other_small();
  t_collect();
  gc_stats_t s4 = t_stats();
  refill_small();
  gc_stats_t s5 = t_stats();
  cr_assert_geq(s5.spans_swept, s4.spans_swept + (SMALL_N / 2 * SMALL_SIZE) / (64 * 1024),
                "spans_swept %llu -> %llu after reusing %d freed slots", (unsigned long long)s4.spans_swept,
                (unsigned long long)s5.spans_swept, SMALL_N / 2);
  cr_assert_lt(s4.live_bytes, s2.live_bytes);

  /* everything dies: spans freed, the huge mapping unmapped, pages returned */
  drop_all();
  for (int i = 0; i < 6; i++) {
    t_collect();
    t_churn_small(64 * T_KiB, (uint64_t)i);
  }
  gc_stats_t s6 = t_stats();
  cr_assert_gt(s6.spans_freed, s5.spans_freed + SMALL_N * SMALL_SIZE / (64 * 1024) / 2);
  cr_assert_gt(s6.segments_unmapped, 0, "the dead %d-byte object's mapping was not unmapped", HUGE_SIZE);
  cr_assert_geq(s6.returned_bytes, HUGE_SIZE);
  cr_assert_lt(s6.heap_bytes, s6.heap_bytes_peak);
  cr_assert_gt(s6.heap_bytes_total, s6.heap_bytes, "heap_bytes_total reads the current heap");
  cr_assert_lt(s6.live_bytes, s6.live_bytes_peak / 4, "live_bytes_peak reads the current live bytes");
  cr_assert_geq(s6.live_bytes_peak, live);
  cr_assert_geq(s6.live_bytes_total, s6.live_bytes_peak);
  cr_assert_eq(s6.collections, s2.collections + 7);
  T_ASSERT_HEAP_VALID();
}

/* Each field against the counter it must be read from, written out by
 * hand (the schema says it once; this is the check of that one place). */
Test(stats, snapshot_reads_the_right_counters, .timeout = 60.) {
  gc_disable();
  build_live();
  gc_enable();
  t_collect();
  gc_free(g_big[1]);
  g_big[1] = NULL;
  drop_all();
  for (int i = 0; i < 4; i++) {
    t_collect();
    t_churn_small(256 * T_KiB, (uint64_t)i);
  }
  /* map again after unmapping (heap total > peak) and grow the live set
   * again after it fell (live total > peak) */
  g_huge = gc_malloc_atomic(HUGE_SIZE);
  g_big[0] = gc_malloc_atomic(BIG_SIZE);
  cr_assert(g_huge && g_big[0]);
  t_collect();
  gc_stats_t s = t_stats();
  const gc_stats_internal_t *c = &gc__stats;
  size_t n = 0;
#define T_SAME(field, counter)                                                                  \
  do {                                                                                          \
    cr_assert_eq((uint64_t)s.field, (uint64_t)(counter), #field " = %llu, " #counter " = %llu", \
                 (unsigned long long)s.field, (unsigned long long)(counter));                   \
    n++;                                                                                        \
  } while (0)
  T_SAME(heap_bytes, c->heap.current);
  T_SAME(heap_bytes_peak, c->heap.peak);
  T_SAME(live_bytes, c->live.current);
  T_SAME(allocated_bytes, c->allocated);
  T_SAME(freed_bytes, c->freed);
  T_SAME(collections, c->collections);
  T_SAME(pause_total_ns, c->pause_total_ns);
  T_SAME(pause_max_ns, c->pause_max_ns);
  T_SAME(pause_last_ns, c->pause_last_ns);
  T_SAME(returned_bytes, c->returned);
  T_SAME(heap_bytes_total, c->heap.total);
  T_SAME(live_bytes_peak, c->live.peak);
  T_SAME(live_bytes_total, c->live.total);
  T_SAME(mark_overflows, c->mark_overflows);
  T_SAME(mark_total_ns, c->mark_total_ns);
  T_SAME(mark_last_ns, c->mark_last_ns);
  T_SAME(parallel_marks, c->parallel_marks);
  T_SAME(steals, c->steals);
  T_SAME(markers_last, c->markers_last);
  T_SAME(spans_swept, c->spans_swept);
  T_SAME(spans_freed, c->spans_freed);
  T_SAME(segments_mapped, c->segments_mapped);
  T_SAME(segments_unmapped, c->segments_unmapped);
  T_SAME(version, CGC_STATS_VERSION);
#undef T_SAME
  cr_assert_eq(n, NFIELDS, "the schema has %d fields, this test checks %zu: add the new ones", NFIELDS, n);
  /* the amounts differ from their peaks and totals here, so a field read
   * from the wrong one of the three would have failed above */
  cr_assert_neq(c->heap.current, c->heap.peak);
  cr_assert_neq(c->heap.peak, c->heap.total);
  cr_assert_neq(c->live.current, c->live.peak);
  cr_assert_neq(c->live.peak, c->live.total);
}

enum { WIDE_N = 20000 };
static void **volatile g_fan; /* one object pointing to WIDE_N leaves */

static T_NOINLINE void build_fan(void) {
  g_fan = gc_malloc(WIDE_N * sizeof(void *));
  cr_assert_not_null(g_fan);
  for (size_t i = 0; i < WIDE_N; i++) {
    void *leaf = gc_malloc(32);
    cr_assert_not_null(leaf);
    g_fan[i] = leaf;
  }
}

Test(stats, mark_overflows_counted) {
  T_SETENV("CGC_MARK_STACK_MAX", "64");
  T_SETENV("CGC_MARKERS", "1");
  build_fan();
  cr_assert_eq(t_stats().mark_overflows, 0);
  t_collect();
  gc_stats_t s = t_stats();
  cr_assert_gt(s.mark_overflows, 0, "a 64-entry mark stack never overflowed on %d leaves of one object",
               WIDE_N);
  cr_assert_eq(s.markers_last, 1);
  cr_assert_eq(s.parallel_marks, 0);
  cr_assert_eq(s.steals, 0, "steals with one marker");
  cr_assert_geq(s.live_bytes, WIDE_N * 32);
}

/* A wide tree: plenty of ranges on the collector's deque for helpers. */
static T_NOINLINE void *build_wide(int depth) {
  enum { FAN = 16 };
  void **n = gc_malloc(FAN * sizeof(void *));
  cr_assert_not_null(n);
  if (depth > 0)
    for (int i = 0; i < FAN; i++) n[i] = build_wide(depth - 1);
  return n;
}
static void *volatile g_wide;

Test(stats, parallel_marks_and_steals_counted, .timeout = 120.) {
  T_SETENV("CGC_MARKERS", "4");
  gc__mark_force_parallel(true);
  g_wide = build_wide(4); /* 69905 nodes */
  uint64_t steals = 0;
  for (int i = 0; i < 100 && steals == 0; i++) {
    t_collect();
    steals = t_stats().steals;
  }
  gc_stats_t s = t_stats();
  cr_assert_eq(s.markers_last, 4);
  cr_assert_eq(s.parallel_marks, s.collections, "%llu of %zu collections marked in parallel",
               (unsigned long long)s.parallel_marks, s.collections);
  cr_assert_gt(s.steals, 0, "no marker stole from another in %zu parallel collections", s.collections);
  cr_assert_not_null(g_wide);
}

/* ======================================================================
 * versioned: older and newer callers
 * ====================================================================== */

Test(stats, old_size_gets_its_prefix_only) {
  void *volatile keep = gc_malloc(1000);
  t_collect();
  gc_stats_t full = t_stats();
  const size_t old = offsetof(gc_stats_t, returned_bytes) + sizeof(size_t);
  cr_assert_eq(old, 88);
  union {
    gc_stats_t s;
    unsigned char b[sizeof(gc_stats_t) + 64];
  } u;
  memset(u.b, 0xCD, sizeof u.b);
  u.s.size = old;
  gc_get_stats(&u.s);
  cr_assert_eq(u.s.size, old);
  cr_assert_eq(memcmp((char *)&u.s + sizeof(size_t), (char *)&full + sizeof(size_t), old - sizeof(size_t)), 0,
               "the old fields differ from a full snapshot");
  for (size_t i = old; i < sizeof u.b; i++)
    cr_assert_eq(u.b[i], 0xCD, "a %zu-byte caller had byte %zu written", old, i);
  cr_assert_eq(u.s.collections, 1);

  /* a caller newer than the library: the library's struct, no more */
  memset(u.b, 0xCD, sizeof u.b);
  u.s.size = sizeof u.b;
  gc_get_stats(&u.s);
  cr_assert_eq(u.s.size, sizeof u.b);
  cr_assert_eq(u.s.version, CGC_STATS_VERSION);
  for (size_t i = sizeof(gc_stats_t); i < sizeof u.b; i++)
    cr_assert_eq(u.b[i], 0xCD, "byte %zu past gc_stats_t written", i);

  /* too small for `size` itself: nothing written */
  memset(u.b, 0xCD, sizeof u.b);
  u.s.size = sizeof(size_t) - 1;
  gc_get_stats(&u.s);
  cr_assert_eq(u.s.size, sizeof(size_t) - 1);
  for (size_t i = sizeof(size_t); i < sizeof u.b; i++) cr_assert_eq(u.b[i], 0xCD);
  gc_get_stats(NULL);
  cr_assert_eq(gc_base(keep), keep);
}

/* ======================================================================
 * JSON
 * ====================================================================== */

/* A strict checker for what gc_stats_json promises: one object of
 * "key":unsigned-integer members, keys [a-z0-9_], no spaces, nothing
 * after the closing brace but `tail`.  Returns NULL or what is wrong. */
typedef struct {
  size_t n;
  char key[64][32];
  uint64_t val[64];
} members_t;

static const char *parse_json(const char *p, const char *tail, members_t *m) {
  m->n = 0;
  if (*p++ != '{') return "does not start with {";
  if (*p == '}') return "empty object";
  for (;;) {
    if (m->n == 64) return "too many members";
    if (*p++ != '"') return "a key does not start with \"";
    size_t k = 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
      if (k == 31) return "key too long";
      m->key[m->n][k++] = *p++;
    }
    m->key[m->n][k] = 0;
    if (k == 0 || *p++ != '"') return "a key does not end with \"";
    if (*p++ != ':') return "no : after a key";
    if (*p < '0' || *p > '9') return "a value is not a number";
    if (*p == '0' && p[1] >= '0' && p[1] <= '9') return "a number with a leading zero";
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
      unsigned d = (unsigned)(*p - '0');
      if (v > (UINT64_MAX - d) / 10) return "a number past 64 bits";
      v = v * 10 + d;
    }
    m->val[m->n++] = v;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p++ != '}') return "no , or } after a value";
    break;
  }
  if (strcmp(p, tail) != 0) return "something after the object";
  return NULL;
}

/* Every schema field exactly once, in order, with the value of *s. */
static void assert_members_are(const members_t *m, const gc_stats_t *s, const char *what) {
  cr_assert_eq(m->n, NFIELDS, "%s: %zu members, the schema has %d", what, m->n, NFIELDS);
  for (size_t i = 0; i < NFIELDS; i++) {
    cr_assert_str_eq(m->key[i], fields[i].name, "%s: member %zu", what, i);
    cr_assert_eq(m->val[i], field_value(s, i), "%s: %s = %llu, the snapshot has %llu", what, fields[i].name,
                 (unsigned long long)m->val[i], (unsigned long long)field_value(s, i));
  }
}

Test(stats, json_has_every_field_with_its_value) {
  void *volatile keep = gc_malloc(5000);
  t_churn_small(T_MiB, 3);
  t_collect();
  gc_free(gc_malloc(300));
  char buf[CGC_STATS_JSON_SIZE];
  gc_stats_t s = t_stats();
  size_t n = gc_stats_json(buf, sizeof buf);
  cr_assert_lt(n, sizeof buf);
  cr_assert_eq(strlen(buf), n);
  members_t m;
  const char *bad = parse_json(buf, "", &m);
  cr_assert_null(bad, "%s: %s", bad, buf);
  assert_members_are(&m, &s, "gc_stats_json");
  cr_assert_eq(gc_stats_json(NULL, 0), n, "the length it needs");
  cr_assert_eq(gc_base(keep), keep);
}

/* Distinct values in every field (the largest too) land under their own
 * key, and the largest object fits CGC_STATS_JSON_SIZE. */
Test(stats, json_formats_each_field_from_its_own_value) {
  gc_stats_t s;
  s.size = sizeof s;
  for (size_t i = 0; i < NFIELDS; i++) {
    uint64_t v = i == 0 ? UINT64_MAX : i == 1 ? 0 : t_mix64(i) >> (i % 40);
    memcpy((char *)&s + fields[i].offset, &v, sizeof v);
  }
  char buf[CGC_STATS_JSON_SIZE];
  size_t n = gc__stats_format_json(&s, buf, sizeof buf);
  members_t m;
  const char *bad = parse_json(buf, "", &m);
  cr_assert_null(bad, "%s: %s", bad, buf);
  assert_members_are(&m, &s, "distinct values");
  cr_assert_eq(strlen(buf), n);

  for (size_t i = 0; i < NFIELDS; i++) memset((char *)&s + fields[i].offset, 0xFF, sizeof(uint64_t));
  n = gc__stats_format_json(&s, buf, sizeof buf);
  cr_assert_lt(n, sizeof buf, "the longest object (%zu bytes) does not fit CGC_STATS_JSON_SIZE (%zu)", n,
               sizeof buf);
  cr_assert_eq(n + 2, sizeof buf, "CGC_STATS_JSON_SIZE is not tight: %zu for %zu", sizeof buf, n);
  cr_assert_null(parse_json(buf, "", &m));
  assert_members_are(&m, &s, "all UINT64_MAX");
}

Test(stats, json_truncates_like_snprintf) {
  gc_stats_t s = t_stats();
  char full[CGC_STATS_JSON_SIZE];
  size_t n = gc__stats_format_json(&s, full, sizeof full);
  cr_assert_eq(strlen(full), n);
  cr_assert_eq(gc__stats_format_json(&s, NULL, 0), n);
  char buf[CGC_STATS_JSON_SIZE + 16];
  for (size_t size = 0; size <= n + 8; size++) {
    memset(buf, 0x7F, sizeof buf);
    size_t r = gc__stats_format_json(&s, buf, size);
    cr_assert_eq(r, n, "size %zu: returned %zu, needs %zu", size, r, n);
    for (size_t i = size; i < sizeof buf; i++)
      cr_assert_eq(buf[i], 0x7F, "size %zu: byte %zu written (at most size bytes)", size, i);
    if (size == 0) continue;
    size_t kept = n < size ? n : size - 1;
    cr_assert_eq(buf[kept], '\0', "size %zu: not NUL-terminated at %zu", size, kept);
    cr_assert_eq(memcmp(buf, full, kept), 0, "size %zu: the prefix differs", size);
  }
  /* the public function, cut short */
  memset(buf, 0x7F, sizeof buf);
  cr_assert_geq(gc_stats_json(buf, 10), 10);
  cr_assert_eq(strlen(buf), 9);
  cr_assert_eq(memcmp(buf, "{\"heap_by", 9), 0, "%s", buf);
  cr_assert_eq(buf[10], 0x7F);
  memset(buf, 0x7F, sizeof buf);
  cr_assert_eq(gc_stats_json(buf, 1), n);
  cr_assert_eq(buf[0], '\0');
  cr_assert_eq(buf[1], 0x7F);
}

/* ======================================================================
 * CGC_PRINT_STATS at exit (child processes)
 * ====================================================================== */

static T_NOINLINE void child_work(void) {
  gc_disable(); /* exactly the two collections below */
  void *volatile keep = gc_malloc(1 << 20);
  t_churn_small(4 * T_MiB, 1);
  gc_enable();
  gc_collect();
  gc_collect();
  gc_free(gc_malloc(100));
  (void)keep;
}

__attribute__((constructor)) static void child_main(void) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  if (strcmp(scenario, "work") != 0) exit(2);
  child_work();
  gc_stats_t s = t_stats();
  printf("collections=%zu\n", s.collections);
  fflush(stdout);
  exit(0); /* CGC_PRINT_STATS prints from atexit */
}

static t_child_t *run_work(const char *env0) {
  const char *env[] = {env0, NULL};
  t_child_t *res = t_run_child("work", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "%s: status %#x\n%s", env0, res->status,
            res->err);
  cr_assert_str_eq(res->out, "collections=2\n");
  return res;
}

Test(stats, print_stats_json_prints_one_json_line) {
  t_child_t *res = run_work("CGC_PRINT_STATS=json");
  cr_assert_eq(res->err_len, strlen(res->err), "stderr cut short");
  char *nl = strchr(res->err, '\n');
  cr_assert(nl != NULL && nl[1] == '\0', "not exactly one line on stderr:\n%s", res->err);
  members_t m;
  const char *bad = parse_json(res->err, "\n", &m);
  cr_assert_null(bad, "%s:\n%s", bad, res->err);
  cr_assert_eq(m.n, NFIELDS);
  for (size_t i = 0; i < NFIELDS; i++) cr_assert_str_eq(m.key[i], fields[i].name);
  cr_assert_eq(m.val[5], 2, "collections = %llu", (unsigned long long)m.val[5]);
  cr_assert_str_eq(m.key[5], "collections");
  cr_assert_geq(m.val[3], 4 * T_MiB, "allocated_bytes");
  cr_assert_gt(m.val[4], 0, "freed_bytes");
  cr_assert_eq(m.val[NFIELDS - 1], CGC_STATS_VERSION);
  free(res);
}

Test(stats, print_stats_1_prints_lines_and_every_field) {
  t_child_t *res = run_work("CGC_PRINT_STATS=1");
  cr_assert_not_null(strstr(res->err, "cgc: gc #1: pause "), "no per-collection line:\n%s", res->err);
  cr_assert_not_null(strstr(res->err, "cgc: gc #2: pause "), "no per-collection line:\n%s", res->err);
  cr_assert_null(strstr(res->err, "{\""), "JSON printed in text mode:\n%s", res->err);
  const char *sum = strstr(res->err, "cgc: summary: 2 collections");
  cr_assert_not_null(sum, "no summary:\n%s", res->err);
  for (size_t i = 0; i < NFIELDS; i++) {
    char line[64];
    snprintf(line, sizeof line, "\ncgc:   %s ", fields[i].name);
    cr_assert_not_null(strstr(sum, line), "no summary line for %s:\n%s", fields[i].name, sum);
  }
  free(res);
}

Test(stats, print_stats_rejects_other_values) {
  const char *vals[] = {"CGC_PRINT_STATS=2", "CGC_PRINT_STATS=JSON", "CGC_PRINT_STATS=jsonx"};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    t_child_t *res = run_work(vals[i]);
    cr_assert_not_null(strstr(res->err, "cgc: ignoring CGC_PRINT_STATS="), "%s accepted:\n%s", vals[i],
                       res->err);
    cr_assert_not_null(strstr(res->err, "0/1/json"), "%s", res->err);
    cr_assert_null(strstr(res->err, "summary"), "%s: printed stats:\n%s", vals[i], res->err);
    free(res);
  }
  t_child_t *res = run_work("CGC_PRINT_STATS=0");
  cr_assert_eq(res->err_len, 0, "CGC_PRINT_STATS=0 printed:\n%s", res->err);
  free(res);
}
