/*
 * mark.h -- the tracer's contract with the collector (mark/mark.c): roots
 * are pushed as ranges, then drained; helpers are made before the world
 * stops.  Everything here but gc__mark_init (start-up, under
 * pthread_once) runs with the heap lock held.
 */
#ifndef CGC_MARK_H
#define CGC_MARK_H

#include <stdint.h>

#include "base/compiler.h"

typedef struct gc_mark_state gc_mark_state_t;

/* At start-up: the marker table and marker 0's deque. */
CGC_INTERNAL void gc__mark_init(void);
/* World stopped.  A root range: only pushed (word-aligned, in chunks);
 * traced by the next gc__mark_drain.  Empty ranges are ignored. */
CGC_INTERNAL void gc__mark_range(uintptr_t lo, uintptr_t hi);
/* World stopped.  Trace everything reachable from the ranges pushed, with
 * helper markers when the work is big enough; returns when marking is
 * complete. */
CGC_INTERNAL void gc__mark_drain(void);
/* Before the world stops (never while it is stopped): create the helper
 * markers the coming collection may use. */
CGC_INTERNAL void gc__mark_prepare(void);
/* In a fork child: the helper marker threads did not survive the fork;
 * forget them (they are re-created lazily). */
CGC_INTERNAL void gc__mark_atfork_child(void);

#endif /* CGC_MARK_H */
