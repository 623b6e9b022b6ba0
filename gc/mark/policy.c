/*
 * policy.c -- serial or parallel marking, chosen by measured tracing rates
 * (policy.h).  The parallel instance pays a CAS per object marked, and on
 * a loaded machine a preempted helper holding work delays the end of the
 * phase, so serial can win; the policy measures instead of guessing.  A
 * mode is judged by the best of its last CGC_RATE_WINDOW rates, not an
 * average: noise only slows a collection down.  The worst case is one
 * collection in CGC_PROBE_EVERY marked the slower way, plus
 * CGC_RATE_WINDOW of them after a mode really became slower.  The
 * measurements behind it: docs/design/marking.md.
 */
#include "mark/policy.h"

bool gc__mark_force_all;

/* Record a tracing rate (bytes per ns) measured in `mode` (0 serial, 1
 * parallel): it replaces the oldest of the mode's last CGC_RATE_WINDOW.
 * Bounds: O(1). */
void gc__mark_policy_record(gc_mark_policy_t *p, int mode, double rate) {
  p->rate[mode][p->at[mode]++ % CGC_RATE_WINDOW] = rate;
}

/* A mode's estimate: the best of its recent rates (0: none yet; why not
 * an average: see the top of this file). */
static double best_rate(const gc_mark_policy_t *p, int mode) {
  double b = 0;
  for (unsigned i = 0; i < CGC_RATE_WINDOW; i++)
    if (p->rate[mode][i] > b) b = p->rate[mode][i];
  return b;
}

/* The mode for the next eligible collection: each mode measured once
 * (parallel first), then the one with the better estimate, except that
 * every CGC_PROBE_EVERY-th collection runs the other one to keep its rates
 * current.  Bounds: O(CGC_RATE_WINDOW). */
int gc__mark_policy_choose(gc_mark_policy_t *p) {
  double serial = best_rate(p, 0), par = best_rate(p, 1);
  if (par == 0) return 1;
  if (serial == 0) return 0;
  int mode = par > serial;
  if (++p->probe >= CGC_PROBE_EVERY) {
    p->probe = 0;
    mode = !mode;
  }
  return mode;
}
