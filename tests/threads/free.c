/*
 * free.c -- the gc_free suite: gc_free from many threads at once, of
 * objects other threads allocated, and double frees (in a child) die.
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <signal.h>
#include <stdio.h>

/* ======================================================================
 * gc_free from many threads at once, of objects other threads allocated
 * ====================================================================== */

enum { XF_THREADS = 4, XF_CAP = 4096, XF_ITERS = 300, XF_BATCH = 24 };
typedef struct {
  size_t n;
  t_node *v[XF_CAP];
} xtable_t;
static xtable_t *volatile g_xt; /* gc_malloc'ed; this global is its only root */
static pthread_mutex_t g_xt_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong xf_freed_bytes, xf_freed_objs;

static size_t xf_size(uint64_t id) {
  uint64_t h = t_mix64(id);
  if (h % 400 == 0) return 600 * T_KiB; /* large: gc_free takes the lock */
  if (h % 10 == 0) return 1024 + (size_t)(h >> 20) % 8192;
  return sizeof(t_node) + (size_t)(h >> 20) % 200;
}

static T_NOINLINE void xf_produce(unsigned me, uint64_t *seq) {
  for (int k = 0; k < XF_BATCH; k++) {
    uint64_t id = ((uint64_t)(me + 1) << 40) | (*seq)++;
    t_node *n = tn_new(id, xf_size(id));
    pthread_mutex_lock(&g_xt_mu);
    xtable_t *xt = g_xt;
    if (xt->n < XF_CAP) xt->v[xt->n++] = n;
    pthread_mutex_unlock(&g_xt_mu);
  }
}

static T_NOINLINE void xf_consume(unsigned me, uint64_t *rs) {
  t_node *take[XF_BATCH];
  size_t nt = 0;
  pthread_mutex_lock(&g_xt_mu);
  xtable_t *xt = g_xt;
  size_t start = xt->n ? (size_t)(t_rand(rs) % xt->n) : 0;
  for (size_t j = 0; j < xt->n && nt < XF_BATCH;) {
    size_t i = (start + j) % xt->n;
    t_node *n = xt->v[i];
    if ((n->id >> 40) != me + 1) {
      take[nt++] = n;
      xt->v[i] = xt->v[--xt->n];
      xt->v[xt->n] = NULL;
      continue; /* look at the entry moved into i */
    }
    j++;
  }
  pthread_mutex_unlock(&g_xt_mu);
  for (size_t k = 0; k < nt; k++) {
    t_node *n = take[k];
    uint64_t id = n->id, producer = id >> 40;
    if (producer == 0 || producer > XF_THREADS || producer == me + 1)
      terr("gc_free table: bad id %llx", (unsigned long long)id);
    if (!tn_ok(n, id, "object handed over for gc_free")) return;
    size_t sz = gc_size(n);
    gc_free(n);
    atomic_fetch_add(&xf_freed_bytes, sz);
    atomic_fetch_add(&xf_freed_objs, 1);
  }
}

static void *xfree_worker(void *arg) {
  unsigned me = (unsigned)(uintptr_t)arg;
  uint64_t seq = 0, rs = me * 77 + 1;
  for (int it = 0; it < XF_ITERS && atomic_load(&err_count) == 0; it++) {
    xf_produce(me, &seq);
    xf_consume(me, &rs);
    if (it % 50 == 0) th_churn(256 * T_KiB, me * 1000 + (uint64_t)it);
  }
  return NULL;
}

Test(gc_free, many_threads_free_each_others_objects, .timeout = 60.) {
  gc_init();
  g_xt = gc_malloc(sizeof(xtable_t));
  cr_assert_not_null(g_xt);
  gc_stats_t s0 = t_stats();
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)300);
  pthread_t th[XF_THREADS];
  for (unsigned i = 0; i < XF_THREADS; i++) th[i] = spawn(xfree_worker, (void *)(uintptr_t)i);
  for (unsigned i = 0; i < XF_THREADS; i++) join(th[i]);
  atomic_store(&collector_stop, 1);
  join(col);
  ASSERT_NO_ERRORS();
  gc_stats_t s1 = t_stats();
  cr_assert_gt(atomic_load(&xf_freed_objs), XF_THREADS * XF_ITERS * XF_BATCH / 2,
               "only %lu objects were freed", atomic_load(&xf_freed_objs));
  cr_assert_eq(s1.freed_bytes - s0.freed_bytes, atomic_load(&xf_freed_bytes),
               "freed_bytes counts %zu, the threads freed %lu", s1.freed_bytes - s0.freed_bytes,
               atomic_load(&xf_freed_bytes));
  cr_assert_gt(s1.collections - s0.collections, 5);
  t_collect();
  xtable_t *xt = g_xt;
  for (size_t i = 0; i < xt->n; i++)
    cr_assert(tn_ok(xt->v[i], xt->v[i]->id, "left in the table"), "%s", err_msg);
  T_ASSERT_HEAP_VALID();
  cr_log_info("%lu objects freed across threads, %zu collections", atomic_load(&xf_freed_objs),
              s1.collections - s0.collections);
}

/* ======================================================================
 * Child processes: scenarios that must die.  The program re-executes
 * itself with CGC_TEST_CHILD naming the scenario; a constructor runs it
 * before Criterion starts (t_run_child, common.h).
 * ====================================================================== */

/* ---- double free ---- */

/* Both threads spin until the other arrives, so the two frees start
 * within nanoseconds of each other and often both get past the lookup:
 * then the clearing CAS decides ("freed twice?"); otherwise the lookup
 * of the second already fails ("already freed"). */
static atomic_int df_arrived;

static void *free_after_barrier(void *p) {
  atomic_fetch_add(&df_arrived, 1);
  while (atomic_load(&df_arrived) < 2) {}
  gc_free(p);
  return NULL;
}

static int child_double_free_race(void) {
  void *keep = gc_malloc(48); /* the span stays in use */
  void *p = gc_malloc(48);
  printf("p=%p keep=%p\n", p, keep);
  fflush(stdout);
  pthread_t th;
  if (pthread_create(&th, NULL, free_after_barrier, p) != 0) return 3;
  free_after_barrier(p);
  pthread_join(th, NULL);
  return 4; /* both frees returned: the double free went unnoticed */
}

static int child_double_free_single(void) {
  void *keep = gc_malloc(32);
  void *p = gc_malloc(32);
  printf("p=%p keep=%p\n", p, keep);
  fflush(stdout);
  gc_free(p);
  gc_free(t_launder(p));
  return 4;
}

static int df_twice_seen; /* deaths in the CAS ("freed twice") */

static void assert_double_free_death(const char *scenario) {
  t_child_t *res = t_run_child(scenario, NULL);
  cr_assert(WIFSIGNALED(res->status) && WTERMSIG(res->status) == SIGABRT,
            "%s: the child did not abort (status %#x)\nstdout:\n%s\nstderr:\n%s", scenario, res->status,
            res->out, res->err);
  void *p = NULL, *keep = NULL;
  cr_assert_eq(sscanf(res->out, "p=%p keep=%p", &p, &keep), 2, "bad child output: %s", res->out);
  char needle[64];
  snprintf(needle, sizeof needle, "gc_free(%p)", p);
  cr_assert_not_null(strstr(res->err, needle), "%s: the diagnostic does not name %s:\n%s", scenario, needle,
                     res->err);
  cr_assert_not_null(strstr(res->err, "not a live cgc object"), "%s: unexpected diagnostic:\n%s", scenario,
                     res->err);
  cr_assert_not_null(strstr(res->err, "freed"), "%s: the diagnostic does not say freed:\n%s", scenario,
                     res->err);
  if (strstr(res->err, "freed twice")) df_twice_seen++;
  free(res);
}

Test(gc_free, double_free_from_two_threads_dies, .timeout = 60.) {
  for (int i = 0; i < 20; i++) assert_double_free_death("double_free_race");
  cr_log_info("%d of 20 races decided by the clearing CAS", df_twice_seen);
}

Test(gc_free, double_free_in_one_thread_dies) { assert_double_free_death("double_free_single"); }

/* ---- the constructor that runs scenarios ---- */

__attribute__((constructor)) static void child_main(void) {
  static const child_scenario_t scenarios[] = {
      {"double_free_race", child_double_free_race},
      {"double_free_single", child_double_free_single},
  };
  run_child_scenario(scenarios, sizeof scenarios / sizeof scenarios[0]);
}
