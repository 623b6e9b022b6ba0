/*
 * test_options.c -- the CGC_* environment options: heap growth policy,
 * decommit delay, size suffixes of the heap limits, initial heap size,
 * statistics printing and verbosity (and silence without them).
 *
 * Options are read once at initialisation, so scenarios that compare
 * several settings re-execute this program with a scrubbed environment
 * (CGC_TEST_CHILD names the scenario; a constructor runs it before
 * Criterion starts) and read its output.
 */
#include "common.h"

#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
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

__attribute__((constructor)) static void child_main(void) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  if (strcmp(scenario, "growth") == 0)
    child_growth();
  else if (strcmp(scenario, "work") == 0)
    child_some_work();
  else if (strcmp(scenario, "hold64m") == 0)
    child_hold_64m();
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
