/*
 * os.c -- the operating-system layer: aligned mappings, decommit, unmap,
 * internal (never scanned) memory, the clock and messages.  Everything
 * cgc asks of the kernel goes through here.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Map `size` bytes aligned to `align` (a power of two): over-map by the
 * alignment and trim both ends.  Returns NULL (errno from mmap) on failure. */
void *gc__os_map_aligned(size_t size, size_t align) {
  size_t over = size + align;
  if (over < size) return NULL;
  void *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t a = (uintptr_t)p, aligned = (a + align - 1) & ~(uintptr_t)(align - 1);
  if (aligned > a) munmap(p, aligned - a);
  uintptr_t end = a + over, aend = aligned + size;
  if (end > aend) munmap((void *)aend, end - aend);
  return (void *)aligned;
}

void gc__os_unmap(void *p, size_t size) {
  if (munmap(p, size) != 0) gc__fatal("munmap(%p, %zu) failed: %s", p, size, strerror(errno));
}

/* Give the pages back; the range stays mapped and reads as zero. */
void gc__os_decommit(void *p, size_t size) { (void)madvise(p, size, MADV_DONTNEED); }

void *gc__os_alloc(size_t size) {
  size = (size + CGC_OS_PAGE_SIZE - 1) & ~(CGC_OS_PAGE_SIZE - 1);
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void gc__os_free(void *p, size_t size) {
  if (p == NULL) return;
  size = (size + CGC_OS_PAGE_SIZE - 1) & ~(CGC_OS_PAGE_SIZE - 1);
  munmap(p, size);
}

uint64_t gc__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Messages go to stderr with one write(2) each, so lines from several
 * processes or threads do not interleave, and no stdio lock is taken (a
 * message may be printed while the heap lock is held). */
static void vmessage(const char *prefix, const char *fmt, va_list ap) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "cgc: %s", prefix);
  if (n < 0) return;
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  if (m < 0) return;
  size_t len = (size_t)n + (size_t)m;
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  ssize_t w = write(2, buf, len);
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
