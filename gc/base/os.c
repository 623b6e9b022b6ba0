/*
 * os.c -- the operating-system layer (os.h): aligned mappings, decommit,
 * unmap, internal (never scanned) memory and the clock.
 */
#include "base/os.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/atomic.h"
#include "base/debug.h"

/* ---- failure injection (tests) ------------------------------------------ */

/* fail_at[k]: the call of kind k, counted since arming, from which on
 * calls fail (0: disarmed); calls[k]: the calls counted since then. */
static AO_t fail_at[CGC_OS_FAIL_KINDS], fail_calls[CGC_OS_FAIL_KINDS];

void gc__os_fail_after(int kind, long n) {
  if (kind < 0 || kind >= CGC_OS_FAIL_KINDS) gc__fatal("gc__os_fail_after: no kind %d", kind);
  gc__store(&fail_at[kind], 0);
  gc__store(&fail_calls[kind], 0);
  if (n > 0) gc__store_release(&fail_at[kind], (AO_t)n);
}

/* True when this call of `kind` must fail (errno set). */
static bool fail_now(int kind) {
  AO_t at = gc__load_acquire(&fail_at[kind]);
  if (CGC_LIKELY(at == 0) || gc__fetch_add1(&fail_calls[kind]) + 1 < at) return false;
  errno = ENOMEM;
  return true;
}

/* ---- mappings ------------------------------------------------------------ */

/* Map `size` bytes aligned to `align` (a power of two): over-map by the
 * alignment and trim both ends.  Returns NULL (errno from mmap) on failure. */
void *gc__os_map_aligned(size_t size, size_t align) {
  if (fail_now(CGC_OS_FAIL_MAP)) return NULL;
  size_t over = size + align;
  if (over < size) return NULL;
  void *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t a = (uintptr_t)p, aligned = (a + align - 1) & ~(uintptr_t)(align - 1);
  if (aligned > a) munmap(p, aligned - a);
  uintptr_t end = a + over, aend = aligned + size;
  if (end > aend) munmap((void *)aend, end - aend);
  return (void *)aligned;
}

/* strerrordesc_np, not strerror: an untranslated static table, so no
 * gettext and no allocation on the way to a fatal message. */
void gc__os_unmap(void *p, size_t size) {
  if (munmap(p, size) != 0) {
    const char *why = strerrordesc_np(errno);
    gc__fatal("munmap(%p, %zu) failed: %s", p, size, why != NULL ? why : "unknown error");
  }
}

void gc__os_decommit(void *p, size_t size) { (void)madvise(p, size, MADV_DONTNEED); }

void *gc__os_alloc(size_t size) {
  if (fail_now(CGC_OS_FAIL_ALLOC)) return NULL;
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
