/*
 * heap.c -- the heap's global state: gc__heap, the address map, the heap
 * lock and its debug-build bookkeeping, the start-up flag.
 */
#include "heap/heap.h"

gc_heap_t gc__heap;
gc_map_t gc__map;
pthread_mutex_t gc__heap_lock = PTHREAD_MUTEX_INITIALIZER;
volatile AO_t gc__initialized;
#if CGC_DEBUG >= 1
volatile AO_t gc__lock_owner;
volatile AO_t gc__world_stopped_flag;
#endif
