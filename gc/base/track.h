/*
 * track.h -- telling AddressSanitizer which heap bytes the program may
 * touch (mimalloc's track.h).  Compiles to nothing unless the build is
 * ASan-instrumented (CGC_ASAN, base/compiler.h).
 *
 * The rule: a byte of a data page is addressable exactly when it lies in
 * an object handed to the program (a live small slot, a large or huge
 * object) or in segment metadata.  Everything else is poisoned: pages in
 * the pool, slots freed by gc_free, dead slots the post-mark pass
 * reclaimed, and free slots on a span's or a thread cache's lists.  So an
 * object reclaimed while still reachable, or touched after gc_free, faults
 * at the program's first touch.
 *
 * The allocator itself touches free slots in two ways only: zeroing
 * (which unpoisons the slot for the memset and poisons it again) and the
 * free-list link in a slot's first word, which goes through gc__link_load
 * and gc__link_store (unpoisoned just for the access).  The conservative
 * scanner (mark/mark.c) and the heap walker (debug/verify.c) read free
 * slots too: they are CGC_NO_SANITIZE_ADDRESS.
 *
 * ASan poisons in 8-byte granules; slots start on 16-byte granules and
 * are multiples of 16 bytes, so the tracking is exact.
 */
#ifndef CGC_TRACK_H
#define CGC_TRACK_H

#include <stddef.h>

#include "base/compiler.h"

#if CGC_ASAN
#include <sanitizer/asan_interface.h>
/* [p, p+n) is handed to the program (or opened for the allocator). */
#define CGC_TRACK_ALLOC(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
/* [p, p+n) is free and nobody's: any access is a use after free. */
#define CGC_TRACK_FREE(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#else
/* Not evaluated: no code, no unused-variable warnings. */
#define CGC_TRACK_ALLOC(p, n) ((void)sizeof(p), (void)sizeof(n))
#define CGC_TRACK_FREE(p, n) ((void)sizeof(p), (void)sizeof(n))
#endif

/* The link word (first word) of a free slot: the next slot of its list.
 * A plain load and store unless tracking. */
CGC_INLINE void *gc__link_load(const void *slot) {
  CGC_TRACK_ALLOC(slot, sizeof(void *));
  void *next = *(void *const *)slot;
  CGC_TRACK_FREE(slot, sizeof(void *));
  return next;
}
CGC_INLINE void gc__link_store(void *slot, void *next) {
  CGC_TRACK_ALLOC(slot, sizeof(void *));
  *(void **)slot = next;
  CGC_TRACK_FREE(slot, sizeof(void *));
}

#endif /* CGC_TRACK_H */
