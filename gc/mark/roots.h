/*
 * roots.h -- where marking starts (mark/roots.c): threads, coroutine
 * stacks, static data and TLS of every loaded module, explicit roots.
 */
#ifndef CGC_ROOTS_H
#define CGC_ROOTS_H

#include <stdint.h>

#include "base/compiler.h"

/* World stopped: push every root range (mark/mark.h: gc__mark_range). */
CGC_INTERNAL void gc__mark_roots(void);
/* Module tables, re-read at each stop: forget them (heap lock held), then
 * add each module (world stopped: a dl_iterate_phdr callback body;
 * threads/world.c calls it with the loader lock held). */
struct dl_phdr_info;
CGC_INTERNAL void gc__modules_reset(void);
CGC_INTERNAL void gc__modules_add(struct dl_phdr_info *info);
/* Every static-data root range (executable and shared libraries, minus
 * RELRO and cgc's own state), as the collector would scan it now. */
typedef void (*gc_range_fn_t)(uintptr_t lo, uintptr_t hi, void *arg);
CGC_INTERNAL void gc__static_roots_for_each(gc_range_fn_t fn, void *arg);
/* At start-up: the static TLS geometry, read from ld.so. */
CGC_INTERNAL void gc__tls_init(void);

#endif /* CGC_ROOTS_H */
