/*
 * heap.h -- the heap's mutable state (gc__heap), apart from its layout
 * (heap/layout.h): the segment ring, the sweep queues, the heap policy's
 * numbers and explicit roots; and the page pool of heap/segment.c.
 */
#ifndef CGC_HEAP_H
#define CGC_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/atomic.h"
#include "base/compiler.h"
#include "base/debug.h"
#include "base/ranges.h"
#include "heap/geometry.h"
#include "heap/layout.h"
#include "heap/lock.h"
#include "heap/sizes.h"

/* The heap policy remembers the heap each of this many past collections
 * allowed for (collect/collect.c: set_trigger). */
#define CGC_NEED_WINDOW 8

/* ---- the collector state machine -------------------------------------- */
typedef enum gc_phase {
  CGC_PHASE_IDLE = 0, /* mutator runs; spans swept lazily */
  CGC_PHASE_PREPARE,  /* release thread caches, clear mark bitmaps */
  CGC_PHASE_ROOTS,    /* mark from registers, stacks, data, explicit roots */
  CGC_PHASE_MARK,     /* drain the mark stack (and recover from overflow) */
  CGC_PHASE_RECLAIM,  /* post-mark pass: free empty spans, queue the rest */
  CGC_PHASE_DECOMMIT  /* return long-free pages to the OS; finish stats */
} gc_phase_t;

/* The mutable heap and collector state in one struct: one place to read,
 * and one address range to exclude from root scanning (cgc's own tables
 * are not roots).  The thread registry is apart (threads/registry.h), and
 * so is the address map (gc__map, heap/layout.h).  Heap lock held for
 * every field but `oom` and `freed_credit`. */
typedef struct gc_heap {
  gc_phase_t phase;
  int disabled;      /* gc_disable nesting depth */
  uint32_t gc_count; /* collections completed (the epoch) */

  gc_segment_t *segments; /* ring of all segments, or NULL (their
                             addresses: gc__map, heap/layout.h) */

  /* per kind, per class: spans waiting to be swept */
  gc_span_t *sweep_queue[CGC_NKINDS][CGC_NCLASSES];

  /* heap policy */
  size_t mapped;                /* bytes mapped now (segments + huge) */
  size_t max_heap;              /* 0: no cap */
  size_t since_gc;              /* bytes handed out since the last collection */
  AO_t freed_credit;            /* bytes gc_free'd since, not yet taken off since_gc */
  size_t trigger;               /* collect when since_gc reaches this */
  size_t live;                  /* bytes marked by the last collection */
  size_t live_atomic;           /* ... of them in objects never scanned */
  size_t prev_cost;             /* the previous collection's weighted live bytes */
  size_t need[CGC_NEED_WINDOW]; /* live + budget of the last collections (set_trigger) */
  unsigned need_at;             /* next slot of need[] to overwrite */

  gc_ranges_t roots;          /* gc_add_roots */
  struct gc_mark_state *mark; /* markers and their deques (mark/mark.c) */
  volatile AO_t oom;          /* gc_oom_handler_t, or 0 (atomic: read unlocked) */
} gc_heap_t;

CGC_INTERNAL extern gc_heap_t gc__heap;

/* ---- the page pool (heap/segment.c; heap lock held) ------------------- */
/* A run of npages data pages, marked dirty (the caller will write them);
 * with `zero`, pages that may hold old bytes are zeroed first; without it,
 * *dirty (when not NULL) tells whether any might.  NULL when the heap cap
 * or the OS refuses a new segment. */
CGC_INTERNAL gc_span_t *gc__pages_alloc(size_t npages, bool zero, gc_segment_t **segp, bool *dirty);
CGC_INTERNAL void gc__pages_free(gc_segment_t *seg, gc_span_t *sp);
CGC_INTERNAL gc_segment_t *gc__huge_alloc(size_t bytes);
CGC_INTERNAL void gc__huge_free(gc_segment_t *seg);
CGC_INTERNAL void gc__decommit_idle(void);

/* ---- implemented by collect/ ------------------------------------------ */
/* A full collection (collect/collect.c).  Heap lock held; does nothing
 * while collection is disabled.  Declared here, at the bottom of the
 * graph, so that the allocator can call up into the collector without
 * including it. */
CGC_INTERNAL void gc__collect_locked(const char *reason);

#endif /* CGC_HEAP_H */
