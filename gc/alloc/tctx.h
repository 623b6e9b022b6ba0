/*
 * tctx.h -- a thread's context: its allocation cache (free lists and the
 * spans they belong to) and what the registry and the collector know of
 * it (stack bounds, stop handshake, coroutine stacks).  The contract
 * between the allocator (alloc/) and the thread registry (threads/): both
 * include this header, neither includes the other's.  Span fields stay out
 * of sight (struct gc_span is only declared).
 */
#ifndef CGC_TCTX_H
#define CGC_TCTX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/compiler.h"
#include "heap/geometry.h"

struct gc_span;
/* One per thread that allocates.  free[k][c] is the thread's free list for
 * kind k, class c, threaded through the objects' first words; it belongs
 * to span[k][c], which the thread owns (I2).  Allocated from internal
 * memory that the collector never scans. */
struct gc_stack;
enum {
  CGC_THREAD_STARTING = 1, /* created by our pthread_create, not yet running:
                              only start_arg is a root */
  CGC_THREAD_RUNNING = 2   /* stopped and scanned by every collection */
};
typedef struct gc_tctx {
  void *free[CGC_NKINDS][CGC_NCLASSES];
  struct gc_span *span[CGC_NKINDS][CGC_NCLASSES];
  bool registered; /* false only for the shared empty sentinel */
  int state;       /* CGC_THREAD_* */
  pthread_t self;
  pid_t tid;          /* kernel thread id: the stop signal goes there */
  uintptr_t tp;       /* thread pointer: TCB, static TLS below it */
  uintptr_t stack_lo; /* the thread's own stack, [stack_lo, stack_base) */
  uintptr_t stack_base;
  bool main_stack;                    /* stack_lo may be unmapped (grows on demand) */
  uintptr_t lowest_sp;                /* lowest stack pointer seen at a stop */
  uintptr_t stop_sp;                  /* written by the suspend handler */
  uintptr_t stop_alt_lo, stop_alt_hi; /* the alternate signal stack it was
                                         stopped on, else 0: written by the handler */
  unsigned stop_seq;                  /* the last stop it acknowledged (atomic) */
  unsigned asked_seq;                 /* the last stop it was signalled for (atomic) */
  uintptr_t native_sp;                /* where its own stack stopped when it switched
                                         to a coroutine stack (0: never switched) */
  struct gc_stack *active;            /* the coroutine stack it said it runs on */
  void **specific;                    /* shadow of pthread_setspecific values */
  void *(*start_fn)(void *);          /* STARTING: the start routine ... */
  void *start_arg;                    /* ... and its argument, a root until it runs */
  struct gc_tctx *next, *prev;        /* all thread contexts (threads/registry.h) */
  /* A one-page span gc__span_take claimed for this thread under the heap
   * lock, whose free list the thread builds after releasing it
   * (gc__span_build): one bit per granule of the page for each free slot
   * and for each slot that must be zeroed.  Only the owner touches these;
   * a collection that stops it mid-build sees an owned span (I2) whose
   * free slots are on no list yet. */
  struct gc_span *build;
  bool build_all;      /* every slot of it is free ... */
  bool build_zero_all; /* ... and must be zeroed: one memset */
  uint64_t build_free[CGC_BITMAP_WORDS_PER_PAGE];
  uint64_t build_zero[CGC_BITMAP_WORDS_PER_PAGE];
} gc_tctx_t;

/* The calling thread's context.  Starts as &gc__tctx_empty, whose free
 * lists are all NULL, so the fast path needs no NULL check of its own. */
CGC_INTERNAL extern __thread gc_tctx_t *gc__tl_ctx __attribute__((tls_model("initial-exec")));
CGC_INTERNAL extern gc_tctx_t gc__tctx_empty;

/* The caller's context, registering the calling thread first if needed
 * (threads/registry.c); NULL only when the OS refuses a page.  Heap lock
 * NOT held. */
CGC_INTERNAL gc_tctx_t *gc__thread_ctx(void);

/* ---- alloc/cache.c and alloc/alloc.c (heap lock held) ----------------- */
/* Hand every span t owns back to the heap (I2 -> I1); returns the bytes
 * taken but never handed out. */
CGC_INTERNAL size_t gc__tctx_release(gc_tctx_t *t);
/* The collecting thread's own caches, before marking. */
CGC_INTERNAL void gc__release_caches(void);
/* Take bytes back off the allocation count (freed, or never handed out). */
CGC_INTERNAL void gc__uncount_allocated(size_t bytes);

#endif /* CGC_TCTX_H */
