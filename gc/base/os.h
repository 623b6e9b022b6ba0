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

/* Test hook (Lua's failnext): from the n-th call of `kind` on, counted
 * from this one, gc__os_alloc (CGC_OS_FAIL_ALLOC) or gc__os_map_aligned
 * (CGC_OS_FAIL_MAP) returns NULL with errno ENOMEM as if the OS refused;
 * n <= 0 lets them succeed again.  Process-wide: calls from every thread
 * count.  Costs the OS path one load while disarmed. */
enum { CGC_OS_FAIL_ALLOC, CGC_OS_FAIL_MAP, CGC_OS_FAIL_KINDS };
CGC_INTERNAL void gc__os_fail_after(int kind, long n);

#endif /* CGC_OS_H */
