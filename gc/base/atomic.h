/*
 * atomic.h -- every atomic operation cgc uses, as thin wrappers over
 * libatomic_ops (<atomic_ops.h>, linked through ATOMIC_OPS_CFLAGS/LIBS).
 * No other file of gc/ calls AO_* or the compiler's __atomic builtins.
 *
 * Word-sized atomics named for what they guarantee rather than for the
 * instruction they become.  Every shared word is an AO_t (a machine word,
 * 64 bits on the targets cgc supports); a plain uint64_t word of a side
 * bitmap is used through gc__word() so its accesses stay one type, and
 * unsigned int words (the stop handshake) have _uint forms.
 *
 * Orderings, in the C11 vocabulary the comments of mark.c use:
 *   gc__load / gc__store            relaxed: atomic, no ordering
 *   gc__load_acquire                acquire
 *   gc__store_release               release
 *   gc__cas, gc__cas_value, gc__swap,
 *   gc__fetch_add(1), gc__fetch_sub1,
 *   gc__or, gc__and                 read-modify-writes (locked instructions:
 *                                   sequentially consistent on x86-64)
 *   gc__fence                       full fence (store-load ordering included)
 *   gc__signal_fence                compiler barrier only: orders stores as a
 *                                   signal handler on the same thread sees them
 * On x86-64 the loads and stores are plain moves, the read-modify-writes
 * are locked instructions and the fence is an mfence.
 */
#ifndef CGC_ATOMIC_H
#define CGC_ATOMIC_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include <atomic_ops.h>

#if !defined(AO_HAVE_load_acquire) || !defined(AO_HAVE_store_release) || !defined(AO_HAVE_nop_full) || \
    !defined(AO_HAVE_compare_and_swap_full) || !defined(AO_HAVE_fetch_compare_and_swap_full) ||        \
    !defined(AO_HAVE_fetch_and_add1_full) || !defined(AO_HAVE_fetch_and_sub1_full) ||                  \
    !defined(AO_HAVE_load) || !defined(AO_HAVE_store) || !defined(AO_HAVE_fetch_and_add) ||            \
    !defined(AO_HAVE_or) || !defined(AO_HAVE_and) || !defined(AO_HAVE_int_load) ||                     \
    !defined(AO_HAVE_int_load_acquire) || !defined(AO_HAVE_int_store_release)
#error "libatomic_ops lacks an operation cgc needs on this target"
#endif

static_assert(sizeof(AO_t) == sizeof(uint64_t), "a bitmap word is one AO_t");
static_assert(sizeof(AO_t) == sizeof(void *) && sizeof(AO_t) == sizeof(uintptr_t),
              "an AO_t holds an address or an index");

/* A bitmap word (uint64_t) seen as an atomic word.  Both are `unsigned
 * long` on LP64 Linux, so this is the same object type, not a pun. */
static inline volatile AO_t *gc__word(uint64_t *p) { return (volatile AO_t *)(void *)p; }

static inline AO_t gc__load(const volatile AO_t *p) { return AO_load(p); }
static inline void gc__store(volatile AO_t *p, AO_t v) { AO_store(p, v); }
static inline AO_t gc__load_acquire(const volatile AO_t *p) { return AO_load_acquire(p); }
static inline void gc__store_release(volatile AO_t *p, AO_t v) { AO_store_release(p, v); }

/* Replace *p by `desired` if it holds `expected`; true when it did. */
static inline bool gc__cas(volatile AO_t *p, AO_t expected, AO_t desired) {
  return AO_compare_and_swap_full(p, expected, desired) != 0;
}
/* The same, returning the value *p held (== expected exactly on success),
 * so a CAS loop needs no separate reload. */
static inline AO_t gc__cas_value(volatile AO_t *p, AO_t expected, AO_t desired) {
  return AO_fetch_compare_and_swap_full(p, expected, desired);
}
/* *p += 1 and *p -= 1; return the old value.  Full barriers: besides
 * publishing earlier writes, a later load cannot move before them. */
static inline AO_t gc__fetch_add1(volatile AO_t *p) { return AO_fetch_and_add1_full(p); }
static inline AO_t gc__fetch_sub1(volatile AO_t *p) { return AO_fetch_and_sub1_full(p); }
/* *p += n (wrapping: n may be the negation of a value); returns the old
 * value.  Atomic, no ordering promised beyond the instruction's own. */
static inline AO_t gc__fetch_add(volatile AO_t *p, AO_t n) { return AO_fetch_and_add(p, n); }
/* *p |= bits and *p &= bits, atomically (bitmap words several writers share). */
static inline void gc__or(volatile AO_t *p, AO_t bits) { AO_or(p, bits); }
static inline void gc__and(volatile AO_t *p, AO_t bits) { AO_and(p, bits); }
/* Store v, return the value it replaced (a CAS loop: libatomic_ops has no
 * exchange on every target). */
static inline AO_t gc__swap(volatile AO_t *p, AO_t v) {
  AO_t old = AO_load(p), seen;
  while ((seen = AO_fetch_compare_and_swap_full(p, old, v)) != old) old = seen;
  return old;
}

/* The word at an address of any pointer-sized object (a radix entry, a
 * heap bound): atomic loads and release stores. */
static inline uintptr_t gc__load_word(const void *p) { return (uintptr_t)AO_load((const volatile AO_t *)p); }
static inline void gc__store_word_release(void *p, uintptr_t v) {
  AO_store_release((volatile AO_t *)p, (AO_t)v);
}

/* unsigned int words (the stop/resume sequence numbers of threads/world.c). */
static inline unsigned gc__load_uint(const volatile unsigned *p) { return AO_int_load(p); }
static inline unsigned gc__load_acquire_uint(const volatile unsigned *p) { return AO_int_load_acquire(p); }
static inline void gc__store_release_uint(volatile unsigned *p, unsigned v) { AO_int_store_release(p, v); }

/* Orders every earlier load and store before every later one, including a
 * store before a later load (which acquire/release never do). */
static inline void gc__fence(void) { AO_nop_full(); }
/* Keeps the compiler from moving memory accesses across it; no instruction.
 * Enough where the only other observer is a signal handler on this thread. */
static inline void gc__signal_fence(void) { __asm__ volatile("" ::: "memory"); }

/* A polite busy-wait step: tells the core that this is a spin loop (x86
 * `pause`), which saves power and yields to a sibling hyperthread. */
static inline void gc__spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  __asm__ volatile("" ::: "memory");
#endif
}

#endif /* CGC_ATOMIC_H */
