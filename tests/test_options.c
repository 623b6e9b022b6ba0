/*
 * test_options.c -- the CGC_* environment options: heap growth policy,
 * decommit delay, size suffixes of the heap limits, initial heap size,
 * statistics printing and verbosity (and silence without them); their
 * bounds and bdwgc aliases; gc_option_get/set and what a run-time change
 * does; the output hook (gc_set_output); and the message formatter
 * (gc__format) against snprintf.
 *
 * Options are read once at initialisation, so scenarios that compare
 * several settings re-execute this program with a scrubbed environment
 * (CGC_TEST_CHILD names the scenario; a constructor runs it before
 * Criterion starts) and read its output.
 */
#include "common.h"

#include "base/format.h"

#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <wchar.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* ======================================================================
 * child scenarios (no Criterion in here: plain checks, exit codes)
 * ====================================================================== */

typedef struct cnode {
  struct cnode *next;
  char pad[4096 - sizeof(struct cnode *)];
} cnode;
static cnode *volatile g_child_live;

static T_NOINLINE void child_build_live(size_t bytes) {
  for (size_t done = 0; done < bytes; done += sizeof(cnode)) {
    cnode *n = gc_malloc(sizeof *n);
    if (n == NULL) exit(3);
    n->next = g_child_live;
    g_child_live = n;
  }
}

static T_NOINLINE void child_garbage(size_t bytes) {
  uint64_t rs = 1;
  for (size_t done = 0; done < bytes;) {
    size_t n = t_range(&rs, 16, 2048);
    char *p = gc_malloc(n);
    if (p == NULL) exit(4);
    p[0] = 1;
    done += n;
  }
}

static void child_growth(void) {
  child_build_live(32 * T_MiB);
  gc_collect();
  gc_stats_t s0 = t_stats();
  child_garbage(256 * T_MiB);
  gc_stats_t s1 = t_stats();
  size_t n = 0;
  for (cnode *c = g_child_live; c; c = c->next) n++;
  if (n != 32 * T_MiB / sizeof(cnode)) exit(5);
  printf("collections=%zu live=%zu\n", s1.collections - s0.collections, s0.live_bytes);
}

static void child_some_work(void) {
  child_build_live(2 * T_MiB);
  child_garbage(16 * T_MiB);
  gc_collect();
  gc_collect();
}

/* Hold 64 MiB: fails if a mangled CGC_MAX_HEAP_SIZE was taken as a cap. */
static void child_hold_64m(void) {
  child_build_live(64 * T_MiB);
  gc_collect();
  size_t n = 0;
  for (cnode *c = g_child_live; c; c = c->next) n++;
  if (n != 64 * T_MiB / sizeof(cnode)) exit(6);
}

/* CGC_PRINT_STATS turned on (or off) at run time: the summary at exit
 * follows the value the option has then. */
static void child_stats_switch(long long on) {
  child_build_live(T_MiB); /* below the first budget: collections 1 and 2 are these */
  gc_collect();
  gc_collect();
  if (gc_option_set("PRINT_STATS", on) != 0) exit(7);
  gc_collect();
}

__attribute__((constructor)) static void child_main(void) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  if (strcmp(scenario, "growth") == 0)
    child_growth();
  else if (strcmp(scenario, "work") == 0)
    child_some_work();
  else if (strcmp(scenario, "hold64m") == 0)
    child_hold_64m();
  else if (strcmp(scenario, "stats_on") == 0)
    child_stats_switch(1);
  else if (strcmp(scenario, "stats_off") == 0)
    child_stats_switch(0);
  else
    exit(2);
  fflush(stdout);
  exit(0);
}

static size_t growth_collections(const char *growth) {
  const char *env[] = {growth, "CGC_INITIAL_HEAP_SIZE=1M", NULL};
  t_child_t *res = t_run_child("growth", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0,
            "growth child (%s) failed: status %#x\n%s", growth, res->status, res->err);
  size_t c = 0, live = 0;
  cr_assert_eq(sscanf(res->out, "collections=%zu live=%zu", &c, &live), 2, "bad child output: %s", res->out);
  cr_assert_geq(live, 32 * T_MiB, "%s: live_bytes %zu after a collection with 32 MiB live", growth, live);
  free(res);
  return c;
}

Test(options, heap_growth_sets_collection_frequency, .timeout = 60.) {
  /* 32 MiB live, 256 MiB allocated: about 8 collections at 100%, 32 at 25% */
  size_t c100 = growth_collections("CGC_HEAP_GROWTH=100");
  size_t c25 = growth_collections("CGC_HEAP_GROWTH=25");
  cr_assert(c100 >= 4 && c100 <= 16,
            "CGC_HEAP_GROWTH=100: %zu collections for 256 MiB allocated with 32 MiB live "
            "(expected about 8)",
            c100);
  cr_assert(c25 >= 16 && c25 <= 64, "CGC_HEAP_GROWTH=25: %zu collections (expected about 32; 100%% gave %zu)",
            c25, c100);
  /* the default is 50%: between the two */
  size_t cdef = growth_collections("CGC_UNRELATED=1");
  cr_assert(cdef > c100 && cdef < c25, "default growth gave %zu collections, 100%% gave %zu, 25%% %zu", cdef,
            c100, c25);
}

Test(options, silent_by_default) {
  t_child_t *res = t_run_child("work", NULL);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "status %#x", res->status);
  cr_assert_eq(res->err_len, 0, "cgc printed without being asked:\n%s", res->err);
  cr_assert_str_empty(res->out);
  free(res);
}

Test(options, print_stats_prints) {
  const char *env[] = {"CGC_PRINT_STATS=1", NULL};
  t_child_t *res = t_run_child("work", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "status %#x\n%s", res->status, res->err);
  cr_assert(res->err_len > 0 || res->out[0] != 0, "CGC_PRINT_STATS=1 printed nothing");
  free(res);
}

Test(options, verbose_prints) {
  const char *env[] = {"CGC_VERBOSE=1", NULL};
  t_child_t *res = t_run_child("work", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "status %#x\n%s", res->status, res->err);
  cr_assert_gt(res->err_len, 0, "CGC_VERBOSE=1 printed nothing to stderr");
  free(res);
}

Test(options, verify_passes_on_a_healthy_heap) {
  const char *env[] = {"CGC_VERIFY=1", NULL};
  t_child_t *res = t_run_child("work", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "CGC_VERIFY=1: status %#x\n%s",
            res->status, res->err);
  free(res);
}

Test(options, malformed_values_are_reported_and_ignored) {
  const char *env[] = {"CGC_MAX_HEAP_SIZE=12Q", "CGC_HEAP_GROWTH=fast", NULL};
  t_child_t *res = t_run_child("hold64m", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0,
            "a malformed CGC_MAX_HEAP_SIZE was not ignored: status %#x\n%s", res->status, res->err);
  cr_assert_not_null(strstr(res->err, "CGC_MAX_HEAP_SIZE"), "malformed CGC_MAX_HEAP_SIZE not reported:\n%s",
                     res->err);
  cr_assert_not_null(strstr(res->err, "CGC_HEAP_GROWTH"), "malformed CGC_HEAP_GROWTH not reported:\n%s",
                     res->err);
  free(res);
}

Test(options, print_stats_turned_on_at_run_time_prints_the_summary_at_exit) {
  t_child_t *res = t_run_child("stats_on", NULL);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "status %#x\n%s", res->status, res->err);
  cr_assert_not_null(strstr(res->err, "cgc: gc #3: pause"), "no line for the collection after the set:\n%s",
                     res->err);
  cr_assert_null(strstr(res->err, "cgc: gc #2:"), "a line before the set:\n%s", res->err);
  cr_assert_not_null(strstr(res->err, "cgc: summary: 3 collections"), "no summary at exit:\n%s", res->err);
  free(res);
}

Test(options, print_stats_turned_off_at_run_time_prints_no_summary) {
  const char *env[] = {"CGC_PRINT_STATS=1", NULL};
  t_child_t *res = t_run_child("stats_off", env);
  cr_assert(WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0, "status %#x\n%s", res->status, res->err);
  cr_assert_not_null(strstr(res->err, "cgc: gc #2: pause"), "no line before the set:\n%s", res->err);
  cr_assert_null(strstr(res->err, "cgc: gc #3:"), "a line after PRINT_STATS=0:\n%s", res->err);
  cr_assert_null(strstr(res->err, "summary:"), "a summary after PRINT_STATS=0:\n%s", res->err);
  free(res);
}

/* ======================================================================
 * in-process option tests
 * ====================================================================== */

static void *volatile g_drop[64];

static T_NOINLINE void fill_and_drop_large(void) {
  for (size_t i = 0; i < 64; i++) {
    g_drop[i] = (i & 1) ? gc_malloc(600000) : gc_malloc_atomic(900000);
    cr_assert_not_null(g_drop[i]);
    memset(g_drop[i], 7, 600000);
  }
  gc_collect();
  for (size_t i = 0; i < 64; i++) g_drop[i] = NULL;
}

Test(options, decommit_delay_long) {
  T_SETENV("CGC_DECOMMIT_DELAY", "1000");
  fill_and_drop_large();
  for (int i = 0; i < 5; i++) t_collect();
  gc_stats_t s = t_stats();
  cr_assert_eq(s.returned_bytes, 0,
               "CGC_DECOMMIT_DELAY=1000 but %zu bytes went back to the OS after 5 collections",
               s.returned_bytes);
  T_ASSERT_HEAP_VALID();
}

Test(options, decommit_delay_zero) {
  T_SETENV("CGC_DECOMMIT_DELAY", "0");
  fill_and_drop_large();
  t_collect();
  t_collect();
  gc_stats_t s = t_stats();
  cr_assert_gt(s.returned_bytes, 8 * T_MiB,
               "CGC_DECOMMIT_DELAY=0: only %zu bytes returned after dropping ~48 MiB", s.returned_bytes);
  /* decommitted memory is reusable and zero */
  for (int i = 0; i < 64; i++) {
    unsigned char *p = gc_malloc(600000);
    cr_assert_not_null(p);
    T_ASSERT_ZERO(p, 600000, "gc_malloc over decommitted pages");
    memset(p, 9, 600000);
  }
  T_ASSERT_HEAP_VALID();
}

Test(options, decommit_default_delay) {
  fill_and_drop_large();
  t_collect();
  size_t early = t_stats().returned_bytes;
  for (int i = 0; i < 4; i++) t_collect();
  gc_stats_t s = t_stats();
  cr_assert_gt(s.returned_bytes, 8 * T_MiB, "default decommit delay: only %zu bytes returned",
               s.returned_bytes);
  cr_assert_leq(early, s.returned_bytes);
}

Test(options, max_heap_size_k_suffix, .timeout = 30.) {
  T_SETENV("CGC_MAX_HEAP_SIZE", "40960K");
  enum { MAXOBJ = 10000 };
  static void *volatile slots[MAXOBJ]; /* volatile: the stores are the point */
  size_t n = 0;
  errno = 0;
  for (; n < MAXOBJ; n++)
    if ((slots[n] = gc_malloc(100000)) == NULL) break;
  cr_assert_lt(n, MAXOBJ);
  cr_assert_eq(errno, ENOMEM);
  cr_assert_leq(t_stats().heap_bytes, 40 * T_MiB);
  cr_assert_geq(n * 100000, 20 * T_MiB, "only %zu bytes fit below CGC_MAX_HEAP_SIZE=40960K", n * 100000);
}

Test(options, max_heap_size_g_suffix) {
  T_SETENV("CGC_MAX_HEAP_SIZE", "1G");
  errno = 0;
  cr_assert_null(gc_malloc(t_opaque(2 * T_GiB)));
  cr_assert_eq(errno, ENOMEM);
  void *p = gc_malloc_atomic(256 * T_MiB);
  cr_assert_not_null(p, "CGC_MAX_HEAP_SIZE=1G refused 256 MiB");
  cr_assert_leq(t_stats().heap_bytes, T_GiB);
}

Test(options, max_heap_size_plain_bytes) {
  T_SETENV("CGC_MAX_HEAP_SIZE", "33554432");
  errno = 0;
  cr_assert_null(gc_malloc(t_opaque(64 * T_MiB)));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_not_null(gc_malloc(8 * T_MiB));
  cr_assert_leq(t_stats().heap_bytes, 32 * T_MiB);
}

Test(options, initial_heap_size) {
  T_SETENV("CGC_INITIAL_HEAP_SIZE", "64M");
  t_node *volatile head = t_list_new(3000, 1, 0);
  t_churn(32 * T_MiB, 1);
  t_collect();
  t_list_check(head, 3000, 1);
  gc_stats_t s = t_stats();
  cr_assert_geq(s.heap_bytes_peak, s.heap_bytes);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * capturing what cgc prints
 * ====================================================================== */

/* stderr into a temporary file between t_err_begin and t_err_end, which
 * returns what was written (a static buffer). */
static int g_err_fd = -1, g_err_saved = -1;

static void t_err_begin(void) {
  char name[] = "/tmp/cgc-opt-err-XXXXXX";
  g_err_fd = mkstemp(name);
  cr_assert_geq(g_err_fd, 0);
  unlink(name);
  g_err_saved = dup(2);
  cr_assert_geq(g_err_saved, 0);
  dup2(g_err_fd, 2);
}

static const char *t_err_end(void) {
  static char buf[16384];
  dup2(g_err_saved, 2);
  close(g_err_saved);
  ssize_t n = pread(g_err_fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  close(g_err_fd);
  return buf;
}

/* Initialise cgc with stderr captured; returns what it printed. */
static const char *init_capturing_stderr(void) {
  t_err_begin();
  gc_init();
  return t_err_end();
}

/* An output hook that appends every line it gets to a buffer, and checks
 * that it is called with its own argument. */
typedef struct {
  pthread_mutex_t lock;
  char text[65536];
  size_t len;
  unsigned lines, bad_lines;
} t_sink_t;

static t_sink_t g_sink = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sink_fn(const char *msg, void *arg) {
  t_sink_t *s = arg;
  size_t n = strlen(msg);
  pthread_mutex_lock(&s->lock);
  if (n == 0 || n > 511 || strncmp(msg, "cgc: ", 5) != 0 || msg[n - 1] != '\n') s->bad_lines++;
  if (s->len + n < sizeof s->text) {
    memcpy(s->text + s->len, msg, n + 1);
    s->len += n;
  }
  s->lines++;
  pthread_mutex_unlock(&s->lock);
}

static void sink_reset(void) {
  pthread_mutex_lock(&g_sink.lock);
  g_sink.text[0] = '\0';
  g_sink.len = g_sink.lines = g_sink.bad_lines = 0;
  pthread_mutex_unlock(&g_sink.lock);
}

static long long opt(const char *name) {
  long long v = -12345;
  cr_assert_eq(gc_option_get(name, &v), 0, "gc_option_get(%s) failed: errno %d", name, errno);
  return v;
}

/* ======================================================================
 * bounds
 * ====================================================================== */

Test(option_bounds, out_of_bounds_values_are_reported_and_the_default_kept) {
  T_SETENV("CGC_HEAP_GROWTH", "0");
  T_SETENV("CGC_DECOMMIT_DELAY", "1000001");
  T_SETENV("CGC_INITIAL_HEAP_SIZE", "-1M");
  T_SETENV("CGC_DISABLE", "2");
  const char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "ignoring CGC_HEAP_GROWTH=0 (out of bounds 1..10000); using 50"),
                     "CGC_HEAP_GROWTH=0 not reported:\n%s", err);
  cr_assert_not_null(strstr(err, "ignoring CGC_DECOMMIT_DELAY=1000001 (out of bounds 0..1000000); using 2"),
                     "CGC_DECOMMIT_DELAY=1000001 not reported:\n%s", err);
  cr_assert_not_null(strstr(err, "ignoring CGC_INITIAL_HEAP_SIZE=-1M (not a valid size)"), "%s", err);
  cr_assert_not_null(strstr(err, "ignoring CGC_DISABLE=2 (not a valid 0/1)"), "%s", err);
  cr_assert_eq(opt("HEAP_GROWTH"), 50);
  cr_assert_eq(opt("DECOMMIT_DELAY"), 2);
  cr_assert_eq(opt("INITIAL_HEAP_SIZE"), 8 << 20);
  cr_assert_eq(opt("DISABLE"), 0);
}

Test(option_bounds, upper_bounds_are_valid) {
  T_SETENV("CGC_HEAP_GROWTH", "10000");
  T_SETENV("CGC_DECOMMIT_DELAY", "1000000");
  const char *err = init_capturing_stderr();
  cr_assert_str_empty(err, "a value at its bound was reported:\n%s", err);
  cr_assert_eq(opt("HEAP_GROWTH"), 10000);
  cr_assert_eq(opt("DECOMMIT_DELAY"), 1000000);
}

Test(option_bounds, lower_bounds_are_valid) {
  T_SETENV("CGC_HEAP_GROWTH", "1");
  T_SETENV("CGC_DECOMMIT_DELAY", "0");
  T_SETENV("CGC_MARK_STACK_MAX", "16");
  const char *err = init_capturing_stderr();
  cr_assert_str_empty(err, "a value at its bound was reported:\n%s", err);
  cr_assert_eq(opt("HEAP_GROWTH"), 1);
  cr_assert_eq(opt("DECOMMIT_DELAY"), 0);
  cr_assert_eq(opt("MARK_STACK_MAX"), 16);
}

Test(option_bounds, markers_above_the_most_are_capped_with_a_message) {
  T_SETENV("CGC_MARKERS", "99");
  const char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "cgc: CGC_MARKERS=99 is more than 16; using 16\n"), "%s", err);
  cr_assert_eq(opt("MARKERS"), 16);
  gc__mark_force_parallel(true);
  void *volatile keep = gc_malloc(64);
  (void)keep;
  t_collect();
  cr_assert_eq(gc__stats.markers_last, 16);
}

Test(option_bounds, negative_markers_are_raised_to_zero_with_a_message) {
  T_SETENV("CGC_MARKERS", "-3");
  const char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "CGC_MARKERS=-3 is less than 0; using 0"), "%s", err);
  cr_assert_eq(opt("MARKERS"), 0);
}

Test(option_bounds, a_tiny_mark_stack_is_raised_to_sixteen_with_a_message) {
  T_SETENV("CGC_MARK_STACK_MAX", "8");
  const char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "CGC_MARK_STACK_MAX=8 is less than 16; using 16"), "%s", err);
  cr_assert_eq(opt("MARK_STACK_MAX"), 16);
  t_node *volatile head = t_list_new(2000, 7, 0); /* marking overflows, recovers */
  t_collect();
  t_list_check(head, 2000, 7);
}

Test(option_bounds, verbose_prints_the_bounds) {
  T_SETENV("CGC_VERBOSE", "1");
  T_SETENV("CGC_HEAP_GROWTH", "20");
  const char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "effective configuration"), "%s", err);
  /* value, bounds, description, [set] */
  const char *line = strstr(err, "CGC_HEAP_GROWTH        = 20           1..10000           percent");
  cr_assert_not_null(line, "no CGC_HEAP_GROWTH line with its bounds:\n%s", err);
  cr_assert_not_null(strstr(line, "[set]\n"));
  cr_assert_not_null(strstr(err, "CGC_MARKERS            = 0            0..16 "), "%s", err);
  cr_assert_not_null(strstr(err, "CGC_MAX_HEAP_SIZE      = 0            0..4294967296G "), "%s", err);
}

/* ======================================================================
 * aliases (bdwgc's names)
 * ====================================================================== */

Test(option_alias, gc_initial_heap_size_is_honoured) {
  T_SETENV("GC_INITIAL_HEAP_SIZE", "3M");
  const char *err = init_capturing_stderr();
  cr_assert_str_empty(err);
  cr_assert_eq(opt("CGC_INITIAL_HEAP_SIZE"), 3 << 20);
  cr_assert_eq(gc__heap.trigger, 3 << 20, "the first collection's budget is not GC_INITIAL_HEAP_SIZE");
}

Test(option_alias, the_cgc_name_wins) {
  T_SETENV("GC_INITIAL_HEAP_SIZE", "3M");
  T_SETENV("CGC_INITIAL_HEAP_SIZE", "5M");
  T_SETENV("GC_MARKERS", "2");
  T_SETENV("CGC_MARKERS", "abc"); /* set, though invalid: still wins */
  const char *err = init_capturing_stderr();
  cr_assert_eq(opt("INITIAL_HEAP_SIZE"), 5 << 20);
  cr_assert_not_null(strstr(err, "ignoring CGC_MARKERS=abc"), "%s", err);
  cr_assert_eq(opt("MARKERS"), 0);
}

Test(option_alias, an_empty_cgc_value_counts_as_unset) {
  T_SETENV("CGC_MARKERS", "");
  T_SETENV("GC_MARKERS", "2");
  gc_init();
  cr_assert_eq(opt("MARKERS"), 2);
  gc__mark_force_parallel(true);
  void *volatile keep = gc_malloc(64);
  (void)keep;
  t_collect();
  cr_assert_eq(gc__stats.markers_last, 2, "GC_MARKERS=2 did not give 2 markers");
}

Test(option_alias, a_bad_alias_value_is_reported_by_its_name) {
  T_SETENV("GC_MARKERS", "99");
  T_SETENV("GC_MAXIMUM_HEAP_SIZE", "lots");
  const char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "GC_MARKERS=99 is more than 16; using 16"), "%s", err);
  cr_assert_not_null(strstr(err, "ignoring GC_MAXIMUM_HEAP_SIZE=lots (not a valid size)"), "%s", err);
  cr_assert_eq(opt("MAX_HEAP_SIZE"), 0);
}

Test(option_alias, gc_maximum_heap_size_caps_the_heap) {
  T_SETENV("GC_MAXIMUM_HEAP_SIZE", "32M");
  errno = 0;
  cr_assert_null(gc_malloc(t_opaque(64 * T_MiB)));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_not_null(gc_malloc(8 * T_MiB));
  cr_assert_eq(opt("MAX_HEAP_SIZE"), 32 << 20);
}

/* bdwgc reads GC_DONT_GC and GC_PRINT_STATS as set or not: "0" is set. */
Test(option_alias, gc_dont_gc_disables_collection_whatever_its_value) {
  T_SETENV("GC_DONT_GC", "0");
  gc_init();
  cr_assert_eq(opt("DISABLE"), 1);
  t_churn_small(16 * T_MiB, 3);
  gc_collect();
  cr_assert_eq(t_stats().collections, 0, "collected under GC_DONT_GC");
}

Test(option_alias, gc_print_stats_prints) {
  T_SETENV("GC_PRINT_STATS", "");
  gc_init();
  cr_assert_eq(opt("PRINT_STATS"), 1);
  t_err_begin();
  gc_collect();
  const char *err = t_err_end();
  cr_assert_not_null(strstr(err, "cgc: gc #1: pause"), "no collection line with GC_PRINT_STATS:\n%s", err);
  cr_assert_eq(gc_option_set("PRINT_STATS", 0), 0); /* no summary at exit */
}

/* ======================================================================
 * gc_option_get / gc_option_set
 * ====================================================================== */

Test(option_api, names_with_and_without_the_prefix) {
  cr_assert_eq(gc_option_set("HEAP_GROWTH", 70), 0);
  cr_assert_eq(opt("CGC_HEAP_GROWTH"), 70);
  cr_assert_eq(gc_option_set("CGC_HEAP_GROWTH", 80), 0);
  cr_assert_eq(opt("HEAP_GROWTH"), 80);
  cr_assert_eq(gc__option(CGC_OPT_HEAP_GROWTH), 80, "the value set is not the one cgc reads");
}

Test(option_api, unknown_names_are_einval) {
  static const char *bad[] = {"NOPE", "CGC_NOPE",   "heap_growth",     "CGC_heap_growth", "CGC_",
                              "",     "GC_MARKERS", "CGC_CGC_MARKERS", "MARKERS ",        "HEAP_GROWTH=5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long long v = 77;
    errno = 0;
    cr_assert_eq(gc_option_get(bad[i], &v), -1, "gc_option_get(\"%s\") succeeded", bad[i]);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(v, 77, "gc_option_get(\"%s\") wrote the value", bad[i]);
    errno = 0;
    cr_assert_eq(gc_option_set(bad[i], 1), -1, "gc_option_set(\"%s\") succeeded", bad[i]);
    cr_assert_eq(errno, EINVAL);
  }
  errno = 0;
  cr_assert_eq(gc_option_get(NULL, &(long long){0}), -1);
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_eq(gc_option_set(NULL, 1), -1);
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_eq(gc_option_get("HEAP_GROWTH", NULL), -1);
  cr_assert_eq(errno, EINVAL);
}

Test(option_api, out_of_bounds_values_are_einval_and_change_nothing) {
  static const struct {
    const char *name;
    long long value;
  } bad[] = {{"HEAP_GROWTH", 0},
             {"HEAP_GROWTH", 10001},
             {"HEAP_GROWTH", -50},
             {"DECOMMIT_DELAY", -1},
             {"DECOMMIT_DELAY", 1000001},
             {"DISABLE", 2},
             {"PRINT_STATS", -1},
             {"VERIFY", 5},
             {"MAX_HEAP_SIZE", -1},
             {"INITIAL_HEAP_SIZE", -4},
             {"MAX_HEAP_SIZE", (1LL << 62) + 1}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long long before = opt(bad[i].name);
    errno = 0;
    cr_assert_eq(gc_option_set(bad[i].name, bad[i].value), -1, "%s = %lld accepted", bad[i].name,
                 bad[i].value);
    cr_assert_eq(errno, EINVAL, "%s = %lld: errno %d", bad[i].name, bad[i].value, errno);
    cr_assert_eq(opt(bad[i].name), before);
  }
  cr_assert_eq(gc_option_set("HEAP_GROWTH", 10000), 0);
  cr_assert_eq(gc_option_set("HEAP_GROWTH", 1), 0);
  cr_assert_eq(gc_option_set("MAX_HEAP_SIZE", 1LL << 62), 0);
  cr_assert_eq(gc_option_set("MAX_HEAP_SIZE", 0), 0);
}

Test(option_api, start_up_options_are_eperm) {
  static const char *fixed[] = {"SIGNAL", "MARKERS", "MARK_STACK_MAX", "CGC_VERBOSE"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    long long before = opt(fixed[i]);
    errno = 0;
    cr_assert_eq(gc_option_set(fixed[i], before), -1, "%s changed after start-up", fixed[i]);
    cr_assert_eq(errno, EPERM, "%s: errno %d", fixed[i], errno);
    cr_assert_eq(opt(fixed[i]), before);
  }
  cr_assert_eq(opt("SIGNAL"), SIGPWR);
}

Test(option_api, get_reads_the_environment) {
  T_SETENV("CGC_DECOMMIT_DELAY", "7");
  cr_assert_eq(opt("DECOMMIT_DELAY"), 7, "gc_option_get before any other cgc call");
}

Test(option_api, max_heap_size_at_run_time, .timeout = 30.) {
  void *volatile big = gc_malloc_atomic(64 * T_MiB);
  cr_assert_not_null(big, "no cap yet");
  big = NULL;
  t_collect();
  t_collect();
  cr_assert_eq(gc_option_set("MAX_HEAP_SIZE", 32 << 20), 0);
  errno = 0;
  cr_assert_null(gc_malloc_atomic(t_opaque(64 * T_MiB)), "the cap set at run time was not applied");
  cr_assert_eq(errno, ENOMEM);
  cr_assert_eq(gc__heap.max_heap, 32 << 20);
  cr_assert_eq(gc_option_set("MAX_HEAP_SIZE", 0), 0);
  cr_assert_not_null(gc_malloc_atomic(t_opaque(64 * T_MiB)), "the cap was not lifted");
  /* gc_set_max_heap_size and the option agree */
  gc_set_max_heap_size(24 << 20);
  cr_assert_eq(opt("MAX_HEAP_SIZE"), 24 << 20);
  gc_set_max_heap_size(SIZE_MAX);
  cr_assert_eq(opt("MAX_HEAP_SIZE"), 1LL << 62);
  cr_assert_eq(gc__heap.max_heap, SIZE_MAX);
}

/* Collections while `bytes` of garbage are allocated. */
static T_NOINLINE size_t collections_for(size_t bytes, uint64_t seed) {
  size_t c0 = t_stats().collections;
  t_churn(bytes, seed);
  return t_stats().collections - c0;
}

Test(option_api, heap_growth_at_run_time, .timeout = 60.) {
  T_SETENV("CGC_INITIAL_HEAP_SIZE", "1M");
  t_node *volatile head = t_list_new(4096, 1, 4096); /* 16 MiB live */
  t_collect();
  /* lower first: a higher budget would be kept for a few collections */
  cr_assert_eq(gc_option_set("HEAP_GROWTH", 25), 0);
  t_collect();
  size_t c25 = collections_for(128 * T_MiB, 2);
  cr_assert_eq(gc_option_set("HEAP_GROWTH", 200), 0);
  size_t c200 = collections_for(128 * T_MiB, 3);
  t_list_check(head, 4096, 1);
  /* about 128 / 4 = 32 and 128 / 32 = 4 */
  cr_assert(c25 >= 16, "HEAP_GROWTH=25: %zu collections for 128 MiB with 16 MiB live", c25);
  cr_assert(c200 * 3 < c25, "HEAP_GROWTH=200: %zu collections, 25: %zu", c200, c25);
}

Test(option_api, initial_heap_size_at_run_time, .timeout = 60.) {
  T_SETENV("CGC_INITIAL_HEAP_SIZE", "1M");
  t_node *volatile head = t_list_new(1024, 1, 4096); /* 4 MiB live: budget 2 MiB */
  t_collect();
  size_t small = collections_for(64 * T_MiB, 2);
  cr_assert_eq(gc_option_set("INITIAL_HEAP_SIZE", 32 << 20), 0);
  t_collect(); /* the next budget is set at the end of a collection */
  size_t big = collections_for(64 * T_MiB, 3);
  t_list_check(head, 1024, 1);
  cr_assert(small >= 16, "%zu collections for 64 MiB with a 2 MiB budget", small);
  cr_assert(big <= 4, "INITIAL_HEAP_SIZE=32M: %zu collections for 64 MiB (2 MiB budget: %zu)", big, small);
}

Test(option_api, decommit_delay_at_run_time) {
  cr_assert_eq(gc_option_set("DECOMMIT_DELAY", 1000), 0);
  fill_and_drop_large();
  for (int i = 0; i < 5; i++) t_collect();
  cr_assert_eq(t_stats().returned_bytes, 0, "DECOMMIT_DELAY=1000 set at run time was not applied");
  cr_assert_eq(gc_option_set("DECOMMIT_DELAY", 0), 0);
  t_collect();
  cr_assert_gt(t_stats().returned_bytes, 8 * T_MiB, "DECOMMIT_DELAY=0 set at run time was not applied");
}

Test(option_api, disable_holds_one_level_of_gc_disable) {
  gc_init();
  size_t c = t_stats().collections;
  cr_assert_eq(gc_option_set("DISABLE", 1), 0);
  cr_assert_eq(gc_option_set("DISABLE", 1), 0); /* the value it has: nothing */
  cr_assert_eq(opt("DISABLE"), 1);
  gc_collect();
  cr_assert_eq(t_stats().collections, c, "collected with DISABLE=1");
  cr_assert_eq(gc_option_set("DISABLE", 0), 0);
  gc_collect();
  cr_assert_eq(t_stats().collections, c + 1, "DISABLE=0 did not enable collection again");
  /* with gc_disable: the option's level comes and goes, the call's stays */
  gc_disable();
  cr_assert_eq(gc_option_set("DISABLE", 1), 0);
  cr_assert_eq(gc_option_set("DISABLE", 0), 0);
  gc_collect();
  cr_assert_eq(t_stats().collections, c + 1, "DISABLE=0 undid a gc_disable()");
  gc_enable();
  gc_collect();
  cr_assert_eq(t_stats().collections, c + 2);
}

Test(option_api, disable_from_the_environment_is_released_by_set) {
  T_SETENV("CGC_DISABLE", "1");
  gc_collect();
  cr_assert_eq(t_stats().collections, 0);
  cr_assert_eq(gc_option_set("DISABLE", 0), 0);
  gc_collect();
  cr_assert_eq(t_stats().collections, 1);
}

Test(option_api, print_stats_at_run_time) {
  gc_set_output(sink_fn, &g_sink);
  gc_collect();
  cr_assert_eq(g_sink.lines, 0, "printed with PRINT_STATS off:\n%s", g_sink.text);
  cr_assert_eq(gc_option_set("PRINT_STATS", 1), 0);
  gc_collect();
  cr_assert_not_null(strstr(g_sink.text, "cgc: gc #2: pause"), "no collection line:\n%s", g_sink.text);
  cr_assert_eq(gc_option_set("PRINT_STATS", 0), 0);
  sink_reset();
  gc_collect();
  cr_assert_eq(g_sink.lines, 0, "printed after PRINT_STATS=0:\n%s", g_sink.text);
  gc_set_output(NULL, NULL);
}

Test(option_api, verify_round_trips) {
  cr_assert_eq(gc_option_set("VERIFY", 1), 0);
  cr_assert_eq(opt("VERIFY"), 1);
  t_node *volatile head = t_list_new(500, 3, 0);
  t_churn_small(4 * T_MiB, 1);
  t_collect();
  t_list_check(head, 500, 3);
  cr_assert_eq(gc_option_set("VERIFY", 0), 0);
  cr_assert_eq(opt("VERIFY"), 0);
}

/* Options are words read without the lock: sets and gets race with
 * collections that read them.  Every value read is one that was set. */
static void *set_growth_loop(void *arg) {
  uint64_t rs = (uintptr_t)arg;
  for (int i = 0; i < 2000; i++) {
    long long v = (long long)t_range(&rs, 1, 10000), got;
    if (gc_option_set("HEAP_GROWTH", v) != 0 || gc_option_get("HEAP_GROWTH", &got) != 0) return (void *)1;
    if (got < 1 || got > 10000) return (void *)2;
    if (i % 100 == 0) t_churn_small(256 * T_KiB, rs);
  }
  return NULL;
}

Test(option_api, concurrent_sets_and_collections, .timeout = 60.) {
  pthread_t th[4];
  for (uintptr_t i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, set_growth_loop, (void *)(i + 1)), 0);
  for (int i = 0; i < 20; i++) t_collect();
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    cr_assert_null(r, "thread %d: %p", i, r);
  }
  long long v = opt("HEAP_GROWTH");
  cr_assert(v >= 1 && v <= 10000);
}

/* ======================================================================
 * the output hook
 * ====================================================================== */

Test(output_hook, gets_each_line_instead_of_stderr) {
  gc_set_output(sink_fn, &g_sink);
  t_err_begin();
  gc__message("one %d", 1);
  gc__message("two %s", "x");
  const char *err = t_err_end();
  cr_assert_str_empty(err, "written to stderr despite the hook: %s", err);
  cr_assert_str_eq(g_sink.text, "cgc: one 1\ncgc: two x\n");
  cr_assert_eq(g_sink.lines, 2);
  gc_set_output(NULL, NULL);
  t_err_begin();
  gc__message("three");
  err = t_err_end();
  cr_assert_str_eq(err, "cgc: three\n", "NULL did not restore stderr");
  cr_assert_eq(g_sink.lines, 2);
}

Test(output_hook, gets_warnings_and_the_configuration) {
  gc_set_output(sink_fn, &g_sink); /* before initialisation */
  T_SETENV("CGC_HEAP_GROWTH", "fast");
  T_SETENV("CGC_VERBOSE", "1");
  t_err_begin();
  gc_init();
  const char *err = t_err_end();
  cr_assert_str_empty(err, "written to stderr despite the hook: %s", err);
  cr_assert_not_null(
      strstr(g_sink.text, "cgc: ignoring CGC_HEAP_GROWTH=fast (not a valid number); using 50\n"), "%s",
      g_sink.text);
  cr_assert_not_null(strstr(g_sink.text, "cgc: effective configuration"), "%s", g_sink.text);
  cr_assert_eq(g_sink.bad_lines, 0);
}

Test(output_hook, gets_the_print_stats_lines) {
  T_SETENV("CGC_PRINT_STATS", "1");
  gc_set_output(sink_fn, &g_sink);
  t_err_begin();
  t_churn_small(16 * T_MiB, 1);
  gc_collect();
  gc__lock();
  gc__stats_print_summary();
  gc__unlock();
  const char *err = t_err_end();
  cr_assert_str_empty(err, "written to stderr despite the hook: %s", err);
  cr_assert_not_null(strstr(g_sink.text, "cgc: gc #1: pause "), "%s", g_sink.text);
  cr_assert_not_null(strstr(g_sink.text, "cgc: summary: "), "%s", g_sink.text);
  cr_assert_not_null(strstr(g_sink.text, "cgc:   collections "), "%s", g_sink.text);
  cr_assert_eq(g_sink.bad_lines, 0);
}

Test(output_hook, long_lines_are_cut_to_511_bytes) {
  char text[1000];
  memset(text, 'a', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  gc_set_output(sink_fn, &g_sink);
  gc__message("%s", text);
  cr_assert_eq(g_sink.len, 511, "a %zu-byte line", g_sink.len);
  cr_assert_eq(g_sink.text[510], '\n');
  cr_assert_eq(strspn(g_sink.text + 5, "a"), 505);
  gc_set_output(NULL, NULL);
  t_err_begin();
  gc__message("%s", text);
  const char *err = t_err_end();
  cr_assert_eq(strlen(err), 511);
  cr_assert_eq(err[510], '\n');
}

/* Two hooks with their own arguments, swapped while other threads print:
 * each must always get its own argument (the pair is read whole). */
static t_sink_t g_sink2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
static volatile int g_mismatch;

static void sink_a(const char *msg, void *arg) {
  (void)msg;
  if (arg != &g_sink) g_mismatch = 1;
}
static void sink_b(const char *msg, void *arg) {
  (void)msg;
  if (arg != &g_sink2) g_mismatch = 1;
}

static volatile int g_stop_printing;

static void *print_loop(void *arg) {
  (void)arg;
  while (!g_stop_printing) gc__message("line %d", 1);
  return NULL;
}

Test(output_hook, setting_it_races_with_printing_safely, .timeout = 60.) {
  gc_set_output(sink_a, &g_sink);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&th[i], NULL, print_loop, NULL), 0);
  for (int i = 0; i < 200000; i++) {
    if (i & 1)
      gc_set_output(sink_a, &g_sink);
    else
      gc_set_output(sink_b, &g_sink2);
  }
  g_stop_printing = 1;
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  gc_set_output(NULL, NULL);
  cr_assert_eq(g_mismatch, 0, "a hook was called with the other hook's argument");
}

/* ======================================================================
 * gc__format against snprintf
 * ====================================================================== */

static unsigned g_fmt_checked;

/* Compare gc__format and snprintf on one call: output, NUL and length. */
#define FMT_CHECK(fmt, ...)                                                                              \
  do {                                                                                                   \
    char got_[640], want_[640];                                                                          \
    memset(got_, 'Z', sizeof got_);                                                                      \
    memset(want_, 'Z', sizeof want_);                                                                    \
    size_t n_ = gc__format(got_, sizeof got_, fmt, __VA_ARGS__);                                         \
    int m_ = snprintf(want_, sizeof want_, fmt, __VA_ARGS__);                                            \
    cr_assert_geq(m_, 0);                                                                                \
    if (n_ != (size_t)m_ || memcmp(got_, want_, (size_t)m_ + 1) != 0)                                    \
      cr_assert_fail("format \"%s\": gc__format gave \"%s\" (%zu), snprintf \"%s\" (%d)", fmt, got_, n_, \
                     want_, m_);                                                                         \
    g_fmt_checked++;                                                                                     \
  } while (0)

static const char *const g_flags[] = {"", "-", "0", "-0", "0-"};
static const char *const g_widths[] = {"", "1", "2", "5", "12", "23"};
static const char *const g_int_precs[] = {"", ".", ".0", ".1", ".4", ".22"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* "%" flags width prec len conv into f. */
static const char *spec(char *f, const char *flags, const char *width, const char *prec, const char *len,
                        char conv) {
  int n = snprintf(f, 32, "%%%s%s%s%s%c", flags, width, prec, len, conv);
  cr_assert(n > 0 && n < 32);
  return f;
}

/* Integers of every length and conversion, from a raw 64-bit pattern. */
static void check_int(const char *f, const char *len, char conv, unsigned long long raw) {
  bool sig = conv == 'd' || conv == 'i';
  if (strcmp(len, "") == 0) {
    if (sig)
      FMT_CHECK(f, (int)raw);
    else
      FMT_CHECK(f, (unsigned)raw);
  } else if (strcmp(len, "l") == 0) {
    if (sig)
      FMT_CHECK(f, (long)raw);
    else
      FMT_CHECK(f, (unsigned long)raw);
  } else if (strcmp(len, "ll") == 0) {
    if (sig)
      FMT_CHECK(f, (long long)raw);
    else
      FMT_CHECK(f, (unsigned long long)raw);
  } else {
    if (sig)
      FMT_CHECK(f, (ssize_t)raw);
    else
      FMT_CHECK(f, (size_t)raw);
  }
}

Test(format, integers_match_snprintf) {
  unsigned long long vals[96] = {0,
                                 1,
                                 9,
                                 10,
                                 15,
                                 16,
                                 99,
                                 255,
                                 4096,
                                 123456789,
                                 (unsigned long long)INT_MAX,
                                 (unsigned long long)INT_MIN,
                                 UINT_MAX,
                                 (unsigned long long)LLONG_MAX,
                                 (unsigned long long)LLONG_MIN,
                                 ULLONG_MAX,
                                 (unsigned long long)-1,
                                 (unsigned long long)-42};
  size_t nv = 18;
  uint64_t rs = 11;
  for (; nv < NELEM(vals); nv++) vals[nv] = t_rand(&rs) >> t_range(&rs, 0, 63);
  static const char *const lens[] = {"", "l", "ll", "z"};
  static const char convs[] = "diux";
  char f[32];
  for (size_t c = 0; c < 4; c++)
    for (size_t l = 0; l < NELEM(lens); l++)
      for (size_t fl = 0; fl < NELEM(g_flags); fl++)
        for (size_t w = 0; w < NELEM(g_widths); w++)
          for (size_t p = 0; p < NELEM(g_int_precs); p++) {
            spec(f, g_flags[fl], g_widths[w], g_int_precs[p], lens[l], convs[c]);
            for (size_t i = 0; i < nv; i++) check_int(f, lens[l], convs[c], vals[i]);
          }
  cr_assert_gt(g_fmt_checked, 100000);
}

Test(format, doubles_match_snprintf) {
  double vals[200] = {0.0,       -0.0,     0.5,    1.5,   2.5,         -2.5,   0.125,      0.375,
                      1.0 / 3,   2.0 / 3,  9.995,  0.005, 0.015,       0.025,  1e-7,       123456.789,
                      1e15,      1e16 + 1, 1e22,   1e23,  1e300,       -1e300, DBL_MAX,    -DBL_MAX,
                      DBL_MIN,   4.9e-324, 1e-310, 0.1,   0.2,         0.3,    99.99,      999.995,
                      1e-5,      5e-5,     4.5,    5.5,   1048575.999, 0.0625, 1e10 + 0.5, INFINITY,
                      -INFINITY, NAN,      -NAN};
  size_t nv = 43;
  uint64_t rs = 5;
  for (; nv < 120; nv++) { /* any bit pattern: every exponent, NaNs too */
    uint64_t b = t_rand(&rs);
    memcpy(&vals[nv], &b, sizeof b);
  }
  for (; nv < 160; nv++) /* values like cgc's: a few decimals, ties near */
    vals[nv] = (double)t_range(&rs, 0, 100000000) / (double)(1u << t_range(&rs, 0, 12));
  for (; nv < NELEM(vals); nv++) vals[nv] = (double)t_range(&rs, 0, 1000000) / 1000.0 + 0.0005;
  static const char *const widths[] = {"", "1", "8", "10", "25"};
  static const char *const precs[] = {"", ".", ".0", ".1", ".2", ".3", ".6", ".10", ".17", ".25", ".40"};
  static const char *const lens[] = {"", "l"};
  char f[32];
  for (size_t fl = 0; fl < NELEM(g_flags); fl++)
    for (size_t w = 0; w < NELEM(widths); w++)
      for (size_t p = 0; p < NELEM(precs); p++)
        for (size_t l = 0; l < NELEM(lens); l++) {
          spec(f, g_flags[fl], widths[w], precs[p], lens[l], 'f');
          for (size_t i = 0; i < nv; i++) FMT_CHECK(f, vals[i]);
        }
  cr_assert_gt(g_fmt_checked, 100000);
}

Test(format, precision_above_the_most_is_the_most) {
  char got[640], want[640];
  gc__format(got, sizeof got, "%.60f", 1.0 / 3);
  snprintf(want, sizeof want, "%.40f", 1.0 / 3);
  cr_assert_str_eq(got, want);
}

Test(format, strings_chars_pointers_and_percent_match_snprintf) {
  static const char *const widths[] = {"", "1", "5", "18", "22"};
  static const char *const precs[] = {"", ".", ".0", ".2", ".5", ".6", ".30"};
  const char *volatile nul = NULL;
  const char *strs[] = {"", "a", "hello", "effective configuration", "caf\xc3\xa9", nul};
  char f[32];
  for (size_t fl = 0; fl < 2; fl++) /* '0' is undefined for these */
    for (size_t w = 0; w < NELEM(widths); w++) {
      for (size_t p = 0; p < NELEM(precs); p++) {
        spec(f, g_flags[fl], widths[w], precs[p], "", 's');
        for (size_t i = 0; i < NELEM(strs); i++) FMT_CHECK(f, strs[i]);
      }
      spec(f, g_flags[fl], widths[w], "", "", 'c');
      static const int chars[] = {'a', ' ', '%', 0x7f, 0xe9};
      for (size_t i = 0; i < NELEM(chars); i++) FMT_CHECK(f, chars[i]);
      spec(f, g_flags[fl], widths[w], "", "", 'p');
      int local;
      void *ptrs[] = {NULL, (void *)1, &local, (void *)&g_sink, (void *)UINTPTR_MAX, (void *)0xdeadbeef};
      for (size_t i = 0; i < NELEM(ptrs); i++) FMT_CHECK(f, ptrs[i]);
    }
  FMT_CHECK("%c|%c", 'x', 0); /* a NUL byte in the output */
  FMT_CHECK("100%% of %d%%", 5);
  FMT_CHECK("%s%%%s", "a", "b");
  FMT_CHECK("plain text, no conversion%s", "");
}

Test(format, cgc_message_formats_match_snprintf) {
  int x = 0;
  FMT_CHECK("  %-18s %14llu  (%s)", "mark_overflows", 12345678901ULL, "times the mark stack overflowed");
  FMT_CHECK("  %-18s current %10.2f MiB  peak %10.2f MiB  total %10.2f MiB  (%s)", "heap", 48.0, 1234.567,
            0.004999, "bytes mapped");
  FMT_CHECK("  %-22s = %-12lld %s%s", "CGC_MARKERS", -3LL, "marking threads", "  [set]");
  FMT_CHECK("gc #%llu: pause %.3f ms (mark %.3f ms, %llu markers), live %.2f MiB", 17ULL, 7.8215, 0.0005,
            4ULL, 3.92);
  FMT_CHECK("%s(%p): pointer into the middle of the cgc object at %p", "gc_free", (void *)&x, (void *)&x);
  FMT_CHECK("%zu thread(s) do not answer the stop signal %d after 10 s", (size_t)3, 30);
  FMT_CHECK("munmap(%p, %zu) failed: %s", (void *)0x7f0000000000, (size_t)4096, "Invalid argument");
  FMT_CHECK("internal assertion failed: %s (%s:%d)", "x != 0", "gc/mark/mark.c", 123);
  FMT_CHECK("%zd %zd %ld %lu %u %x %lx %llx", (ssize_t)-5, (ssize_t)SSIZE_MAX, LONG_MIN, ULONG_MAX, 0u,
            0xabcu, 0xdeadbeefcafeUL, 0ULL);
}

Test(format, star_width_and_precision_match_snprintf) {
  static const int ws[] = {-30, -5, -1, 0, 1, 7, 30};
  static const int ps[] = {-3, -1, 0, 1, 3, 9};
  for (size_t i = 0; i < NELEM(ws); i++) {
    FMT_CHECK("[%*d]", ws[i], 42);
    FMT_CHECK("[%-*d]", ws[i], -42);
    FMT_CHECK("[%0*d]", ws[i], -42);
    FMT_CHECK("[%*s]", ws[i], "abc");
    FMT_CHECK("[%*.2f]", ws[i], 3.14159);
    for (size_t j = 0; j < NELEM(ps); j++) {
      FMT_CHECK("[%*.*d]", ws[i], ps[j], 42);
      FMT_CHECK("[%.*s]", ps[j], "abcdefgh");
      FMT_CHECK("[%*.*f]", ws[i], ps[j], 2.71828);
      FMT_CHECK("[%-*.*llu]", ws[i], ps[j], 0ULL);
    }
  }
}

Test(format, cut_output_matches_snprintf) {
  char got[64], want[64];
  for (size_t size = 0; size < 40; size++) {
    memset(got, 'Z', sizeof got);
    memset(want, 'Z', sizeof want);
    size_t n = gc__format(got, size, "x=%d s=%-6s f=%.2f p=%p", -17, "ab", 2.345, (void *)0x1234);
    int m = snprintf(want, size, "x=%d s=%-6s f=%.2f p=%p", -17, "ab", 2.345, (void *)0x1234);
    cr_assert_eq(n, (size_t)m, "size %zu", size);
    cr_assert_eq(memcmp(got, want, sizeof got), 0, "size %zu: \"%.*s\" vs \"%.*s\"", size, (int)size, got,
                 (int)size, want);
  }
  cr_assert_eq(gc__format(NULL, 0, "%s", "abc"), 3, "size 0 writes nothing and still counts");
}

Test(format, unsupported_conversions_end_formatting_verbatim) {
  char buf[64];
  cr_assert_eq(gc__format(buf, sizeof buf, "a=%d %e|%d", 1, 2.0, 3), 9);
  cr_assert_str_eq(buf, "a=1 %e|%d");
  gc__format(buf, sizeof buf, "%o %s", 8u, "x");
  cr_assert_str_eq(buf, "%o %s");
  gc__format(buf, sizeof buf, "[%+d]", 5);
  cr_assert_str_eq(buf, "[%+d]");
  gc__format(buf, sizeof buf, "%hd", (short)5);
  cr_assert_str_eq(buf, "%hd");
  gc__format(buf, sizeof buf, "%#x", 5u);
  cr_assert_str_eq(buf, "%#x");
  gc__format(buf, sizeof buf, "%lc", (wint_t)'a');
  cr_assert_str_eq(buf, "%lc");
  const char *volatile trailing = "abc%";
  gc__format(buf, sizeof buf, trailing, 0);
  cr_assert_str_eq(buf, "abc%");
}

/* The message path must never reach libc's printf family or stdio (glibc's
 * may allocate, and cgc is to be malloc): no object of libcgc.a refers to
 * any of them. */
Test(format, libcgc_refers_to_no_printf_or_stdio) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "nm -u %s/../../.libs/libcgc.a", TEST_LIBDIR);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  char line[256], name[200], type;
  size_t symbols = 0;
  static const char *const banned[] = {"puts",   "fputs",      "putc",    "fputc",  "putchar",  "fwrite",
                                       "fflush", "stderr",     "stdout",  "perror", "strerror", "fopen",
                                       "fdopen", "strerror_r", "vsyslog", "syslog"};
  while (fgets(line, sizeof line, p) != NULL) {
    if (sscanf(line, " %c %199s", &type, name) != 2) continue;
    symbols++;
    cr_assert_null(strstr(name, "printf"), "libcgc.a refers to %s", name);
    for (size_t i = 0; i < NELEM(banned); i++)
      cr_assert_str_neq(name, banned[i], "libcgc.a refers to %s", name);
  }
  cr_assert_eq(pclose(p), 0, "%s failed", cmd);
  cr_assert_gt(symbols, 50, "nm listed only %zu symbols", symbols);
}
