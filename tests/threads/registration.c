/*
 * registration.c -- the registration suite: pthread_create'd threads
 * registered from their first instruction, the start argument as a root
 * (also right after registration, with libhook.so preloaded into a
 * child), foreign threads.
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>

#ifndef TEST_LIBDIR
#error "TEST_LIBDIR must name the directory that holds libhook.so"
#endif

/* ======================================================================
 * Registration: pthread_create'd threads from their first instruction,
 * the start argument as a root, foreign threads
 * ====================================================================== */

static atomic_int first_insn_registered = -1;

static void *check_arg_later(void *arg) {
  /* before anything else, allocation included */
  atomic_store(&first_insn_registered, gc_thread_is_registered());
  sem_post(&s_started);
  sem_wait_nointr(&s_go);
  tl_ok(arg, 400, 11000000, "start argument");
  return NULL;
}

/* The list exists only as the start argument once this returns. */
static T_NOINLINE pthread_t spawn_with_fresh_list(void *(*fn)(void *), size_t count, uint64_t base) {
  pthread_t th;
  int rc = pthread_create(&th, NULL, fn, tl_new(count, base));
  if (rc != 0) abort();
  return th;
}

Test(registration, registered_from_first_instruction_and_start_arg_is_a_root, .timeout = 30.) {
  sem_init(&s_started, 0, 0);
  sem_init(&s_go, 0, 0);
  pthread_t th = spawn_with_fresh_list(check_arg_later, 400, 11000000);
  forget();
  churn_collect(5, 9); /* the child may still be starting */
  sem_wait_nointr(&s_started);
  cr_assert_eq(atomic_load(&first_insn_registered), 1,
               "gc_thread_is_registered() is 0 in a new thread's start routine");
  churn_collect(15, 10);
  sem_post(&s_go);
  join(th);
  ASSERT_NO_ERRORS();
}

/* pthread_create that fails (here: a stack that cannot be mapped) leaves
 * no context behind for collections to wait for. */
static void *never_runs(void *arg) {
  terr("a thread whose creation failed ran");
  return arg;
}

Test(registration, failed_pthread_create_leaves_no_context, .timeout = 30.) {
  gc_init();
  size_t n0 = nthreads();
  pthread_attr_t at;
  pthread_attr_init(&at);
  cr_assert_eq(pthread_attr_setstacksize(&at, (size_t)1 << 46), 0);
  pthread_t th;
  int rc = pthread_create(&th, &at, never_runs, gc_malloc(64));
  pthread_attr_destroy(&at);
  cr_assert_neq(rc, 0, "a thread with a 64 TiB stack was created");
  cr_assert_eq(nthreads(), n0, "a failed pthread_create left a thread context (%zu, expected %zu)",
               nthreads(), n0);
  churn_collect(3, 32);
  ASSERT_NO_ERRORS();
}

/* Deterministic STARTING state: hold the heap lock right after
 * pthread_create, before the child could register (it blocks on the lock
 * in its trampoline), and collect from under the lock: the start argument
 * is then reachable only from cgc's record of the thread. */
static void *check_arg_now(void *arg) {
  tl_ok(arg, 300, 12000000, "start argument of a thread still starting");
  return NULL;
}

Test(registration, start_arg_of_a_thread_still_starting, .timeout = 30.) {
  gc_init();
  th_churn(T_MiB, 11);
  int starting_seen = 0;
  for (int attempt = 0; attempt < 20; attempt++) {
    pthread_t th = spawn_with_fresh_list(check_arg_now, 300, 12000000);
    forget();
    gc__lock();
    gc_tctx_t *t = gc__registry.threads; /* the newest context is first */
    bool starting = t != NULL && t->state == CGC_THREAD_STARTING && t->start_fn == check_arg_now;
    if (starting) {
      starting_seen++;
      for (int i = 0; i < 5; i++) gc__collect_locked("test");
    }
    gc__unlock();
    join(th);
    ASSERT_NO_ERRORS();
  }
  cr_assert_gt(starting_seen, 0, "never caught a thread before it registered");
  cr_log_info("caught %d of 20 threads still starting", starting_seen);
}

/* Thousands of threads that check their start argument while another
 * thread collects back to back: a collection may stop a new thread at any
 * point of its start-up. */
static void *check_arg_soon(void *arg) {
  t_node *l = arg;
  for (int i = 0; i < 20; i++) sched_yield();
  tl_ok(l, 4, l->id, "start argument under continuous collection");
  return NULL;
}

static T_NOINLINE pthread_t spawn_small(uint64_t base) {
  return spawn_with_fresh_list(check_arg_soon, 4, base);
}

Test(registration, start_arg_under_continuous_collection, .timeout = 60.) {
  gc_init();
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)20);
  enum { N = 4000, INFLIGHT = 8 };
  pthread_t th[INFLIGHT];
  for (int i = 0; i < N; i++) {
    if (i >= INFLIGHT) join(th[i % INFLIGHT]);
    th[i % INFLIGHT] = spawn_small(13000000 + (uint64_t)i * 10);
    if (atomic_load(&err_count)) break;
  }
  for (int i = 0; i < INFLIGHT && i < N; i++) join(th[i]);
  atomic_store(&collector_stop, 1);
  join(col);
  cr_log_info("%lu collections during %d thread starts", atomic_load(&collector_runs), N);
  ASSERT_NO_ERRORS();
  cr_assert_gt(atomic_load(&collector_runs), 100);
}
static atomic_int foreign_state[4]; /* registered: at start, after register, after unregister */

static void *foreign_registers(void *arg) {
  (void)arg;
  atomic_store(&foreign_state[0], gc_thread_is_registered());
  if (gc_register_thread() != 0) terr("gc_register_thread failed");
  if (gc_register_thread() != 0) terr("gc_register_thread (again) failed");
  atomic_store(&foreign_state[1], gc_thread_is_registered());
  t_node *volatile head;
  build_on(&head, 500, 15000000);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go); /* main collects: this stack is the only root */
  tl_ok(head, 500, 15000000, "stack of a foreign thread after gc_register_thread");
  gc_unregister_thread();
  atomic_store(&foreign_state[2], gc_thread_is_registered());
  gc_unregister_thread(); /* idempotent */
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  return NULL;
}

Test(registration, foreign_thread_register_and_unregister, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  size_t n0 = nthreads();
  create_fn_t create = system_pthread_create();
  for (int i = 0; i < 3; i++) atomic_store(&foreign_state[i], -1);
  pthread_t th;
  cr_assert_eq(create(&th, NULL, foreign_registers, NULL), 0);
  sem_wait_nointr(&s_ready);
  cr_assert_eq(atomic_load(&foreign_state[0]), 0, "a foreign thread is registered before it asked");
  cr_assert_eq(atomic_load(&foreign_state[1]), 1, "gc_register_thread did not register the thread");
  cr_assert_eq(nthreads(), n0 + 1);
  churn_collect(20, 12);
  sem_post(&s_go);
  sem_wait_nointr(&s_ready);
  cr_assert_eq(atomic_load(&foreign_state[2]), 0, "gc_unregister_thread left the thread registered");
  cr_assert_eq(nthreads(), n0, "gc_unregister_thread did not remove the thread's context");
  churn_collect(2, 13); /* the unregistered thread is not stopped: no hang */
  sem_post(&s_go);
  cr_assert_eq(pthread_join(th, NULL), 0);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

static void *foreign_allocates(void *arg) {
  (void)arg;
  int before = gc_thread_is_registered();
  t_node *volatile head;
  build_on(&head, 300, 16000000); /* the first allocation registers it */
  int after = gc_thread_is_registered();
  if (before != 0 || after != 1)
    terr("foreign thread: registered %d before, %d after its first allocation", before, after);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  tl_ok(head, 300, 16000000, "stack of a foreign thread registered by its first allocation");
  return NULL; /* exits registered: cgc's key destructor unregisters it */
}

Test(registration, foreign_thread_registered_by_first_allocation, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  size_t n0 = nthreads();
  create_fn_t create = system_pthread_create();
  pthread_t th;
  cr_assert_eq(create(&th, NULL, foreign_allocates, NULL), 0);
  sem_wait_nointr(&s_ready);
  cr_assert_eq(nthreads(), n0 + 1);
  churn_collect(20, 14);
  sem_post(&s_go);
  cr_assert_eq(pthread_join(th, NULL), 0);
  cr_assert(wait_nthreads(n0, 5), "the foreign thread's context outlived it (%zu, expected %zu)", nthreads(),
            n0);
  churn_collect(2, 15);
  ASSERT_NO_ERRORS();
}

/* ======================================================================
 * Child process: a scenario that needs its own environment (LD_PRELOAD).
 * The program re-executes itself with CGC_TEST_CHILD naming the scenario;
 * a constructor runs it before Criterion starts (t_run_child, common.h).
 * Plain checks, exit codes.
 * ====================================================================== */

/* ---- the start argument right after registration (libhook preloaded) ---- */

static atomic_ulong window_base;

static void *check_arg_window(void *arg) {
  tl_ok(arg, 300, atomic_load(&window_base), "start argument right after the thread registered");
  return NULL;
}

static int child_startarg_window(void) {
  atomic_int *armed = dlsym(RTLD_DEFAULT, "hook_armed");
  pthread_t *armer = dlsym(RTLD_DEFAULT, "hook_armer");
  pthread_key_t *key = dlsym(RTLD_DEFAULT, "hook_key");
  sem_t *parked = dlsym(RTLD_DEFAULT, "hook_parked"), *release = dlsym(RTLD_DEFAULT, "hook_release");
  if (armed == NULL || armer == NULL || key == NULL || parked == NULL || release == NULL) {
    fprintf(stderr, "libhook.so is not preloaded\n");
    return 20;
  }
  sem_init(parked, 0, 0);
  sem_init(release, 0, 0);
  gc_init();
  *key = gc__registry.tkey; /* park on cgc's registration only */
  th_churn(T_MiB, 1);
  for (int round = 0; round < 5; round++) {
    atomic_store(&window_base, 14000000 + (uint64_t)round * 1000);
    *armer = pthread_self();
    atomic_store(armed, 1);
    pthread_t th = spawn_with_fresh_list(check_arg_window, 300, atomic_load(&window_base));
    forget();
    sem_wait_nointr(parked);
    /* the new thread is registered (RUNNING) and parked inside cgc's
     * registration; its start routine has not run */
    int running = 0;
    gc__lock();
    for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
      if (t->start_fn == check_arg_window && t->state == CGC_THREAD_RUNNING) running++;
    gc__unlock();
    if (running != 1) terr("round %d: the parked thread is not registered and running (%d)", round, running);
    churn_collect(5, (uint64_t)round);
    sem_post(release);
    pthread_join(th, NULL);
  }
  return child_report();
}

Test(registration, start_arg_right_after_registration, .timeout = 30.) {
  const char *env[] = {"LD_PRELOAD=" TEST_LIBDIR "/libhook.so", NULL};
  t_child_t *res = t_run_child("startarg_window", env);
  ASSERT_CHILD_EXIT0(res, "start argument while the new thread sits right after its registration");
  free(res);
}

/* ---- the constructor that runs scenarios ---- */

__attribute__((constructor)) static void child_main(void) {
  static const child_scenario_t scenarios[] = {
      {"startarg_window", child_startarg_window},
  };
  run_child_scenario(scenarios, sizeof scenarios / sizeof scenarios[0]);
}
