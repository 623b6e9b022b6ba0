/*
 * world.h -- stopping and restarting every registered thread but the
 * caller (threads/world.c).  Heap lock held for stop, start and the fork
 * hook; gc__world_init (registry start-up) and gc__world_signal (any
 * thread) run without it.
 */
#ifndef CGC_WORLD_H
#define CGC_WORLD_H

#include "base/compiler.h"

struct dl_phdr_info;
typedef void (*gc_module_fn_t)(struct dl_phdr_info *info);

CGC_INTERNAL void gc__world_init(void);
CGC_INTERNAL int gc__world_signal(void); /* CGC_SIGNAL */
/* Stop the world from inside dl_iterate_phdr, so that no stopped thread
 * holds the loader lock, and call each_module (when not NULL) for every
 * loaded module there, world stopped. */
CGC_INTERNAL void gc__world_stop(gc_module_fn_t each_module);
CGC_INTERNAL void gc__world_start(void);
CGC_INTERNAL void gc__world_atfork_child(void);

#endif /* CGC_WORLD_H */
