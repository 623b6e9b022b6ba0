/*
 * mode.h -- the allocation-mode layer of the cgc benchmarks.
 *
 * Every workload is written once against this header and compiled three
 * times, with exactly one of:
 *
 *   -DBENCH_MODE_CGC     cgc: gc_malloc / gc_malloc_atomic, never freed.
 *   -DBENCH_MODE_BDWGC   Debian's bdwgc: GC_MALLOC / GC_MALLOC_ATOMIC.
 *   -DBENCH_MODE_MALLOC  malloc/calloc, with bm_free() of exactly what
 *                        becomes garbage: the honest manual baseline (and,
 *                        under LD_PRELOAD, the jemalloc/mimalloc rows).
 *
 * API (all static, for single-file benchmark programs):
 *
 *   bm_init()            call first thing in main() (bdwgc needs GC_INIT
 *                        from the main thread); starts the wall clock.
 *   bm_alloc(n)          n zeroed bytes that may hold pointers.
 *   bm_alloc_atomic(n)   n bytes that never hold pointers; contents
 *                        unspecified (write before reading).
 *   bm_realloc(p, n)     resize (gc_realloc / GC_REALLOC / realloc); keeps
 *                        the kind; content kept up to min(old, new).
 *   bm_free(p)           release garbage: free() in malloc mode, a no-op
 *                        under the collectors.
 *   BM_MANUAL_FREE       1 in malloc mode, 0 under the collectors: skip a
 *                        walk that exists only to free with
 *                        `if (BM_MANUAL_FREE)`, so that the collectors do
 *                        not pay for it (they would not do it in real code).
 *   bm_name()            "cgc", "bdwgc" or "malloc".
 *   bm_now_ns()          CLOCK_MONOTONIC in nanoseconds.
 *   bm_report_extra      a buffer (char[512]) of extra "key=value ..." text
 *                        that bm_report appends to its line, e.g. the
 *                        pause benchmark's latency percentiles; fill it
 *                        with bm_report_add("lat_p99_us=%.1f", x).
 *   bm_report(bench)     one line on stderr, space-separated key=value:
 *
 *     bench-stats: bench=gcbench mode=cgc wall_ms=812.4 maxrss_kib=41236
 *       gc_count=37 gc_pause_total_ms=95.1 gc_pause_max_ms=6.2
 *       heap_bytes=.. heap_peak_bytes=.. allocated_bytes=.. ...
 *
 *     wall_ms is measured from bm_init(); maxrss_kib is getrusage's
 *     ru_maxrss.  The gc_* and heap_* keys exist only for the collectors:
 *     cgc reports gc_get_stats() (also live_bytes, returned_bytes);
 *     bdwgc reports GC_get_gc_no(), the heap size (its heapsize_full never
 *     shrinks, so that is the peak), GC_get_total_bytes(), unmapped bytes,
 *     and the pauses timed here from its collection-event callback
 *     (GC_EVENT_START..GC_EVENT_END: the whole stop-the-world collection).
 *     A key that a mode cannot measure is left out, never printed as 0.
 *
 * Allocation failure is fatal in every mode (message and exit 3), so a
 * benchmark never has to test for NULL.
 */
#ifndef BENCH_MODE_H
#define BENCH_MODE_H

#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime with plain -std=c11 */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if defined(BENCH_MODE_CGC) + defined(BENCH_MODE_BDWGC) + defined(BENCH_MODE_MALLOC) != 1
#error "define exactly one of BENCH_MODE_CGC, BENCH_MODE_BDWGC, BENCH_MODE_MALLOC"
#endif

#if defined(BENCH_MODE_CGC)
#include "cgc.h"
#elif defined(BENCH_MODE_BDWGC)
#ifndef GC_THREADS
#define GC_THREADS 1 /* Debian builds libgc threaded; match its headers */
#endif
#include <gc.h>
#endif

#if defined(__GNUC__)
#define BM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BM_NOINLINE __attribute__((noinline))
#else
#define BM_UNLIKELY(x) (x)
#define BM_NOINLINE
#endif

static uint64_t bm_start_ns;

static inline uint64_t bm_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static BM_NOINLINE void bm_oom(size_t n) {
  fprintf(stderr, "bench: out of memory allocating %zu bytes\n", n);
  exit(3);
}

/* ---- cgc ------------------------------------------------------------- */
#if defined(BENCH_MODE_CGC)

#define BM_MANUAL_FREE 0
static inline const char *bm_name(void) { return "cgc"; }
static inline void bm_mode_init(void) { gc_init(); }

static inline void *bm_alloc(size_t n) {
  void *p = gc_malloc(n);
  if (BM_UNLIKELY(p == NULL)) bm_oom(n);
  return p;
}

static inline void *bm_alloc_atomic(size_t n) {
  void *p = gc_malloc_atomic(n);
  if (BM_UNLIKELY(p == NULL)) bm_oom(n);
  return p;
}

static inline void *bm_realloc(void *p, size_t n) {
  void *q = gc_realloc(p, n);
  if (BM_UNLIKELY(q == NULL && n != 0)) bm_oom(n);
  return q;
}
static inline void bm_free(void *p) { (void)p; }

static inline void bm_mode_report(FILE *f) {
  gc_stats_t s = {0};
  s.size = sizeof s;
  gc_get_stats(&s);
  fprintf(f,
          " gc_count=%zu gc_pause_total_ms=%.3f gc_pause_max_ms=%.3f"
          " heap_bytes=%zu heap_peak_bytes=%zu live_bytes=%zu"
          " allocated_bytes=%zu returned_bytes=%zu",
          s.collections, (double)s.pause_total_ns / 1e6, (double)s.pause_max_ns / 1e6, s.heap_bytes,
          s.heap_bytes_peak, s.live_bytes, s.allocated_bytes, s.returned_bytes);
}

/* ---- bdwgc ----------------------------------------------------------- */
#elif defined(BENCH_MODE_BDWGC)

#define BM_MANUAL_FREE 0
static inline const char *bm_name(void) { return "bdwgc"; }

static uint64_t bm_gc_begin_ns, bm_gc_total_ns, bm_gc_max_ns;

/* Runs with bdwgc's allocation lock held, from the collecting thread. */
static void GC_CALLBACK bm_gc_event(GC_EventType e) {
  if (e == GC_EVENT_START) {
    bm_gc_begin_ns = bm_now_ns();
  } else if (e == GC_EVENT_END && bm_gc_begin_ns != 0) {
    uint64_t d = bm_now_ns() - bm_gc_begin_ns;
    bm_gc_total_ns += d;
    if (d > bm_gc_max_ns) bm_gc_max_ns = d;
    bm_gc_begin_ns = 0;
  }
}

static inline void bm_mode_init(void) {
  GC_INIT();
  GC_set_on_collection_event(bm_gc_event);
}

static inline void *bm_alloc(size_t n) {
  void *p = GC_MALLOC(n);
  if (BM_UNLIKELY(p == NULL)) bm_oom(n);
  return p;
}

static inline void *bm_alloc_atomic(size_t n) {
  void *p = GC_MALLOC_ATOMIC(n);
  if (BM_UNLIKELY(p == NULL)) bm_oom(n);
  return p;
}

static inline void *bm_realloc(void *p, size_t n) {
  void *q = GC_REALLOC(p, n);
  if (BM_UNLIKELY(q == NULL && n != 0)) bm_oom(n);
  return q;
}
static inline void bm_free(void *p) { (void)p; }

static inline void bm_mode_report(FILE *f) {
  struct GC_prof_stats_s ps;
  GC_get_prof_stats(&ps, sizeof ps);
  /* heapsize_full counts unmapped blocks too: bdwgc's heap never shrinks
   * its address range, so this is the peak. */
  fprintf(f,
          " gc_count=%lu gc_pause_total_ms=%.3f gc_pause_max_ms=%.3f"
          " heap_bytes=%zu heap_peak_bytes=%lu allocated_bytes=%zu"
          " unmapped_bytes=%lu",
          (unsigned long)GC_get_gc_no(), (double)bm_gc_total_ns / 1e6, (double)bm_gc_max_ns / 1e6,
          GC_get_heap_size(), (unsigned long)ps.heapsize_full, GC_get_total_bytes(),
          (unsigned long)ps.unmapped_bytes);
}

/* ---- malloc ---------------------------------------------------------- */
#else

#define BM_MANUAL_FREE 1
static inline const char *bm_name(void) { return "malloc"; }
static inline void bm_mode_init(void) {}

static inline void *bm_alloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (BM_UNLIKELY(p == NULL)) bm_oom(n);
  return p;
}

static inline void *bm_alloc_atomic(size_t n) {
  void *p = malloc(n ? n : 1);
  if (BM_UNLIKELY(p == NULL)) bm_oom(n);
  return p;
}

static inline void *bm_realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (BM_UNLIKELY(q == NULL && n != 0)) bm_oom(n);
  return q;
}
static inline void bm_free(void *p) { free(p); }

static inline void bm_mode_report(FILE *f) { (void)f; }

#endif

static char bm_report_extra[512];

/* Append " key=value" text to what bm_report prints. */
__attribute__((format(printf, 1, 2))) static inline void bm_report_add(const char *fmt, ...) {
  size_t len = strlen(bm_report_extra);
  if (len + 2 >= sizeof bm_report_extra) return;
  bm_report_extra[len++] = ' ';
  bm_report_extra[len] = '\0';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(bm_report_extra + len, sizeof bm_report_extra - len, fmt, ap);
  va_end(ap);
}

static inline void bm_init(void) {
  bm_mode_init();
  bm_start_ns = bm_now_ns();
}

static inline void bm_report(const char *bench) {
  struct rusage ru;
  uint64_t wall = bm_now_ns() - bm_start_ns;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "bench-stats: bench=%s mode=%s wall_ms=%.3f maxrss_kib=%ld", bench, bm_name(),
          (double)wall / 1e6, ru.ru_maxrss);
  bm_mode_report(stderr);
  fputs(bm_report_extra, stderr);
  fputc('\n', stderr);
  fflush(stderr);
}

#endif /* BENCH_MODE_H */
