/*
 * mark.c -- marking: the conservative scan of address ranges, per-marker
 * deques of ranges with work stealing, helper marker threads, termination
 * detection, and recovery from mark-stack overflow.  Serial or parallel is
 * chosen by mark/policy.c; the design of the scan and the measurements
 * behind the constants below are in docs/design/marking.md.
 *
 * ===================================================================
 *  Deques (split Chase-Lev)
 * ===================================================================
 * Each marker owns a ring of range slots indexed by three counters that
 * only grow (indices are taken modulo the capacity):
 *
 *     top          split                bottom
 *      | public     | private             |
 *      [ stealable  )[ owner only          )
 *
 * The owner pushes and pops at `bottom` with no atomic operation and no
 * fence: the private part is invisible to thieves.  Thieves take the
 * oldest public entry, at `top`, with a CAS (Chase & Lev, SPAA'05; the
 * orderings of Le et al., PPoPP'13).  The owner publishes the older half
 * of its private part (raises `split`, a release store) whenever it sees
 * the public part empty and has two or more private entries; when its
 * private part runs dry it takes back part of the public one (lowers
 * `split`, full fence, re-reads `top`; the last entry is contested with a
 * CAS on `top` as in Chase-Lev).  So a marker that nobody steals from
 * pays one load of `top` per range and nothing else, and a long list
 * (one private entry at a time) is marked without a single fence.
 *
 * Growth: a full ring is replaced by one twice the size, the live entries
 * copied to the same indices, the new ring published (release) before
 * `split` can cover an entry only it holds.  A thief may still read the
 * old ring: it is retired, not freed, until the phase ends.  At
 * CGC_MARK_STACK_MAX entries (per marker) an entry is dropped instead and
 * `overflowed` set: the object is marked but not scanned (a root is never
 * dropped: gc__mark_range).
 *
 * ===================================================================
 *  Shared fields and their orderings
 * ===================================================================
 *  marker.split  written by the owner only: release when publishing (the
 *                slots it covers are visible to an acquiring thief);
 *                relaxed + full fence when taking back.  Thieves: acquire.
 *  marker.top    CAS (seq_cst) by thieves, and by the owner for the last
 *                public entry.  Read relaxed by the owner (capacity, is
 *                the public part empty) and acquire + fence by thieves.
 *  marker.ring   the owner's current ring; release store on growth,
 *                acquire load by thieves after `split`.
 *  ring slots    plain; written by the owner before the `split` release
 *                that publishes them; a thief's read of a slot counts only
 *                if its CAS on `top` then succeeds (the owner never
 *                rewrites slot i while i >= top: it checks capacity
 *                against a value of `top` that is at most the real one).
 *  mark words    relaxed load; set with a CAS loop (only if the bit was
 *                clear), so exactly one marker wins an object and pushes
 *                it.  Alloc words and span descriptors do not change
 *                while marking (world stopped).
 *  overflowed    relaxed; read by marker 0 after termination, which
 *                orders it (below).
 *  phase         one word: epoch << 32 | active markers.  All changes are
 *                read-modify-writes or marker 0's release store that
 *                opens a phase (after its roots are in its deque).
 *
 * ===================================================================
 *  Termination
 * ===================================================================
 * Marker 0 opens a phase with phase = (E, 1) and posts the helpers'
 * semaphores.  A helper joins with CAS(phase, (E, n), (E, n+1)) for some
 * n > 0.  A marker whose FIFO, private and public parts are empty tries to
 * steal (still counted active); if every victim is empty it decrements
 * the count (release) and becomes idle.  An idle marker peeks at the
 * other deques (relaxed) and, when one looks non-empty, becomes active
 * again with the same CAS that joins: never from n == 0.  So n == 0 is
 * final for the epoch: when n reaches 0 every marker is idle, an idle
 * marker's deque is empty and only its owner adds to it, and no range is
 * in flight (a thief is counted active while it holds what it stole).
 * Every marker leaves once it sees n == 0 (acquire: it then sees every
 * mark bit set by the others) or another epoch.  An idle marker spins
 * (pause), then yields, then sleeps on idle_cv with a short timeout: the
 * marker that brings n to 0 wakes the sleepers, and so does an owner that
 * publishes while some sleep (that wake may be missed; the timeout bounds
 * it).  Marker 0 does not wait for the helpers to go back to sleep: a
 * helper that is late only reads counters, and cannot join an epoch whose
 * count is 0.
 *
 * After the parallel phase marker 0 alone sums the steals, frees retired
 * rings and resets its deque for the serial code; if an entry was dropped
 * it recovers serially: every marked object of a scanned kind is scanned
 * again, which reaches whatever the dropped entries would have, repeated
 * until a round drops nothing.  Each round marks at least one new object,
 * so it terminates, and the C stack never grows with the graph's depth.
 */
#include "mark/mark.h"

#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/options.h"
#include "base/os.h"
#include "base/ranges.h"
#include "heap/heap.h"
#include "mark/policy.h"
#include "obs/stats.h"
#include "threads/registry.h"

#define CACHE_LINE 64
#define INITIAL_ENTRIES 4096
/* A longer range is scanned a piece at a time, the rest pushed back: no
 * marker stalls on megabytes, and a big object can be shared. */
#define SCAN_CHUNK ((uintptr_t)64 * 1024)
/* Popped ranges wait in a FIFO this deep, prefetched as they enter it: DFS
 * order alone gives no memory-level parallelism.  Heuristic, 16 beat 8
 * (docs/design/marking.md). */
#define PREFETCH_DEPTH 16
/* Expected tracing bytes worth one more marker; below two markers' worth,
 * waking helpers with cold caches costs more than it saves.  Heuristic,
 * 2 markers won from about 0.5 MiB of work (docs/design/marking.md). */
#define WORK_PER_MARKER ((size_t)512 << 10)
#define SPIN_MAX 256         /* pause loops before an idle marker yields its CPU */
#define YIELDS_MAX 16        /* then yields before it sleeps */
#define IDLE_SLEEP_NS 200000 /* a sleeping idle marker looks again this often */

/* ---- rings and markers ------------------------------------------------ */

typedef struct gc_ring {
  size_t mask;             /* capacity - 1; the capacity is a power of two */
  struct gc_ring *retired; /* rings this one replaced in the current phase */
  char pad[CACHE_LINE - sizeof(size_t) - sizeof(void *)];
  gc_range_t slot[];
} gc_ring_t;
static_assert(offsetof(gc_ring_t, slot) == CACHE_LINE, "ring header is one cache line");
static_assert(sizeof(gc_range_t) == 2 * sizeof(uintptr_t), "a slot is two words");

typedef struct gc_marker {
  /* written by the owner, read by thieves */
  _Alignas(CACHE_LINE) volatile AO_t split; /* [top, split) public */
  volatile AO_t ring;                       /* gc_ring_t *, current */
  /* written by thieves (and by the owner for the last public entry) */
  _Alignas(CACHE_LINE) volatile AO_t top;
  /* the owner's; marker 0 also reads them after a phase */
  _Alignas(CACHE_LINE) size_t bottom; /* [split, bottom) private */
  uint64_t steals;                    /* ranges this marker stole */
  unsigned index;
  pthread_t thread;
  sem_t wake; /* helpers: posted to join a phase */
} gc_marker_t;
static_assert(offsetof(gc_marker_t, top) - offsetof(gc_marker_t, split) == CACHE_LINE,
              "thieves' CAS on top does not share the owner's split line");
static_assert(sizeof(gc_marker_t) % CACHE_LINE == 0, "markers do not share cache lines");

struct gc_mark_state {
  _Alignas(CACHE_LINE) volatile AO_t phase; /* epoch << 32 | active markers */
  volatile AO_t sleepers;                   /* idle markers asleep on idle_cv */
  _Alignas(CACHE_LINE) volatile AO_t overflowed;
  pthread_mutex_t idle_lock; /* with idle_cv: idle markers sleep */
  pthread_cond_t idle_cv;    /* (CLOCK_MONOTONIC timeouts) */
  unsigned nmax;             /* markers allowed (CGC_MARKERS, resolved) */
  unsigned nhelpers;         /* helper threads running: markers 1..nhelpers */
  bool spawn_failed;         /* do not try to create helpers again */
  bool spawned;              /* gc__mark_prepare created helpers for this collection */
  size_t max;                /* entries a ring may grow to (a power of two) */
  size_t root_bytes;         /* bytes of roots pushed since the last drain */
  /* the policy (marker 0 only, heap lock held) */
  int last;          /* previous collection: 0 serial, 1 parallel, -1 not eligible */
  size_t last_roots; /* its root bytes */
  gc_mark_policy_t policy;
  gc_marker_t m[CGC_MARKERS_MAX];
};
static_assert(CGC_MARKERS_MAX < ((uint64_t)1 << 32), "the active count fits the phase word's low half");

static inline AO_t phase_epoch(AO_t a) { return a >> 32; }
static inline AO_t phase_count(AO_t a) { return a & 0xffffffffu; }
static inline gc_ring_t *ring_of(const gc_marker_t *mk) { return (gc_ring_t *)(uintptr_t)mk->ring; }

/* A ring's mapping size.  Bounds: capacity at most 2^40 entries. */
static size_t ring_bytes(size_t cap) { return offsetof(gc_ring_t, slot) + cap * sizeof(gc_range_t); }

/* A ring of `cap` (a power of two) slots from internal memory, or NULL. */
static gc_ring_t *ring_new(size_t cap) {
  gc_ring_t *r = gc__os_alloc(ring_bytes(cap));
  if (r != NULL) r->mask = cap - 1;
  return r;
}

static void ring_free(gc_ring_t *r) { gc__os_free(r, ring_bytes(r->mask + 1)); }

/* Replace mk's ring by one twice its size holding entries [top, b) at the
 * same indices.  Only the owner calls it.  With `par`, thieves may still
 * read the old ring: it is kept on the new ring's `retired` list until
 * the phase ends; otherwise freed now.  Bounds: st->max entries unless
 * `unbounded` (roots).  False when it may not or cannot grow. */
static bool grow(gc_mark_state_t *st, gc_marker_t *mk, size_t top, size_t b, bool par, bool unbounded) {
  gc_ring_t *old = ring_of(mk);
  size_t cap = old->mask + 1;
  if (!unbounded && cap >= st->max) return false;
  gc_ring_t *r = ring_new(cap * 2);
  if (r == NULL) return false;
  for (size_t i = top; i != b; i++) r->slot[i & r->mask] = old->slot[i & old->mask];
  if (par) {
    r->retired = old;
    gc__store_release(&mk->ring, (AO_t)(uintptr_t)r);
  } else {
    r->retired = old->retired;
    mk->ring = (AO_t)(uintptr_t)r;
    ring_free(old);
  }
  return true;
}

/* mk's ring looks full (b - top == capacity).  In a parallel phase (`top`
 * not NULL: the owner's lower bound of top, refreshed here) thieves may
 * have made room; else top is 0.  Then grow; else drop the entry and flag
 * the overflow.  Returns the ring to push into, or NULL when the entry is
 * dropped.  Cold path. */
static CGC_NOINLINE gc_ring_t *push_full(gc_mark_state_t *st, gc_marker_t *mk, size_t b, size_t *top) {
  bool par = top != NULL;
  size_t t = 0;
  if (par) {
    t = *top = gc__load(&mk->top);
    if (b - t <= ring_of(mk)->mask) return ring_of(mk);
  }
  if (grow(st, mk, t, b, par, false)) return ring_of(mk);
  if (!gc__load(&st->overflowed)) gc__store(&st->overflowed, 1);
  return NULL;
}

/* ---- stealing and termination (parallel phase only) ------------------- */

/* Take the oldest public entry of victim `v` into *r.  Returns 1 when it
 * did, 0 when v's public part looked empty, -1 when another marker won
 * the race for it (retry later). */
static int steal(gc_marker_t *v, gc_range_t *r) {
  AO_t t = gc__load_acquire(&v->top);
  gc__fence();
  AO_t s = gc__load_acquire(&v->split);
  if ((intptr_t)(s - t) <= 0) return 0;
  const gc_ring_t *ring = (const gc_ring_t *)(uintptr_t)gc__load_acquire(&v->ring);
  const volatile gc_range_t *slot = &ring->slot[t & ring->mask];
  gc_range_t x = {slot->lo, slot->hi};
  if (!gc__cas(&v->top, t, t + 1)) return -1;
  *r = x;
  return 1;
}

/* One pass over the other markers [0, n), starting after mk, repeated
 * while some steal lost a race (someone else made progress).  Bounds:
 * a few passes of n - 1 victims. */
static bool steal_round(gc_mark_state_t *st, gc_marker_t *mk, unsigned n, gc_range_t *r) {
  for (int pass = 0; pass < 4; pass++) {
    bool lost = false;
    for (unsigned k = 1; k < n; k++) {
      int got = steal(&st->m[(mk->index + k) % n], r);
      if (got > 0) {
        mk->steals++;
        return true;
      }
      lost |= got < 0;
    }
    if (!lost) return false;
  }
  return false;
}

/* Does some other marker's public part look non-empty?  Relaxed: only a
 * hint for becoming active again; the steal re-checks. */
static bool work_visible(const gc_mark_state_t *st, const gc_marker_t *mk, unsigned n) {
  for (unsigned k = 0; k < n; k++) {
    const gc_marker_t *v = &st->m[k];
    if (v != mk && (intptr_t)(gc__load(&v->split) - gc__load(&v->top)) > 0) return true;
  }
  return false;
}

/* Wake every idle marker asleep on idle_cv.  Cold: only when one sleeps. */
static CGC_NOINLINE void wake_idle(gc_mark_state_t *st) {
  pthread_mutex_lock(&st->idle_lock);
  pthread_cond_broadcast(&st->idle_cv);
  pthread_mutex_unlock(&st->idle_lock);
}

/* Sleep until woken or IDLE_SLEEP_NS pass, unless the phase `epoch` is
 * over or work is visible.  Sleeping (not spinning) matters: a busy CPU
 * is never given a runnable marker that waits behind another task, so a
 * spinning idle marker can wait for a preempted one indefinitely.  No
 * lost wakeup at termination: `sleepers` is raised (full barrier) before
 * the phase is re-read, and the marker that ends the phase decrements it
 * (full barrier) before it reads `sleepers`; the mutex orders the rest. */
static void sleep_idle(gc_mark_state_t *st, const gc_marker_t *mk, unsigned n, AO_t epoch) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_nsec += IDLE_SLEEP_NS;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&st->idle_lock);
  (void)gc__fetch_add1(&st->sleepers);
  AO_t a = gc__load(&st->phase);
  if (phase_epoch(a) == epoch && phase_count(a) != 0 && !work_visible(st, mk, n))
    (void)pthread_cond_timedwait(&st->idle_cv, &st->idle_lock, &ts);
  (void)gc__fetch_sub1(&st->sleepers);
  pthread_mutex_unlock(&st->idle_lock);
}

/* Wait a little longer each round: pause loops doubling up to SPIN_MAX,
 * then a few yields, then timed sleeps. */
static void backoff(gc_mark_state_t *st, const gc_marker_t *mk, unsigned n, AO_t epoch, unsigned *round) {
  unsigned r = (*round)++;
  if (r < 9) { /* 1 + 2 + ... + 256 = 511 pauses */
    for (unsigned i = 0; i < (1u << r); i++) gc__spin_pause();
  } else if (r < 9 + YIELDS_MAX) {
    sched_yield();
  } else {
    sleep_idle(st, mk, n, epoch);
  }
}

/* mk (active, all its parts empty) looks for work: steal, else go idle
 * and wait until some deque looks non-empty or the phase ends (see
 * "Termination").  True with a stolen range in *r (mk active); false when
 * the phase `epoch` is over (mk idle). */
static CGC_NOINLINE bool find_work(gc_mark_state_t *st, gc_marker_t *mk, AO_t epoch, gc_range_t *r) {
  unsigned n = st->nhelpers + 1;
  for (;;) {
    if (steal_round(st, mk, n, r)) return true;
    if (phase_count(gc__fetch_sub1(&st->phase)) == 1 && gc__load(&st->sleepers) != 0) wake_idle(st);
    for (unsigned round = 0;;) {
      AO_t a = gc__load_acquire(&st->phase);
      if (phase_epoch(a) != epoch || phase_count(a) == 0) return false;
      if (work_visible(st, mk, n)) {
        if (gc__cas(&st->phase, a, a + 1)) break;
        continue;
      }
      backoff(st, mk, n, epoch, &round);
    }
  }
}

/* The owner's private part is empty (*split == b): take back up to `want`
 * entries of the public part (at most half of it, so thieves keep some),
 * by lowering `split` (see "Deques").  Updates *split and *top; the
 * entries taken become private, in place.  Returns true when it also won
 * the contested entry at `top`, stored in *r.  Bounds: O(1). */
static CGC_NOINLINE bool take_public(gc_marker_t *mk, size_t *split, size_t *top, size_t want,
                                     gc_range_t *r) {
  size_t s = *split, t = gc__load(&mk->top);
  *top = t;
  if ((intptr_t)(s - t) <= 0) return false;
  size_t n = (s - t + 1) / 2;
  if (n > want) n = want;
  size_t ns = s - n;
  gc__store(&mk->split, ns);
  gc__fence(); /* the new split is visible to thieves before top is read */
  t = gc__load(&mk->top);
  if ((intptr_t)(ns - t) > 0) { /* no thief can reach [ns, s) */
    *split = ns;
    *top = t;
    return false;
  }
  /* t >= ns: thieves took into [ns, s); only entry t is still contested */
  bool won = false;
  if ((intptr_t)(s - t) > 0) {
    const gc_ring_t *ring = ring_of(mk);
    gc_range_t x = ring->slot[t & ring->mask];
    if (gc__cas(&mk->top, t, t + 1)) {
      *r = x;
      won = true;
    }
    t++;
  }
  gc__store(&mk->split, t); /* [t, s) private, public empty */
  *split = t;
  *top = t;
  return won;
}

/* ---- the mark loop ---------------------------------------------------- */

/* Set the mark bit `bit` in *mw; true when this marker set it (and must
 * push the object).  A plain load first: most candidates are marked
 * already and need no locked instruction. */
static inline bool mark_atomic(uint64_t *mw, uint64_t bit) {
  volatile AO_t *w = gc__word(mw);
  AO_t m = gc__load(w);
  while (!(m & bit)) {
    AO_t old = gc__cas_value(w, m, m | bit);
    if (old == m) return true;
    m = old;
  }
  return false;
}

/* The owner's deque in locals: stores to the mark bitmap could otherwise
 * alias them and force reloads.  SLOT: serial code keeps top == split ==
 * 0, so it indexes without the mask. */
#define SLOT(i) (v[par ? (i)&mask : (i)])
#define PUSH(LO, HI)                                           \
  do {                                                         \
    if (CGC_UNLIKELY(b - top > mask)) {                        \
      gc_ring_t *r_ = push_full(st, mk, b, par ? &top : NULL); \
      if (r_ == NULL) break;                                   \
      v = r_->slot, mask = r_->mask;                           \
    }                                                          \
    SLOT(b).lo = (LO);                                         \
    SLOT(b).hi = (HI);                                         \
    b++;                                                       \
  } while (0)

/* Scan ranges until there is no work left: for the serial instance, until
 * marker 0's stack is empty; for the parallel one, until the phase
 * `epoch` terminates.  Written once and instantiated by the constant
 * `par`: drain_serial has no atomic operation at all (plain mark-bit
 * stores, a plain stack); drain_parallel runs in each of k markers.
 * Each word of a range is a candidate pointer: the bounds of gc__map, the
 * radix map, gc__find_object_in (alloc bit: I1), then its mark bit.
 * Bounds: every range pushed is scanned once; each object is pushed at
 * most once per collection (its mark bit). */
CGC_NO_SANITIZE_ADDRESS CGC_INLINE void drain(gc_mark_state_t *st, gc_marker_t *mk, const bool par,
                                              AO_t epoch) {
  CGC_ASSERT(gc__world_is_stopped()); /* helpers too: gc__radix_flat's map is fixed */
  gc_ring_t *ring = ring_of(mk);
  gc_range_t *v = ring->slot;
  size_t mask = ring->mask, b = mk->bottom;
  size_t split = par ? gc__load(&mk->split) : 0;
  size_t top = par ? gc__load(&mk->top) : 0; /* at most the real top */
  const uintptr_t hlo = gc__map.lo, hspan = gc__map.hi - gc__map.lo;
  gc_segment_t *const *flat = gc__radix_flat(); /* NULL: two-level lookups */
  gc_range_t fifo[PREFETCH_DEPTH];
  unsigned head = 0, len = 0;
  for (;;) {
    while (len < PREFETCH_DEPTH && b > split) {
      gc_range_t r = SLOT(--b);
      __builtin_prefetch((const void *)r.lo);
      fifo[(head + len++) % PREFETCH_DEPTH] = r;
    }
    if (par) {
      if (b == split && len < PREFETCH_DEPTH / 2 && gc__load(&mk->top) != split) {
        gc_range_t r;
        bool won = take_public(mk, &split, &top, PREFETCH_DEPTH - len, &r);
        if (won) {
          __builtin_prefetch((const void *)r.lo);
          fifo[(head + len++) % PREFETCH_DEPTH] = r;
        }
        if (b > split) continue; /* took some back: refill from them */
      }
      if (b - split >= 2) { /* share: publish the older half if none is public */
        top = gc__load(&mk->top);
        if (top == split) {
          split += (b - split) / 2;
          gc__store_release(&mk->split, split);
          if (CGC_UNLIKELY(gc__load(&st->sleepers) != 0)) wake_idle(st);
        }
      }
      if (len == 0) {
        gc_range_t r;
        if (!find_work(st, mk, epoch, &r)) break;
        __builtin_prefetch((const void *)r.lo);
        fifo[head] = r;
        len = 1;
      }
    } else if (len == 0) {
      break;
    }
    gc_range_t r = fifo[head];
    head = (head + 1) % PREFETCH_DEPTH;
    len--;
    if (r.hi - r.lo > SCAN_CHUNK) {
      PUSH(r.lo + SCAN_CHUNK, r.hi);
      r.hi = r.lo + SCAN_CHUNK;
    }
    for (uintptr_t p = r.lo; p + CGC_WORD_SIZE <= r.hi; p += CGC_WORD_SIZE) {
      uintptr_t w = *(const uintptr_t *)p, off = w - hlo;
      if (CGC_LIKELY(off >= hspan)) continue;
      gc_segment_t *seg =
          CGC_LIKELY(flat != NULL) ? flat[off >> CGC_SEGMENT_SHIFT] : gc__radix_lookup_inside(w);
      if (seg == NULL) continue;
      gc_span_t *sp;
      uintptr_t obj = gc__find_object_in(seg, w, &sp);
      if (obj == 0) continue;
      size_t g = gc__granule_index(seg, obj);
      uint64_t *mw = &seg->bits[g >> 6].mark, bit = gc__bit(g);
      if (par) {
        if (!mark_atomic(mw, bit)) continue;
      } else {
        uint64_t m = *mw;
        if (m & bit) continue;
        *mw = m | bit;
      }
      if (gc__kind_scanned(sp->kind)) PUSH(obj, obj + sp->obj_size);
    }
  }
  mk->bottom = b;
}
#undef PUSH
#undef SLOT

/* Marker 0 alone, no atomics.  (The sanitizer exemption must be on the
 * function drain is inlined into: that is what gets instrumented.) */
CGC_NO_SANITIZE_ADDRESS static CGC_NOINLINE void drain_serial(gc_mark_state_t *st) {
  drain(st, &st->m[0], false, 0);
}

/* Any marker, during the phase `epoch`. */
CGC_NO_SANITIZE_ADDRESS static CGC_NOINLINE void drain_parallel(gc_mark_state_t *st, gc_marker_t *mk,
                                                                AO_t epoch) {
  drain(st, mk, true, epoch);
}

/* ---- helper threads --------------------------------------------------- */

/* A helper: sleep on its semaphore; when posted, join the open phase if
 * it is still running (never one whose count is 0), and mark until it
 * ends.  Runs with every signal blocked; never allocates from the heap. */
static void *helper_main(void *arg) {
  gc_marker_t *mk = arg;
  gc_mark_state_t *st = gc__heap.mark;
  for (;;) {
    if (sem_wait(&mk->wake) != 0) continue;
    AO_t a = gc__load_acquire(&st->phase);
    while (phase_count(a) != 0) {
      if (gc__cas(&st->phase, a, a + 1)) {
        drain_parallel(st, mk, phase_epoch(a));
        break;
      }
      a = gc__load_acquire(&st->phase);
    }
  }
  return NULL;
}

/* Start a thread running fn(arg) with every signal blocked (inherited
 * from the mask in force at creation).  Returns pthread_create's result.
 * Uses the real pthread_create: libcgc interposes pthread_create to
 * register mutator threads, and a marker must never be one. */
static int spawn_marker(pthread_t *th, void *(*fn)(void *), void *arg) {
  int rc = gc__thread_create_internal(th, fn, arg);
  if (rc == 0) pthread_detach(*th);
  return rc;
}

/* Make sure helpers 1..want-1 exist, creating the missing ones.  Returns
 * the markers available (1 + helpers), at most `want`.  A failure to
 * create one is remembered: cgc marks with what it has. */
static unsigned start_helpers(gc_mark_state_t *st, unsigned want) {
  while (st->nhelpers + 1 < want && !st->spawn_failed) {
    gc_marker_t *mk = &st->m[st->nhelpers + 1];
    if (mk->ring == 0) {
      gc_ring_t *r = ring_new(st->max < INITIAL_ENTRIES ? st->max : INITIAL_ENTRIES);
      if (r == NULL) {
        st->spawn_failed = true;
        break;
      }
      mk->ring = (AO_t)(uintptr_t)r;
    }
    if (sem_init(&mk->wake, 0, 0) != 0 || spawn_marker(&mk->thread, helper_main, mk) != 0) {
      st->spawn_failed = true;
      break;
    }
    st->nhelpers++;
  }
  return st->nhelpers + 1 < want ? st->nhelpers + 1 : want;
}

/* ---- serial or parallel ----------------------------------------------- */

/* Record the previous collection's tracing rate in its mode.  Its work is
 * known now: the scanned bytes its reclaim found live plus its root
 * bytes. */
static void learn(gc_mark_state_t *st) {
  if (st->last < 0 || gc__stats.mark_last_ns == 0) return;
  double work = (double)(gc__heap.live - gc__heap.live_atomic + st->last_roots);
  gc__mark_policy_record(&st->policy, st->last, work / (double)gc__stats.mark_last_ns);
}

/* How many markers this collection should use (1: serial): one per
 * WORK_PER_MARKER of expected work (the scanned bytes the previous
 * collection found live plus the root bytes just pushed), at most
 * st->nmax, serial below two; and serial whenever the policy
 * (gc__mark_policy_choose, mark/policy.c) prefers it.  Sets st->last to
 * the mode chosen. */
static unsigned markers_wanted(gc_mark_state_t *st) {
  learn(st);
  st->last = -1;
  if (st->nmax <= 1) return 1;
  if (gc__mark_force_all) return st->nmax;
  size_t work = gc__heap.live - gc__heap.live_atomic + st->root_bytes;
  size_t k = work / WORK_PER_MARKER;
  if (k < 2) return 1;
  int par = gc__mark_policy_choose(&st->policy);
  st->last = par;
  st->last_roots = st->root_bytes;
  if (!par) return 1;
  return k < st->nmax ? (unsigned)k : st->nmax;
}

/* ---- marking a collection --------------------------------------------- */

/* Mark with k markers (helpers 1..k-1 exist): open a phase, post the
 * helpers, mark as marker 0 until termination, then tidy up alone. */
static void mark_parallel(gc_mark_state_t *st, unsigned k) {
  gc_marker_t *m0 = &st->m[0];
  CGC_ASSERT(m0->top == 0 && m0->split == 0);
  gc__store_release(&m0->split, m0->bottom / 2); /* share the older roots */
  AO_t epoch = (phase_epoch(gc__load(&st->phase)) + 1) & 0xffffffffu;
  gc__store_release(&st->phase, epoch << 32 | 1);
  for (unsigned i = 1; i < k; i++) sem_post(&st->m[i].wake);
  drain_parallel(st, m0, epoch);
  /* count 0: no marker is active; every helper's writes are visible */
  for (unsigned i = 0; i <= st->nhelpers; i++) {
    gc_marker_t *mk = &st->m[i];
    gc__stats.steals += mk->steals;
    mk->steals = 0;
    gc_ring_t *r = ring_of(mk);
    for (gc_ring_t *old = r->retired, *next; old != NULL; old = next) {
      next = old->retired;
      ring_free(old);
    }
    r->retired = NULL;
  }
  CGC_ASSERT(m0->top == m0->split && m0->split == m0->bottom);
  gc__store(&m0->top, 0);
  gc__store(&m0->split, 0);
  m0->bottom = 0;
}

/* Push outside the mark loop (overflow recovery), serially onto marker
 * 0's stack; dropped, with `overflowed` set, when it cannot grow. */
static void push_serial(gc_mark_state_t *st, uintptr_t lo, uintptr_t hi) {
  gc_marker_t *mk = &st->m[0];
  gc_ring_t *r = ring_of(mk);
  if (mk->bottom > r->mask && (r = push_full(st, mk, mk->bottom, NULL)) == NULL) return;
  r->slot[mk->bottom].lo = lo;
  r->slot[mk->bottom].hi = hi;
  mk->bottom++;
}

/* Scan every marked object of a scanned kind again (overflow recovery),
 * serially.  Bounds: the mark bitmap of the whole heap plus every marked
 * object. */
static void rescan_marked(gc_mark_state_t *st) {
  gc_segment_t *seg = gc__heap.segments;
  if (seg == NULL) return;
  do {
    if (seg->huge) {
      gc_span_t *sp = &seg->spans[CGC_META_PAGES];
      uintptr_t obj = gc__huge_base(seg);
      if (gc__kind_scanned(sp->kind) && gc__mark_test(seg, gc__granule_index(seg, obj))) {
        push_serial(st, obj, obj + sp->obj_size);
        drain_serial(st);
      }
    } else {
      for (size_t i = CGC_META_PAGES; i < CGC_PAGES_PER_SEGMENT;) {
        gc_span_t *sp = &seg->spans[i];
        size_t n = sp->state == CGC_PAGE_FREE ? 1 : sp->npages;
        if ((sp->state == CGC_PAGE_SMALL || sp->state == CGC_PAGE_LARGE) && gc__kind_scanned(sp->kind)) {
          size_t w0 = i * CGC_BITMAP_WORDS_PER_PAGE, nw = n * CGC_BITMAP_WORDS_PER_PAGE;
          for (size_t w = w0; w < w0 + nw; w++) {
            for (uint64_t m = seg->bits[w].mark; m != 0; m &= m - 1) {
              uintptr_t obj = (uintptr_t)seg + ((w * 64 + (size_t)__builtin_ctzll(m)) << CGC_GRANULE_SHIFT);
              push_serial(st, obj, obj + sp->obj_size);
              drain_serial(st);
            }
          }
        }
        i += n;
      }
    }
    seg = seg->next;
  } while (seg != gc__heap.segments);
}

/* Before the world stops: create the helpers this collection may want
 * (by the previous collection's work).  Never with the world stopped: a
 * stopped thread may hold glibc's thread-creation locks. */
void gc__mark_prepare(void) {
  CGC_ASSERT_LOCKED();
  CGC_ASSERT(!gc__world_is_stopped());
  gc_mark_state_t *st = gc__heap.mark;
  if (st->nmax <= 1) return;
  size_t k = (gc__heap.live - gc__heap.live_atomic + st->last_roots) / WORK_PER_MARKER;
  if (gc__mark_force_all) k = st->nmax;
  if (k < 2) return;
  unsigned had = st->nhelpers;
  (void)start_helpers(st, k < st->nmax ? (unsigned)k : st->nmax);
  if (st->nhelpers != had) st->spawned = true;
}

void gc__mark_drain(void) {
  CGC_ASSERT_STOPPED();
  uint64_t t0 = gc__now_ns();
  gc_mark_state_t *st = gc__heap.mark;
  unsigned k = markers_wanted(st);
  if (k > st->nhelpers + 1) k = st->nhelpers + 1; /* only helpers made before the stop */
  if (st->spawned) st->last = -1;                 /* creating threads is not tracing speed */
  st->spawned = false;
  if (k > 1)
    mark_parallel(st, k);
  else
    drain_serial(st);
  if (st->last == 1 && k == 1) st->last = 0;    /* no helper could be created */
  if (gc__load(&st->overflowed)) st->last = -1; /* the rescan is not tracing speed */
  while (gc__load(&st->overflowed)) {
    gc__stats.mark_overflows++;
    gc__store(&st->overflowed, 0);
    rescan_marked(st);
  }
  st->root_bytes = 0;
  gc__stats.markers_last = k;
  if (k > 1) gc__stats.parallel_marks++;
  gc__stats.mark_last_ns = gc__now_ns() - t0;
  gc__stats.mark_total_ns += gc__stats.mark_last_ns;
}

/* A root range, pushed onto marker 0's stack in SCAN_CHUNK pieces so that
 * markers can share it.  Never dropped: overflow recovery rescans marked
 * objects, which would not find a lost root, so the stack grows past its
 * maximum for roots (fatal only when the OS refuses memory).  World
 * stopped, no phase running: marker 0's top and split are 0. */
void gc__mark_range(uintptr_t lo, uintptr_t hi) {
  CGC_ASSERT_STOPPED();
  lo = (lo + CGC_WORD_SIZE - 1) & ~(uintptr_t)(CGC_WORD_SIZE - 1);
  if (hi <= lo) return;
  gc_mark_state_t *st = gc__heap.mark;
  gc_marker_t *mk = &st->m[0];
  CGC_ASSERT(mk->top == 0 && mk->split == 0);
  st->root_bytes += hi - lo;
  for (uintptr_t p = lo; p < hi;) {
    uintptr_t e = hi - p > SCAN_CHUNK ? p + SCAN_CHUNK : hi;
    gc_ring_t *r = ring_of(mk);
    if (mk->bottom > r->mask) {
      if (!grow(st, mk, 0, mk->bottom, false, true)) gc__fatal("out of memory for the mark stack (roots)");
      r = ring_of(mk);
    }
    r->slot[mk->bottom].lo = p;
    r->slot[mk->bottom].hi = e;
    mk->bottom++;
    p = e;
  }
}

/* ---- start-up and fork ------------------------------------------------ */

/* Resolve CGC_MARKERS: 0 means one per online CPU (that this process may
 * run on), at most CGC_MARKERS_MAX.  An explicit count is within
 * 1..CGC_MARKERS_MAX already: the option table clamps it (and says so). */
static unsigned resolve_markers(void) {
  long long want = gc__option(CGC_OPT_MARKERS);
  CGC_ASSERT(want >= 0 && want <= CGC_MARKERS_MAX);
  if (want == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < cpus) cpus = CPU_COUNT(&set);
    want = cpus < 1 ? 1 : cpus;
    if (want > CGC_MARKERS_MAX) want = CGC_MARKERS_MAX;
  }
  return (unsigned)want;
}

/* The idle markers' mutex and condition variable (timeouts on the
 * monotonic clock).  At initialisation and in a fork child. */
static void init_idle(gc_mark_state_t *st) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&st->idle_lock, NULL);
  pthread_cond_init(&st->idle_cv, &ca);
  pthread_condattr_destroy(&ca);
  st->sleepers = 0;
}

/* At initialisation: the marker table and marker 0's ring.  The ring
 * maximum is CGC_MARK_STACK_MAX rounded down to a power of two, at least
 * 16 (a FIFO's worth: the option table's lower bound). */
void gc__mark_init(void) {
  gc_mark_state_t *st = gc__os_alloc(sizeof *st);
  if (st == NULL) gc__fatal("cannot map the marker table");
  size_t max = (size_t)gc__option(CGC_OPT_MARK_STACK_MAX);
  CGC_ASSERT(max >= 16);
  st->max = (size_t)1 << (63 - __builtin_clzll(max));
  st->nmax = resolve_markers();
  for (unsigned i = 0; i < CGC_MARKERS_MAX; i++) st->m[i].index = i;
  gc_ring_t *r = ring_new(st->max < INITIAL_ENTRIES ? st->max : INITIAL_ENTRIES);
  if (r == NULL) gc__fatal("cannot map the mark stack");
  st->m[0].ring = (AO_t)(uintptr_t)r;
  init_idle(st);
  gc__heap.mark = st;
}

/* In a fork child only the forking thread exists: the helpers are gone.
 * Their semaphores may hold stale posts; their deques are empty (no
 * collection runs across a fork).  Forget the threads; the next
 * collection that wants helpers creates them again. */
void gc__mark_atfork_child(void) {
  CGC_ASSERT_LOCKED();
  gc_mark_state_t *st = gc__heap.mark;
  if (st == NULL) return;
  /* A helper of the parent may have been between its last steps of the
   * previous phase (its deque indices half updated) when fork copied the
   * memory: the helpers' deques start empty in the child. */
  for (unsigned i = 1; i <= st->nhelpers; i++) {
    gc_marker_t *mk = &st->m[i];
    gc__store(&mk->top, 0);
    gc__store(&mk->split, 0);
    mk->bottom = 0;
  }
  st->nhelpers = 0;
  st->spawn_failed = false;
  init_idle(st);
  gc__store(&st->phase, phase_epoch(gc__load(&st->phase)) << 32);
}
