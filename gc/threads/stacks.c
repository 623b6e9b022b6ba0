/*
 * stacks.c -- coroutine and fiber stacks a runtime registers with cgc.
 *
 * The list gc__registry.stacks changes under the heap lock only (register,
 * unregister) and is read by the collector with the world stopped, so a
 * thread stopped in the middle of gc_stack_switch is seen either before
 * or after each of its two plain stores (saved_sp of the stack it leaves,
 * then `active`).  roots.c never trusts `active` alone: it scans the stack
 * that really contains a thread's stack pointer from there, and every
 * other stack from its saved stack pointer.
 */
#include "threads/stacks.h"

#include <errno.h>
#include <stdlib.h>

#include "cgc.h"

#include "alloc/tctx.h"
#include "base/atomic.h"
#include "base/debug.h"
#include "heap/lock.h"
#include "threads/registry.h"

gc_stack_t *gc_stack_register(void *lo, void *hi) {
  uintptr_t l = (uintptr_t)lo, h = (uintptr_t)hi;
  if (h <= l) {
    errno = EINVAL;
    return NULL;
  }
  gc__ensure_init();
  struct gc_stack *s = malloc(sizeof *s); /* internal; never scanned */
  if (s == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  s->lo = l;
  s->hi = h;
  s->saved_sp = 0;
  s->scanned = 0;
  gc__lock();
  for (struct gc_stack *o = gc__registry.stacks; o != NULL; o = o->next) {
    if (o->lo < h && l < o->hi) {
      gc__unlock();
      free(s);
      errno = EINVAL;
      return NULL;
    }
  }
  s->prev = NULL;
  s->next = gc__registry.stacks;
  if (s->next != NULL) s->next->prev = s;
  gc__registry.stacks = s;
  gc__unlock();
  return s;
}

void gc_stack_unregister(gc_stack_t *s) {
  if (s == NULL) return;
  gc__lock();
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    gc__registry.stacks = s->next;
  if (s->next != NULL) s->next->prev = s->prev;
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
    if (t->active == s) t->active = NULL;
  gc__unlock();
  free(s);
}

/* Bounds: the number of registered stacks. */
struct gc_stack *gc__stack_find(uintptr_t sp) {
  CGC_ASSERT_LOCKED();
  for (struct gc_stack *s = gc__registry.stacks; s != NULL; s = s->next)
    if (sp >= s->lo && sp < s->hi) return s;
  return NULL;
}

/* Record where the stack being left stops, then the stack to come.  The
 * stack being left is found from the stack pointer itself: `active` is
 * only a hint that spares the search when the runtime called us for every
 * switch.  Lock-free on that common path. */
void gc_stack_switch(gc_stack_t *to) {
  gc_tctx_t *t = gc__thread_ctx();
  if (t == NULL) gc__fatal("gc_stack_switch: cannot register the calling thread");
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  struct gc_stack *from = t->active;
  if (sp >= t->stack_lo && sp < t->stack_base) {
    t->native_sp = sp;
  } else if (from != NULL && sp >= from->lo && sp < from->hi) {
    from->saved_sp = sp;
  } else {
    gc__lock();
    from = gc__stack_find(sp);
    if (from != NULL) from->saved_sp = sp;
    gc__unlock();
  }
  gc__signal_fence(); /* saved_sp before active, as a stop sees them */
  t->active = to;
}
