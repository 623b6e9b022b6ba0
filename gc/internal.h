/*
 * internal.h -- cgc's heap layout, its invariants, and the predicates that
 * test them.  Every other file includes this one.
 *
 * ===================================================================
 *  Geometry
 * ===================================================================
 * The heap is made of SEGMENTS: 4 MiB mappings aligned to 4 MiB.  A
 * segment is 64 PAGES of 64 KiB.  Pages 0..1 hold the segment's metadata
 * (struct gc_segment below); pages 2..63 hold objects.  A run of pages
 * that is in use is a SPAN, described by the page descriptor (struct
 * gc_span) of its first page; every page of a run records the index of
 * that first page (`head`), so the descriptor of any address is found
 * with a mask, a shift and two loads -- no search.
 *
 *   SMALL span: objects of one size class and one kind; 1..32 pages,
 *               chosen per class so the tail waste is at most 1/16.
 *   LARGE span: one object bigger than the largest class (512 KiB), up
 *               to the 62 data pages of a segment.
 *   HUGE segment: one object too big for a segment gets a mapping of
 *               its own, aligned to 4 MiB, metadata in front as usual.
 *
 * Memory is handed out in GRANULES of 16 bytes.  Size classes step by
 * one granule up to 256 bytes and then by eighths of a power of two, so
 * a request never wastes more than 1/9 of its slot above 256 bytes and a
 * 16-byte request costs exactly 16 bytes.
 *
 * Finding the segment of an arbitrary word (conservative pointers) goes
 * through a two-level radix map over the 47-bit user address space, one
 * entry per 4 MiB chunk, which also covers every chunk of a huge segment.
 *
 * ===================================================================
 *  Metadata bits (side bitmaps, one bit per granule, per segment)
 * ===================================================================
 * (Both live in seg->bits[g / 64], alloc and mark words side by side.)
 * alloc[g]  "an allocated object starts at granule g".  Set only at
 *           object starts.  A word that points into a slot whose alloc
 *           bit is clear is not a pointer to an object: it never marks
 *           anything (a stale pointer to a freed slot resurrects nothing).
 * mark[g]   During marking: "the object starting at g is reachable".
 *           After the post-mark pass and until the span is swept: "the
 *           object starting at g died in the last collection and its
 *           bytes are not yet zeroed" (the DEAD set; see sweep.c).
 *
 * Concurrency story.  Mutators allocate from their own caches without
 * locks; every slow path takes the heap lock; a collection holds the heap
 * lock and stops every other registered thread (world.c) before it reads
 * or writes any bitmap.
 *   - alloc bits of a span are set or cleared under the heap lock (span
 *     taken, released, post-mark pass), or with the world stopped, or by
 *     gc_free without the lock: it clears one bit with a CAS, so frees
 *     into one word from several threads never lose each other, and a
 *     bit it finds already clear is a double free.  Writers under the lock
 *     use atomic OR/AND on words a gc_free may touch at the same time.  A
 *     race between a take and a free can only leave a freed slot looking
 *     allocated until the next collection (never the reverse).
 *   - mark bits change only inside a collection (atomically when several
 *     markers run).
 *
 * ===================================================================
 *  Invariants (checked by gc__heap_is_valid, verify.c)
 * ===================================================================
 * I1 (alloc exactness) Outside a collection, for every span that no
 *    thread owns: alloc[g] == 1 exactly when a live (not yet reclaimed,
 *    not gc_free'd) object starts at g.  Alloc bits are never set at a
 *    granule that is not an object start of its span.
 * I2 (owned spans) A span owned by a thread cache has every object-start
 *    alloc bit set, except slots released by gc_free since: the objects
 *    still on the cache's free list and on the span's `rest` list count as
 *    allocated, and so do the slots of the span's unlinked tail (from
 *    `unbuilt` to its end; see CGC_EXTEND_BYTES).  A collection releases
 *    the caches of the collecting thread
 *    only (the others may be stopped in the middle of a pop); the spans
 *    other threads own are not swept by it: their dead objects stay
 *    allocated until the first collection after the owner lets go.
 * I3 (zeroed free slots) In a span of a scanned kind, every slot whose
 *    alloc bit is clear is all zero, except (a) slots in the DEAD set of
 *    a span still waiting to be swept and (b) every free slot of a span
 *    flagged CGC_SPAN_ZERO_ALL; the sweeper zeroes those before they are
 *    handed out.  Free-list links are the only non-zero word of a cached
 *    free object and are cleared when it is handed out; a slot of an
 *    owned span's unlinked tail is all zero but for that word too (it is
 *    written when the owner links the slot).
 * I4 (pages) Every data page of a segment is either free (its bit set in
 *    `free_pages`) or belongs to exactly one span, whose descriptor is
 *    the one of the page `head` points to.
 * I5 (queues) A span is on at most one list: its class's sweep queue
 *    (CGC_SPAN_QUEUED) or a thread cache (owner != NULL), never both.
 */
#ifndef CGC_INTERNAL_H
#define CGC_INTERNAL_H

#include "config.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgc.h"

#include <atomic_ops.h>

/* ---- compiler helpers ------------------------------------------------- */
#define cgc_likely(x) __builtin_expect(!!(x), 1)
#define cgc_unlikely(x) __builtin_expect(!!(x), 0)
#define CGC_NOINLINE __attribute__((noinline))
#define CGC_INLINE static inline __attribute__((always_inline))
#define CGC_INTERNAL __attribute__((visibility("hidden")))
#define CGC_NORETURN __attribute__((noreturn))
#define CGC_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* The conservative scanner reads every word of stacks and data, including
 * sanitizer redzones and never-written slots: only it is exempt. */
#if defined(__clang__) || defined(__GNUC__)
#define CGC_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))
#else
#define CGC_NO_SANITIZE_ADDRESS
#endif

#ifndef CGC_DEBUG
#define CGC_DEBUG 0
#endif
/* Tiered assertions: cgc_assert is always on in debug builds (level >= 1);
 * expensive checks (the heap walker) run at level 2 or with CGC_VERIFY. */
#if CGC_DEBUG >= 1
#define cgc_assert(c) ((c) ? (void)0 : gc__assert_fail(#c, __FILE__, __LINE__))
#else
#define cgc_assert(c) ((void)0)
#endif
CGC_INTERNAL CGC_NORETURN void gc__assert_fail(const char *what, const char *file, int line);
CGC_INTERNAL CGC_NORETURN CGC_PRINTF(1, 2) void gc__fatal(const char *fmt, ...);
CGC_INTERNAL CGC_PRINTF(1, 2) void gc__message(const char *fmt, ...);

/* ---- geometry --------------------------------------------------------- */
#define CGC_WORD_SIZE 8
#define CGC_GRANULE_SHIFT 4
#define CGC_GRANULE_SIZE ((size_t)1 << CGC_GRANULE_SHIFT)
#define CGC_PAGE_SHIFT 16
#define CGC_PAGE_SIZE ((size_t)1 << CGC_PAGE_SHIFT)
#define CGC_SEGMENT_SHIFT 22
#define CGC_SEGMENT_SIZE ((size_t)1 << CGC_SEGMENT_SHIFT)
#define CGC_SEGMENT_MASK (CGC_SEGMENT_SIZE - 1)
#define CGC_PAGES_PER_SEGMENT (CGC_SEGMENT_SIZE / CGC_PAGE_SIZE)
#define CGC_META_PAGES 2
#define CGC_DATA_PAGES (CGC_PAGES_PER_SEGMENT - CGC_META_PAGES)
#define CGC_GRANULES_PER_SEGMENT (CGC_SEGMENT_SIZE >> CGC_GRANULE_SHIFT)
#define CGC_BITMAP_WORDS (CGC_GRANULES_PER_SEGMENT / 64)
#define CGC_BITMAP_WORDS_PER_PAGE (CGC_PAGE_SIZE / CGC_GRANULE_SIZE / 64)
#define CGC_OS_PAGE_SIZE ((size_t)4096)

/* Size classes: 16 granule steps to 256 B, then 8 per power of two up to
 * 512 KiB.  Requests up to CGC_DIRECT_MAX use a table indexed directly by
 * granule count; larger small requests compute the class arithmetically. */
#define CGC_CLASS_LINEAR 16
#define CGC_CLASS_LINEAR_MAX 256
#define CGC_SMALL_MAX ((size_t)512 * 1024)
#define CGC_NCLASSES (CGC_CLASS_LINEAR + 8 * 11)
#define CGC_DIRECT_MAX 1024
#define CGC_MAX_SPAN_PAGES 32
/* A thread takes the free slots of a span at most this many bytes at a
 * time (at least one object), so the bytes counted as allocated track the
 * bytes really handed out even for spans of a few big objects. */
#define CGC_BATCH_BYTES ((size_t)64 * 1024)
/* When every slot of a one-page span is free and needs no zeroing --
 * mostly a page fresh from the OS -- its owner links (so first touches)
 * at most this many bytes of slots at a time; the rest stays an unlinked
 * tail (gc_span.unbuilt) that the owner extends from its slow path,
 * without the heap lock.  Why: first-touch page faults then come one OS
 * page per refill instead of 16 inside one allocation call (on the
 * reference VM a first touch costs ~10 us per 4 KiB, so a whole page was
 * a 150-250 us allocation), and a class used for a few objects keeps only
 * the OS pages it touched resident. */
#define CGC_EXTEND_BYTES ((size_t)4096)
static_assert(CGC_PAGE_SIZE <= CGC_BATCH_BYTES && CGC_EXTEND_BYTES < CGC_PAGE_SIZE,
              "a one-page span is counted as allocated whole when taken, unlinked tail included");
/* The heap policy remembers the heap each of this many past collections
 * allowed for (see set_trigger in collect.c). */
#define CGC_NEED_WINDOW 8

/* Radix map: 47-bit user addresses, one leaf entry per 4 MiB chunk. */
#define CGC_ADDRESS_BITS 47
#define CGC_RADIX_LEAF_BITS 13
#define CGC_RADIX_TOP_BITS (CGC_ADDRESS_BITS - CGC_SEGMENT_SHIFT - CGC_RADIX_LEAF_BITS)

static_assert(CGC_PAGES_PER_SEGMENT == 64, "free/dirty page masks are one 64-bit word");
static_assert(CGC_BITMAP_WORDS_PER_PAGE == 64, "a page's bits are 64 bitmap words");
static_assert(CGC_SEGMENT_SIZE == CGC_PAGES_PER_SEGMENT * CGC_PAGE_SIZE, "segment = pages");
static_assert(CGC_GRANULES_PER_SEGMENT % 64 == 0, "bitmaps are whole words");
static_assert(CGC_RADIX_TOP_BITS == 12, "radix map covers 2^47 bytes in 4 MiB chunks");
static_assert(CGC_SMALL_MAX <= CGC_MAX_SPAN_PAGES * CGC_PAGE_SIZE, "a class fits its span");
static_assert(CGC_MAX_SPAN_PAGES <= CGC_DATA_PAGES, "a span fits a segment");
static_assert(CGC_NCLASSES <= 255, "class index fits a byte");

/* ---- object kinds ----------------------------------------------------- */
typedef enum gc_kind {
  CGC_KIND_NORMAL = 0, /* zeroed, scanned conservatively */
  CGC_KIND_ATOMIC = 1, /* never scanned, not zeroed */
  CGC_NKINDS
} gc_kind_t;
CGC_INLINE bool gc__kind_scanned(unsigned kind) { return kind == CGC_KIND_NORMAL; }

/* ---- spans (page descriptors) ----------------------------------------- */
enum {
  CGC_PAGE_META = 0,  /* segment metadata; never holds objects */
  CGC_PAGE_FREE = 1,  /* in the page pool */
  CGC_PAGE_SMALL = 2, /* head of a span of one size class */
  CGC_PAGE_LARGE = 3, /* head of a span holding one large object */
  CGC_PAGE_TAIL = 4   /* a later page of a span; see `head` */
};
enum {
  CGC_SPAN_QUEUED = 1u << 0,   /* on its class's sweep queue */
  CGC_SPAN_UNSWEPT = 1u << 1,  /* mark bitmap holds its DEAD set from the last collection */
  CGC_SPAN_ZERO_ALL = 1u << 2  /* every free slot must be zeroed before use */
};

struct gc_tctx;
typedef struct gc_span {
  uint8_t state;          /* CGC_PAGE_* */
  uint8_t kind;           /* gc_kind_t (SMALL/LARGE heads) */
  uint8_t cls;            /* size class (SMALL heads) */
  uint8_t flags;          /* CGC_SPAN_* */
  uint16_t npages;        /* run length (heads) */
  uint16_t head;          /* page index of the run's head (all pages) */
  uint32_t nobjs;         /* objects in the span (SMALL) */
  uint32_t live;          /* objects marked in the last collection */
  size_t obj_size;        /* bytes per object (usable size) */
  uint64_t divmagic;      /* granule offset * divmagic >> 40 == object index */
  union {
    struct gc_span *next; /* queued: sweep queue link */
    uintptr_t unbuilt;    /* owned: first slot of the unlinked tail, or 0:
                             every slot from there to the span's end is
                             free, claimed (alloc bit set) and unlinked;
                             only the owner reads or writes it */
  };
  struct gc_tctx *owner;  /* thread cache that owns it, or NULL */
  void *rest;             /* owned: free slots not yet handed to the owner's
                             list (handed out CGC_BATCH_BYTES at a time) */
  AO_t freed;             /* slots released by gc_free since the span was
                             last swept or taken (atomic; see gc_free) */
} gc_span_t;
static_assert(sizeof(gc_span_t) == 64, "a page descriptor is one cache line: index math is a shift");

/* ---- segments ---------------------------------------------------------- */
#define CGC_SEGMENT_MAGIC 0x63676373u /* "cgcs" */
/* The alloc and mark words of the same 64 granules (1 KiB of heap) sit
 * side by side, so the marker's two bitmap reads for a candidate pointer
 * share one cache line. */
typedef struct gc_bitpair {
  uint64_t alloc, mark;
} gc_bitpair_t;
typedef struct gc_segment {
  uint32_t magic;
  uint32_t huge;                 /* 1: one huge object, mapping of `size` bytes */
  size_t size;                   /* bytes mapped */
  uint64_t free_pages;           /* bit i: data page i is in the pool */
  uint64_t dirty_pages;          /* bit i: page i may hold non-zero bytes */
  uint32_t free_since[CGC_PAGES_PER_SEGMENT]; /* collection count when freed */
  struct gc_segment *next, *prev;             /* all segments, a ring */
  gc_span_t spans[CGC_PAGES_PER_SEGMENT];
  gc_bitpair_t bits[CGC_BITMAP_WORDS];
} gc_segment_t;
static_assert(sizeof(gc_segment_t) <= CGC_META_PAGES * CGC_PAGE_SIZE,
              "segment metadata fits its metadata pages");
static_assert(CGC_META_PAGES * CGC_PAGE_SIZE <= CGC_SEGMENT_SIZE / 16,
              "metadata costs at most 1/16 of a segment's address space");

CGC_INLINE gc_segment_t *gc__segment_of(uintptr_t a) {
  return (gc_segment_t *)(a & ~(uintptr_t)CGC_SEGMENT_MASK);
}
CGC_INLINE size_t gc__granule_index(const gc_segment_t *seg, uintptr_t a) {
  return (a - (uintptr_t)seg) >> CGC_GRANULE_SHIFT;
}
CGC_INLINE uint64_t gc__bit(size_t g) { return (uint64_t)1 << (g & 63); }
/* Alloc words are read atomically (a plain load on x86-64): a lock-free
 * gc_free may clear a bit of the same word at any time. */
CGC_INLINE uint64_t gc__alloc_word(const gc_segment_t *seg, size_t w) {
  return AO_load((const volatile AO_t *)&seg->bits[w].alloc);
}
/* ... with acquire: the caller will reuse slots whose bit a gc_free
 * cleared, so that free's zeroing must be visible first. */
CGC_INLINE uint64_t gc__alloc_word_acquire(const gc_segment_t *seg, size_t w) {
  return AO_load_acquire((const volatile AO_t *)&seg->bits[w].alloc);
}
CGC_INLINE bool gc__alloc_test(const gc_segment_t *seg, size_t g) { return (gc__alloc_word(seg, g >> 6) & gc__bit(g)) != 0; }
CGC_INLINE bool gc__mark_test(const gc_segment_t *seg, size_t g) { return (seg->bits[g >> 6].mark & gc__bit(g)) != 0; }
CGC_INLINE void gc__alloc_set(gc_segment_t *seg, size_t g) { seg->bits[g >> 6].alloc |= gc__bit(g); }
CGC_INLINE void gc__alloc_clear(gc_segment_t *seg, size_t g) { seg->bits[g >> 6].alloc &= ~gc__bit(g); }
CGC_INLINE void gc__mark_clear(gc_segment_t *seg, size_t g) { seg->bits[g >> 6].mark &= ~gc__bit(g); }
/* Alloc-bit updates that may meet a lock-free gc_free on the same word
 * (see the concurrency story above), through libatomic_ops.
 * gc__alloc_clear_cas returns false when the bit was already clear. */
static_assert(sizeof(AO_t) == sizeof(uint64_t), "bitmap words are AO_t-sized");
CGC_INLINE bool gc__alloc_clear_cas(gc_segment_t *seg, size_t g) {
  volatile AO_t *w = (volatile AO_t *)&seg->bits[g >> 6].alloc;
  AO_t bit = gc__bit(g), old = AO_load(w);
  for (;;) {
    if (!(old & bit)) return false;
    AO_t seen = AO_fetch_compare_and_swap_full(w, old, old & ~bit);
    if (seen == old) return true;
    old = seen;
  }
}
CGC_INLINE void gc__alloc_or_word(gc_segment_t *seg, size_t w, uint64_t bits) {
  AO_or((volatile AO_t *)&seg->bits[w].alloc, bits);
}
CGC_INLINE void gc__alloc_and_word(gc_segment_t *seg, size_t w, uint64_t bits) {
  AO_and((volatile AO_t *)&seg->bits[w].alloc, bits);
}
/* Clear the mark words of bitmap words [w, w+n), leaving the alloc words. */
CGC_INLINE void gc__marks_clear(gc_segment_t *seg, size_t w, size_t n) {
  for (size_t i = w; i < w + n; i++) seg->bits[i].mark = 0;
}
CGC_INLINE uintptr_t gc__page_addr(const gc_segment_t *seg, size_t page) {
  return (uintptr_t)seg + page * CGC_PAGE_SIZE;
}
CGC_INLINE size_t gc__span_page(const gc_segment_t *seg, const gc_span_t *sp) {
  return (size_t)(sp - seg->spans);
}
CGC_INLINE uintptr_t gc__span_base(const gc_segment_t *seg, const gc_span_t *sp) {
  return gc__page_addr(seg, gc__span_page(seg, sp));
}
CGC_INLINE size_t gc__span_bytes(const gc_span_t *sp) { return (size_t)sp->npages * CGC_PAGE_SIZE; }
/* The end of a small span's last slot (its tail waste lies beyond). */
CGC_INLINE uintptr_t gc__span_slots_end(const gc_segment_t *seg, const gc_span_t *sp) {
  return gc__span_base(seg, sp) + (uintptr_t)sp->nobjs * sp->obj_size;
}

/* ---- size classes (sizes.c) -------------------------------------------- */
typedef struct gc_class_info {
  size_t size;      /* bytes per object */
  uint32_t pages;   /* pages per span */
  uint32_t nobjs;   /* objects per span */
  uint64_t divmagic;
} gc_class_info_t;
CGC_INTERNAL extern gc_class_info_t gc__classes[CGC_NCLASSES];
CGC_INTERNAL extern const uint8_t gc__direct_class[CGC_DIRECT_MAX / CGC_GRANULE_SIZE + 1];
CGC_INTERNAL void gc__sizes_init(void);
CGC_INTERNAL unsigned gc__size_to_class(size_t n); /* n <= CGC_SMALL_MAX */
/* divmagic for a size in bytes: exact division of a granule offset. */
CGC_INTERNAL uint64_t gc__divmagic(size_t obj_size);
CGC_INLINE size_t gc__obj_index(uint64_t gran_off, uint64_t divmagic) {
  return (size_t)((gran_off * divmagic) >> 40);
}

/* ---- thread caches ----------------------------------------------------- */
/* One per thread that allocates.  free[k][c] is the thread's free list for
 * kind k, class c, threaded through the objects' first words; it belongs
 * to span[k][c], which the thread owns (I2).  Allocated from internal
 * memory that the collector never scans. */
struct gc_stack;
enum {
  CGC_THREAD_STARTING = 1, /* created by our pthread_create, not yet running:
                              only start_arg is a root */
  CGC_THREAD_RUNNING = 2   /* stopped and scanned by every collection */
};
typedef struct gc_tctx {
  void *free[CGC_NKINDS][CGC_NCLASSES];
  gc_span_t *span[CGC_NKINDS][CGC_NCLASSES];
  bool registered;          /* false only for the shared empty sentinel */
  int state;                /* CGC_THREAD_* */
  pthread_t self;
  pid_t tid;                /* kernel thread id: the stop signal goes there */
  uintptr_t tp;             /* thread pointer: TCB, static TLS below it */
  uintptr_t stack_lo;       /* the thread's own stack, [stack_lo, stack_base) */
  uintptr_t stack_base;
  bool main_stack;          /* stack_lo may be unmapped (grows on demand) */
  uintptr_t lowest_sp;      /* lowest stack pointer seen at a stop */
  uintptr_t stop_sp;        /* written by the suspend handler */
  uintptr_t stop_alt_lo, stop_alt_hi; /* the alternate signal stack it was
                               stopped on, else 0: written by the handler */
  unsigned stop_seq;        /* the last stop it acknowledged (atomic) */
  unsigned asked_seq;       /* the last stop it was signalled for (atomic) */
  uintptr_t native_sp;      /* where its own stack stopped when it switched
                               to a coroutine stack (0: never switched) */
  struct gc_stack *active;  /* the coroutine stack it said it runs on */
  void **specific;          /* shadow of pthread_setspecific values */
  void *(*start_fn)(void *); /* STARTING: the start routine ... */
  void *start_arg;          /* ... and its argument, a root until it runs */
  struct gc_tctx *next, *prev; /* all thread contexts */
  /* A one-page span gc__span_take claimed for this thread under the heap
   * lock, whose free list the thread builds after releasing it
   * (gc__span_build): one bit per granule of the page for each free slot
   * and for each slot that must be zeroed.  Only the owner touches these;
   * a collection that stops it mid-build sees an owned span (I2) whose
   * free slots are on no list yet. */
  gc_span_t *build;
  bool build_all;           /* every slot of it is free ... */
  bool build_zero_all;      /* ... and must be zeroed: one memset */
  uint64_t build_free[CGC_BITMAP_WORDS_PER_PAGE];
  uint64_t build_zero[CGC_BITMAP_WORDS_PER_PAGE];
} gc_tctx_t;

/* A registered coroutine stack (stacks.c); gc_stack_t in cgc.h. */
struct gc_stack {
  uintptr_t lo, hi;
  uintptr_t saved_sp;       /* where it stopped when switched away (0: never ran) */
  uint32_t scanned;         /* collection that scanned it last */
  struct gc_stack *next, *prev;
};

/* The calling thread's context.  Starts as &gc__tctx_empty, whose free
 * lists are all NULL, so the fast path needs no NULL check of its own. */
CGC_INTERNAL extern __thread gc_tctx_t *gc__tl_ctx __attribute__((tls_model("initial-exec")));

/* ---- root ranges ------------------------------------------------------- */
typedef struct gc_range {
  uintptr_t lo, hi;
} gc_range_t;
typedef struct gc_ranges {
  gc_range_t *v;
  size_t n, cap;
} gc_ranges_t;
CGC_INTERNAL bool gc__ranges_push(gc_ranges_t *r, uintptr_t lo, uintptr_t hi);
CGC_INTERNAL void gc__ranges_remove(gc_ranges_t *r, uintptr_t lo, uintptr_t hi);

/* ---- markers ------------------------------------------------------------ */
/* The markers' state: one deque of ranges per marker (marker 0 is the
 * collecting thread), the helper threads and the termination word.
 * Defined in mark.c, allocated there from internal memory (never scanned). */
typedef struct gc_mark_state gc_mark_state_t;

/* ---- the collector state machine --------------------------------------- */
typedef enum gc_phase {
  CGC_PHASE_IDLE = 0,  /* mutator runs; spans swept lazily */
  CGC_PHASE_PREPARE,   /* release thread caches, clear mark bitmaps */
  CGC_PHASE_ROOTS,     /* mark from registers, stacks, data, explicit roots */
  CGC_PHASE_MARK,      /* drain the mark stack (and recover from overflow) */
  CGC_PHASE_RECLAIM,   /* post-mark pass: free empty spans, queue the rest */
  CGC_PHASE_DECOMMIT   /* return long-free pages to the OS; finish stats */
} gc_phase_t;

/* All mutable collector state in one struct: one place to read, and one
 * address range to exclude from root scanning (cgc's own tables are not
 * roots). */
typedef struct gc_heap {
  pthread_mutex_t lock;
  bool initialized;
  gc_phase_t phase;
  int disabled;                 /* gc_disable nesting depth */
  uint32_t gc_count;            /* collections completed (the epoch) */

  /* segments */
  gc_segment_t *segments;       /* ring of all segments, or NULL */
  uintptr_t lo, hi;             /* bounds of all mappings (prefilter) */
  gc_segment_t **radix[1u << CGC_RADIX_TOP_BITS];

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

  gc_ranges_t roots;            /* gc_add_roots */
  gc_mark_state_t *mark;        /* markers and their deques (mark.c) */
  gc_tctx_t *threads;           /* all registered thread contexts */
  size_t nthreads;
  struct gc_stack *stacks;      /* registered coroutine stacks */
  gc_ranges_t modules_data;     /* static data ranges, read at each stop */
  gc_ranges_t modules_tls;      /* (TLS module id, PT_TLS memsz) pairs */
  gc_oom_handler_t oom;
  pthread_key_t tkey;
} gc_heap_t;

CGC_INTERNAL extern gc_heap_t gc__heap;
CGC_INTERNAL extern gc_tctx_t gc__tctx_empty;

/* CGC_TSAN: built for ThreadSanitizer (also set by hand for the files
 * left uninstrumented in such a build: tools/tsan.sh). */
#if defined(CGC_TSAN)
#elif defined(__SANITIZE_THREAD__)
#define CGC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CGC_TSAN 1
#endif
#endif
#ifdef CGC_TSAN
/* Under ThreadSanitizer a signal that arrives while a thread is blocked in
 * pthread_mutex_lock is held back until the lock is acquired: a thread
 * waiting for the heap lock the collector holds would never answer the
 * stop signal.  So wait by polling; TSan delivers signals on the way
 * out of trylock and inside nanosleep. */
#include <time.h>
CGC_INLINE void gc__lock(void) {
  while (pthread_mutex_trylock(&gc__heap.lock) != 0) {
    struct timespec ts = {0, 20 * 1000};
    nanosleep(&ts, NULL);
  }
}
#else
CGC_INLINE void gc__lock(void) { pthread_mutex_lock(&gc__heap.lock); }
#endif
CGC_INLINE void gc__unlock(void) { pthread_mutex_unlock(&gc__heap.lock); }

/* ---- module entry points ----------------------------------------------- */
/* init.c */
CGC_INTERNAL void gc__ensure_init(void);

/* threads.c: the registry of mutator threads, pthread interposition, fork */
CGC_INTERNAL gc_tctx_t *gc__thread_ctx(void); /* registers the caller if needed; lock NOT held */
CGC_INTERNAL void gc__threads_init(void); /* idempotent; before the heap */
/* pthread_create without cgc's interposition: for internal threads
 * (markers), which are never registered and never stopped. */
CGC_INTERNAL int gc__thread_create_internal(pthread_t *th, void *(*fn)(void *), void *arg);

/* world.c: stop and restart every registered thread but the caller
 * (heap lock held).  gc__world_stop also reads the loaded modules (static
 * data and TLS) into gc__heap.modules_*, holding the loader's lock while
 * it stops the threads, so no stopped thread can hold that lock. */
CGC_INTERNAL void gc__world_init(void);
CGC_INTERNAL int gc__world_signal(void); /* CGC_SIGNAL */
CGC_INTERNAL void gc__world_stop(void);
CGC_INTERNAL void gc__world_start(void);
CGC_INTERNAL void gc__world_atfork_child(void);

/* stacks.c: the stack that contains sp among the registered ones */
CGC_INTERNAL struct gc_stack *gc__stack_find(uintptr_t sp);

/* os.c */
CGC_INTERNAL void *gc__os_map_aligned(size_t size, size_t align);
CGC_INTERNAL void gc__os_unmap(void *p, size_t size);
CGC_INTERNAL void gc__os_decommit(void *p, size_t size);
CGC_INTERNAL void *gc__os_alloc(size_t size);       /* internal tables, zeroed */
CGC_INTERNAL void gc__os_free(void *p, size_t size);
CGC_INTERNAL uint64_t gc__now_ns(void);

/* segment.c (heap lock held) */
/* A run of npages data pages, marked dirty (the caller will write them);
 * with `zero`, pages that may hold old bytes are zeroed first; without
 * it, *dirty (when not NULL) tells whether any might.  NULL when the heap
 * cap or the OS refuses a new segment. */
CGC_INTERNAL gc_span_t *gc__pages_alloc(size_t npages, bool zero, gc_segment_t **segp, bool *dirty);
CGC_INTERNAL void gc__pages_free(gc_segment_t *seg, gc_span_t *sp);
CGC_INTERNAL gc_segment_t *gc__huge_alloc(size_t bytes);
CGC_INTERNAL void gc__huge_free(gc_segment_t *seg);
CGC_INTERNAL void gc__decommit_idle(void);

CGC_INLINE uintptr_t gc__huge_base(const gc_segment_t *seg) {
  return (uintptr_t)seg + CGC_META_PAGES * CGC_PAGE_SIZE;
}

/* The radix map and the heap bounds are written under the heap lock
 * (segment.c, release stores: a segment is initialised before it can be
 * found) and read without it by gc_free, gc_size, gc_base and gc_realloc:
 * every access is an atomic word access (a plain mov on x86-64). */
CGC_INLINE uintptr_t gc__load_word(const void *p) { return (uintptr_t)AO_load((const volatile AO_t *)p); }
CGC_INLINE void gc__store_word_release(void *p, uintptr_t v) { AO_store_release((volatile AO_t *)p, (AO_t)v); }
static_assert(sizeof(void *) == sizeof(AO_t) && sizeof(uintptr_t) == sizeof(AO_t), "pointers are AO_t-sized");

/* The segment of a, for an a already known to lie in [heap.lo, heap.hi). */
CGC_INLINE gc_segment_t *gc__radix_lookup_inside(uintptr_t a) {
  gc_segment_t **leaf = (gc_segment_t **)gc__load_word(&gc__heap.radix[a >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS)]);
  if (leaf == NULL) return NULL;
  return (gc_segment_t *)gc__load_word(&leaf[(a >> CGC_SEGMENT_SHIFT) & ((1u << CGC_RADIX_LEAF_BITS) - 1)]);
}
/* The radix leaf entries of the whole heap range as one array indexed by
 * (a - heap.lo) >> CGC_SEGMENT_SHIFT, when [heap.lo, heap.hi) lies in one
 * leaf (32 GiB of address space: the usual case); else NULL.  For the
 * marker, which looks up every candidate pointer: one load instead of
 * two.  Valid while lo, hi and the radix do not change (heap lock held). */
CGC_INLINE gc_segment_t **gc__radix_flat(void) {
  uintptr_t lo = gc__heap.lo, hi = gc__heap.hi;
  if (hi <= lo || lo >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS) != (hi - 1) >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS))
    return NULL;
  gc_segment_t **leaf = gc__heap.radix[lo >> (CGC_SEGMENT_SHIFT + CGC_RADIX_LEAF_BITS)];
  return leaf == NULL ? NULL : &leaf[(lo >> CGC_SEGMENT_SHIFT) & ((1u << CGC_RADIX_LEAF_BITS) - 1)];
}
CGC_INLINE gc_segment_t *gc__radix_lookup(uintptr_t a) {
  uintptr_t lo = gc__load_word(&gc__heap.lo), hi = gc__load_word(&gc__heap.hi);
  if (cgc_unlikely(a - lo >= hi - lo)) return NULL;
  return gc__radix_lookup_inside(a);
}
/* The object of a in segment seg (see gc__find_object). */
CGC_INLINE uintptr_t gc__find_object_in(gc_segment_t *seg, uintptr_t a, gc_span_t **spp) {
  /* A huge segment's descriptors are META and FREE pages and one LARGE
   * head, never SMALL, whatever 4 MiB block of it `a` lies in: so its
   * test waits until the common SMALL case is out of the way. */
  size_t head = seg->spans[(a & CGC_SEGMENT_MASK) >> CGC_PAGE_SHIFT].head;
  gc_span_t *sp = &seg->spans[head];
  uintptr_t obj;
  if (cgc_likely(sp->state == CGC_PAGE_SMALL)) {
    uintptr_t base = gc__page_addr(seg, head);
    size_t idx = gc__obj_index((a - base) >> CGC_GRANULE_SHIFT, sp->divmagic);
    if (idx >= sp->nobjs) return 0;
    obj = base + idx * sp->obj_size;
  } else if (seg->huge) {
    sp = &seg->spans[CGC_META_PAGES];
    obj = gc__huge_base(seg);
    if (a - obj >= sp->obj_size) return 0;
  } else if (sp->state == CGC_PAGE_LARGE) {
    obj = gc__page_addr(seg, head);
    if (a - obj >= sp->obj_size) return 0;
  } else {
    return 0;
  }
  if (!gc__alloc_test(seg, gc__granule_index(seg, obj))) return 0;
  *spp = sp;
  if (obj == 0) __builtin_unreachable(); /* inside a segment; lets callers drop their test */
  return obj;
}
/* Look up the object containing address a: its start, or 0 when a is not
 * inside an allocated object (I1).  *spp and *segp receive its span and
 * segment.  No locks; no hash, no search: two radix loads, a descriptor,
 * a multiply-shift and a bitmap word. */
CGC_INLINE uintptr_t gc__find_object(uintptr_t a, gc_segment_t **segp, gc_span_t **spp) {
  gc_segment_t *seg = gc__radix_lookup(a);
  if (seg == NULL) return 0;
  *segp = seg;
  return gc__find_object_in(seg, a, spp);
}

/* threads.c: the next definition of `name` after cgc's own `ours` (the
 * system's, or a sanitizer's interceptor), else static_fallback; fatal
 * when there is none.  For the interposers (threads.c, sigwait.c). */
CGC_INTERNAL void *gc__find_next(const char *name, void *ours, void *static_fallback);

/* alloc.c */
CGC_INTERNAL void *gc__alloc_slow(size_t n, unsigned kind);
CGC_INTERNAL void *gc__oom(size_t n);
CGC_INTERNAL void gc__uncount_allocated(size_t bytes); /* heap lock held */

/* sweep.c (heap lock held) */
CGC_INTERNAL void gc__span_init_small(gc_segment_t *seg, gc_span_t *sp, unsigned kind, unsigned cls);
CGC_INTERNAL void *gc__span_take(gc_segment_t *seg, gc_span_t *sp, gc_tctx_t *t, size_t *free_bytes);
/* Without the heap lock: build the free list of the span gc__span_take
 * claimed for t (t->build) and return its first batch. */
CGC_INTERNAL void *gc__span_build(gc_tctx_t *t);
/* Without the heap lock, by sp's owner: link the next chunk of sp's
 * unlinked tail (sp->unbuilt != 0) and return it. */
CGC_INTERNAL void *gc__span_extend(gc_span_t *sp);
CGC_INTERNAL size_t gc__span_release(gc_segment_t *seg, gc_span_t *sp, void *free_list);
CGC_INTERNAL void *gc__span_next_batch(gc_span_t *sp, size_t *bytes);
CGC_INTERNAL void gc__reclaim(void);
CGC_INTERNAL void gc__queue_push(gc_span_t *sp);
CGC_INTERNAL gc_span_t *gc__queue_pop(unsigned kind, unsigned cls);

/* mark.c (heap lock held, world stopped) */
CGC_INTERNAL void gc__mark_init(void);
/* A root range: only pushed (word-aligned, in chunks); traced by the next
 * gc__mark_drain.  Empty ranges are ignored. */
CGC_INTERNAL void gc__mark_range(uintptr_t lo, uintptr_t hi);
/* Trace everything reachable from the ranges pushed, with helper markers
 * when the work is big enough; returns when marking is complete. */
CGC_INTERNAL void gc__mark_drain(void);
/* Before the world stops: create the helper markers the coming
 * collection may use (heap lock held). */
CGC_INTERNAL void gc__mark_prepare(void);
/* In a fork child: the helper marker threads did not survive the fork;
 * forget them (they are re-created lazily).  Heap lock held. */
CGC_INTERNAL void gc__mark_atfork_child(void);
/* Tests: mark every collection with all CGC_MARKERS markers (no policy). */
CGC_INTERNAL void gc__mark_force_parallel(bool on);
/* Serial or parallel marking, chosen by measured tracing rates (see
 * mark.c "Serial or parallel").  Marker 0's, heap lock held; a struct of
 * its own so that tests can drive it with made-up rates. */
#define CGC_RATE_WINDOW 4 /* recent rates kept per mode */
#define CGC_PROBE_EVERY 16 /* eligible collections between runs of the mode not preferred */
typedef struct gc_mark_policy {
  double rate[2][CGC_RATE_WINDOW]; /* bytes per ns, [serial, parallel]; 0: empty */
  unsigned at[2];                  /* samples recorded per mode (ring position) */
  unsigned probe;                  /* eligible collections since the last probe */
} gc_mark_policy_t;
CGC_INTERNAL void gc__mark_policy_record(gc_mark_policy_t *p, int mode, double rate);
CGC_INTERNAL int gc__mark_policy_choose(gc_mark_policy_t *p);

/* roots.c */
CGC_INTERNAL void gc__mark_roots(void);
typedef void (*gc_range_fn)(uintptr_t lo, uintptr_t hi, void *arg);
/* Every static-data root range (executable and shared libraries, minus
 * RELRO and cgc's own state), as the collector would scan it now. */
CGC_INTERNAL void gc__static_roots_for_each(gc_range_fn fn, void *arg);
/* dl_iterate_phdr callback body: append info's data ranges and TLS module
 * to gc__heap.modules_* (world.c calls it with the loader lock held). */
struct dl_phdr_info;
CGC_INTERNAL void gc__modules_add(struct dl_phdr_info *info);
/* The calling thread's own stack [*lo, *base) and whether it is the main
 * thread's (whose low end may not be mapped yet). */
CGC_INTERNAL void gc__stack_bounds_of_current_thread(uintptr_t *lo, uintptr_t *base, bool *main_stack);
CGC_INTERNAL void gc__tls_init(void);

/* collect.c */
CGC_INTERNAL void gc__collect_locked(const char *reason);
CGC_INTERNAL void gc__release_caches(void);
CGC_INTERNAL size_t gc__tctx_release(gc_tctx_t *t);

/* verify.c: 1 when every invariant above holds; else prints what broke.
 * gc__heap_is_valid takes the heap lock; the _locked form expects it. */
CGC_INTERNAL int gc__heap_is_valid(void);
CGC_INTERNAL int gc__heap_check_locked(void);

#endif /* CGC_INTERNAL_H */
