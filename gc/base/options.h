/*
 * options.h -- cgc's run-time options: one declarative table, read once
 * from CGC_* environment variables at initialisation, printable as the
 * effective configuration (CGC_VERBOSE=1).
 */
#ifndef CGC_OPTIONS_H
#define CGC_OPTIONS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/compiler.h"
#include "base/debug.h"

/* X(name, type, default, description).  type: SIZE (bytes, K/M/G suffix),
 * LONG (integer), BOOL (0/1), SIGNAL (a number or a name: PWR, SIGXCPU,
 * RTMIN+3, ...; not one of KILL, STOP, SEGV, BUS, ILL, FPE),
 * STATS (0, 1 or json: CGC_PRINT_STATS_*). */
#define CGC_OPTION_TABLE(X)                                                                          \
  X(INITIAL_HEAP_SIZE, SIZE, 8u << 20,                                                               \
    "bytes allocated before the first collection, and the least between two")                        \
  X(MAX_HEAP_SIZE, SIZE, 0, "cap on heap bytes mapped from the OS (0 = none)")                       \
  X(HEAP_GROWTH, LONG, 50,                                                                           \
    "percent of the live bytes (atomic ones weighted 1/4) allocated between collections")            \
  X(DISABLE, BOOL, 0, "never collect (as if gc_disable() had been called)")                          \
  X(PRINT_STATS, STATS, 0, "1: a line per collection, a summary at exit; json: a JSON line at exit") \
  X(VERBOSE, BOOL, 0, "print the effective configuration at start")                                  \
  X(DECOMMIT_DELAY, LONG, 2, "collections a free page waits before it goes back to the OS")          \
  X(MARK_STACK_MAX, SIZE, 1u << 20, "mark-stack entries per marker before overflow recovery")        \
  X(MARKERS, LONG, 0,                                                                                \
    "marking threads, the collecting one included (0 = one per online CPU, at most 16; 1 = serial)") \
  X(VERIFY, BOOL, CGC_DEBUG >= 2, "check heap invariants after every collection")                    \
  X(SIGNAL, SIGNAL, SIGPWR, "signal that stops threads for a collection")

/* The values of CGC_PRINT_STATS (an option of type STATS). */
enum { CGC_PRINT_STATS_TEXT = 1, CGC_PRINT_STATS_JSON = 2 };

/* (clang-format takes the expansion for an unfinished expression) */
/* clang-format off */
typedef enum gc_option_id {
#define CGC_OPTION_ENUM(name, type, def, desc) CGC_OPT_##name,
  CGC_OPTION_TABLE(CGC_OPTION_ENUM)
#undef CGC_OPTION_ENUM
  CGC_OPT_COUNT
} gc_option_id_t;
/* clang-format on */

/* Values, indexed by gc_option_id_t; valid after gc__options_init(). */
CGC_INTERNAL extern long long gc__option_values[CGC_OPT_COUNT];

CGC_INTERNAL void gc__options_init(void);
CGC_INTERNAL void gc__options_print(void);

/* Read one option ahead of the others (the thread registry's signal). */
CGC_INTERNAL void gc__option_read_early(gc_option_id_t id);
static inline long long gc__option(gc_option_id_t id) { return gc__option_values[id]; }

#endif
