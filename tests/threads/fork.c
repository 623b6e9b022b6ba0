/*
 * fork.c -- the fork suite: fork() in a multithreaded program.
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <unistd.h>

/* ======================================================================
 * fork() in a multithreaded program
 * ====================================================================== */

static atomic_int fork_stop;

static void *child_side_thread(void *arg) {
  (void)arg;
  t_node *volatile l;
  build_on(&l, 200, 41000000);
  for (int i = 0; i < 5; i++) {
    th_churn(256 * T_KiB, (uint64_t)i);
    gc_collect();
  }
  tl_ok(l, 200, 41000000, "fork child: a thread of the child");
  return NULL;
}

/* Runs in the child: only the forking thread exists.  No Criterion. */
static T_NOINLINE int fork_child_body(const t_node *inherited, size_t count, uint64_t base) {
  alarm(30);
  if (nthreads() != 1) terr("fork child: %zu registered threads, expected 1", nthreads());
  if (!tl_ok(inherited, count, base, "fork child: data inherited from the parent")) return child_report();
  t_node *volatile mine;
  build_on(&mine, 500, 40000000);
  for (int r = 0; r < 20 && atomic_load(&err_count) == 0; r++) {
    th_churn(512 * T_KiB, (uint64_t)r);
    gc_collect();
    tl_ok(inherited, count, base, "fork child: inherited data after collections");
    tl_ok(mine, 500, 40000000, "fork child: new data after collections");
  }
  pthread_t th;
  if (pthread_create(&th, NULL, child_side_thread, NULL) != 0)
    terr("fork child: pthread_create failed");
  else
    pthread_join(th, NULL);
  gc_collect();
  if (!gc__heap_is_valid()) terr("fork child: heap invariants broken");
  return child_report();
}

static void *fork_worker(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg;
  for (uint64_t it = 0; !atomic_load(&fork_stop); it++) {
    t_node *volatile l;
    build_on(&l, 100, base + it * 1000);
    th_churn(128 * T_KiB, base + it);
    tl_ok(l, 100, base + it * 1000, "fork parent: worker");
  }
  return NULL;
}

static atomic_int fork_from_thread_status = -1;

static void *forks_from_a_thread(void *arg) {
  (void)arg;
  t_node *volatile l;
  build_on(&l, 300, 42000000);
  pid_t pid = fork();
  if (pid == 0) _exit(fork_child_body(l, 300, 42000000));
  int st = -1;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) terr("fork/waitpid from a thread failed");
  atomic_store(&fork_from_thread_status, st);
  tl_ok(l, 300, 42000000, "fork parent: the forking thread");
  return NULL;
}

Test(fork, child_of_a_multithreaded_program, .timeout = 60.) {
  gc_init();
  t_node *volatile mine;
  build_on(&mine, 2000, 43000000);
  pthread_t w[3];
  for (int i = 0; i < 3; i++) w[i] = spawn(fork_worker, (void *)(uintptr_t)(44000000 + 10000000 * i));
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)200);
  uint64_t rs = 5;
  for (int i = 0; i < 8; i++) {
    usleep((useconds_t)t_range(&rs, 0, 20000));
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) _exit(fork_child_body(mine, 2000, 43000000));
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child #%d: %s %d", i,
              WIFEXITED(st) ? "exit status" : "killed by signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    tl_ok(mine, 2000, 43000000, "fork parent: main after a fork");
  }
  pthread_t f = spawn(forks_from_a_thread, NULL);
  join(f);
  int st = atomic_load(&fork_from_thread_status);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child forked from a non-main thread: status %#x", st);
  atomic_store(&fork_stop, 1);
  for (int i = 0; i < 3; i++) join(w[i]);
  atomic_store(&collector_stop, 1);
  join(col);
  churn_collect(3, 28);
  tl_ok(mine, 2000, 43000000, "fork parent: main at the end");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}
