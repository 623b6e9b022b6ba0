/*
 * stacks.h -- coroutine and fiber stacks a runtime registers
 * (threads/stacks.c; gc_stack_t in cgc.h).
 */
#ifndef CGC_STACKS_H
#define CGC_STACKS_H

#include <stdint.h>

#include "base/compiler.h"

/* A registered coroutine stack (threads/stacks.c); gc_stack_t in cgc.h. */
struct gc_stack {
  uintptr_t lo, hi;
  uintptr_t saved_sp; /* where it stopped when switched away (0: never ran) */
  uint32_t scanned;   /* collection that scanned it last */
  struct gc_stack *next, *prev;
};

/* The registered stack containing sp, or NULL.  Heap lock held (by the
 * caller, or by the collector that stopped the world). */
CGC_INTERNAL struct gc_stack *gc__stack_find(uintptr_t sp);

#endif /* CGC_STACKS_H */
