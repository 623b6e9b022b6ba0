/*
 * hooks.c -- test hooks (hooks.h).
 */
#include "debug/hooks.h"

#include "heap/lock.h"
#include "mark/policy.h"

void gc__mark_force_parallel(bool on) {
  gc__ensure_init();
  gc__lock();
  gc__mark_force_all = on;
  gc__unlock();
}
