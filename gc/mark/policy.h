/*
 * policy.h -- serial or parallel marking (mark/policy.c).
 */
#ifndef CGC_POLICY_H
#define CGC_POLICY_H

#include <stdbool.h>

#include "base/compiler.h"

/* Serial or parallel marking, chosen by measured tracing rates (see
 * mark/policy.c).  The collector's instance is marker 0's, used with the
 * heap lock held; the functions touch only *p, so that tests can drive an
 * instance of their own with made-up rates (no lock). */
#define CGC_RATE_WINDOW 4  /* recent rates kept per mode */
#define CGC_PROBE_EVERY 16 /* eligible collections between runs of the mode not preferred */
typedef struct gc_mark_policy {
  double rate[2][CGC_RATE_WINDOW]; /* bytes per ns, [serial, parallel]; 0: empty */
  unsigned at[2];                  /* samples recorded per mode (ring position) */
  unsigned probe;                  /* eligible collections since the last probe */
} gc_mark_policy_t;
CGC_INTERNAL void gc__mark_policy_record(gc_mark_policy_t *p, int mode, double rate);
CGC_INTERNAL int gc__mark_policy_choose(gc_mark_policy_t *p);

/* Tests (debug/hooks.c): every collection marks with all CGC_MARKERS
 * markers, whatever its size and the measured rates.  Heap lock held. */
CGC_INTERNAL extern bool gc__mark_force_all;

#endif /* CGC_POLICY_H */
