/*
 * message.c -- messages, fatal errors and assertion failures (debug.h).
 */
#include "base/debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Messages go to stderr with one write(2) each, so lines from several
 * processes or threads do not interleave, and no stdio lock is taken (a
 * message may be printed while the heap lock is held). */
static CGC_PRINTF(2, 0) void vmessage(const char *prefix, const char *fmt, va_list ap) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "cgc: %s", prefix);
  if (n < 0) return;
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  if (m < 0) return;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  gc__message_raw(buf, len);
}

void gc__message_raw(const char *text, size_t len) {
  ssize_t w = write(2, text, len);
  (void)w;
}

void gc__message(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage("", fmt, ap);
  va_end(ap);
}

void gc__fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage("fatal: ", fmt, ap);
  va_end(ap);
  abort();
}

void gc__assert_fail(const char *what, const char *file, int line) {
  gc__fatal("internal assertion failed: %s (%s:%d)", what, file, line);
}
