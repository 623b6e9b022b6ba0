/*
 * common_threads.h -- helpers shared by the thread suites (tests/threads/,
 * one program per Criterion suite): every per-thread root (stack,
 * registers of a stopped thread, __thread variables of the executable and
 * of a dlopen'ed library, pthread_setspecific values, the start argument,
 * coroutine stacks), registration (interposed pthread_create, foreign
 * threads), stop-the-world under thread churn, cancellation, fork, signal
 * masks, interrupted system calls, CGC_SIGNAL, and concurrent gc_free.
 *
 * How a test can fail: objects carry the pattern of their id (t_fill) and
 * are held by exactly one reference of the kind under test -- no copy in a
 * global or in system-malloc memory; helpers that build them are noinline
 * and return nothing, and the holder scrubs its dead stack and zeroes its
 * caller-saved registers (forget()) before the collections run; a holder
 * thread also hands its cached spans back first (let_go()), since a
 * collection never sweeps spans another thread still allocates from.  A
 * reclaimed object loses its alloc bit at once (gc_base no longer returns
 * it) and its slot is reused and stomped by the garbage that the
 * collecting thread allocates (th_churn), so every check reads every
 * byte.
 *
 * Criterion asserts work only in the test's own thread: other threads
 * record their first failure with terr() and the test thread asserts
 * that none was recorded (ASSERT_NO_ERRORS).
 */
#ifndef CGC_TESTS_COMMON_THREADS_H
#define CGC_TESTS_COMMON_THREADS_H

#include "../common.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/wait.h>

/* ======================================================================
 * helpers usable from any thread (no Criterion calls, except spawn and
 * join)
 * ====================================================================== */

/* The first failure recorded by terr() and how many there were. */
extern char err_msg[2048];
extern atomic_int err_count;

void terr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ASSERT_NO_ERRORS()                                                            \
  cr_assert_eq(atomic_load(&err_count), 0, "%d failure(s) in threads; the first: %s", \
               atomic_load(&err_count), err_msg)

/* In a child process: print the first failure, exit status 10 if any. */
int child_report(void);

pid_t gettid_(void);

/* Node sizes: mostly 24..280 bytes, some up to 20 KiB, rarely a large
 * (> 512 KiB, its own span) one. */
size_t tsize(uint64_t id);
/* A node of `size` bytes with the pattern of `id` (aborts, after terr(),
 * when gc_malloc fails). */
t_node *tn_new(uint64_t id, size_t size);
/* A list of count nodes with ids idbase.., head first. */
T_NOINLINE t_node *tl_new(size_t count, uint64_t idbase);
/* Is n a live object holding node `id` intact?  Records what broke with
 * terr() otherwise. */
bool tn_ok(const t_node *n, uint64_t id, const char *where);
/* The same for a whole list of count nodes with ids idbase.. */
T_NOINLINE bool tl_ok(const t_node *head, size_t count, uint64_t idbase, const char *where);

/* Garbage of small sizes, every byte stomped: a reclaimed slot that was
 * still reachable gets overwritten.  Scanned objects must come zeroed. */
T_NOINLINE void th_churn(size_t bytes, uint64_t seed);
/* Collect `rounds` times with garbage in between (from the calling thread). */
T_NOINLINE void churn_collect(int rounds, uint64_t seed);

/* Drop every stale copy the calling thread may hold below its live frames
 * or in scratch registers. */
T_NOINLINE void forget(void);
/* A holder thread lets go of what it could hide behind: hands its cached
 * spans back with a collection of its own, then forget() (see the
 * definition). */
T_NOINLINE void let_go(void);

void sem_wait_nointr(sem_t *s);

/* Registered thread contexts, now. */
size_t nthreads(void);
/* Poll until nthreads() == want (threads unregister after their last
 * instruction of user code); false after `secs`. */
bool wait_nthreads(size_t want, double secs);

/* pthread_create / pthread_join that assert success (test thread only). */
pthread_t spawn(void *(*fn)(void *), void *arg);
void *join(pthread_t th);

size_t collections(void);

/* A thread that collects until collector_stop, pausing arg microseconds
 * between collections. */
extern atomic_int collector_stop;
extern atomic_ulong collector_runs;
void *collector_loop(void *arg);

/* ======================================================================
 * Shared by several suites
 * ====================================================================== */

/* Handshakes between the test thread and the threads it spawned. */
extern sem_t s_ready, s_go, s_started;

T_NOINLINE void build_on(t_node *volatile *slot, size_t count, uint64_t idbase);

/* Holds 8 lists of 200 nodes (ids from arg) on its stack: posts s_ready,
 * waits for s_go, checks them. */
void *stack_holder(void *arg);

/* A foreign thread: made with the system's pthread_create (found with
 * dlsym(RTLD_NEXT), bypassing cgc's), as a library's own thread pool
 * would be when cgc itself is dlopen'ed. */
typedef int (*create_fn_t)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

create_fn_t system_pthread_create(void);

/* Child processes: a suite whose tests re-execute the program
 * (t_run_child, common.h) runs its scenarios from a constructor with
 * run_child_scenario: when CGC_TEST_CHILD names one (t_child_scenario),
 * the process runs it and exits with its return value (2: unknown
 * scenario), before Criterion starts; otherwise it returns. */
typedef struct {
  const char *name;
  int (*run)(void);
} child_scenario_t;
void run_child_scenario(const child_scenario_t *scenarios, size_t n);

/* A child process (t_run_child, common.h) exited with status 0. */
#define ASSERT_CHILD_EXIT0(res, what)                                                                    \
  cr_assert(WIFEXITED((res)->status) && WEXITSTATUS((res)->status) == 0,                                 \
            "%s: child %s %d\nstdout:\n%s\nstderr:\n%s", (what),                                         \
            WIFEXITED((res)->status) ? "exited with" : "killed by signal",                               \
            WIFEXITED((res)->status) ? WEXITSTATUS((res)->status) : WTERMSIG((res)->status), (res)->out, \
            (res)->err)

#endif /* CGC_TESTS_COMMON_THREADS_H */
