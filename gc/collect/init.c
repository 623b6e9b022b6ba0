/*
 * init.c -- start-up: runs once (lazily, from any entry point), reads the
 * options and initialises every module in order; and the run-time option
 * API (gc_option_get/set), which applies options as start-up does.  It
 * sits in collect/, the top of the include graph, because it calls into
 * every module.
 */
#include <errno.h>
#include <stdbool.h>
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

/* The CGC_PRINT_STATS summary, when the option is still on at exit. */
static void print_summary_at_exit(void) {
  if (!gc__option(CGC_OPT_PRINT_STATS)) return;
  if (gc__option(CGC_OPT_PRINT_STATS) == CGC_PRINT_STATS_JSON) {
    gc__stats_print_json(); /* takes the lock */
    return;
  }
  gc__lock();
  gc__stats_print_summary();
  gc__unlock();
}

/* The summary is registered once, by whoever turns CGC_PRINT_STATS on
 * first (start-up, or gc_option_set); atexit only when it is, since it
 * may allocate.  Heap lock held, or in init_once. */
static bool summary_registered;

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
  if (gc__option(CGC_OPT_PRINT_STATS)) {
    summary_registered = true;
    atexit(print_summary_at_exit);
  }
  gc__store_release(&gc__initialized, 1);
}

void gc__ensure_init(void) {
  if (CGC_LIKELY(gc__is_initialized())) return;
  pthread_once(&once, init_once);
}

void gc_init(void) { (void)gc__thread_ctx(); }

/* ---- the run-time option API (include/cgc.h) ------------------------------ */

int gc_option_get(const char *name, long long *value) {
  int id = gc__option_find(name);
  if (id < 0 || value == NULL) {
    errno = EINVAL;
    return -1;
  }
  gc__ensure_init();
  *value = gc__option((gc_option_id_t)id);
  return 0;
}

/* Under the heap lock: the options whose value lives in the heap state
 * change with it, and concurrent sets of one option end in one value. */
int gc_option_set(const char *name, long long value) {
  int id = gc__option_find(name);
  int err = id < 0 ? EINVAL : gc__option_settable((gc_option_id_t)id, value);
  if (err != 0) {
    errno = err;
    return -1;
  }
  gc__ensure_init();
  bool register_summary = false;
  gc__lock();
  switch (id) {
  case CGC_OPT_MAX_HEAP_SIZE: gc__heap.max_heap = (size_t)value; break;
  case CGC_OPT_DISABLE: /* the option holds one level of the depth */
    if (value != gc__option(CGC_OPT_DISABLE)) {
      if (value != 0)
        gc__heap.disabled++;
      else if (gc__heap.disabled > 0)
        gc__heap.disabled--;
    }
    break;
  case CGC_OPT_PRINT_STATS:
    register_summary = value != 0 && !summary_registered;
    if (register_summary) summary_registered = true;
    break;
  default: break; /* read where it is used */
  }
  gc__option_store((gc_option_id_t)id, value);
  gc__unlock();
  if (register_summary) atexit(print_summary_at_exit);
  return 0;
}
