/*
 * registry.c -- the registry of mutator threads.
 *
 * A thread is REGISTERED when it has a context (gc_tctx_t) on the list
 * gc__registry.threads: collections stop it and scan its registers, stack,
 * thread-local storage and pthread_setspecific values (mark/roots.c).
 * Threads get registered
 *   - from their first instruction, when created with pthread_create:
 *     libcgc defines pthread_create itself (shared library: symbol
 *     interposition; static library: the definition lands in the
 *     executable), allocates the child's context in the parent, links it
 *     as STARTING -- its start argument is then a root -- and starts the
 *     child in a trampoline that fills in the rest before user code runs;
 *   - the creating thread too, when it calls pthread_create (so the main
 *     thread is registered before any thread could hand it a pointer);
 *   - any other thread on its first allocation, gc_init() or
 *     gc_register_thread().  (Initialising at load time instead would
 *     read the CGC_* variables before main() could set them.)
 * A registered thread is unregistered by a thread-specific-data destructor
 * (which runs on return, pthread_exit and cancellation alike) or by
 * gc_unregister_thread(); its caches go back to the heap first.
 *
 * pthread_sigmask and sigprocmask are interposed so that a registered
 * thread never blocks the stop signal.
 *
 * pthread_setspecific and pthread_key_delete are interposed too: each
 * registered thread keeps a shadow array of the values it stored, which
 * roots.c scans, so such values are roots like __thread variables.
 *
 * fork(): the prepare handler takes the heap lock, so the child inherits a
 * consistent heap; the child drops the contexts of threads that do not
 * exist in it (their caches go back to the heap) and lets the collector
 * reset the world handshake and the marker threads
 * (gc__collector_atfork_child).
 */
#include "threads/registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgc.h"

#include "alloc/tctx.h"
#include "base/atomic.h"
#include "base/debug.h"
#include "base/format.h"
#include "base/options.h"
#include "base/os.h"
#include "heap/lock.h"
#include "threads/interpose.h"
#include "threads/world.h"

gc_registry_t gc__registry;

typedef int (*create_fn_t)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*setspecific_fn_t)(pthread_key_t, const void *);
typedef int (*key_delete_fn_t)(pthread_key_t);
typedef int (*sigmask_fn_t)(int, const sigset_t *, sigset_t *);

static create_fn_t real_create;
static setspecific_fn_t real_setspecific;
static key_delete_fn_t real_key_delete;
static sigmask_fn_t real_pthread_sigmask, real_sigprocmask;

#define NKEYS PTHREAD_KEYS_MAX

/* glibc's own names for the functions, which its static library defines
 * strongly (the public names are weak aliases there): how a fully static
 * executable, where dlsym cannot look anything up, reaches them. */
extern int __pthread_create_2_1(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)
    __attribute__((weak));
extern int __pthread_setspecific(pthread_key_t, const void *) __attribute__((weak));
extern int __pthread_key_delete(pthread_key_t) __attribute__((weak));
extern int __pthread_sigmask(int, const sigset_t *, sigset_t *) __attribute__((weak));
extern int __sigprocmask(int, const sigset_t *, sigset_t *) __attribute__((weak));

/* When our definition is the one the executable uses (libcgc.a) and a
 * sanitizer runtime intercepts the same function, call its interceptor so
 * the sanitizer still sees the call; it forwards to libc.  Bounds: two
 * dlsym calls, once per name. */
void *gc__find_next(const char *name, void *ours, void *static_fallback) {
  char buf[64];
  void *def = dlsym(RTLD_DEFAULT, name);
  if (def == ours) {
    gc__format(buf, sizeof buf, "__interceptor_%s", name);
    void *icpt = dlsym(RTLD_DEFAULT, buf);
    if (icpt != NULL && icpt != ours) return icpt;
  }
  void *next = dlsym(RTLD_NEXT, name);
  if (next != NULL && next != ours) return next;
  if (static_fallback != NULL && static_fallback != ours) return static_fallback;
  gc__fatal("cannot find the system's %s", name);
}

/* Idempotent and safe to race: every caller stores the same values.  The
 * interposers call it before the collector is initialised (libraries set
 * signal masks from their constructors), so it reads no option. */
static void resolve(void) {
  if (real_create != NULL) return;
  real_setspecific = (setspecific_fn_t)gc__find_next("pthread_setspecific", (void *)pthread_setspecific,
                                                     (void *)__pthread_setspecific);
  real_key_delete = (key_delete_fn_t)gc__find_next("pthread_key_delete", (void *)pthread_key_delete,
                                                   (void *)__pthread_key_delete);
  real_pthread_sigmask =
      (sigmask_fn_t)gc__find_next("pthread_sigmask", (void *)pthread_sigmask, (void *)__pthread_sigmask);
  real_sigprocmask = (sigmask_fn_t)gc__find_next("sigprocmask", (void *)sigprocmask, (void *)__sigprocmask);
  gc__fence(); /* the others before real_create, which callers test */
  real_create =
      (create_fn_t)gc__find_next("pthread_create", (void *)pthread_create, (void *)__pthread_create_2_1);
}

/* The stop signal must reach every registered thread: libraries often
 * create threads with every signal blocked (the child inherits the mask). */
static void unblock_stop_signal(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, gc__world_signal());
  real_pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* ---- contexts --------------------------------------------------------- */

void gc__stack_bounds_of_current_thread(uintptr_t *lo, uintptr_t *base, bool *main_stack) {
  pthread_attr_t attr;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) gc__fatal("pthread_getattr_np failed");
  if (pthread_attr_getstack(&attr, &addr, &size) != 0) gc__fatal("pthread_attr_getstack failed");
  pthread_attr_destroy(&attr);
  *lo = (uintptr_t)addr;
  *base = (uintptr_t)addr + size;
  *main_stack = getpid() == (pid_t)syscall(SYS_gettid);
}

static void link_locked(gc_tctx_t *t) {
  CGC_ASSERT_LOCKED();
  t->prev = NULL;
  t->next = gc__registry.threads;
  if (t->next != NULL) t->next->prev = t;
  gc__registry.threads = t;
  gc__registry.nthreads++;
}

static void unlink_locked(gc_tctx_t *t) {
  CGC_ASSERT_LOCKED();
  if (t->prev != NULL)
    t->prev->next = t->next;
  else
    gc__registry.threads = t->next;
  if (t->next != NULL) t->next->prev = t->prev;
  gc__registry.nthreads--;
}

static void free_ctx(gc_tctx_t *t) {
  if (t->specific != NULL) gc__os_free(t->specific, NKEYS * sizeof(void *));
  gc__os_free(t, sizeof *t);
}

/* Fill in what only the thread itself can know, and make it RUNNING.
 * The context is already linked (STARTING) or is linked here. */
static void attach(gc_tctx_t *t, bool linked) {
  uintptr_t lo, base;
  bool main_stack;
  gc__stack_bounds_of_current_thread(&lo, &base, &main_stack); /* may malloc: before the lock */
  gc__lock();
  t->registered = true;
  t->self = pthread_self();
  t->tid = (pid_t)syscall(SYS_gettid);
  t->tp = (uintptr_t)t->self; /* glibc x86-64: pthread_t is the thread pointer */
  t->stack_lo = lo;
  t->stack_base = base;
  t->main_stack = main_stack;
  t->lowest_sp = (uintptr_t)__builtin_frame_address(0);
  gc__tl_ctx = t; /* before it can be signalled as RUNNING */
  t->state = CGC_THREAD_RUNNING;
  if (!linked) link_locked(t);
  gc__unlock();
  real_setspecific(gc__registry.tkey, t);
}

/* The caller's context, created on first use.  NULL only if the OS
 * refuses a page. */
static gc_tctx_t *register_self(void) {
  gc_tctx_t *t = gc__tl_ctx;
  if (CGC_LIKELY(t->registered)) return t;
  gc__threads_init();
  t = gc__os_alloc(sizeof *t);
  if (t == NULL) return NULL;
  unblock_stop_signal();
  attach(t, false);
  return t;
}

gc_tctx_t *gc__thread_ctx(void) {
  CGC_ASSERT_UNLOCKED(); /* registering takes the lock */
  gc__ensure_init();
  return register_self();
}

/* Unregister t (the calling thread's context): caches back to the heap,
 * off the list, memory freed.  Used at thread exit and by
 * gc_unregister_thread. */
static void detach(gc_tctx_t *t) {
  gc__lock();
  gc__uncount_allocated(gc__tctx_release(t));
  unlink_locked(t);
  gc__tl_ctx = &gc__tctx_empty;
  gc__unlock();
  free_ctx(t);
}

/* Thread-specific-data destructor: runs however the thread ends.  glibc
 * calls the destructors of all keys in key order, in up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds; cgc's key is created before the
 * program's, so detaching in the first round would run every later key's
 * destructor on an unregistered thread (its stack, and the value handed
 * to the destructor, no longer roots).  Re-arm the key until the last
 * round. */
static __thread unsigned exit_rounds;

/* ThreadSanitizer's own destructor does the same and tears the thread's
 * sanitizer state down in the last round, before ours runs: there cgc
 * detaches one round earlier (its detach runs instrumented code). */
#ifdef CGC_TSAN
#define EXIT_ROUND (PTHREAD_DESTRUCTOR_ITERATIONS - 1)
#else
#define EXIT_ROUND PTHREAD_DESTRUCTOR_ITERATIONS
#endif

static void thread_exit(void *arg) {
  gc_tctx_t *t = arg;
  if (t == NULL || t != gc__tl_ctx) return;
  if (++exit_rounds < EXIT_ROUND) {
    real_setspecific(gc__registry.tkey, t);
    return;
  }
  detach(t);
}

int gc_register_thread(void) {
  if (gc__thread_ctx() != NULL) return 0;
  errno = ENOMEM;
  return -1;
}

void gc_unregister_thread(void) {
  gc_tctx_t *t = gc__tl_ctx;
  if (!t->registered) return;
  real_setspecific(gc__registry.tkey, NULL);
  detach(t);
}

int gc_thread_is_registered(void) { return gc__tl_ctx->registered ? 1 : 0; }

/* ---- pthread_create --------------------------------------------------- */

static void *trampoline(void *arg) {
  gc_tctx_t *t = arg;
  void *(*fn)(void *) = t->start_fn;
  /* Read while still STARTING (t->start_arg is the root): once attach()
   * makes the thread RUNNING, only its stack and registers are scanned,
   * and this local is live across the call. */
  void *start_arg = t->start_arg;
  unblock_stop_signal();
  attach(t, true);
  t->start_arg = NULL;
  return fn(start_arg);
}

/* The child's context is made and linked here, in the parent, so that
 * arg stays a root while nobody else may hold it (the parent may drop it
 * right after the call). */
CGC_API int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  gc__threads_init();
  (void)register_self(); /* the creator holds objects too (main before its first allocation) */
  gc_tctx_t *t = gc__os_alloc(sizeof *t);
  if (t == NULL) return EAGAIN;
  t->state = CGC_THREAD_STARTING;
  t->start_fn = fn;
  t->start_arg = arg;
  gc__lock();
  link_locked(t);
  gc__unlock();
  int r = real_create(th, attr, trampoline, t);
  if (r != 0) {
    gc__lock();
    unlink_locked(t);
    gc__unlock();
    free_ctx(t);
  }
  return r;
}

/* Internal threads (markers): never registered, never stopped; they block
 * every signal so that a stop signal can never land on them. */
int gc__thread_create_internal(pthread_t *th, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  sigfillset(&all);
  real_pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = real_create(th, NULL, fn, arg);
  real_pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r;
}

/* ---- thread-specific data --------------------------------------------- */

CGC_API int pthread_setspecific(pthread_key_t key, const void *value) {
  if (CGC_UNLIKELY(real_setspecific == NULL)) resolve(); /* not gc__ensure_init: no options read yet */
  int r = real_setspecific(key, value);
  gc_tctx_t *t = gc__tl_ctx;
  if (r == 0 && t->registered && key < NKEYS && key != gc__registry.tkey) {
    if (t->specific == NULL) {
      if (value == NULL) return 0;
      void **v = gc__os_alloc(NKEYS * sizeof(void *));
      if (v == NULL) gc__fatal("out of memory for the thread-specific data of a thread");
      t->specific = v; /* one store: a stop sees NULL or the whole array */
    }
    /* Through uintptr_t: the shadow only keeps the value for the scanner,
     * nothing writes through it (-Wcast-qual). */
    t->specific[key] = (void *)(uintptr_t)value;
  }
  return r;
}

CGC_API int pthread_key_delete(pthread_key_t key) {
  if (CGC_UNLIKELY(real_key_delete == NULL)) resolve();
  if (key < NKEYS) {
    gc__lock();
    for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
      if (t->specific != NULL) t->specific[key] = NULL;
    gc__unlock();
  }
  return real_key_delete(key);
}

/* ---- signal masks ----------------------------------------------------- */

/* A registered thread never blocks the stop signal: it is taken out of
 * every mask a registered thread sets (and reported as unblocked), as
 * the collector would otherwise wait for that thread forever. */
static int filtered_mask(sigmask_fn_t real, int how, const sigset_t *set, sigset_t *old) {
  if (set != NULL && how != SIG_UNBLOCK && gc__tl_ctx->registered) {
    int sig = gc__world_signal();
    if (sigismember(set, sig)) {
      sigset_t copy = *set;
      sigdelset(&copy, sig);
      return real(how, &copy, old);
    }
  }
  return real(how, set, old);
}

CGC_API int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  if (CGC_UNLIKELY(real_pthread_sigmask == NULL)) resolve();
  return filtered_mask(real_pthread_sigmask, how, set, old);
}

CGC_API int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  if (CGC_UNLIKELY(real_sigprocmask == NULL)) resolve();
  return filtered_mask(real_sigprocmask, how, set, old);
}

/* ---- fork ------------------------------------------------------------- */

static void fork_prepare(void) { gc__lock(); }

static void fork_parent(void) { gc__unlock(); }

/* Only the forking thread exists in the child: the others' contexts go
 * (their caches back to the heap: nobody can be in the middle of a pop),
 * and the handshake and marker threads start afresh. */
static void fork_child(void) {
  gc_tctx_t *self = gc__tl_ctx;
  for (gc_tctx_t *t = gc__registry.threads, *next; t != NULL; t = next) {
    next = t->next;
    if (t == self) continue;
    (void)gc__tctx_release(t);
    unlink_locked(t);
    free_ctx(t);
  }
  if (self->registered) {
    self->self = pthread_self();
    self->tid = (pid_t)syscall(SYS_gettid);
    self->tp = (uintptr_t)self->self;
  }
  gc__collector_atfork_child();
  gc__unlock();
}

/* ---- start-up --------------------------------------------------------- */

/* The registry starts before the rest of the collector: pthread_create
 * must register threads from the first one a program (or a library
 * constructor) makes, while the heap, and the CGC_* options other than
 * CGC_SIGNAL, wait for the first use of cgc itself. */
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void registry_init(void) {
  resolve();
  gc__option_read_early(CGC_OPT_SIGNAL);
  if (pthread_key_create(&gc__registry.tkey, thread_exit) != 0) gc__fatal("pthread_key_create failed");
  if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0) gc__fatal("pthread_atfork failed");
  gc__world_init();
}

void gc__threads_init(void) { pthread_once(&registry_once, registry_init); }
