/*
 * lock.h -- the concurrency contract every module shares: the heap lock,
 * whether the world is stopped, and lazy start-up.
 *
 *   L1  Every slow path and every collection holds the heap lock; so does
 *       every function whose comment says "heap lock held", and it asserts
 *       CGC_ASSERT_LOCKED() in debug builds.  One that says "heap lock NOT
 *       held" (it takes the lock itself) asserts CGC_ASSERT_UNLOCKED().
 *   L2  A collection stops every other registered thread (threads/world.c)
 *       before it reads or writes a mark bit; functions that need that say
 *       "world stopped" and assert CGC_ASSERT_STOPPED().  The world is only
 *       ever stopped by the lock holder.
 * The lock-free paths (the allocation fast path, gc_free's common path,
 * gc_size/gc_base) are listed with the atomic words they touch in
 * heap/layout.h ("Concurrency story").
 */
#ifndef CGC_LOCK_H
#define CGC_LOCK_H

#include <pthread.h>
#include <stdbool.h>

#include "base/atomic.h"
#include "base/compiler.h"
#include "base/debug.h"

CGC_INTERNAL extern pthread_mutex_t gc__heap_lock;

/* Debug builds track the holder, so that preconditions can be asserted. */
#if CGC_DEBUG >= 1
CGC_INTERNAL extern volatile AO_t gc__lock_owner; /* pthread_t of the holder, or 0 */
CGC_INTERNAL extern volatile AO_t gc__world_stopped_flag;
CGC_INLINE void gc__lock_note_acquired(void) { gc__store(&gc__lock_owner, (AO_t)pthread_self()); }
CGC_INLINE void gc__lock_note_released(void) { gc__store(&gc__lock_owner, 0); }
#else
CGC_INLINE void gc__lock_note_acquired(void) {}
CGC_INLINE void gc__lock_note_released(void) {}
#endif

#ifdef CGC_TSAN
/* Under ThreadSanitizer a signal that arrives while a thread is blocked in
 * pthread_mutex_lock is held back until the lock is acquired: a thread
 * waiting for the heap lock the collector holds would never answer the
 * stop signal.  So wait by polling; TSan delivers signals on the way out of
 * trylock and inside nanosleep. */
#include <time.h>
CGC_INLINE void gc__lock(void) {
  while (pthread_mutex_trylock(&gc__heap_lock) != 0) {
    struct timespec ts = {0, 20 * 1000};
    nanosleep(&ts, NULL);
  }
  gc__lock_note_acquired();
}
#else
CGC_INLINE void gc__lock(void) {
  pthread_mutex_lock(&gc__heap_lock);
  gc__lock_note_acquired();
}
#endif
CGC_INLINE void gc__unlock(void) {
  gc__lock_note_released();
  pthread_mutex_unlock(&gc__heap_lock);
}

/* True when the calling thread holds the heap lock (debug builds; release
 * builds cannot tell and say true). */
CGC_INLINE bool gc__lock_held(void) {
#if CGC_DEBUG >= 1
  return gc__load(&gc__lock_owner) == (AO_t)pthread_self();
#else
  return true;
#endif
}
/* The world is stopped: every other registered thread acknowledged the
 * stop (threads/world.c sets it, lock held, and clears it before the
 * restart).  Helper markers see it too: they mark only while it is set. */
CGC_INLINE bool gc__world_is_stopped(void) {
#if CGC_DEBUG >= 1
  return gc__load(&gc__world_stopped_flag) != 0;
#else
  return true;
#endif
}
CGC_INLINE void gc__world_note_stopped(bool stopped) {
#if CGC_DEBUG >= 1
  gc__store(&gc__world_stopped_flag, stopped);
#else
  (void)stopped;
#endif
}
#define CGC_ASSERT_LOCKED() CGC_ASSERT(gc__lock_held())
#define CGC_ASSERT_STOPPED() CGC_ASSERT(gc__lock_held() && gc__world_is_stopped())
/* For functions that run with the lock NOT held (they take it, or must
 * not block the collector): only meaningful in debug builds. */
#define CGC_ASSERT_UNLOCKED() CGC_ASSERT(!gc__lock_held())

/* ---- start-up (collect/init.c) ---------------------------------------- */
/* 1 once start-up finished (release store; acquire load pairs with it). */
CGC_INTERNAL extern volatile AO_t gc__initialized;
CGC_INTERNAL void gc__ensure_init(void);
CGC_INLINE bool gc__is_initialized(void) { return gc__load_acquire(&gc__initialized) != 0; }

#endif /* CGC_LOCK_H */
