/*
 * test_death.c -- misuse that cgc.h declares fatal: gc_free / gc_realloc of
 * a pointer cgc did not return (stack, global, system malloc, interior,
 * already freed) prints a diagnostic naming the pointer and aborts.  In
 * debug builds (--enable-debug), so does breaking an internal contract:
 * the heap lock, the world stopped, a span state transition.
 */
#include "common.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_global[64];

/* Keep the compiler from proving anything about the pointer we pass. */
#define BAD(p) ((void *)t_launder((void *)(p)))

/* ---- gc_free ------------------------------------------------------------ */

Test(death, free_stack_address, .signal = SIGABRT) {
  char local[32];
  memset(local, 0, sizeof local);
  gc_init();
  gc_free(BAD(local));
}

Test(death, free_global_address, .signal = SIGABRT) {
  gc_init();
  gc_free(BAD(g_global));
}

Test(death, free_system_malloc_pointer, .signal = SIGABRT) {
  void *m = malloc(64);
  cr_assert_not_null(m);
  void *keep = gc_malloc(64); /* the heap exists */
  cr_assert_not_null(keep);
  gc_free(BAD(m));
}

Test(death, free_interior_pointer_small, .signal = SIGABRT) {
  char *p = gc_malloc(64);
  cr_assert_not_null(p);
  gc_free(BAD(p + 16));
}

Test(death, free_interior_pointer_small_unaligned, .signal = SIGABRT) {
  char *p = gc_malloc(64);
  cr_assert_not_null(p);
  gc_free(BAD(p + 1));
}

Test(death, free_interior_pointer_large, .signal = SIGABRT) {
  char *p = gc_malloc(T_MiB);
  cr_assert_not_null(p);
  gc_free(BAD(p + 65536));
}

Test(death, free_interior_pointer_huge, .signal = SIGABRT) {
  char *p = gc_malloc(16 * T_MiB);
  cr_assert_not_null(p);
  gc_free(BAD(p + 8 * T_MiB));
}

Test(death, double_free_small, .signal = SIGABRT) {
  void *p = gc_malloc(32);
  void *other = gc_malloc(32); /* the span stays in use */
  cr_assert(p && other);
  gc_free(p);
  gc_free(BAD(p));
}

Test(death, double_free_large, .signal = SIGABRT) {
  void *p = gc_malloc(T_MiB);
  cr_assert_not_null(p);
  gc_free(p);
  gc_free(BAD(p));
}

Test(death, double_free_huge, .signal = SIGABRT) {
  void *p = gc_malloc(16 * T_MiB);
  cr_assert_not_null(p);
  gc_free(p);
  gc_free(BAD(p));
}

Test(death, double_free_after_collection, .signal = SIGABRT) {
  void *p = gc_malloc(48);
  void *keep = gc_malloc(48);
  cr_assert(p && keep);
  gc_free(p);
  gc_collect();
  gc_free(BAD(p));
}

Test(death, free_segment_metadata, .signal = SIGABRT) {
  char *p = gc_malloc(64);
  cr_assert_not_null(p);
  gc_free(BAD((uintptr_t)p & ~(uintptr_t)CGC_SEGMENT_MASK));
}

/* ---- gc_realloc --------------------------------------------------------- */

Test(death, realloc_system_malloc_pointer, .signal = SIGABRT) {
  void *m = malloc(64);
  cr_assert_not_null(m);
  gc_init();
  void *q = gc_realloc(BAD(m), 128);
  (void)q;
}

Test(death, realloc_stack_address, .signal = SIGABRT) {
  char local[32];
  memset(local, 0, sizeof local);
  gc_init();
  void *q = gc_realloc(BAD(local), 128);
  (void)q;
}

Test(death, realloc_global_address, .signal = SIGABRT) {
  gc_init();
  void *q = gc_realloc(BAD(g_global), 16);
  (void)q;
}

Test(death, realloc_interior_pointer, .signal = SIGABRT) {
  char *p = gc_malloc(256);
  cr_assert_not_null(p);
  void *q = gc_realloc(BAD(p + 32), 512);
  (void)q;
}

Test(death, realloc_freed_pointer, .signal = SIGABRT) {
  char *p = gc_malloc(256);
  void *keep = gc_malloc(256);
  cr_assert(p && keep);
  gc_free(p);
  void *q = gc_realloc(BAD(p), 512);
  (void)q;
}

Test(death, realloc_to_zero_of_foreign_pointer, .signal = SIGABRT) {
  void *m = malloc(64);
  gc_init();
  void *q = gc_realloc(BAD(m), 0);
  (void)q;
}

/* ---- the diagnostic names the pointer ------------------------------------ */

/* Run `fn(arg)` in a child with stderr piped back; return what it printed
 * and its wait status. */
static size_t run_child(void (*fn)(void *), void *arg, char *out, size_t cap, int *status) {
  int fd[2];
  cr_assert_eq(pipe(fd), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(fd[0]);
    dup2(fd[1], 2);
    fn(arg);
    _exit(0);
  }
  close(fd[1]);
  size_t len = 0;
  ssize_t r;
  while (len + 1 < cap && (r = read(fd[0], out + len, cap - 1 - len)) > 0) len += (size_t)r;
  out[len] = 0;
  close(fd[0]);
  cr_assert_eq(waitpid(pid, status, 0), pid);
  return len;
}

static void child_free(void *p) { gc_free(p); }
static void child_realloc(void *p) {
  void *q = gc_realloc(p, 100);
  (void)q;
}

static void assert_names_pointer(const char *out, const void *p) {
  char hex[32];
  snprintf(hex, sizeof hex, "%lx", (unsigned long)(uintptr_t)p);
  char lower[4096];
  size_t i = 0;
  for (; out[i] && i + 1 < sizeof lower; i++)
    lower[i] = (char)((out[i] >= 'A' && out[i] <= 'F') ? out[i] + 32 : out[i]);
  lower[i] = 0;
  cr_assert_not_null(strstr(lower, hex), "the diagnostic does not name the pointer %p:\n%s", p, out);
}

Test(death_diagnostic, names_the_pointer) {
  char out[4096];
  int status;
  gc_init();
  void *m = malloc(64);
  run_child(child_free, m, out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "gc_free(foreign) did not abort (status %#x)",
            status);
  assert_names_pointer(out, m);

  char *p = gc_malloc(100);
  run_child(child_free, p + 16, out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  assert_names_pointer(out, p + 16);

  run_child(child_realloc, g_global, out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  assert_names_pointer(out, g_global);
  free(m);
}

/* ---- internal contracts (debug builds) ------------------------------------ */

/* With --enable-debug, the heap lock and world-stopped contracts (L1, L2
 * in heap/lock.h) and the span state transitions are asserted: breaking
 * one aborts with "internal assertion failed: <condition> (<file>:<line>)".
 * Release builds compile the assertions away, so these tests skip there. */

#define NEED_DEBUG(level)                                                                      \
  do {                                                                                         \
    if (CGC_DEBUG < (level))                                                                   \
      cr_skip_test("needs configure --enable-debug=%d (CGC_DEBUG is %d)", (level), CGC_DEBUG); \
  } while (0)

/* The child dies of SIGALRM after 10 s: without its assertion, a call
 * that takes the lock it already holds would wait for ever. */
typedef struct {
  void (*fn)(void *);
  void *arg;
} contract_call_t;
static void call_with_alarm(void *c) {
  alarm(10);
  ((contract_call_t *)c)->fn(((contract_call_t *)c)->arg);
}

/* fn(arg) must die of the internal assertion `cond`, made in `file`. */
static void assert_contract_abort(void (*fn)(void *), void *arg, const char *cond, const char *file) {
  char out[4096], want[256];
  int status;
  contract_call_t c = {fn, arg};
  run_child(call_with_alarm, &c, out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "no abort (status %#x); it printed:\n%s",
            status, out);
  snprintf(want, sizeof want, "internal assertion failed: %s (", cond);
  const char *at = strstr(out, want);
  cr_assert_not_null(at, "the abort does not name \"%s\":\n%s", cond, out);
  cr_assert_not_null(strstr(at, file), "the assertion is not the one in %s:\n%s", file, out);
}

#define LOCKED_COND "gc__lock_held()"
#define STOPPED_COND "gc__lock_held() && gc__world_is_stopped()"
#define UNLOCKED_COND "!gc__lock_held()"

static void child_queue_pop_unlocked(void *arg) {
  (void)arg;
  gc_init();
  (void)gc__queue_pop(CGC_KIND_NORMAL, 1);
}

Test(contracts, queue_pop_without_the_lock) {
  NEED_DEBUG(1);
  assert_contract_abort(child_queue_pop_unlocked, NULL, LOCKED_COND, "sweep/reclaim.c");
}

static void child_pages_alloc_unlocked(void *arg) {
  (void)arg;
  gc_init();
  gc_segment_t *seg;
  (void)gc__pages_alloc(1, false, &seg, NULL);
}

Test(contracts, pages_alloc_without_the_lock) {
  NEED_DEBUG(1);
  assert_contract_abort(child_pages_alloc_unlocked, NULL, LOCKED_COND, "heap/segment.c");
}

static void child_mark_range_running(void *arg) {
  (void)arg;
  gc_init();
  gc__lock(); /* the lock, but the world still runs */
  gc__mark_range((uintptr_t)&g_global[0], (uintptr_t)&g_global[64]);
}

Test(contracts, mark_range_without_a_stop) {
  NEED_DEBUG(1);
  assert_contract_abort(child_mark_range_running, NULL, STOPPED_COND, "mark/mark.c");
}

static void child_reclaim_running(void *arg) {
  (void)arg;
  void *volatile keep = gc_malloc(64);
  (void)keep;
  gc__lock();
  gc__reclaim(); /* nothing is marked: it would free everything */
}

Test(contracts, reclaim_without_a_stop) {
  NEED_DEBUG(1);
  assert_contract_abort(child_reclaim_running, NULL, STOPPED_COND, "sweep/reclaim.c");
}

/* Calling back into cgc with the heap lock held (an allocation from code
 * that holds it) aborts instead of deadlocking. */
static void child_malloc_locked(void *arg) {
  (void)arg;
  gc_init();
  gc__lock();
  void *volatile p = gc_malloc(T_MiB); /* the slow path takes the lock */
  (void)p;
}

Test(contracts, allocation_with_the_lock_held) {
  NEED_DEBUG(1);
  assert_contract_abort(child_malloc_locked, NULL, UNLOCKED_COND, "alloc/alloc.c");
}

static void child_span_build_locked(void *arg) {
  (void)arg;
  gc_init();
  gc__lock();
  (void)gc__span_build(gc__tl_ctx);
}

Test(contracts, span_build_with_the_lock_held) {
  NEED_DEBUG(1);
  assert_contract_abort(child_span_build_locked, NULL, UNLOCKED_COND, "alloc/span.c");
}

/* I5: a span the thread owns goes on no sweep queue. */
static void child_queue_push_owned(void *arg) {
  (void)arg;
  void *volatile p = gc_malloc(32);
  gc_segment_t *seg;
  gc_span_t *sp;
  if (gc__find_object((uintptr_t)p, &seg, &sp) == 0 || sp->owner != gc__tl_ctx) _exit(3);
  gc__lock();
  gc__queue_push(sp);
}

Test(contracts, queue_push_of_an_owned_span) {
  NEED_DEBUG(1);
  assert_contract_abort(child_queue_push_owned, NULL, "sp->owner == NULL", "sweep/reclaim.c");
}

/* Pages go back to the pool once: freeing a free run aborts. */
static void child_pages_free_twice(void *arg) {
  (void)arg;
  gc_init();
  gc__lock();
  gc_segment_t *seg;
  gc_span_t *sp = gc__pages_alloc(2, false, &seg, NULL);
  if (sp == NULL) _exit(3);
  sp->state = CGC_PAGE_LARGE;
  sp->obj_size = 2 * CGC_PAGE_SIZE;
  gc__pages_free(seg, sp);
  gc__pages_free(seg, sp);
}

Test(contracts, pages_freed_twice) {
  NEED_DEBUG(1);
  assert_contract_abort(child_pages_free_twice, NULL,
                        "sp->state == CGC_PAGE_SMALL || sp->state == CGC_PAGE_LARGE", "heap/segment.c");
}

/* Level 2: a page run handed out again carries no stale alloc bit (I1).
 * A stray bit is set on a freed page; the pool then hands out free pages
 * until it reaches that one. */
static void child_stale_bit_on_a_free_page(void *arg) {
  (void)arg;
  gc_init();
  gc__lock();
  gc_segment_t *seg, *s2;
  gc_span_t *sp = gc__pages_alloc(1, false, &seg, NULL);
  if (sp == NULL) _exit(3);
  sp->state = CGC_PAGE_LARGE;
  sp->obj_size = CGC_PAGE_SIZE;
  uintptr_t page = gc__span_base(seg, sp);
  gc__pages_free(seg, sp);
  gc__alloc_set(seg, gc__granule_index(seg, page + 2 * CGC_GRANULE_SIZE));
  for (size_t i = 0; i < 4 * CGC_PAGES_PER_SEGMENT; i++) {
    gc_span_t *q = gc__pages_alloc(1, false, &s2, NULL);
    if (q == NULL) break;
    q->state = CGC_PAGE_LARGE;
    q->obj_size = CGC_PAGE_SIZE;
    if (gc__span_base(s2, q) == page) _exit(4); /* handed out without a word */
  }
  _exit(5);
}

Test(contracts, stale_alloc_bit_on_a_free_page) {
  NEED_DEBUG(2);
  assert_contract_abort(child_stale_bit_on_a_free_page, NULL, "run_bits_clear(seg, first, npages)",
                        "heap/segment.c");
}

/* What the assertions rest on: the lock holder and the world's state are
 * tracked (debug builds), and a stop's module callback runs stopped. */
static bool g_module_saw_stopped = true;
static int g_modules_seen;
static void note_module(struct dl_phdr_info *info) {
  (void)info;
  g_modules_seen++;
  g_module_saw_stopped &= gc__world_is_stopped();
}

static void *lock_held_elsewhere(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)gc__lock_held();
}

Test(contracts, lock_holder_and_stop_are_tracked) {
  NEED_DEBUG(1);
  gc_init();
  /* observed first, asserted once the lock is released */
  bool before = gc__lock_held() || gc__world_is_stopped();
  gc__lock();
  bool held = gc__lock_held(), stopped_early = gc__world_is_stopped();
  pthread_t th; /* not registered: a registering thread would wait for the lock */
  int rc = gc__thread_create_internal(&th, lock_held_elsewhere, NULL);
  void *other = NULL;
  if (rc == 0) pthread_join(th, &other);
  gc__world_stop(note_module);
  bool stopped = gc__world_is_stopped();
  gc__world_start();
  bool restarted = !gc__world_is_stopped();
  gc__unlock();
  cr_assert(!before && !gc__lock_held(), "the lock or the stop is seen where neither is");
  cr_assert(held && !stopped_early, "the lock holder is not tracked");
  cr_assert_eq(rc, 0);
  cr_assert_null(other, "another thread is told it holds the lock");
  cr_assert(stopped && restarted, "the stop is not tracked");
  cr_assert_gt(g_modules_seen, 0);
  cr_assert(g_module_saw_stopped, "the module callback ran before the world was marked stopped");
}
