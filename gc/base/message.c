/*
 * message.c -- messages, fatal errors and assertion failures (debug.h),
 * and the output and error hooks of cgc.h (gc_set_output,
 * gc_set_error_handler).
 *
 * A message is one line of at most 511 bytes ("cgc: ", the text, a
 * newline), formatted by gc__vformat into a buffer on the stack: no stdio,
 * no libc allocator, no lock (a message may be printed while the heap lock
 * is held and the world is stopped).  It goes to the output hook, or to
 * stderr with one write(2), so lines from several processes or threads do
 * not interleave.
 */
#include "base/debug.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cgc.h"

#include "base/atomic.h"
#include "base/format.h"

#define LINE_BYTES 512 /* with the newline and a NUL */

/* ---- hooks ---------------------------------------------------------------- */

/* A hook is a pair (fn, arg) that readers on any thread, inside a
 * collection too, must see whole, without a lock.  A sequence lock: the
 * writer makes seq odd (a CAS, which also serialises writers), stores the
 * pair and makes seq even again; a reader retries while seq is odd or
 * changed under it.  A reader waits only while a gc_set_* call is between
 * its stores, a few instructions (forever if it interrupted that call on
 * its own thread: cgc prints from no signal handler). */
typedef struct {
  volatile AO_t seq;
  volatile AO_t fn, arg;
} hook_t;

static hook_t output_hook, error_hook;

static void hook_set(hook_t *h, AO_t fn, void *arg) {
  AO_t s;
  do s = gc__load(&h->seq) & ~(AO_t)1;
  while (!gc__cas(&h->seq, s, s + 1));
  gc__store_release(&h->fn, fn);
  gc__store_release(&h->arg, (AO_t)(uintptr_t)arg);
  gc__store_release(&h->seq, s + 2);
}

/* The hook's function (0: none) and its argument. */
static AO_t hook_get(hook_t *h, void **arg) {
  for (;;) {
    AO_t s = gc__load_acquire(&h->seq);
    if ((s & 1) == 0) {
      AO_t fn = gc__load_acquire(&h->fn), a = gc__load_acquire(&h->arg);
      if (gc__load_acquire(&h->seq) == s) {
        *arg = (void *)(uintptr_t)a;
        return fn;
      }
    }
    gc__spin_pause();
  }
}

void gc_set_output(gc_output_fn_t fn, void *arg) { hook_set(&output_hook, (AO_t)(uintptr_t)fn, arg); }

void gc_set_error_handler(gc_error_fn_t fn, void *arg) { hook_set(&error_hook, (AO_t)(uintptr_t)fn, arg); }

/* ---- lines ------------------------------------------------------------------ */

/* "cgc: " prefix text into line[LINE_BYTES], cut to fit, then a newline
 * and a NUL.  Returns the length with the newline. */
CGC_PRINTF(3, 0) static size_t format_line(char *line, const char *prefix, const char *fmt, va_list ap) {
  size_t n = gc__format(line, LINE_BYTES - 1, "cgc: %s", prefix);
  if (n > LINE_BYTES - 2) n = LINE_BYTES - 2;
  n += gc__vformat(line + n, LINE_BYTES - 1 - n, fmt, ap);
  if (n > LINE_BYTES - 2) n = LINE_BYTES - 2;
  line[n++] = '\n';
  line[n] = '\0';
  return n;
}

static void emit(const char *line, size_t len) {
  void *arg;
  AO_t fn = hook_get(&output_hook, &arg);
  if (fn != 0) {
    ((gc_output_fn_t)fn)(line, arg);
    return;
  }
  ssize_t w = write(2, line, len);
  (void)w;
}

/* Text already formatted (the CGC_PRINT_STATS=json line): no prefix, no
 * line bound; text[len] is its NUL. */
void gc__message_raw(const char *text, size_t len) { emit(text, len); }

void gc__message(const char *fmt, ...) {
  char line[LINE_BYTES];
  va_list ap;
  va_start(ap, fmt);
  size_t len = format_line(line, "", fmt, ap);
  va_end(ap);
  emit(line, len);
}

/* The error handler runs for the first fatal error only: one raised while
 * it runs (it failed itself, or another thread failed meanwhile) or after
 * it jumped out aborts at once, so a failing handler cannot loop. */
static volatile AO_t fatal_seen;

void gc__fatal(const char *fmt, ...) {
  char line[LINE_BYTES];
  va_list ap;
  va_start(ap, fmt);
  size_t len = format_line(line, "fatal: ", fmt, ap);
  va_end(ap);
  emit(line, len);
  if (gc__fetch_add1(&fatal_seen) == 0) {
    void *arg;
    AO_t fn = hook_get(&error_hook, &arg);
    if (fn != 0) ((gc_error_fn_t)fn)(line, arg);
  }
  abort();
}

void gc__assert_fail(const char *what, const char *file, int line) {
  gc__fatal("internal assertion failed: %s (%s:%d)", what, file, line);
}
