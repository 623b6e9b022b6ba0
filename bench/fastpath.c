/*
 * fastpath.c -- the instruction count of the allocation fast path.
 *
 * One million gc_malloc(24) calls in a loop, then as many
 * gc_malloc_atomic(24).  Run under callgrind (`make bench-callgrind`): the
 * Ir of each function itself divided by the call count is the cost of the
 * inline fast path, slow-path refills amortised in separately
 * (gc__alloc_slow, gc__span_take); it must stay within the budget of
 * gc/alloc/alloc_inline.h.  Instructions, not time: repeatable on a noisy
 * machine.
 */
#include <cgc.h>
#include <stdio.h>

#define CALLS 1000000

int main(void) {
  void *volatile sink = NULL;
  gc_init();
  for (int i = 0; i < CALLS; i++) sink = gc_malloc(24);
  for (int i = 0; i < CALLS; i++) sink = gc_malloc_atomic(24);
  /* bench-callgrind reads the count from this line. */
  printf("fastpath: %d calls of each, last %p\n", CALLS, sink);
  return 0;
}
