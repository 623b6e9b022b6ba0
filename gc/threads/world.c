/*
 * world.c -- stopping and restarting the world.
 *
 * The collector (heap lock held) sends every other RUNNING registered
 * thread the stop signal (CGC_SIGNAL, default SIGPWR).  The handler, which
 * runs on the stopped thread's stack, records its stack pointer -- the
 * kernel saved every register of the interrupted code in the signal frame
 * above it, so scanning from there up covers registers and stack alike --
 * acknowledges through a semaphore (sem_post is async-signal-safe), and
 * sleeps on a futex until the collector publishes the matching resume
 * sequence number.  One signal is enough: resumption needs no second
 * signal, only a futex wake.
 *
 * Handshake state (all through base/atomic.h):
 *   stop_seq    incremented by the collector before it signals; a handler
 *               acknowledges the value it reads, once (t->stop_seq), and
 *               only if the collector signalled it for that value
 *               (t->asked_seq, stored before the signal is sent).
 *   resume_seq  set to stop_seq by the collector when the world may run.
 *               A handler waits while resume_seq != the value it acked.
 * The collector waits until every thread's own acknowledgement equals
 * stop_seq; sem_post only wakes it (posts are not counted), and a thread
 * silent for 100 ms is signalled again, so neither a late or stray answer
 * nor a lost signal can confuse it.  A stop signal that arrives when no
 * stop is in progress (sent by someone else) returns at once.
 *
 * The handler is installed with SA_RESTART: system calls that Linux
 * restarts are restarted; those it never restarts (nanosleep, poll,
 * select, epoll_wait, ...) may return EINTR during a collection.
 *
 * The loader lock: the collector stops the world from inside
 * dl_iterate_phdr's first callback and reads every module's data and TLS
 * ranges there.  No stopped thread can then be holding the loader lock
 * (C++ exception unwinding takes it, so does dlopen), which the collector
 * would otherwise need to enumerate modules: no deadlock.
 */
#include "threads/world.h"

#include <errno.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc/tctx.h"
#include "base/atomic.h"
#include "base/debug.h"
#include "base/options.h"
#include "base/os.h"
#include "heap/lock.h"
#include "threads/registry.h"

static sem_t acks;
static volatile unsigned stop_seq, resume_seq;
static int stop_signal;

static void futex_wait(volatile unsigned *addr, unsigned val) {
  (void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(volatile unsigned *addr) {
  (void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* The stop handler.  Async-signal-safe: TLS reads, atomics, sem_post,
 * futex.  errno is preserved. */
static void on_stop(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si, (void)uc;
  int saved_errno = errno;
  gc_tctx_t *t = gc__tl_ctx;
  unsigned seq = gc__load_acquire_uint(&stop_seq);
  /* Only a stop this thread was signalled for is answered: a stop signal
   * someone else sent (or a late one) must not post an acknowledgement
   * that the collector would count for another thread. */
  if (t->registered && t->state == CGC_THREAD_RUNNING && gc__load_uint(&t->asked_seq) == seq &&
      gc__load_uint(&t->stop_seq) != seq) {
    uintptr_t sp = (uintptr_t)&saved_errno; /* below the signal frame */
    t->stop_sp = sp;
    if (sp < t->lowest_sp && sp >= t->stack_lo && sp < t->stack_base) t->lowest_sp = sp;
    /* Off its own stack: maybe in a signal handler on its alternate
     * stack, where that handler's frames and the registers of the code
     * it interrupted were saved (sigaltstack is async-signal-safe). */
    stack_t ss;
    bool alt = (sp < t->stack_lo || sp >= t->stack_base) && sigaltstack(NULL, &ss) == 0 &&
               (ss.ss_flags & SS_ONSTACK);
    t->stop_alt_lo = alt ? (uintptr_t)ss.ss_sp : 0;
    t->stop_alt_hi = alt ? (uintptr_t)ss.ss_sp + ss.ss_size : 0;
    gc__store_release_uint(&t->stop_seq, seq);
    sem_post(&acks);
    unsigned r;
    while ((r = gc__load_acquire_uint(&resume_seq)) != seq) futex_wait(&resume_seq, r);
  }
  errno = saved_errno;
}

int gc__world_signal(void) { return stop_signal; }

void gc__world_init(void) {
  if (sem_init(&acks, 0, 0) != 0) gc__fatal("sem_init failed");
  stop_signal = (int)gc__option(CGC_OPT_SIGNAL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_stop;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);         /* nothing else runs on top of a stopped thread ... */
  sigdelset(&sa.sa_mask, SIGSEGV); /* ... but synchronous faults still report */
  sigdelset(&sa.sa_mask, SIGBUS);
  sigdelset(&sa.sa_mask, SIGILL);
  sigdelset(&sa.sa_mask, SIGFPE);
  /* ... nor glibc's cancellation signal, which sigfillset leaves out (and
   * sigaddset refuses): a thread stopped inside a cancellable system call
   * has asynchronous cancellation enabled, and pthread_cancel would unwind
   * it out of this handler while the world is stopped -- running its
   * cleanup handlers during the collection, and exiting with the stop
   * signal still blocked, so the next stop waits for it for ever.  Blocked
   * here, the cancellation is acted on once the handler returns. */
  sa.sa_mask.__val[(__SIGRTMIN - 1) / (8 * sizeof sa.sa_mask.__val[0])] |=
      1ul << ((__SIGRTMIN - 1) % (8 * sizeof sa.sa_mask.__val[0]));
  if (sigaction(stop_signal, &sa, NULL) != 0)
    gc__fatal("cannot install the stop signal handler for signal %d", stop_signal);
}

/* Send sig to registered thread t by its kernel thread id.  Not
 * pthread_kill: since glibc 2.34 it returns 0 without sending anything to
 * a thread that has exited (and reads its struct pthread, which may be
 * gone), so a thread that ended registered would never be told apart
 * from one that does not answer.  0, or an errno value. */
static int signal_thread(const gc_tctx_t *t, int sig) {
  return syscall(SYS_tgkill, (pid_t)getpid(), t->tid, sig) == 0 ? 0 : errno;
}

/* A thread that ended registered: never scanned (its stack may be gone)
 * or signalled again. */
static void forget_gone(gc_tctx_t *t) {
  t->state = CGC_THREAD_STARTING;
  t->start_arg = NULL;
}

/* t must answer this stop and has not yet. */
static bool silent(const gc_tctx_t *t, const gc_tctx_t *self, unsigned seq) {
  return t != self && t->state == CGC_THREAD_RUNNING && gc__load_acquire_uint(&t->stop_seq) != seq;
}

/* Signal every RUNNING thread but the caller; wait until all of them
 * acknowledged.  A thread that cannot be signalled (ESRCH: it ended
 * without unregistering) is skipped.  Complains, once, about a thread that
 * does not answer within 10 s (stop signal blocked?) and keeps waiting. */
static void stop_others(void) {
  while (sem_trywait(&acks) == 0) {} /* answers the last stop did not need to wait for */
  unsigned seq = gc__load_uint(&stop_seq) + 1;
  gc__store_release_uint(&stop_seq, seq);
  gc_tctx_t *self = gc__tl_ctx;
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next) {
    if (t == self || t->state != CGC_THREAD_RUNNING) continue;
    gc__store_release_uint(&t->asked_seq, seq);
    if (signal_thread(t, stop_signal) == ESRCH) forget_gone(t);
  }
  /* Done when every RUNNING thread acknowledged this stop in its own
   * context; a post only wakes the collector (why: the top of this file). */
  bool warned = false;
  uint64_t t0 = gc__now_ns();
  for (;;) {
    size_t waiting = 0;
    for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
      if (silent(t, self, seq)) waiting++;
    if (waiting == 0) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    if (sem_timedwait(&acks, &ts) == 0 || errno == EINTR) continue;
    /* 100 ms without an answer: signal the silent ones again (a repeat is
     * harmless: a thread that already answered returns at once), dropping
     * threads that no longer exist. */
    for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next) {
      if (silent(t, self, seq) && signal_thread(t, stop_signal) == ESRCH) forget_gone(t);
    }
    if (!warned && gc__now_ns() - t0 > 10ull * 1000 * 1000 * 1000) {
      gc__message("%zu thread(s) do not answer the stop signal %d after 10 s (is it blocked?); still waiting",
                  waiting, stop_signal);
      warned = true;
    }
  }
  gc__world_note_stopped(true); /* here, not after dl_iterate_phdr: each_module runs stopped */
}

typedef struct {
  bool stopped;
  gc_module_fn_t each;
} stop_ctx_t;

static int modules_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  stop_ctx_t *c = data;
  if (!c->stopped) {
    stop_others();
    c->stopped = true;
  }
  if (c->each != NULL) c->each(info);
  return 0;
}

void gc__world_stop(gc_module_fn_t each_module) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(!gc__world_is_stopped());
  stop_ctx_t c = {false, each_module};
  dl_iterate_phdr(modules_cb, &c);
  if (!c.stopped) stop_others();
}

void gc__world_start(void) {
  CGC_ASSERT_STOPPED();
  gc__world_note_stopped(false);
  gc__store_release_uint(&resume_seq, gc__load_uint(&stop_seq));
  futex_wake_all(&resume_seq);
}

void gc__world_atfork_child(void) {
  CGC_ASSERT_LOCKED();
  sem_destroy(&acks);
  if (sem_init(&acks, 0, 0) != 0) gc__fatal("sem_init failed");
  gc__store_release_uint(&resume_seq, gc__load_uint(&stop_seq));
}
