/*
 * init.c -- start-up.  gc__heap, the one struct that
 * holds all collector state, lives here; initialisation runs once (lazily,
 * from any entry point) and reads the options.
 */
#include "internal.h"
#include "options.h"
#include "stats.h"

#include <stdlib.h>
#include <string.h>

gc_heap_t gc__heap = {.lock = PTHREAD_MUTEX_INITIALIZER};
gc_tctx_t gc__tctx_empty; /* all lists empty: the fast path falls through */
__thread gc_tctx_t *gc__tl_ctx __attribute__((tls_model("initial-exec"))) = &gc__tctx_empty;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void print_summary_at_exit(void) {
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
  if (gc__option(CGC_OPT_VERBOSE)) gc__options_print();
  if (gc__option(CGC_OPT_PRINT_STATS)) atexit(print_summary_at_exit);
  __atomic_store_n(&gc__heap.initialized, true, __ATOMIC_RELEASE);
}

void gc__ensure_init(void) {
  if (cgc_likely(__atomic_load_n(&gc__heap.initialized, __ATOMIC_ACQUIRE))) return;
  pthread_once(&once, init_once);
}

void gc_init(void) { (void)gc__thread_ctx(); }

