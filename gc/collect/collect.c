/*
 * collect.c -- the collection driver: an explicit state machine over the
 * phases of gc_phase_t, the heap-size policy, and the public controls
 * (gc_collect, gc_disable/gc_enable, gc_set_max_heap_size).
 *
 * A collection is stop-the-world and runs with the heap lock held; the
 * numbered tour of one is in gc/README.md:
 *   PREPARE  stop every other thread (threads/world.c); the collecting
 *            thread's caches give their spans back; mark bitmaps cleared
 *   ROOTS    every thread's registers, stacks, TLS; static data; explicit
 *            roots (mark/roots.c)
 *   MARK     drain the mark stack, recovering from overflow (mark/mark.c)
 *   RECLAIM  post-mark pass over span descriptors (sweep/reclaim.c);
 *            restart the world
 *   DECOMMIT idle pages back to the OS (heap/segment.c); policy and stats
 * Sweeping itself happens later, lazily, as threads allocate
 * (alloc/span.c).  The heap policy is set_trigger's.
 */
#include <string.h>

#include "cgc.h"

#include "alloc/tctx.h"
#include "base/options.h"
#include "base/os.h"
#include "debug/verify.h"
#include "heap/heap.h"
#include "mark/mark.h"
#include "mark/roots.h"
#include "obs/stats.h"
#include "sweep/reclaim.h"
#include "threads/registry.h"
#include "threads/world.h"

/* Mark bits of small and large spans; free pages have none (pages_free
 * clears them).  World stopped.  Bounds: the data part of each segment's
 * bitmap. */
static void clear_marks(void) {
  CGC_ASSERT_STOPPED();
  gc_segment_t *seg = gc__heap.segments;
  if (seg == NULL) return;
  do {
    if (seg->huge) {
      gc__mark_clear(seg, gc__granule_index(seg, gc__huge_base(seg)));
    } else {
      size_t w0 = CGC_META_PAGES * CGC_BITMAP_WORDS_PER_PAGE;
      gc__marks_clear(seg, w0, CGC_BITMAP_WORDS - w0);
    }
    seg = seg->next;
  } while (seg != gc__heap.segments);
}

/* How much may be allocated before the next collection: the most of
 *   - the budget: CGC_HEAP_GROWTH% of the live bytes weighted by tracing
 *     cost (a collection costs what it traces: scanned bytes count in
 *     full, atomic bytes a quarter), so GC work per allocated byte stays
 *     near 1/growth whatever the mix; the smaller of the last two
 *     collections' weighted sizes, so a spike live at one collection only
 *     does not grow the heap by its size again;
 *   - CGC_INITIAL_HEAP_SIZE;
 *   - what fills the largest heap (live + budget) one of the last
 *     CGC_NEED_WINDOW collections allowed for: a phased program needed
 *     that room at its peak, so in its lighter phases it costs no more
 *     memory and saves collections.
 * So a steady program's heap stays under (1 + growth) x live + the initial
 * size, a phased one's under the largest live + budget of its recent
 * collections.  Heuristics, measured in docs/design/heap-policy.md.
 * Bounds: O(window). */
static void set_trigger(void) {
  size_t min = (size_t)gc__option(CGC_OPT_INITIAL_HEAP_SIZE);
  double growth = (double)gc__option(CGC_OPT_HEAP_GROWTH) / 100.0;
  size_t atomic = gc__heap.live_atomic, scanned = gc__heap.live - atomic;
  size_t cost = scanned + atomic / 4;
  size_t basis = cost < gc__heap.prev_cost ? cost : gc__heap.prev_cost;
  gc__heap.prev_cost = cost;
  size_t budget = (size_t)((double)basis * growth);
  if (budget < min) budget = min;
  gc__heap.need[gc__heap.need_at] = gc__heap.live + budget;
  gc__heap.need_at = (gc__heap.need_at + 1) % CGC_NEED_WINDOW;
  size_t peak = 0;
  for (unsigned i = 0; i < CGC_NEED_WINDOW; i++)
    if (gc__heap.need[i] > peak) peak = gc__heap.need[i];
  size_t room = peak - gc__heap.live; /* peak >= live + budget > live */
  gc__heap.trigger = room > budget ? room : budget;
  gc__heap.since_gc = 0;
  gc__store(&gc__heap.freed_credit, 0);
}

/* One step of the state machine.  Lua-style: each phase does its work and
 * names its successor, so incremental or parallel phases can slot in. */
static void step(void) {
  switch (gc__heap.phase) {
  case CGC_PHASE_IDLE: break;
  case CGC_PHASE_PREPARE:
    gc__heap.gc_count++;
    gc__mark_prepare();
    gc__modules_reset();
    gc__world_stop(gc__modules_add);
    gc__release_caches();
    clear_marks();
    gc__heap.phase = CGC_PHASE_ROOTS;
    break;
  case CGC_PHASE_ROOTS:
    gc__mark_roots();
    gc__heap.phase = CGC_PHASE_MARK;
    break;
  case CGC_PHASE_MARK:
    gc__mark_drain();
    gc__heap.phase = CGC_PHASE_RECLAIM;
    break;
  case CGC_PHASE_RECLAIM:
    gc__reclaim();
    if (gc__option(CGC_OPT_VERIFY) && !gc__heap_check_locked())
      gc__fatal("heap invariants broken after collection %u", gc__heap.gc_count);
    gc__world_start();
    gc__heap.phase = CGC_PHASE_DECOMMIT;
    break;
  case CGC_PHASE_DECOMMIT:
    gc__decommit_idle();
    set_trigger();
    gc__heap.phase = CGC_PHASE_IDLE;
    break;
  }
}

/* A full collection.  Heap lock held; does nothing while disabled. */
void gc__collect_locked(const char *reason) {
  CGC_ASSERT_LOCKED();
  (void)reason;
  if (gc__heap.disabled > 0) return;
  uint64_t t0 = gc__now_ns();
  gc__heap.phase = CGC_PHASE_PREPARE;
  while (gc__heap.phase != CGC_PHASE_IDLE) step();
  uint64_t pause = gc__now_ns() - t0;
  gc__stats.collections++;
  gc__stats.pause_total_ns += pause;
  gc__stats.pause_last_ns = pause;
  if (pause > gc__stats.pause_max_ns) gc__stats.pause_max_ns = pause;
  if (gc__option(CGC_OPT_PRINT_STATS) == CGC_PRINT_STATS_TEXT)
    gc__stats_print_collection(pause, gc__heap.live_atomic, gc__heap.trigger);
}

/* The registry dropped the threads that do not exist in the child; the
 * world handshake and the markers start afresh.  Heap lock held. */
void gc__collector_atfork_child(void) {
  CGC_ASSERT_LOCKED();
  gc__world_atfork_child();
  gc__mark_atfork_child();
}

void gc_collect(void) {
  if (gc__thread_ctx() == NULL) return;
  gc__lock();
  gc__collect_locked("explicit");
  gc__unlock();
}

void gc_disable(void) {
  gc__ensure_init();
  gc__lock();
  gc__heap.disabled++;
  gc__unlock();
}

void gc_enable(void) {
  gc__ensure_init();
  gc__lock();
  if (gc__heap.disabled > 0) gc__heap.disabled--;
  gc__unlock();
}

/* The cap is gc__heap.max_heap; CGC_MAX_HEAP_SIZE follows it, so that
 * gc_option_get reads it back (init.c's gc_option_set sets both too). */
void gc_set_max_heap_size(size_t bytes) {
  gc__ensure_init();
  gc__lock();
  gc__heap.max_heap = bytes;
  gc__option_store(CGC_OPT_MAX_HEAP_SIZE,
                   bytes > (size_t)CGC_OPTION_SIZE_MAX ? CGC_OPTION_SIZE_MAX : (long long)bytes);
  gc__unlock();
}

/* Why: callers compiled against an older, shorter gc_stats_t must keep
 * working, so only s->size bytes are written (and `size` itself kept). */
void gc__get_stats(gc_stats_t *s) {
  if (s == NULL || s->size < sizeof(size_t)) return;
  gc__ensure_init();
  gc_stats_t full;
  gc__lock();
  gc__stats_snapshot(&full);
  gc__unlock();
  size_t n = s->size < sizeof full ? s->size : sizeof full;
  full.size = s->size;
  memcpy(s, &full, n);
}
void gc_get_stats(gc_stats_t *s) CGC_ALIAS(gc__get_stats);
