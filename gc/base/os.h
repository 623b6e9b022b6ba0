/*
 * os.h -- the operating-system layer (base/os.c): aligned mappings,
 * decommit, unmap, internal memory and the clock.  Everything cgc asks of
 * the kernel for memory goes through here.
 */
#ifndef CGC_OS_H
#define CGC_OS_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"

#define CGC_OS_PAGE_SIZE ((size_t)4096)

/* `size` bytes aligned to `align` (a power of two), or NULL (errno from mmap). */
CGC_INTERNAL void *gc__os_map_aligned(size_t size, size_t align);
CGC_INTERNAL void gc__os_unmap(void *p, size_t size);
/* Give the pages back; the range stays mapped and reads as zero. */
CGC_INTERNAL void gc__os_decommit(void *p, size_t size);
/* Internal memory (tables, rings, thread contexts): zeroed, never scanned. */
CGC_INTERNAL void *gc__os_alloc(size_t size);
CGC_INTERNAL void gc__os_free(void *p, size_t size);
CGC_INTERNAL uint64_t gc__now_ns(void);

#endif /* CGC_OS_H */
