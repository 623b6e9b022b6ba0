/*
 * options.h -- cgc's options: one declarative table, read once from the
 * CGC_* environment variables (or bdwgc's names) at initialisation,
 * changed at run time with gc_option_set (include/cgc.h), printable as the
 * effective configuration (CGC_VERBOSE=1).
 */
#ifndef CGC_OPTIONS_H
#define CGC_OPTIONS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/atomic.h"
#include "base/compiler.h"
#include "base/debug.h"

/* Option flags (the table's flags column). */
#define CGC_OPTF_STARTUP 1 /* read at start-up only: gc_option_set refuses it (EPERM) */
#define CGC_OPTF_CLAMP 2   /* a value out of bounds is reported and clamped (else: the default kept) */

/* The most markers (mark/mark.c sizes its table by it). */
#define CGC_MARKERS_MAX 16
/* The largest SIZE value: what parses without overflow, suffix included. */
#define CGC_OPTION_SIZE_MAX (1LL << 62)

/* X(name, type, default, min, max, alias, flags, description)
 *   name     the option is CGC_<name> in the environment and for
 *            gc_option_get/set (which also take it without "CGC_")
 *   type     SIZE (bytes, K/M/G suffix), LONG (integer), BOOL (0/1), STATS (0, 1
 *            or json: CGC_PRINT_STATS_*), SIGNAL (a number or a name: PWR,
 *            SIGXCPU, RTMIN+3, ...; not one of KILL, STOP, SEGV, BUS, ILL, FPE)
 *   min, max the valid values, both included, from the environment and from
 *            gc_option_set alike.  From the environment, a value out of them
 *            is reported and the default kept (clamped, with CLAMP); a value
 *            that does not parse is reported and the default kept.
 *   alias    bdwgc's name for it, or NULL: read when CGC_<name> is unset, so
 *            that a libgc drop-in honours it.  As in bdwgc, a BOOL alias that
 *            is set at all means 1.
 *   flags    CGC_OPTF_STARTUP, CGC_OPTF_CLAMP, or 0
 * Options without STARTUP are read where they are used, so gc_option_set
 * takes effect at the next use (include/cgc.h says when for each). */
#define CGC_OPTION_TABLE(X)                                                                           \
  X(INITIAL_HEAP_SIZE, SIZE, 8u << 20, 0, CGC_OPTION_SIZE_MAX, "GC_INITIAL_HEAP_SIZE", 0,             \
    "bytes allocated before the first collection, and the least between two")                         \
  X(MAX_HEAP_SIZE, SIZE, 0, 0, CGC_OPTION_SIZE_MAX, "GC_MAXIMUM_HEAP_SIZE", 0,                        \
    "cap on heap bytes mapped from the OS (0 = none)")                                                \
  X(HEAP_GROWTH, LONG, 50, 1, 10000, NULL, 0,                                                         \
    "percent of the live bytes (atomic ones weighted 1/4) allocated between collections")             \
  X(DISABLE, BOOL, 0, 0, 1, "GC_DONT_GC", 0, "never collect (as if gc_disable() had been called)")    \
  X(PRINT_STATS, STATS, 0, 0, 2, "GC_PRINT_STATS", 0,                                                 \
    "1: a line per collection, a summary at exit; json: a JSON line at exit")                         \
  X(VERBOSE, BOOL, 0, 0, 1, NULL, CGC_OPTF_STARTUP, "print the effective configuration at start")     \
  X(DECOMMIT_DELAY, LONG, 2, 0, 1000000, NULL, 0,                                                     \
    "collections a free page waits before it goes back to the OS")                                    \
  X(MARK_STACK_MAX, SIZE, 1u << 20, 16, CGC_OPTION_SIZE_MAX, NULL, CGC_OPTF_STARTUP | CGC_OPTF_CLAMP, \
    "mark-stack entries per marker before overflow recovery")                                         \
  X(MARKERS, LONG, 0, 0, CGC_MARKERS_MAX, "GC_MARKERS", CGC_OPTF_STARTUP | CGC_OPTF_CLAMP,            \
    "marking threads, the collecting one included (0 = one per online CPU, at most 16; 1 = serial)")  \
  X(VERIFY, BOOL, CGC_DEBUG >= 2, 0, 1, NULL, 0, "check heap invariants after every collection")      \
  X(SIGNAL, SIGNAL, SIGPWR, 1, 64, NULL, CGC_OPTF_STARTUP, "signal that stops threads for a collection")

/* The values of CGC_PRINT_STATS (an option of type STATS). */
enum { CGC_PRINT_STATS_TEXT = 1, CGC_PRINT_STATS_JSON = 2 };

/* (clang-format takes the expansion for an unfinished expression) */
/* clang-format off */
typedef enum gc_option_id {
#define CGC_OPTION_ENUM(name, type, def, min, max, alias, flags, desc) CGC_OPT_##name,
  CGC_OPTION_TABLE(CGC_OPTION_ENUM)
#undef CGC_OPTION_ENUM
  CGC_OPT_COUNT
} gc_option_id_t;
/* clang-format on */

/* Values, indexed by gc_option_id_t; valid after gc__options_init().
 * Words, because they are read without the heap lock while gc_option_set
 * may store one: read them with gc__option(). */
CGC_INTERNAL extern volatile AO_t gc__option_values[CGC_OPT_COUNT];

CGC_INTERNAL void gc__options_init(void);
CGC_INTERNAL void gc__options_print(void);

/* Read one option ahead of the others (the thread registry's signal). */
CGC_INTERNAL void gc__option_read_early(gc_option_id_t id);
static inline long long gc__option(gc_option_id_t id) { return (long long)gc__load(&gc__option_values[id]); }

/* For gc_option_get/set (collect/init.c, which applies the options whose
 * value lives elsewhere).  The id of "CGC_<name>" or "<name>", or -1. */
CGC_INTERNAL int gc__option_find(const char *name);
/* 0 when gc_option_set may store v, else EINVAL (out of bounds) or EPERM
 * (a start-up option). */
CGC_INTERNAL int gc__option_settable(gc_option_id_t id, long long v);
/* Store a value (relaxed: readers need the value, not an order). */
static inline void gc__option_store(gc_option_id_t id, long long v) {
  gc__store(&gc__option_values[id], (AO_t)v);
}

#endif
