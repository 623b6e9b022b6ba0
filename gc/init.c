/*
 * init.c -- start-up and thread contexts.  gc__heap, the one struct that
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

static void thread_exit(void *arg);

static void init_once(void) {
  gc__options_init();
  gc__sizes_init();
  gc__mark_init();
  gc__heap.max_heap = (size_t)gc__option(CGC_OPT_MAX_HEAP_SIZE);
  gc__heap.disabled = gc__option(CGC_OPT_DISABLE) ? 1 : 0;
  gc__heap.trigger = (size_t)gc__option(CGC_OPT_INITIAL_HEAP_SIZE);
  if (pthread_key_create(&gc__heap.tkey, thread_exit) != 0) gc__fatal("pthread_key_create failed");
  if (gc__option(CGC_OPT_VERBOSE)) gc__options_print();
  if (gc__option(CGC_OPT_PRINT_STATS)) atexit(print_summary_at_exit);
  __atomic_store_n(&gc__heap.initialized, true, __ATOMIC_RELEASE);
}

void gc__ensure_init(void) {
  if (cgc_likely(__atomic_load_n(&gc__heap.initialized, __ATOMIC_ACQUIRE))) return;
  pthread_once(&once, init_once);
}

void gc_init(void) { (void)gc__thread_ctx(); }

/* The caller's context, created on first use: internal memory (never
 * scanned), linked into the thread list, and a thread-specific key whose
 * destructor hands its spans back when the thread exits.  NULL only if the
 * OS refuses a page. */
gc_tctx_t *gc__thread_ctx(void) {
  gc__ensure_init();
  gc_tctx_t *t = gc__tl_ctx;
  if (cgc_likely(t->registered)) return t;
  t = gc__os_alloc(sizeof *t);
  if (t == NULL) return NULL;
  t->registered = true;
  t->stack_base = gc__stack_base_of_current_thread();
  gc__lock();
  t->next = gc__heap.threads;
  gc__heap.threads = t;
  gc__unlock();
  pthread_setspecific(gc__heap.tkey, t);
  gc__tl_ctx = t;
  return t;
}

/* Thread exit: every span the thread owns goes back (its unused free
 * objects stop counting as allocated), then the context is unlinked. */
static void thread_exit(void *arg) {
  gc_tctx_t *t = arg;
  gc__lock();
  size_t unused = gc__tctx_release(t);
  gc__heap.since_gc -= unused < gc__heap.since_gc ? unused : gc__heap.since_gc;
  for (gc_tctx_t **pp = &gc__heap.threads; *pp != NULL; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  gc__unlock();
  gc__tl_ctx = &gc__tctx_empty;
  gc__os_free(t, sizeof *t);
}
