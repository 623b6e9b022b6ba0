/*
 * test_death.c -- misuse that cgc.h declares fatal: gc_free / gc_realloc of
 * a pointer cgc did not return (stack, global, system malloc, interior,
 * already freed) prints a diagnostic naming the pointer and aborts; the
 * error handler (gc_set_error_handler) gets that line first.
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
