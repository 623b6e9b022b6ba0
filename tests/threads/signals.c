/*
 * signals.c -- the signals suite: interrupted system calls restart,
 * threads with every signal blocked (or waiting under masks of their own)
 * are still stopped, stray stop signals, alternate signal stacks.
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * Signals: interrupted system calls restart, blocked signal masks,
 * stray stop signals
 * ====================================================================== */

/* The context of the thread whose pthread_t is th (NULL if none). */
static gc_tctx_t *ctx_of(pthread_t th) {
  gc_tctx_t *r = NULL;
  gc__lock();
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
    if (t->state == CGC_THREAD_RUNNING && pthread_equal(t->self, th)) r = t;
  gc__unlock();
  return r;
}

/* The system call thread `tid` is blocked in, from /proc (-1: running or
 * unknown). */
static long blocked_syscall(pid_t tid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (buf[0] < '0' || buf[0] > '9') return -1;
  return strtol(buf, NULL, 10);
}

static void wait_blocked_in(pid_t tid, long nr) {
  for (int i = 0; i < 5000; i++) {
    if (blocked_syscall(tid) == nr) return;
    usleep(1000);
  }
  cr_assert_fail("thread %d never blocked in system call %ld", (int)tid, nr);
}

typedef struct {
  int fd;
  atomic_int tid, done;
  ssize_t result;
  int err;
  char buf[64];
} reader_t;

static void *blocked_reader(void *arg) {
  reader_t *r = arg;
  t_node *volatile mine;
  build_on(&mine, 200, 20000000);
  let_go();
  atomic_store(&r->tid, gettid_());
  r->result = read(r->fd, r->buf, sizeof r->buf - 1);
  r->err = errno;
  atomic_store(&r->done, 1);
  tl_ok(mine, 200, 20000000, "stack of a thread blocked in read");
  return NULL;
}

Test(signals, read_on_a_pipe_restarts_across_collections, .timeout = 30.) {
  gc_init();
  int p[2];
  cr_assert_eq(pipe(p), 0);
  static reader_t r; /* no gc pointers */
  r.fd = p[0];
  pthread_t th = spawn(blocked_reader, &r);
  while (atomic_load(&r.tid) == 0) sched_yield();
  wait_blocked_in(atomic_load(&r.tid), SYS_read);
  gc_tctx_t *t = ctx_of(th);
  cr_assert_not_null(t);
  unsigned acked0 = t->stop_seq;
  churn_collect(50, 19);
  cr_assert_eq(atomic_load(&r.done), 0, "read() returned during the collections: %zd (errno %d: %s)",
               r.result, r.err, strerror(r.err));
  cr_assert_geq(t->stop_seq - acked0, 50, "the reader was not stopped by every collection (%u)",
                t->stop_seq - acked0);
  wait_blocked_in(atomic_load(&r.tid), SYS_read); /* back in read() once its stop handler returned */
  cr_assert_eq(write(p[1], "hello, cgc", 10), 10);
  join(th);
  cr_assert_eq(r.result, 10, "read returned %zd (errno %d: %s) after collections", r.result, r.err,
               strerror(r.err));
  cr_assert_str_eq(r.buf, "hello, cgc");
  close(p[0]);
  close(p[1]);
  ASSERT_NO_ERRORS();
}

static sem_t s_blocked;
static atomic_int semwait_tid, semwait_result = 99, semwait_errno;

static void *blocked_in_sem_wait(void *arg) {
  (void)arg;
  atomic_store(&semwait_tid, gettid_());
  int rc = sem_wait(&s_blocked);
  atomic_store(&semwait_errno, errno);
  atomic_store(&semwait_result, rc);
  return NULL;
}

Test(signals, sem_wait_restarts_across_collections, .timeout = 30.) {
  gc_init();
  sem_init(&s_blocked, 0, 0);
  pthread_t th = spawn(blocked_in_sem_wait, NULL);
  while (atomic_load(&semwait_tid) == 0) sched_yield();
  wait_blocked_in(atomic_load(&semwait_tid), SYS_futex);
  churn_collect(50, 20);
  sem_post(&s_blocked);
  join(th);
  cr_assert_eq(atomic_load(&semwait_result), 0, "sem_wait failed with errno %d (%s) during collections",
               atomic_load(&semwait_errno), strerror(atomic_load(&semwait_errno)));
}

/* Threads that block every signal still get stopped: cgc takes its stop
 * signal out of the masks registered threads set, and a foreign thread
 * that blocked everything before registering is unblocked when it
 * registers. */
static bool kernel_blocks(pid_t tid, int sig) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return true;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = 0;
  const char *b = strstr(buf, "SigBlk:");
  if (b == NULL) return true;
  unsigned long long mask = strtoull(b + 7, NULL, 16);
  return (mask >> (sig - 1)) & 1;
}

static void *blocks_everything(void *arg) {
  int how = (int)(uintptr_t)arg;
  sigset_t all, cur;
  sigfillset(&all);
  if (how == 2) { /* foreign: block first, register afterwards */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (gc_register_thread() != 0) terr("gc_register_thread failed");
  } else if (how == 1) {
    sigprocmask(SIG_SETMASK, &all, NULL);
  } else {
    pthread_sigmask(SIG_BLOCK, &all, NULL);
  }
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  int sig = gc__world_signal();
  if (sigismember(&cur, sig)) terr("mode %d: the stop signal is reported blocked", how);
  if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGINT))
    terr("mode %d: other signals are not blocked", how);
  if (kernel_blocks(gettid_(), sig)) terr("mode %d: the kernel's mask blocks the stop signal", how);
  if (!kernel_blocks(gettid_(), SIGUSR1)) terr("mode %d: the kernel's mask does not block SIGUSR1", how);
  t_node *volatile mine;
  build_on(&mine, 300, 21000000 + (uint64_t)how * 1000);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  tl_ok(mine, 300, 21000000 + (uint64_t)how * 1000, "stack of a thread that blocked every signal");
  return NULL;
}

Test(signals, threads_blocking_every_signal_are_still_stopped, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  create_fn_t create = system_pthread_create();
  pthread_t a = spawn(blocks_everything, (void *)0);
  pthread_t b = spawn(blocks_everything, (void *)1);
  pthread_t c;
  cr_assert_eq(create(&c, NULL, blocks_everything, (void *)2), 0);
  for (int i = 0; i < 3; i++) sem_wait_nointr(&s_ready);
  ASSERT_NO_ERRORS();
  churn_collect(20, 21);
  for (int i = 0; i < 3; i++) sem_post(&s_go);
  join(a);
  join(b);
  join(c);
  ASSERT_NO_ERRORS();
}

/* Calls that install a signal mask of their own while they wait, or take
 * the signals they wait for: with every signal in the mask or set, cgc
 * takes its stop signal out, so the waiting thread is stopped (not held
 * up until the call returns, not robbed of the signal by sigwait).  Each
 * waiter holds a tree on its stack; the collections must finish quickly
 * (the polling calls would otherwise wait out their 20 s timeout, the
 * others for ever) and the sigwait family must get SIGUSR1, never the
 * stop signal. */
enum {
  W_SIGSUSPEND,
  W_SIGWAIT,
  W_SIGWAITINFO,
  W_SIGTIMEDWAIT,
  W_PPOLL,
  W_PSELECT,
  W_EPOLL_PWAIT,
  W_EPOLL_PWAIT2,
  W_N
};
static const long w_syscall[W_N] = {SYS_rt_sigsuspend,   SYS_rt_sigtimedwait, SYS_rt_sigtimedwait,
                                    SYS_rt_sigtimedwait, SYS_ppoll,           SYS_pselect6,
                                    SYS_epoll_pwait,     SYS_epoll_pwait2};
static const char *const w_name[W_N] = {"sigsuspend", "sigwait", "sigwaitinfo", "sigtimedwait",
                                        "ppoll",      "pselect", "epoll_pwait", "epoll_pwait2"};
static atomic_int w_tid[W_N], w_got[W_N], w_usr1;
static int w_pipe[2];
static void on_usr1(int sig) {
  (void)sig;
  atomic_store(&w_usr1, 1);
}

/* Wait as call k does, again after each EINTR (a collection's stop
 * signal runs a handler, which these calls do not restart). */
static int masked_wait(int k, const sigset_t *all) {
  struct timespec tmo = {20, 0};
  siginfo_t si;
  int got = -1;
  switch (k) {
  case W_SIGSUSPEND: {
    sigset_t m = *all;
    sigdelset(&m, SIGUSR1);
    while (!atomic_load(&w_usr1)) sigsuspend(&m);
    return SIGUSR1;
  }
  case W_SIGWAIT: return sigwait(all, &got) == 0 ? got : -1;
  case W_SIGWAITINFO:
    while ((got = sigwaitinfo(all, &si)) < 0 && errno == EINTR) {}
    return got;
  case W_SIGTIMEDWAIT:
    while ((got = sigtimedwait(all, &si, &tmo)) < 0 && errno == EINTR) {}
    return got;
  case W_PPOLL: {
    struct pollfd pf = {.fd = w_pipe[0], .events = POLLIN};
    while ((got = ppoll(&pf, 1, &tmo, all)) < 0 && errno == EINTR) {}
    return got;
  }
  case W_PSELECT:
    for (;;) {
      fd_set r;
      FD_ZERO(&r);
      FD_SET(w_pipe[0], &r);
      if ((got = pselect(w_pipe[0] + 1, &r, NULL, NULL, &tmo, all)) >= 0 || errno != EINTR) return got;
    }
  default: {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, w_pipe[0], &ev);
    while ((got = k == W_EPOLL_PWAIT ? epoll_pwait(ep, &out, 1, 20000, all)
                                     : epoll_pwait2(ep, &out, 1, &tmo, all)) < 0 &&
           errno == EINTR) {}
    close(ep);
    return got;
  }
  }
}

static void *masked_waiter(void *arg) {
  int k = (int)(uintptr_t)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  t_node *volatile mine;
  build_on(&mine, 200, 23000000 + (uint64_t)k * 1000);
  let_go();
  atomic_store(&w_tid[k], gettid_());
  atomic_store(&w_got[k], masked_wait(k, &all));
  tl_ok(mine, 200, 23000000 + (uint64_t)k * 1000, w_name[k]);
  return NULL;
}

Test(signals, calls_with_their_own_masks_do_not_hold_up_or_swallow_stops, .timeout = 30.) {
  gc_init();
  struct sigaction sa = {.sa_handler = on_usr1};
  sigaction(SIGUSR1, &sa, NULL);
  cr_assert_eq(pipe(w_pipe), 0);
  pthread_t th[W_N];
  for (int k = 0; k < W_N; k++) th[k] = spawn(masked_waiter, (void *)(uintptr_t)k);
  for (int k = 0; k < W_N; k++) {
    while (atomic_load(&w_tid[k]) == 0) sched_yield();
    wait_blocked_in(atomic_load(&w_tid[k]), w_syscall[k]);
  }
  uint64_t t0 = gc__now_ns();
  churn_collect(10, 23);
  uint64_t ms = (gc__now_ns() - t0) / 1000000;
  cr_assert_lt(ms, 10000, "10 collections took %llu ms with threads waiting under full masks",
               (unsigned long long)ms);
  /* each is still waiting: back in its call once the stop handler returned
   * (a read right after the collection can catch one on its way back) */
  for (int k = 0; k < W_N; k++) wait_blocked_in(atomic_load(&w_tid[k]), w_syscall[k]);
  for (int k = W_SIGSUSPEND; k <= W_SIGTIMEDWAIT; k++) pthread_kill(th[k], SIGUSR1);
  cr_assert_eq(write(w_pipe[1], "x", 1), 1);
  for (int k = 0; k < W_N; k++) join(th[k]);
  for (int k = W_SIGSUSPEND; k <= W_SIGTIMEDWAIT; k++)
    cr_assert_eq(atomic_load(&w_got[k]), SIGUSR1, "%s returned %d, not SIGUSR1 (the stop signal is %d)",
                 w_name[k], atomic_load(&w_got[k]), gc__world_signal());
  for (int k = W_PPOLL; k < W_N; k++)
    cr_assert_eq(atomic_load(&w_got[k]), 1, "%s returned %d, not the pipe", w_name[k],
                 atomic_load(&w_got[k]));
  close(w_pipe[0]);
  close(w_pipe[1]);
  ASSERT_NO_ERRORS();
}

/* A stop signal that cgc did not send must not count as an answer: here
 * the main thread raises it after a collection (main was never asked to
 * stop: it is the collector), then a thread that cannot answer for a
 * while (it blocks the stop signal with a raw system call, past cgc's
 * filter) is running when main collects.  The collection must wait for
 * that thread; a stray acknowledgement would let it go on with the thread
 * running -- and a thread may later wait in the stop handler for a
 * resumption that went by, so that every later collection hangs. */
static atomic_int rawblock_ready, rawblock_go;

static void *blocks_stop_signal_raw(void *arg) {
  (void)arg;
  uint64_t set = (uint64_t)1 << (gc__world_signal() - 1), old = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, sizeof set);
  atomic_store(&rawblock_ready, 1);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof set);
  while (!atomic_load(&rawblock_go)) usleep(1000);
  return NULL;
}

Test(signals, stray_stop_signal_is_not_an_answer, .timeout = 30.) {
  gc_init();
  gc_collect();
  for (int i = 0; i < 3; i++) raise(gc__world_signal());
  pthread_t th = spawn(blocks_stop_signal_raw, NULL);
  while (!atomic_load(&rawblock_ready)) usleep(1000);
  gc_tctx_t *t = ctx_of(th);
  cr_assert_not_null(t);
  unsigned acked0 = t->stop_seq;
  uint64_t t0 = gc__now_ns();
  gc_collect();
  double ms = (double)(gc__now_ns() - t0) / 1e6;
  unsigned acked1 = t->stop_seq;
  atomic_store(&rawblock_go, 1);
  join(th);
  cr_assert_neq(
      acked1, acked0,
      "a collection ended after %.0f ms without the thread that blocks the stop signal answering: a stray "
      "stop signal was counted as its answer",
      ms);
  churn_collect(3, 30);
}

/* A thread stopped while it runs a signal handler on an alternate signal
 * stack (sigaltstack, SA_ONSTACK): the handler's frames and the registers
 * of the code it interrupted are saved on that stack, not on the thread's
 * own. */
static atomic_int altstack_in_handler, altstack_go;
static atomic_int altstack_on_alt = -1;

static void altstack_handler(int sig) {
  (void)sig;
  stack_t ss;
  sigaltstack(NULL, &ss);
  atomic_store(&altstack_on_alt, (ss.ss_flags & SS_ONSTACK) != 0);
  /* Large nodes: each has a span of its own, which no thread caches, so
   * no collection from this thread (inside a signal handler) is needed
   * for main's collections to be able to reclaim them (see let_go). */
  t_node *volatile mine = NULL;
  for (uint64_t i = 4; i-- > 0;) {
    t_node *n = tn_new(46000000 + i, 600 * T_KiB);
    n->next = mine;
    mine = n;
  }
  forget();
  atomic_store(&altstack_in_handler, 1);
  while (!atomic_load(&altstack_go)) usleep(1000);
  for (uint64_t i = 0; i < 4; i++, mine = mine->next)
    if (!tn_ok(mine, 46000000 + i, "local of a signal handler running on an alternate stack")) break;
}

static void *runs_handler_on_altstack(void *arg) {
  (void)arg;
  stack_t ss = {.ss_sp = malloc(256 * 1024), .ss_size = 256 * 1024, .ss_flags = 0};
  if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) {
    terr("sigaltstack failed");
    return NULL;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = altstack_handler;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  stack_t off = {.ss_flags = SS_DISABLE};
  sigaltstack(&off, NULL);
  free(ss.ss_sp);
  return NULL;
}

Test(signals, thread_stopped_on_an_alternate_signal_stack, .timeout = 30.) {
  gc_init();
  pthread_t th = spawn(runs_handler_on_altstack, NULL);
  while (!atomic_load(&altstack_in_handler) && atomic_load(&err_count) == 0) usleep(1000);
  cr_assert_eq(atomic_load(&altstack_on_alt), 1, "the handler does not run on the alternate stack");
  churn_collect(15, 31);
  atomic_store(&altstack_go, 1);
  join(th);
  ASSERT_NO_ERRORS();
}

/* A stop signal nobody asked for (kill, raise) returns at once. */
static void *raises_stop_signal(void *arg) {
  (void)arg;
  t_node *volatile mine;
  build_on(&mine, 100, 22000000);
  for (int i = 0; i < 100; i++) raise(gc__world_signal());
  tl_ok(mine, 100, 22000000, "after stray stop signals");
  return NULL;
}

Test(signals, stray_stop_signals_are_ignored, .timeout = 30.) {
  gc_init();
  t_node *volatile mine;
  build_on(&mine, 100, 23000000);
  for (int i = 0; i < 100; i++) raise(gc__world_signal());
  pthread_t th = spawn(raises_stop_signal, NULL);
  for (int i = 0; i < 50; i++) {
    pthread_kill(th, gc__world_signal());
    gc_collect();
  }
  join(th);
  churn_collect(3, 22);
  tl_ok(mine, 100, 23000000, "main after stray stop signals");
  ASSERT_NO_ERRORS();
}
