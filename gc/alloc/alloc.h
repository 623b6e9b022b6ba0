/*
 * alloc.h -- the allocator's entry points besides the inline fast path
 * (alloc/alloc_inline.h): the slow path and the out-of-memory answer.
 */
#ifndef CGC_ALLOC_H
#define CGC_ALLOC_H

#include <stddef.h>

#include "base/compiler.h"

CGC_INTERNAL void *gc__alloc_slow(size_t n, unsigned kind);
/* What a failed allocation of n bytes returns: the user's handler's
 * result, or NULL with errno ENOMEM.  Heap lock NOT held. */
CGC_INTERNAL void *gc__oom(size_t n);

/* The hidden definitions behind gc_malloc, gc_malloc_atomic and gc_free
 * (the public names are aliases): what code inside libcgc calls. */
CGC_INTERNAL void *gc__malloc(size_t n);
CGC_INTERNAL void *gc__malloc_atomic(size_t n);
CGC_INTERNAL void gc__free(void *p);

#endif /* CGC_ALLOC_H */
