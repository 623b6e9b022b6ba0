/*
 * test_osfail.c -- the OS refuses memory (gc__os_fail_after, base/os.h)
 * where cgc can carry on: a segment or huge mapping, a radix leaf, a
 * thread context fail the call that needed them (NULL and ENOMEM, the OOM
 * handler, EAGAIN, -1) and nothing else; a mark stack that cannot grow
 * falls back to overflow recovery, helper markers that cannot be made to
 * marking with fewer.  Nothing reachable is lost, and once the OS gives
 * memory again so does cgc.  The fatal paths are in test_death.c.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>

static size_t g_oom_n;
static int g_oom_calls;
static void *oom_record(size_t n) {
  g_oom_n = n;
  g_oom_calls++;
  return NULL;
}

/* gc_malloc(n) must fail as the OS refused: NULL with ENOMEM, and the OOM
 * handler asked for n. */
static void assert_refused(size_t n, bool atomic) {
  errno = 0;
  void *p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
  cr_assert_null(p, "gc_malloc%s(%zu) = %p with the OS refusing", atomic ? "_atomic" : "", n, p);
  cr_assert_eq(errno, ENOMEM, "gc_malloc(%zu): errno %d", n, errno);
  int calls = g_oom_calls;
  gc_set_oom_handler(oom_record);
  p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
  gc_set_oom_handler(NULL);
  cr_assert_null(p);
  cr_assert_eq(g_oom_calls, calls + 1, "the OOM handler was not called for gc_malloc(%zu)", n);
  cr_assert_eq(g_oom_n, n);
}

/* ---- segments and huge mappings (CGC_OS_FAIL_MAP) ------------------------- */

Test(osfail, segment_mapping_small_objects) {
  gc_init();
  gc__os_fail_after(CGC_OS_FAIL_MAP, 1);
  assert_refused(64, false);
  assert_refused(3000, true);
  cr_assert_eq(t_stats().heap_bytes, 0, "a refused mapping left heap bytes");
  gc__os_fail_after(CGC_OS_FAIL_MAP, 0);
  t_node *n = t_list_new(2000, 1, 0);
  t_collect();
  t_list_check(n, 2000, 1);
  T_ASSERT_HEAP_VALID();
}

Test(osfail, segment_mapping_large_object) {
  gc_init();
  gc__os_fail_after(CGC_OS_FAIL_MAP, 1);
  assert_refused(T_MiB, false);
  gc__os_fail_after(CGC_OS_FAIL_MAP, 0);
  unsigned char *p = gc_malloc(T_MiB);
  cr_assert_not_null(p);
  T_ASSERT_ZERO(p, T_MiB, "large object after the OS gave memory again");
}

static void *volatile g_keep;

Test(osfail, huge_mapping) {
  g_keep = gc_malloc(64); /* a segment with room (kept): no help for a huge object */
  cr_assert_not_null(g_keep);
  gc__os_fail_after(CGC_OS_FAIL_MAP, 1);
  assert_refused(16 * T_MiB, false);
  assert_refused(16 * T_MiB, true);
  cr_assert_not_null(gc_malloc(64), "small objects still come from the segment there is");
  gc__os_fail_after(CGC_OS_FAIL_MAP, 0);
  unsigned char *p = gc_malloc(16 * T_MiB);
  cr_assert_not_null(p);
  cr_assert_eq(gc_size(p), 16 * T_MiB);
  T_ASSERT_HEAP_VALID();
}

/* The n-th mapping from the arming on fails, and every later one. */
Test(osfail, fails_from_the_nth_call_on) {
  gc_init();
  gc_disable(); /* every object needs a segment of its own: count them */
  void *keep[4];
  gc__os_fail_after(CGC_OS_FAIL_MAP, 3);
  for (int i = 0; i < 2; i++) {
    keep[i] = gc_malloc(3 * T_MiB);
    cr_assert_not_null(keep[i], "mapping %d of 2 was refused", i + 1);
  }
  for (int i = 0; i < 2; i++) cr_assert_null(gc_malloc(3 * T_MiB), "mapping %d was not refused", 3 + i);
  gc__os_fail_after(CGC_OS_FAIL_MAP, 0);
  keep[2] = gc_malloc(3 * T_MiB);
  cr_assert_not_null(keep[2]);
  cr_assert_eq(t_stats().heap_bytes, 3 * CGC_SEGMENT_SIZE);
  gc_enable();
}

/* ---- internal memory (CGC_OS_FAIL_ALLOC) ---------------------------------- */

/* A new segment in a part of the address space the radix map has no leaf
 * for yet: the segment goes back to the OS and the allocation fails. */
Test(osfail, radix_leaf) {
  gc_init();
  gc_collect(); /* the module tables a collection needs */
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
  assert_refused(64, false);
  cr_assert_eq(t_stats().heap_bytes, 0, "the segment without a leaf stayed mapped");
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 0);
  t_node *n = t_list_new(500, 7, 0);
  t_collect();
  t_list_check(n, 500, 7);
  T_ASSERT_HEAP_VALID();
}

/* A graph wider than the mark stack's first ring (WIDE lists of two
 * nodes), marked while the ring cannot grow: entries are dropped, and the
 * second nodes are found again by rescanning. */
#define WIDE 30000
static void *volatile g_wide;

static T_NOINLINE void build_wide(void) {
  t_node **v = gc_malloc(WIDE * sizeof *v);
  cr_assert_not_null(v);
  for (size_t i = 0; i < WIDE; i++) v[i] = t_list_new(2, 100000 + 2 * i, 64);
  g_wide = v;
}

static T_NOINLINE void check_wide(void) {
  t_node **v = g_wide;
  for (size_t i = 0; i < WIDE; i++) t_list_check(v[i], 2, 100000 + 2 * i);
}

Test(osfail, mark_stack_growth_falls_back_to_overflow_recovery) {
  T_SETENV("CGC_MARKERS", "1");
  gc_init();
  gc_collect(); /* the module tables, before the graph needs a bigger stack */
  build_wide();
  uint64_t overflows = gc__stats.mark_overflows;
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
  t_collect();
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 0);
  check_wide();
  cr_assert_gt(gc__stats.mark_overflows, overflows, "the mark stack grew with the OS refusing");
  t_churn_small(8 * T_MiB, 3);
  t_collect();
  check_wide();
  T_ASSERT_HEAP_VALID();
}

Test(osfail, helper_markers_fall_back_to_fewer) {
  T_SETENV("CGC_MARKERS", "2");
  gc_init();
  gc_collect(); /* serial (small): the module tables */
  build_wide();
  gc__mark_force_parallel(true);
  uint64_t parallel = gc__stats.parallel_marks;
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1); /* the helper's mark stack */
  t_collect();
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 0);
  cr_assert_eq(gc__stats.markers_last, 1, "%llu markers without a helper",
               (unsigned long long)gc__stats.markers_last);
  cr_assert_eq(gc__stats.parallel_marks, parallel);
  check_wide();
  gc__mark_force_parallel(false);
}

static void *thread_noop(void *arg) { return arg; }

static size_t count_threads(void) {
  size_t n = 0;
  gc__lock();
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next) n++;
  gc__unlock();
  return n;
}

Test(osfail, pthread_create_thread_context) {
  gc_init();
  size_t before = count_threads();
  pthread_t th;
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
  int rc = pthread_create(&th, NULL, thread_noop, NULL);
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 0);
  cr_assert_eq(rc, EAGAIN, "pthread_create without memory for the context: %d", rc);
  cr_assert_eq(count_threads(), before, "a failed pthread_create left a context");
  static int arg;
  cr_assert_eq(pthread_create(&th, NULL, thread_noop, &arg), 0);
  void *ret;
  cr_assert_eq(pthread_join(th, &ret), 0);
  cr_assert_eq(ret, (void *)&arg);
  T_ASSERT_HEAP_VALID();
}

/* In a child, whose main thread nothing registered yet (the constructor
 * runs before Criterion). */
static int child_register(void) {
  gc_set_oom_handler(NULL); /* initialised, still unregistered */
  if (gc_thread_is_registered()) return 3;
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
  errno = 0;
  if (gc_malloc(16) != NULL || errno != ENOMEM) return 4;
  errno = 0;
  if (gc_register_thread() != -1 || errno != ENOMEM) return 5;
  if (gc_thread_is_registered()) return 6;
  gc__os_fail_after(CGC_OS_FAIL_ALLOC, 0);
  if (gc_register_thread() != 0 || !gc_thread_is_registered()) return 7;
  if (gc_malloc(16) == NULL) return 8;
  return 0;
}

__attribute__((constructor)) static void child_main(void) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  _exit(strcmp(scenario, "register") == 0 ? child_register() : 2);
}

Test(osfail, thread_registration) {
  t_child_t *res = t_run_child("register", NULL);
  cr_assert(
      WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0,
      "registration without memory for the context: child status %#x (exit codes: see child_register)\n%s",
      res->status, res->err);
  free(res);
}
