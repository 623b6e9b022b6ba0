/*
 * hooks.h -- hooks for the tests (debug/hooks.c), kept out of the modules
 * they steer.  Hidden: reachable from programs linked with libcgc.a only.
 */
#ifndef CGC_HOOKS_H
#define CGC_HOOKS_H

#include <stdbool.h>

#include "base/compiler.h"

/* With `on`, every collection marks with all CGC_MARKERS markers,
 * whatever its size and the measured rates. */
CGC_INTERNAL void gc__mark_force_parallel(bool on);

#endif /* CGC_HOOKS_H */
