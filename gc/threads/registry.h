/*
 * registry.h -- the registry of mutator threads (threads/registry.c): the
 * list of thread contexts that collections stop and scan, the coroutine
 * stacks, the pthread interposers, and internal threads.
 */
#ifndef CGC_REGISTRY_H
#define CGC_REGISTRY_H

#include <pthread.h>
#include <stddef.h>

#include "alloc/tctx.h"
#include "base/compiler.h"

/* Changed under the heap lock only; read by the collector with the world
 * stopped. */
typedef struct gc_registry {
  gc_tctx_t *threads; /* all registered thread contexts */
  size_t nthreads;
  struct gc_stack *stacks; /* registered coroutine stacks (threads/stacks.c) */
  pthread_key_t tkey;      /* its destructor unregisters a thread at exit */
} gc_registry_t;
CGC_INTERNAL extern gc_registry_t gc__registry;

/* Idempotent; before the heap (pthread_create may run first). */
CGC_INTERNAL void gc__threads_init(void);
/* pthread_create without cgc's interposition, every signal blocked: for
 * internal threads (markers), which are never registered and never stopped. */
CGC_INTERNAL int gc__thread_create_internal(pthread_t *th, void *(*fn)(void *), void *arg);
/* The calling thread's own stack [*lo, *base) and whether it is the main
 * thread's (whose low end may not be mapped yet). */
CGC_INTERNAL void gc__stack_bounds_of_current_thread(uintptr_t *lo, uintptr_t *base, bool *main_stack);

/* ---- implemented by collect/ ------------------------------------------ */
/* In a fork child, after the registry dropped the other threads: the rest
 * of the collector (world handshake, markers) starts afresh.  Heap lock
 * held. */
CGC_INTERNAL void gc__collector_atfork_child(void);

#endif /* CGC_REGISTRY_H */
