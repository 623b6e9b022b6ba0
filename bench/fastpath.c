/*
 * fastpath.c -- the instruction count of gc_malloc's fast path.
 *
 * One million gc_malloc(24) calls in a loop.  Run under callgrind
 * (`make bench-callgrind`): the Ir of gc_malloc itself divided by the call
 * count is the cost of the inline fast path, slow-path refills amortised
 * in separately (gc__alloc_slow, gc__span_take).  Instructions, not time:
 * repeatable on a noisy machine.
 */
#include <cgc.h>
#include <stdio.h>

#define CALLS 1000000

int main(void) {
  void *volatile sink = NULL;
  gc_init();
  for (int i = 0; i < CALLS; i++) sink = gc_malloc(24);
  printf("fastpath: %d calls, last %p\n", CALLS, sink);
  return 0;
}
