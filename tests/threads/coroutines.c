/*
 * coroutines.c -- the coroutines suite: coroutine stacks (ucontext) and
 * gc_stack_register / gc_stack_switch.
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <sys/mman.h>
#include <ucontext.h>

/* ======================================================================
 * Coroutine stacks (ucontext): gc_stack_register / gc_stack_switch
 * ====================================================================== */

enum { CO_STACK = 256 * 1024 };

/* The contexts live in a gc_malloc'ed object (scanned memory, as cgc.h
 * asks), rooted by a global; the stack is mmap'ed (never scanned unless
 * registered). */
typedef struct {
  ucontext_t main_uc, co_uc;
  gc_stack_t *stack;
  char *lo;
  int phase;
  uint64_t base;
  int collect_rounds; /* > 0: the coroutine collects */
  bool on_own_stack;
} coro_t;
static coro_t *volatile g_co;

static void co_yield_to_main(coro_t *co) {
  gc_stack_switch(NULL);
  swapcontext(&co->co_uc, &co->main_uc);
}

static void co_resume(coro_t *co) {
  gc_stack_switch(co->stack);
  swapcontext(&co->main_uc, &co->co_uc);
}

static void co_body(void) {
  coro_t *co = g_co;
  t_node *volatile mine;
  co->on_own_stack = (char *)&mine >= co->lo && (char *)&mine < co->lo + CO_STACK;
  if (co->collect_rounds > 0) {
    /* run collections on the coroutine stack; the main stack's frames
     * hold the only reference to main's list */
    forget();
    churn_collect(co->collect_rounds, 16);
    co->phase = 1;
    co_yield_to_main(co);
    return;
  }
  build_on(&mine, 400, co->base);
  forget();
  co->phase = 1;
  co_yield_to_main(co); /* suspended: `mine` is only on this stack */
  tl_ok(mine, 400, co->base, "local of a suspended coroutine");
  co->phase = 2;
  co_yield_to_main(co);
}

static coro_t *co_new(int collect_rounds, uint64_t base) {
  coro_t *co = gc_malloc(sizeof *co);
  cr_assert_not_null(co);
  co->lo = mmap(NULL, CO_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq((void *)co->lo, MAP_FAILED);
  co->stack = gc_stack_register(co->lo, co->lo + CO_STACK);
  cr_assert_not_null(co->stack, "gc_stack_register: %s", strerror(errno));
  co->collect_rounds = collect_rounds;
  co->base = base;
  cr_assert_eq(getcontext(&co->co_uc), 0);
  co->co_uc.uc_stack.ss_sp = co->lo;
  co->co_uc.uc_stack.ss_size = CO_STACK;
  co->co_uc.uc_link = NULL;
  makecontext(&co->co_uc, co_body, 0);
  g_co = co;
  return co;
}

static void co_free(coro_t *co) {
  gc_stack_unregister(co->stack);
  munmap(co->lo, CO_STACK);
  g_co = NULL;
}

Test(coroutines, suspended_coroutine_locals_survive, .timeout = 30.) {
  coro_t *co = co_new(0, 17000000);
  co_resume(co);
  cr_assert_eq(co->phase, 1);
  cr_assert(co->on_own_stack, "the coroutine does not run on its stack");
  churn_collect(20, 17); /* on the main stack; the coroutine is suspended */
  co_resume(co);
  cr_assert_eq(co->phase, 2);
  co_free(co);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

static T_NOINLINE void main_side_of_reverse(void) {
  t_node *volatile mine;
  build_on(&mine, 400, 18000000);
  forget();
  coro_t *co = co_new(20, 0);
  size_t c0 = collections();
  co_resume(co); /* collects 20 times on the coroutine stack */
  cr_assert_eq(co->phase, 1);
  cr_assert_geq(collections() - c0, 20);
  tl_ok(mine, 400, 18000000, "main stack frame while a coroutine collected");
  co_free(co);
}

Test(coroutines, main_stack_survives_collections_run_on_a_coroutine, .timeout = 30.) {
  main_side_of_reverse();
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* A thread that runs on a coroutine stack when the main thread stops it:
 * the coroutine's frames (from the stopped stack pointer) and the thread's
 * own stack (from where it switched away) are both roots. */
static void co_spin_body(void) {
  coro_t *co = g_co;
  t_node *volatile mine;
  build_on(&mine, 300, co->base + 500000);
  let_go();
  co->on_own_stack = (char *)&mine >= co->lo && (char *)&mine < co->lo + CO_STACK;
  sem_post(&s_ready);
  sem_wait_nointr(&s_go); /* stopped here, on the coroutine stack */
  tl_ok(mine, 300, co->base + 500000, "local of a running coroutine of another thread");
  co_yield_to_main(co);
}

static void *thread_on_coroutine(void *arg) {
  coro_t *co = arg; /* gc_malloc'ed, also rooted by g_co */
  t_node *volatile native;
  build_on(&native, 300, co->base);
  forget();
  co_resume(co);
  tl_ok(native, 300, co->base, "own stack of a thread running a coroutine");
  return NULL;
}

Test(coroutines, thread_stopped_while_on_a_coroutine_stack, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  coro_t *co = co_new(0, 19000000);
  makecontext(&co->co_uc, co_spin_body, 0);
  pthread_t th = spawn(thread_on_coroutine, co);
  sem_wait_nointr(&s_ready);
  cr_assert(co->on_own_stack);
  churn_collect(20, 18);
  sem_post(&s_go);
  join(th);
  co_free(co);
  ASSERT_NO_ERRORS();
}

Test(coroutines, stack_register_errors) {
  gc_init();
  char *m = mmap(NULL, 4 * 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq((void *)m, MAP_FAILED);
  errno = 0;
  cr_assert_null(gc_stack_register(m + 65536, m), "hi < lo accepted");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(gc_stack_register(m, m), "hi == lo accepted");
  cr_assert_eq(errno, EINVAL);
  gc_stack_t *a = gc_stack_register(m, m + 2 * 65536);
  cr_assert_not_null(a);
  errno = 0;
  cr_assert_null(gc_stack_register(m + 65536, m + 3 * 65536), "an overlapping range accepted");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(gc_stack_register(m, m + 2 * 65536), "the same range accepted twice");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(gc_stack_register(m + 100, m + 200), "a range inside a registered one accepted");
  cr_assert_eq(errno, EINVAL);
  gc_stack_t *b = gc_stack_register(m + 2 * 65536, m + 4 * 65536); /* adjacent: fine */
  cr_assert_not_null(b);
  gc_stack_unregister(a);
  gc_stack_t *c = gc_stack_register(m + 65536, m + 2 * 65536); /* free again */
  cr_assert_not_null(c);
  gc_stack_unregister(NULL);
  gc_stack_unregister(b);
  gc_stack_unregister(c);
  gc_collect();
  munmap(m, 4 * 65536);
}
