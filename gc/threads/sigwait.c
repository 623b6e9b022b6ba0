/*
 * sigwait.c -- keeping the stop signal out of the masks and wait sets of
 * the system calls that take their own.
 *
 * registry.c keeps a registered thread from ever blocking the stop signal
 * with pthread_sigmask/sigprocmask.  A handful of calls install a mask of
 * their own for as long as they wait (sigsuspend, ppoll, pselect,
 * epoll_pwait, epoll_pwait2), or take the signals they wait for
 * (sigwait, sigwaitinfo, sigtimedwait).  The common idioms -- a thread
 * that waits in sigsuspend with every signal but one blocked, a
 * signal-handling thread in sigwait on a full set -- would hold every
 * collection up until some other signal arrives, or swallow the stop
 * signal outright.  Each interposer below takes the stop signal out of
 * the set for a registered thread and calls the system's function, so
 * the stop signal is always delivered to cgc's handler; the rest of the
 * call is untouched.  A program cannot wait for the stop signal itself
 * (choose another CGC_SIGNAL).
 *
 * The definitions are weak: in a fully static program a strong libc
 * definition that something else pulls in wins (without the filter)
 * instead of clashing.  A fully static program reaches the system's
 * function through libc.a's internal name when that was linked in, else
 * through the raw system call.  In an ASan build they are strong: ASan's
 * runtime, linked into the executable ahead of libcgc.a, defines sigwait,
 * sigwaitinfo, sigtimedwait and ppoll weakly, and would win; cgc's then
 * call its interceptors (gc__find_next).
 */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <errno.h>
#include <unistd.h>

#include "cgc.h"

#include "alloc/tctx.h"
#include "base/atomic.h"
#include "base/compiler.h"
#include "threads/interpose.h"
#include "threads/world.h"

#if CGC_ASAN
#define CGC_INTERPOSE CGC_API
#else
#define CGC_INTERPOSE CGC_API __attribute__((weak))
#endif

/* glibc's internal names (strong in libc.a), for fully static programs. */
extern int __sigsuspend(const sigset_t *) __attribute__((weak));
extern int __sigwait(const sigset_t *, int *) __attribute__((weak));
extern int __sigwaitinfo(const sigset_t *, siginfo_t *) __attribute__((weak));
extern int __sigtimedwait(const sigset_t *, siginfo_t *, const struct timespec *) __attribute__((weak));
extern int __ppoll(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *) __attribute__((weak));
extern int __pselect(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)
    __attribute__((weak));

/* set, or a copy of it without the stop signal in *copy when the caller
 * is a registered thread and set holds it. */
static const sigset_t *strip(const sigset_t *set, sigset_t *copy) {
  if (set == NULL || !gc__tl_ctx->registered) return set;
  int sig = gc__world_signal();
  if (sig == 0 || !sigismember(set, sig)) return set;
  *copy = *set;
  sigdelset(copy, sig);
  return copy;
}

/* fn_: the real function, looked up on first use (idempotent; racing
 * callers store the same value). */
#define REAL(type, name, fallback)                                      \
  static AO_t real_##name;                                              \
  type fn_ = (type)gc__load_acquire(&real_##name);                      \
  if (CGC_UNLIKELY(fn_ == NULL)) {                                      \
    fn_ = (type)gc__find_next(#name, (void *)name, (void *)(fallback)); \
    gc__store_release(&real_##name, (AO_t)fn_);                         \
  }

/* Raw system calls, for fully static programs where dlsym finds nothing
 * and libc.a's own member was not linked in (only the weak references
 * above point at it).  The timeouts are copied: the kernel writes the
 * time left into them.  These are not cancellation points. */
#define KSIGSET ((size_t)(_NSIG / 8))
static int sys_sigsuspend(const sigset_t *mask) { return (int)syscall(SYS_rt_sigsuspend, mask, KSIGSET); }
static int sys_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  return (int)syscall(SYS_rt_sigtimedwait, set, info, timeout, KSIGSET);
}
static int sys_sigwaitinfo(const sigset_t *set, siginfo_t *info) { return sys_sigtimedwait(set, info, NULL); }
static int sys_sigwait(const sigset_t *set, int *sig) {
  int r;
  while ((r = sys_sigtimedwait(set, NULL, NULL)) < 0 && errno == EINTR) {}
  if (r < 0) return errno;
  *sig = r;
  return 0;
}
/* &t holding a copy of *timeout, or NULL without one. */
static struct timespec *copy_timeout(const struct timespec *timeout, struct timespec *t) {
  if (timeout == NULL) return NULL;
  *t = *timeout;
  return t;
}
static int sys_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask) {
  struct timespec t, *tp = copy_timeout(timeout, &t);
  return (int)syscall(SYS_ppoll, fds, n, tp, mask, KSIGSET);
}
static int sys_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                       const sigset_t *mask) {
  struct timespec t, *tp = copy_timeout(timeout, &t);
  struct {
    const sigset_t *set;
    size_t size;
  } m = {mask, KSIGSET};
  return (int)syscall(SYS_pselect6, n, r, w, e, tp, &m);
}
static int sys_epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
  return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout, mask, KSIGSET);
}
static int sys_epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *timeout,
                            const sigset_t *mask) {
  return (int)syscall(SYS_epoll_pwait2, epfd, ev, max, timeout, mask, KSIGSET);
}
/* libc.a's internal name when it was linked in, else the system call. */
#define STATIC(name) (__##name != NULL ? (void *)__##name : (void *)sys_##name)

typedef int (*sigsuspend_fn)(const sigset_t *);
typedef int (*sigwait_fn)(const sigset_t *, int *);
typedef int (*sigwaitinfo_fn)(const sigset_t *, siginfo_t *);
typedef int (*sigtimedwait_fn)(const sigset_t *, siginfo_t *, const struct timespec *);
typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
typedef int (*pselect_fn)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
typedef int (*epoll_pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
typedef int (*epoll_pwait2_fn)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);

CGC_INTERPOSE int sigsuspend(const sigset_t *mask) {
  REAL(sigsuspend_fn, sigsuspend, STATIC(sigsuspend));
  sigset_t copy;
  return fn_(strip(mask, &copy));
}

CGC_INTERPOSE int sigwait(const sigset_t *set, int *sig) {
  REAL(sigwait_fn, sigwait, STATIC(sigwait));
  sigset_t copy;
  return fn_(strip(set, &copy), sig);
}

CGC_INTERPOSE int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
  REAL(sigwaitinfo_fn, sigwaitinfo, STATIC(sigwaitinfo));
  sigset_t copy;
  return fn_(strip(set, &copy), info);
}

CGC_INTERPOSE int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  REAL(sigtimedwait_fn, sigtimedwait, STATIC(sigtimedwait));
  sigset_t copy;
  return fn_(strip(set, &copy), info, timeout);
}

CGC_INTERPOSE int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask) {
  REAL(ppoll_fn, ppoll, STATIC(ppoll));
  sigset_t copy;
  return fn_(fds, n, timeout, strip(mask, &copy));
}

CGC_INTERPOSE int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                          const sigset_t *mask) {
  REAL(pselect_fn, pselect, STATIC(pselect));
  sigset_t copy;
  return fn_(n, r, w, e, timeout, strip(mask, &copy));
}

CGC_INTERPOSE int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask) {
  REAL(epoll_pwait_fn, epoll_pwait, sys_epoll_pwait);
  sigset_t copy;
  return fn_(epfd, ev, max, timeout, strip(mask, &copy));
}

CGC_INTERPOSE int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *timeout,
                               const sigset_t *mask) {
  REAL(epoll_pwait2_fn, epoll_pwait2, sys_epoll_pwait2);
  sigset_t copy;
  return fn_(epfd, ev, max, timeout, strip(mask, &copy));
}
