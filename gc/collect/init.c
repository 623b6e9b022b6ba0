/*
 * init.c -- start-up: runs once (lazily, from any entry point), reads the
 * options and initialises every module in order.  It sits in collect/,
 * the top of the include graph, because it calls into every module.
 */
#include <stdlib.h>

#include "cgc.h"

#include "alloc/tctx.h"
#include "base/options.h"
#include "heap/heap.h"
#include "mark/mark.h"
#include "mark/roots.h"
#include "obs/stats.h"
#include "threads/registry.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void print_summary_at_exit(void) {
  if (gc__option(CGC_OPT_PRINT_STATS) == CGC_PRINT_STATS_JSON) {
    gc__stats_print_json(); /* takes the lock */
    return;
  }
  gc__lock();
  gc__stats_print_summary();
  gc__unlock();
}

static void init_once(void) {
  gc__options_init();
  gc__sizes_init();
  gc__mark_init();
  gc__heap.max_heap = (size_t)gc__option(CGC_OPT_MAX_HEAP_SIZE);
  gc__heap.disabled = gc__option(CGC_OPT_DISABLE) ? 1 : 0;
  gc__heap.trigger = (size_t)gc__option(CGC_OPT_INITIAL_HEAP_SIZE);
  gc__threads_init();
  gc__tls_init();
  if (gc__option(CGC_OPT_VERBOSE)) gc__options_print();
  if (gc__option(CGC_OPT_PRINT_STATS)) atexit(print_summary_at_exit);
  gc__store_release(&gc__initialized, 1);
}

void gc__ensure_init(void) {
  if (CGC_LIKELY(gc__is_initialized())) return;
  pthread_once(&once, init_once);
}

void gc_init(void) { (void)gc__thread_ctx(); }
