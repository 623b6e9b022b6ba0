/*
 * atomic.h -- the atomic operations cgc uses, as thin wrappers over
 * libatomic_ops (<atomic_ops.h>, linked through ATOMIC_OPS_CFLAGS/LIBS).
 *
 * One concern: word-sized atomics with the orderings the parallel marker
 * (mark.c) needs, named for what they guarantee rather than for the
 * instruction they become.  Every shared word is an AO_t (a machine word,
 * 64 bits on the targets cgc supports); a plain uint64_t word of a side
 * bitmap is used through gc__word() so its accesses stay one type.
 *
 * Orderings, in the C11 vocabulary the comments of mark.c use:
 *   gc__load / gc__store            relaxed: atomic, no ordering
 *   gc__load_acquire                acquire
 *   gc__store_release               release
 *   gc__cas, gc__cas_value,
 *   gc__fetch_add1, gc__fetch_sub1  sequentially consistent read-modify-writes
 *   gc__fence                       full fence (store-load ordering included)
 * On x86-64 the loads and stores are plain moves, the read-modify-writes
 * are locked instructions and the fence is an mfence.
 */
#ifndef CGC_ATOMIC_H
#define CGC_ATOMIC_H

#include <atomic_ops.h>
#include <stdbool.h>
#include <stdint.h>

#if !defined(AO_HAVE_load_acquire) || !defined(AO_HAVE_store_release) || !defined(AO_HAVE_nop_full) ||   \
    !defined(AO_HAVE_compare_and_swap_full) || !defined(AO_HAVE_fetch_compare_and_swap_full) ||           \
    !defined(AO_HAVE_fetch_and_add1_full) || !defined(AO_HAVE_fetch_and_sub1_full) || !defined(AO_HAVE_load) || \
    !defined(AO_HAVE_store)
#error "libatomic_ops lacks an operation cgc needs on this target"
#endif

static_assert(sizeof(AO_t) == sizeof(uint64_t), "a bitmap word is one AO_t");
static_assert(sizeof(AO_t) == sizeof(void *), "an AO_t holds an address or an index");

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

/* Orders every earlier load and store before every later one, including a
 * store before a later load (which acquire/release never do). */
static inline void gc__fence(void) { AO_nop_full(); }

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
