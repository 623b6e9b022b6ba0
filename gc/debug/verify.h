/*
 * verify.h -- the heap-invariant walker (debug/verify.c): 1 when every
 * invariant of heap/layout.h holds, else 0 after printing what broke.
 */
#ifndef CGC_VERIFY_H
#define CGC_VERIFY_H

#include "base/compiler.h"

/* Takes the heap lock and stops the world. */
CGC_INTERNAL int gc__heap_is_valid(void);
/* Heap lock held, world stopped. */
CGC_INTERNAL int gc__heap_check_locked(void);

#endif /* CGC_VERIFY_H */
