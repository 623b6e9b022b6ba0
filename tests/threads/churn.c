/*
 * churn.c -- the thread_churn suite: hundreds of short-lived detached
 * threads, pthread_exit, cancellation, threads exiting while collections
 * run.
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <limits.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * Thread churn: hundreds of short-lived detached threads, pthread_exit,
 * cancellation, threads exiting while collections run
 * ====================================================================== */

static sem_t s_slots;
static atomic_int short_done;

static void *short_lived(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  size_t count = 20 + (size_t)(i % 100);
  t_node *volatile l;
  build_on(&l, count, 30000000 + i * 1000);
  if (i % 7 == 0) th_churn(64 * T_KiB, i);
  if (i % 16 == 0) gc_collect();
  tl_ok(l, count, 30000000 + i * 1000, "short-lived detached thread");
  atomic_fetch_add(&short_done, 1);
  sem_post(&s_slots);
  if (i % 2) pthread_exit(NULL);
  return NULL;
}

Test(thread_churn, hundreds_of_short_lived_detached_threads, .timeout = 60.) {
  gc_init();
  size_t n0 = nthreads();
  t_node *volatile mine;
  build_on(&mine, 1000, 29000000);
  sem_init(&s_slots, 0, 12);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  enum { N = 500 };
  size_t c0 = collections();
  for (int i = 0; i < N; i++) {
    sem_wait_nointr(&s_slots);
    pthread_t th;
    int rc = pthread_create(&th, &at, short_lived, (void *)(uintptr_t)i);
    cr_assert_eq(rc, 0, "pthread_create #%d: %s", i, strerror(rc));
    if (i % 25 == 0) {
      th_churn(256 * T_KiB, (uint64_t)i);
      gc_collect();
    }
  }
  pthread_attr_destroy(&at);
  for (int i = 0; i < 20000 && atomic_load(&short_done) < N; i++) usleep(1000);
  cr_assert_eq(atomic_load(&short_done), N);
  cr_assert(wait_nthreads(n0, 10),
            "%zu thread contexts left after every detached thread ended (expected %zu)", nthreads(), n0);
  churn_collect(3, 24);
  cr_log_info("%zu collections", collections() - c0);
  tl_ok(mine, 1000, 29000000, "main");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

typedef struct {
  t_node *head;
  size_t count;
  uint64_t base;
} held_t;

static atomic_int cancel_blocked, cancel_cleanups;
static sem_t s_never;
static int cancel_pipe[2];

static void cancel_cleanup(void *arg) {
  held_t *h = arg;
  tl_ok(h->head, h->count, h->base, "list held by a cancelled thread, in its cleanup handler");
  atomic_fetch_add(&cancel_cleanups, 1);
}

static void *cancellable(void *arg) {
  unsigned i = (unsigned)(uintptr_t)arg;
  held_t h = {NULL, 50 + i, 31000000 + (uint64_t)i * 1000};
  t_node *volatile l;
  build_on(&l, h.count, h.base);
  h.head = l;
  pthread_cleanup_push(cancel_cleanup, &h);
  let_go();
  atomic_fetch_add(&cancel_blocked, 1);
  char c;
  struct timespec ts = {10, 0};
  switch (i % 4) {
  case 0:
    for (;;) pause();
  case 1:
    for (;;) sem_wait(&s_never);
  case 2:
    for (;;)
      if (read(cancel_pipe[0], &c, 1) != -1 || errno != EINTR) break;
    break;
  default:
    for (;;) nanosleep(&ts, NULL); /* returns EINTR at each collection */
  }
  pthread_cleanup_pop(0);
  terr("cancellable thread %u left its cancellation point", i);
  return NULL;
}

Test(thread_churn, cancelled_threads_holding_objects, .timeout = 30.) {
  gc_init();
  size_t n0 = nthreads();
  sem_init(&s_never, 0, 0);
  cr_assert_eq(pipe(cancel_pipe), 0);
  t_node *volatile mine;
  build_on(&mine, 500, 32000000);
  enum { N = 40 };
  pthread_t th[N];
  for (unsigned i = 0; i < N; i++) th[i] = spawn(cancellable, (void *)(uintptr_t)i);
  while (atomic_load(&cancel_blocked) < N) usleep(1000);
  usleep(10000);
  churn_collect(5, 25);
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)100);
  for (unsigned i = 0; i < N; i++) {
    cr_assert_eq(pthread_cancel(th[i]), 0);
    if (i % 8 == 0) gc_collect();
  }
  for (unsigned i = 0; i < N; i++)
    cr_assert_eq(join(th[i]), PTHREAD_CANCELED, "thread %u was not cancelled", i);
  atomic_store(&collector_stop, 1);
  join(col);
  cr_assert_eq(atomic_load(&cancel_cleanups), N);
  cr_assert(wait_nthreads(n0, 10),
            "%zu thread contexts left after the cancelled threads ended (expected %zu)", nthreads(), n0);
  churn_collect(3, 26);
  tl_ok(mine, 500, 32000000, "main");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* Deterministic: pthread_cancel of a thread that is stopped (inside a
 * cancellable system call) must not let it run -- its cleanup handlers
 * run only once the world restarts, and it is stoppable afterwards. */
static atomic_int stopped_cleanup_ran;
static atomic_int stopped_blocked;

static void note_cleanup(void *arg) {
  (void)arg;
  atomic_store(&stopped_cleanup_ran, 1);
}

static void *pauses_forever(void *arg) {
  (void)arg;
  pthread_cleanup_push(note_cleanup, NULL);
  atomic_store(&stopped_blocked, 1);
  for (;;) pause();
  pthread_cleanup_pop(0);
  return NULL;
}

Test(thread_churn, cancelling_a_stopped_thread_waits_for_the_restart, .timeout = 30.) {
  gc_init();
  size_t n0 = nthreads();
  pthread_t th = spawn(pauses_forever, NULL);
  while (!atomic_load(&stopped_blocked)) usleep(1000);
  usleep(20000);
  gc__lock();
  gc__world_stop(NULL);
  int rc = pthread_cancel(th);
  usleep(100000);
  int ran_while_stopped = atomic_load(&stopped_cleanup_ran);
  gc__world_start();
  gc__unlock();
  cr_assert_eq(rc, 0);
  cr_assert_eq(join(th), PTHREAD_CANCELED);
  cr_assert_eq(ran_while_stopped, 0,
               "a stopped thread ran its cancellation cleanup handler while the world was stopped");
  cr_assert(wait_nthreads(n0, 5), "the cancelled thread's context is left (%zu, expected %zu)", nthreads(),
            n0);
  churn_collect(3, 27); /* would wait for ever on a thread left with the stop signal blocked */
}

/* A key destructor that defers itself to the last round (re-setting its
 * value, as cgc's own does) and allocates there, after cgc let go of the
 * thread: the allocation registers the thread again, and no destructor
 * round is left to unregister it.  The thread then ends registered;
 * collections must not wait for it for ever (nor signal a dead thread). */
static pthread_key_t g_late_key;
static atomic_int late_rounds, late_registered = -1, late_tid;

static void late_dtor(void *v) {
  if (atomic_fetch_add(&late_rounds, 1) + 1 < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_late_key, v);
    return;
  }
  t_node *volatile n = tn_new(45000000, 64); /* registers the thread again */
  (void)n;
  atomic_store(&late_registered, gc_thread_is_registered());
  atomic_store(&late_tid, gettid_());
}

static void *sets_late_key(void *arg) {
  pthread_setspecific(g_late_key, arg);
  return NULL;
}

Test(thread_churn, thread_registered_again_in_its_last_destructor_round, .timeout = 30.) {
  gc_init();
  cr_assert_eq(pthread_key_create(&g_late_key, late_dtor), 0);
  pthread_t th = spawn(sets_late_key, (void *)1);
  join(th);
  cr_assert_eq(atomic_load(&late_rounds), PTHREAD_DESTRUCTOR_ITERATIONS);
  cr_log_info("registered after allocating in the last destructor round: %d", atomic_load(&late_registered));
  uint64_t t0 = gc__now_ns();
  churn_collect(5, 29);
  double secs = (double)(gc__now_ns() - t0) / 1e9;
  cr_assert_lt(secs, 5.0, "5 collections took %.1f s: they waited for a thread that had ended", secs);
  size_t running = 0;
  gc__lock();
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
    if (t->state == CGC_THREAD_RUNNING && t->tid == (pid_t)atomic_load(&late_tid)) running++;
  gc__unlock();
  cr_assert_eq(running, 0, "the ended thread is still scanned and signalled as running");
  T_ASSERT_HEAP_VALID();
}

/* Threads end (return, pthread_exit, after gc_unregister_thread, after
 * unregistering and allocating again) while another thread collects back
 * to back. */
static void *exits_soon(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  t_node *volatile l;
  build_on(&l, 10, 33000000 + i * 100);
  tl_ok(l, 10, 33000000 + i * 100, "thread exiting during collections");
  switch (i % 5) {
  case 0: gc_unregister_thread(); break;
  case 1:
    gc_unregister_thread();
    build_on(&l, 5, 33000000 + i * 100 + 50); /* registers again */
    if (!gc_thread_is_registered()) terr("allocating did not register the thread again");
    tl_ok(l, 5, 33000000 + i * 100 + 50, "re-registered thread");
    break;
  case 2: pthread_exit(NULL);
  default: break;
  }
  return NULL;
}

Test(thread_churn, threads_exit_while_collections_run, .timeout = 60.) {
  gc_init();
  size_t n0 = nthreads();
  t_node *volatile mine;
  build_on(&mine, 500, 34000000);
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)10);
  pthread_attr_t det;
  pthread_attr_init(&det);
  pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);
  enum { N = 1000, INFLIGHT = 8 };
  pthread_t th[INFLIGHT];
  for (int i = 0; i < N; i++) {
    if (i % 2) {
      pthread_t d;
      cr_assert_eq(pthread_create(&d, &det, exits_soon, (void *)(uintptr_t)i), 0);
      continue;
    }
    int k = (i / 2) % INFLIGHT;
    if (i / 2 >= INFLIGHT) join(th[k]);
    th[k] = spawn(exits_soon, (void *)(uintptr_t)i);
  }
  for (int k = 0; k < INFLIGHT; k++) join(th[k]);
  pthread_attr_destroy(&det);
  cr_assert(wait_nthreads(n0 + 1, 10), "%zu thread contexts left (expected %zu)", nthreads(), n0 + 1);
  atomic_store(&collector_stop, 1);
  join(col);
  cr_log_info("%lu collections while %d threads came and went", atomic_load(&collector_runs), N);
  cr_assert_gt(atomic_load(&collector_runs), 50);
  tl_ok(mine, 500, 34000000, "main");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}
