/*
 * test_death.c -- misuse that cgc.h declares fatal: gc_free / gc_realloc of
 * a pointer cgc did not return (stack, global, system malloc, interior,
 * already freed) prints a diagnostic naming the pointer and aborts; the
 * error handler (gc_set_error_handler) gets that line first.  Also what
 * kills a program without its fault: in an ASan build, touching memory
 * cgc freed (suite asan); the OS refusing the memory cgc cannot do without
 * (suite osfail_fatal, through gc__os_fail_after), each with its exact
 * diagnostic.  In debug builds (--enable-debug), so does breaking an
 * internal contract: the heap lock, the world stopped, a span state
 * transition (suite contracts).
 */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
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

/* ---- the error handler (gc_set_error_handler) ----------------------------- */

static int g_tag = 7;

/* Writes "handler: " and the line it got to stderr, then returns. */
static void echo_handler(const char *msg, void *arg) {
  char buf[600];
  size_t n = (size_t)snprintf(buf, sizeof buf, "handler(%d): %s", *(int *)arg, msg);
  ssize_t w = write(2, buf, n < sizeof buf ? n : sizeof buf - 1);
  (void)w;
}

static void child_free_with_handler(void *p) {
  gc_set_error_handler(echo_handler, &g_tag);
  gc_free(p);
}

Test(death_handler, is_called_with_the_message_then_cgc_aborts) {
  char out[4096];
  int status;
  gc_init();
  run_child(child_free_with_handler, BAD(g_global), out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x:\n%s", status, out);
  /* the line as printed, then the handler with exactly that line */
  const char *nl = strchr(out, '\n');
  cr_assert_not_null(nl, "%s", out);
  size_t len = (size_t)(nl + 1 - out);
  cr_assert_eq(strncmp(out, "cgc: fatal: gc_free(", 20), 0, "%s", out);
  cr_assert_eq(strncmp(nl + 1, "handler(7): ", 12), 0, "the handler did not run after the message:\n%s", out);
  cr_assert_eq(strncmp(nl + 1 + 12, out, len), 0, "the handler got another line:\n%s", out);
  cr_assert_eq(nl[1 + 12 + len], '\0', "more after the handler:\n%s", out);
}

static void exit_handler(const char *msg, void *arg) {
  _exit(arg == &g_tag && strncmp(msg, "cgc: fatal: gc_free(", 20) == 0 && msg[strlen(msg) - 1] == '\n' ? 42
                                                                                                       : 43);
}

Test(death_handler, may_end_the_process_itself, .exit_code = 42) {
  gc_set_error_handler(exit_handler, &g_tag);
  char *p = gc_malloc(64);
  cr_assert_not_null(p);
  gc_free(BAD(p + 8));
}

/* A fatal error inside the handler aborts at once instead of calling it
 * again. */
static void failing_handler(const char *msg, void *arg) {
  echo_handler(msg, arg);
  gc_free(BAD(g_global + 8));
}

static void child_free_with_failing_handler(void *p) {
  gc_set_error_handler(failing_handler, &g_tag);
  gc_free(p);
}

Test(death_handler, a_fatal_error_in_it_aborts_at_once) {
  char out[4096];
  int status;
  gc_init();
  run_child(child_free_with_failing_handler, BAD(g_global), out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x:\n%s", status, out);
  size_t handlers = 0, fatals = 0;
  for (const char *s = out; (s = strstr(s, "handler(7)")) != NULL; s++) handlers++;
  for (const char *s = out; (s = strstr(s, "cgc: fatal: ")) != NULL; s++) fatals++;
  cr_assert_eq(handlers, 1, "the handler ran %zu times:\n%s", handlers, out);
  cr_assert_eq(fatals, 3, "expected the first error, the handler's echo of it, then the second:\n%s", out);
}

static void child_handler_removed(void *p) {
  gc_set_error_handler(echo_handler, &g_tag);
  gc_set_error_handler(NULL, NULL);
  gc_free(p);
}

Test(death_handler, null_removes_it) {
  char out[4096];
  int status;
  gc_init();
  run_child(child_handler_removed, BAD(g_global), out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
  cr_assert_null(strstr(out, "handler"), "a removed handler ran:\n%s", out);
  cr_assert_eq(strncmp(out, "cgc: fatal: gc_free(", 20), 0, "%s", out);
}

/* Internal errors (no memory for a table, a failed assertion) go the
 * same way, through the output hook when there is one. */
static void echo_output(const char *msg, void *arg) {
  (void)arg;
  char buf[600];
  size_t n = (size_t)snprintf(buf, sizeof buf, "output: %s", msg);
  ssize_t w = write(2, buf, n < sizeof buf ? n : sizeof buf - 1);
  (void)w;
}

static void child_internal_fatal(void *arg) {
  (void)arg;
  gc_set_output(echo_output, NULL);
  gc_set_error_handler(echo_handler, &g_tag);
  gc__assert_fail("x == 1", "gc/heap/segment.c", 12);
}

Test(death_handler, internal_errors_reach_the_hooks) {
  char out[4096];
  int status;
  run_child(child_internal_fatal, NULL, out, sizeof out, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
  cr_assert_str_eq(out, "output: cgc: fatal: internal assertion failed: x == 1 (gc/heap/segment.c:12)\n"
                        "handler(7): cgc: fatal: internal assertion failed: x == 1 (gc/heap/segment.c:12)\n");
}

/* ---- child processes with their own environment ---------------------------- */

/* t_run_child with no environment, or the one variable `extra`. */
static t_child_t *run_scenario(const char *scenario, const char *extra) {
  const char *env[] = {extra, NULL};
  return t_run_child(scenario, env);
}

#define ASSERT_ABORTED_WITH(res, msg)                                                                      \
  do {                                                                                                     \
    cr_assert(WIFSIGNALED((res)->status) && WTERMSIG((res)->status) == SIGABRT,                            \
              "expected an abort with \"%s\"; status %#x, stderr:\n%s", (msg), (res)->status, (res)->err); \
    cr_assert_not_null(strstr((res)->err, msg), "the diagnostic is not \"%s\":\n%s", (msg), (res)->err);   \
  } while (0)

/* ---- AddressSanitizer: free memory is poisoned (gc/base/track.h) ------------ */

#define ONLY_UNDER_ASAN()                                                        \
  do {                                                                           \
    if (!CGC_ASAN) cr_skip_test("needs an ASan build (poisoning compiles out)"); \
  } while (0)

/* The child must die of ASan's report for a poisoned byte (exit status 1,
 * ASan's default exitcode), naming the access. */
#define ASSERT_ASAN_FAULT(res, what)                                                                  \
  do {                                                                                                \
    cr_assert(WIFEXITED((res)->status) && WEXITSTATUS((res)->status) == 1 &&                          \
                  strstr((res)->err, "AddressSanitizer: use-after-poison") != NULL,                   \
              "%s: no ASan fault (status %#x); stderr:\n%.2000s", (what), (res)->status, (res)->err); \
  } while (0)

static volatile unsigned char g_sink;

/* gc_free, then read byte `at` of the object. */
static void touch_after_free(size_t size, bool atomic, size_t at) {
  unsigned char *p = atomic ? gc_malloc_atomic(size) : gc_malloc(size);
  void *other = gc_malloc(size); /* the span stays in use */
  if (p == NULL || other == NULL) _exit(3);
  p[at] = 1;
  gc_free(p);
  g_sink = ((volatile unsigned char *)t_launder(p))[at];
  _exit(0); /* not reached under ASan */
}

/* Objects made unreachable (their addresses hidden), then collected: the
 * first one the collector reclaimed is read, as a program holding a
 * pointer the collector missed would. */
static T_NOINLINE void make_hidden(uintptr_t *hidden, size_t n, size_t size) {
  for (size_t i = 0; i < n; i++) {
    unsigned char *p = gc_malloc(size);
    if (p == NULL) _exit(3);
    memset(p, 0x5A, size);
    hidden[i] = ~(uintptr_t)p;
  }
}

static void touch_after_reclaim(size_t size) {
  static uintptr_t hidden[256];
  gc_init();
  make_hidden(hidden, 256, size);
  void *keep = gc_malloc(size); /* a survivor: the span is kept and queued */
  t_collect();
  for (size_t i = 0; i < 256; i++) {
    unsigned char *p = (unsigned char *)~hidden[i];
    if (gc_base(p) == NULL) g_sink = ((volatile unsigned char *)t_launder(p))[size / 2];
  }
  g_sink = *(volatile unsigned char *)keep;
  _exit(4); /* nothing reclaimed, or no fault */
}

/* The slot after a fresh object is on the thread's free list: its link
 * word (read and written by the allocator) is poisoned too. */
static void touch_cached_free_slot(void) {
  unsigned char *p = gc_malloc(48);
  if (p == NULL) _exit(3);
  g_sink = ((volatile unsigned char *)t_launder(p))[48];
  _exit(0);
}

static void asan_child(const char *scenario) {
  if (strcmp(scenario, "uaf_small") == 0) touch_after_free(64, false, 0);
  if (strcmp(scenario, "uaf_small_atomic") == 0) touch_after_free(200, true, 199);
  if (strcmp(scenario, "uaf_large") == 0) touch_after_free(T_MiB, false, T_MiB / 2);
  if (strcmp(scenario, "reclaimed") == 0) touch_after_reclaim(96);
  if (strcmp(scenario, "reclaimed_first_word") == 0) touch_after_reclaim(16);
  if (strcmp(scenario, "cached_free_slot") == 0) touch_cached_free_slot();
}

Test(asan, use_after_gc_free_faults_small) {
  ONLY_UNDER_ASAN();
  t_child_t *res = run_scenario("uaf_small", NULL);
  ASSERT_ASAN_FAULT(res, "reading a gc_free'd 64-byte object");
  free(res);
  res = run_scenario("uaf_small_atomic", NULL);
  ASSERT_ASAN_FAULT(res, "reading the last byte of a gc_free'd atomic object");
  free(res);
}

Test(asan, use_after_gc_free_faults_large) {
  ONLY_UNDER_ASAN();
  t_child_t *res = run_scenario("uaf_large", NULL);
  ASSERT_ASAN_FAULT(res, "reading a gc_free'd 1 MiB object");
  free(res);
}

Test(asan, reclaimed_object_faults_at_first_touch) {
  ONLY_UNDER_ASAN();
  t_child_t *res = run_scenario("reclaimed", NULL);
  ASSERT_ASAN_FAULT(res, "reading an object the collector reclaimed");
  free(res);
  res = run_scenario("reclaimed_first_word", NULL);
  ASSERT_ASAN_FAULT(res, "reading the first word of a reclaimed 16-byte object");
  free(res);
}

Test(asan, free_slots_on_a_thread_list_are_poisoned) {
  ONLY_UNDER_ASAN();
  t_child_t *res = run_scenario("cached_free_slot", NULL);
  ASSERT_ASAN_FAULT(res, "reading a free slot of the thread's list");
  free(res);
}

/* Everything handed out is addressable to its usable size, through every
 * path: fast path, refills of fresh, swept and ZERO_ALL spans, slots
 * reused after gc_free and after reclamation, large and huge objects. */
Test(asan, handed_out_objects_are_addressable) {
  ONLY_UNDER_ASAN();
  static const size_t sizes[] = {16, 24, 48, 100, 256, 1000, 4096, 20000, 200000, 600 * T_KiB, 5 * T_MiB};
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      for (int k = 0; k < 64; k++) {
        unsigned char *p = (k & 1) ? gc_malloc_atomic(sizes[i]) : gc_malloc(sizes[i]);
        cr_assert_not_null(p);
        memset(t_launder(p), 0xA5, gc_size(p));
        if (k % 3 == 0) gc_free(p);
      }
    }
    t_churn_small(4 * T_MiB, (uint64_t)round);
    t_collect();
  }
}

/* ---- the OS refuses memory: fatal paths (gc__os_fail_after) ----------------- */

/* Each scenario arms the failure right before the call that must die of
 * it; the exit codes after that call say it did not. */
static void osfail_child(const char *scenario) {
  if (strcmp(scenario, "marker_table") == 0) { /* the first internal allocation of start-up */
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    gc_init();
    _exit(5);
  }
  if (strcmp(scenario, "mark_stack") == 0) { /* the second */
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 2);
    gc_init();
    _exit(5);
  }
  if (strcmp(scenario, "root_table_add") == 0) {
    static char area[64];
    gc_init();
    printf("gc_add_roots(%p, %p): out of memory for the root table", (void *)area, (void *)(area + 64));
    fflush(stdout);
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    gc_add_roots(area, area + 64);
    _exit(5);
  }
  if (strcmp(scenario, "root_table_remove") == 0) { /* a cut that needs one more entry */
    static char area[64 * 64];
    gc_init();
    for (int i = 0; i < 64; i++) gc_add_roots(area + i * 64, area + i * 64 + 32); /* the table's first 64 */
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    gc_remove_roots(area + 8, area + 16);
    _exit(5);
  }
  if (strcmp(scenario, "module_table") == 0) { /* the first collection records the modules */
    gc_init();
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    gc_collect();
    _exit(5);
  }
  if (strcmp(scenario, "mark_stack_roots") == 0) { /* more root chunks than the mark stack holds */
    gc_init();
    gc_collect(); /* the module tables, and the mark stack as the usual roots need it */
    size_t len = (size_t)4 << 30;
    void *area = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) _exit(3);
    gc_add_roots(area, (char *)area + len);
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    gc_collect();
    _exit(5);
  }
  if (strcmp(scenario, "thread_specific") == 0) { /* the first value a registered thread sets */
    pthread_key_t key;
    gc_init();
    if (pthread_key_create(&key, NULL) != 0) _exit(3);
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    pthread_setspecific(key, &key);
    _exit(5);
  }
  if (strcmp(scenario, "stack_switch") == 0) { /* an unregistered thread's context */
    gc_set_oom_handler(NULL);                  /* initialised; this thread is not registered */
    if (gc_thread_is_registered()) _exit(3);
    gc__os_fail_after(CGC_OS_FAIL_ALLOC, 1);
    gc_stack_switch(NULL);
    _exit(5);
  }
}

__attribute__((constructor)) static void child_main(void) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  asan_child(scenario);
  osfail_child(scenario);
  _exit(2); /* no such scenario */
}

static void assert_osfail_abort(const char *scenario, const char *extra_env, const char *msg) {
  t_child_t *res = run_scenario(scenario, extra_env);
  char want[sizeof res->out + 32];
  snprintf(want, sizeof want, "cgc: fatal: %s\n", msg != NULL ? msg : res->out);
  ASSERT_ABORTED_WITH(res, want);
  free(res);
}

Test(osfail_fatal, marker_table_at_start_up) {
  assert_osfail_abort("marker_table", NULL, "cannot map the marker table");
}

Test(osfail_fatal, mark_stack_at_start_up) {
  assert_osfail_abort("mark_stack", NULL, "cannot map the mark stack");
}

Test(osfail_fatal, root_table_in_gc_add_roots) { assert_osfail_abort("root_table_add", NULL, NULL); }

Test(osfail_fatal, root_table_in_gc_remove_roots) {
  assert_osfail_abort("root_table_remove", NULL, "out of memory for the root table");
}

Test(osfail_fatal, module_table_in_a_collection) {
  assert_osfail_abort("module_table", "CGC_MARKERS=1", "out of memory for the module table");
}

Test(osfail_fatal, mark_stack_for_roots) {
  assert_osfail_abort("mark_stack_roots", "CGC_MARKERS=1", "out of memory for the mark stack (roots)");
}

Test(osfail_fatal, thread_specific_data) {
  assert_osfail_abort("thread_specific", NULL, "out of memory for the thread-specific data of a thread");
}

Test(osfail_fatal, gc_stack_switch_registration) {
  assert_osfail_abort("stack_switch", NULL, "gc_stack_switch: cannot register the calling thread");
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
