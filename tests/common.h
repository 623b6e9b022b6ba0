/*
 * common.h -- helpers shared by the cgc Criterion suites.
 *
 * The test programs link the static libcgc, so the hidden gc__* internals
 * declared in gc/'s headers are callable.
 *
 * Conventions:
 *  - Object contents are a pattern derived from an id (t_fill/t_bad): a
 *    collector that reclaims something reachable is caught because the slot
 *    is zeroed or reused (t_churn stomps every byte it allocates).
 *  - "Was it collected?" checks are statistical: a conservative collector
 *    may keep a few objects alive through stray stack words.
 *  - Helpers that create objects which must become unreachable are
 *    noinline so that no pointer stays in the caller's frame.
 */
#ifndef CGC_TESTS_COMMON_H
#define CGC_TESTS_COMMON_H

#include <criterion/criterion.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgc.h"
/* The library's internal headers, for tests that look inside. */
#include "alloc/alloc.h"
#include "alloc/span.h"
#include "alloc/tctx.h"
#include "base/atomic.h"
#include "base/options.h"
#include "base/os.h"
#include "debug/hooks.h"
#include "debug/verify.h"
#include "heap/heap.h"
#include "mark/mark.h"
#include "mark/policy.h"
#include "mark/roots.h"
#include "obs/stats.h"
#include "sweep/reclaim.h"
#include "threads/registry.h"
#include "threads/stacks.h"
#include "threads/world.h"

#define T_NOINLINE __attribute__((noinline))
#define T_KiB ((size_t)1 << 10)
#define T_MiB ((size_t)1 << 20)
#define T_GiB ((size_t)1 << 30)

/* ---- deterministic randomness ------------------------------------------ */
static inline uint64_t t_mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}
static inline uint64_t t_rand(uint64_t *state) {
  *state += 0x9E3779B97F4A7C15u;
  return t_mix64(*state);
}
/* uniform-ish in [lo, hi] */
static inline size_t t_range(uint64_t *state, size_t lo, size_t hi) {
  return lo + (size_t)(t_rand(state) % (uint64_t)(hi - lo + 1));
}

/* Hide a value from the optimiser: impossible sizes are passed through
 * this so the compiler neither warns about them nor reasons about them. */
static inline size_t t_opaque(size_t x) {
  __asm__ volatile("" : "+r"(x));
  return x;
}
/* Hide a pointer's provenance (so that writing the whole usable size of an
 * object, beyond the size requested, is not flagged by alloc_size-based
 * object-size checks). */
static inline void *t_launder(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

/* ---- id-derived patterns ------------------------------------------------ */
/* Word w of the pattern of object `id`.  Random-looking 64-bit values are
 * practically never mistaken for heap pointers. */
static inline uint64_t t_word(uint64_t id, size_t w) {
  return t_mix64(id * 0xD6E8FEB86659FD93u + (uint64_t)w);
}
void t_fill(void *p, size_t n, uint64_t id);
/* -1 when [p, p+n) holds the pattern of id, else the first bad offset. */
long t_bad(const void *p, size_t n, uint64_t id);
/* n when all zero, else the offset of the first non-zero byte. */
size_t t_first_nonzero(const void *p, size_t n);

/* Assert helpers that say what broke. */
#define T_ASSERT_PATTERN(p, n, id)                                                   \
  do {                                                                               \
    const void *t_p_ = (p);                                                          \
    size_t t_n_ = (n);                                                               \
    uint64_t t_id_ = (id);                                                           \
    long t_b_ = t_bad(t_p_, t_n_, t_id_);                                            \
    if (t_b_ >= 0)                                                                   \
      cr_assert_fail("object %p (id %llu, %zu bytes) corrupted at offset %ld", t_p_, \
                     (unsigned long long)t_id_, t_n_, t_b_);                         \
  } while (0)
#define T_ASSERT_ZERO(p, n, what)                                                                         \
  do {                                                                                                    \
    const void *t_p_ = (p);                                                                               \
    size_t t_n_ = (n);                                                                                    \
    size_t t_z_ = t_first_nonzero(t_p_, t_n_);                                                            \
    if (t_z_ != t_n_)                                                                                     \
      cr_assert_fail("%s: %p (%zu bytes) not zero at offset %zu (byte 0x%02x)", (what), t_p_, t_n_, t_z_, \
                     ((const unsigned char *)t_p_)[t_z_]);                                                \
  } while (0)

/* ---- cgc helpers --------------------------------------------------------- */
gc_stats_t t_stats(void);
/* Overwrite a large chunk of dead stack with zeros, so that stale pointers
 * left there by earlier calls do not become roots in later frames. */
void t_scrub_stack(void);
/* Scrub the stack, then collect. */
void t_collect(void);
/* Allocate about `bytes` of garbage of mixed sizes (16 B .. ~1.2 MiB, a
 * quarter atomic).  Every scanned object is checked to be zero (gc_malloc's
 * contract) and every object is then stomped with 0xA5, so a reclaimed
 * object that was still reachable gets overwritten. */
void t_churn(size_t bytes, uint64_t seed);
/* Same with small objects only (<= 4 KiB): cheap per-byte. */
void t_churn_small(size_t bytes, uint64_t seed);
/* Number of ptrs[i] that are still the base of a live object. */
size_t t_count_live(void *const *ptrs, size_t n);
/* Same for addresses stored hidden as ~(uintptr_t)p. */
size_t t_count_live_hidden(const uintptr_t *hidden, size_t n);
/* Assert gc__heap_is_valid(). */
#define T_ASSERT_HEAP_VALID() cr_assert_eq(gc__heap_is_valid(), 1, "gc__heap_is_valid() failed")

/* ---- patterned nodes ------------------------------------------------------ */
/* A scanned object: a header, then the pattern of `id` up to `size`. */
typedef struct t_node {
  struct t_node *next;
  uint64_t id;
  size_t size;
} t_node;
/* The size the helpers give node `id`: mostly small, some medium, a few
 * large (> 512 KiB). */
size_t t_node_size(uint64_t id);
t_node *t_node_new(uint64_t id, size_t size);
/* Assert that n is a live object holding node `id` intact. */
void t_node_check(const t_node *n, uint64_t id);
/* A list of `count` nodes with ids idbase .. idbase+count-1 (head first),
 * sizes from t_node_size unless fixed_size != 0. */
t_node *t_list_new(size_t count, uint64_t idbase, size_t fixed_size);
void t_list_check(const t_node *head, size_t count, uint64_t idbase);

/* ---- child processes ------------------------------------------------------ */
/* Scenarios that need their own environment (CGC_* options, LD_PRELOAD)
 * or that must die: the test program re-executes itself with
 * CGC_TEST_CHILD=scenario and only the given environment (a NULL-ended
 * list; the sanitizer options ASAN_OPTIONS and UBSAN_OPTIONS of the run
 * are passed on too), and a constructor of the program runs the
 * scenario.  Returns its
 * wait status and output (malloc'ed; free it). */
typedef struct t_child {
  int status;
  char out[8192];
  char err[65536];
  size_t err_len; /* the whole length, even past sizeof err */
} t_child_t;
t_child_t *t_run_child(const char *scenario, const char *const *env);
/* In the program's constructor: the scenario this process was started
 * for, or NULL in the test run itself.  A child dies with its parent and
 * after a minute in any case. */
const char *t_child_scenario(void);

/* Set a CGC_* option; must run before the first cgc call of the test. */
#define T_SETENV(k, v) cr_assert_eq(setenv((k), (v), 1), 0)

#endif /* CGC_TESTS_COMMON_H */
