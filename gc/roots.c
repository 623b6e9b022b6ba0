/*
 * roots.c -- where marking starts: the registers and stack of the thread
 * that collects, the writable data of the executable and of every loaded
 * shared library (re-read at each collection, so dlopen'ed libraries
 * count), and the ranges added with gc_add_roots.  Memory from the system
 * malloc is not a root unless added.  cgc's own state (gc__heap) is
 * excluded: its tables point at segments and free lists, not at objects.
 */
#include "internal.h"

#include <elf.h>
#include <link.h>
#include <setjmp.h>
#include <string.h>

/* ---- explicit roots ---------------------------------------------------- */

bool gc__ranges_push(gc_ranges_t *r, uintptr_t lo, uintptr_t hi) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    gc_range_t *v = gc__os_alloc(cap * sizeof *v);
    if (v == NULL) return false;
    if (r->n) memcpy(v, r->v, r->n * sizeof *v);
    gc__os_free(r->v, r->cap * sizeof *v);
    r->v = v;
    r->cap = cap;
  }
  r->v[r->n].lo = lo;
  r->v[r->n].hi = hi;
  r->n++;
  return true;
}

/* Cut [lo, hi) out of every range; a range that straddles it keeps its
 * two outer pieces.  Pieces never overlap [lo, hi), so meeting them again
 * in the loop is harmless. */
void gc__ranges_remove(gc_ranges_t *r, uintptr_t lo, uintptr_t hi) {
  for (size_t i = 0; i < r->n;) {
    gc_range_t x = r->v[i];
    if (x.hi <= lo || x.lo >= hi) {
      i++;
    } else if (x.lo < lo) {
      r->v[i++].hi = lo;
      if (x.hi > hi && !gc__ranges_push(r, hi, x.hi)) gc__fatal("out of memory for the root table");
    } else if (x.hi > hi) {
      r->v[i++].lo = hi;
    } else {
      r->v[i] = r->v[--r->n];
    }
  }
}

void gc_add_roots(void *lo, void *hi) {
  if ((uintptr_t)hi <= (uintptr_t)lo) return;
  gc__ensure_init();
  gc__lock();
  bool ok = gc__ranges_push(&gc__heap.roots, (uintptr_t)lo, (uintptr_t)hi);
  gc__unlock();
  if (!ok) gc__fatal("gc_add_roots(%p, %p): out of memory for the root table", lo, hi);
}

void gc_remove_roots(void *lo, void *hi) {
  if ((uintptr_t)hi <= (uintptr_t)lo) return;
  gc__ensure_init();
  gc__lock();
  gc__ranges_remove(&gc__heap.roots, (uintptr_t)lo, (uintptr_t)hi);
  gc__unlock();
}

/* ---- static data --------------------------------------------------------- */

/* Emit [lo, hi) minus the excluded ranges ex[0..n). */
static void emit_minus(uintptr_t lo, uintptr_t hi, const gc_range_t *ex, size_t n, gc_range_fn fn,
                       void *arg) {
  if (hi <= lo) return;
  if (n == 0) {
    fn(lo, hi, arg);
    return;
  }
  if (ex->hi <= lo || ex->lo >= hi) {
    emit_minus(lo, hi, ex + 1, n - 1, fn, arg);
    return;
  }
  emit_minus(lo, ex->lo, ex + 1, n - 1, fn, arg);
  emit_minus(ex->hi, hi, ex + 1, n - 1, fn, arg);
}

typedef struct {
  gc_range_fn fn;
  void *arg;
} phdr_ctx_t;

/* Writable PT_LOAD segments minus PT_GNU_RELRO (read-only after
 * relocation: it holds addresses of code and data, never of objects) and
 * minus cgc's own state. */
static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  phdr_ctx_t *c = data;
  gc_range_t ex[2] = {{(uintptr_t)&gc__heap, (uintptr_t)(&gc__heap + 1)}, {0, 0}};
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_GNU_RELRO) {
      ex[1].lo = info->dlpi_addr + ph->p_vaddr;
      ex[1].hi = ex[1].lo + ph->p_memsz;
    }
  }
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    emit_minus(lo, lo + ph->p_memsz, ex, 2, c->fn, c->arg);
  }
  return 0;
}

void gc__static_roots_for_each(gc_range_fn fn, void *arg) {
  phdr_ctx_t c = {fn, arg};
  dl_iterate_phdr(phdr_cb, &c);
}

/* ---- the collecting thread's stack and registers ------------------------- */

uintptr_t gc__stack_base_of_current_thread(void) {
  pthread_attr_t attr;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) gc__fatal("pthread_getattr_np failed");
  if (pthread_attr_getstack(&attr, &addr, &size) != 0) gc__fatal("pthread_attr_getstack failed");
  pthread_attr_destroy(&attr);
  return (uintptr_t)addr + size;
}

/* Called through a volatile pointer so that it cannot be inlined: its
 * frame lies below the caller's, which holds the spilled registers. */
static CGC_NOINLINE uintptr_t frame_below_caller(void) { return (uintptr_t)__builtin_frame_address(0); }

/* A copy of gc__mark_roots's own frame, where __builtin_unwind_init
 * spilled every callee-saved register: the collecting thread's registers
 * are roots, but roots are only pushed, and that frame is dead (reused by
 * gc__mark_drain's) when they are scanned.  One collection at a time (the
 * heap lock), so one buffer. */
static uintptr_t collector_frame[512];

/* Copy the words of [lo, hi) -- a stack region, redzones included, hence
 * exempt from AddressSanitizer like the scanner (volatile reads: the loop
 * must not become a memcpy call, which it would check). */
CGC_NO_SANITIZE_ADDRESS static void copy_stack_words(uintptr_t *dst, uintptr_t lo, uintptr_t hi) {
  for (uintptr_t p = lo; p < hi; p += sizeof(uintptr_t)) *dst++ = *(const volatile uintptr_t *)p;
}

static void mark_range_cb(uintptr_t lo, uintptr_t hi, void *arg) {
  (void)arg;
  gc__mark_range(lo, hi);
}

/* Roots in the order: registers and stack, static data, explicit roots.
 * The stack is pushed from this function's frame up: the frames below it
 * die before gc__mark_drain scans the range (scanning them then would find
 * the marker's own words, stale ones included); the registers spilled in
 * this frame go in as a copy. */
void gc__mark_roots(void) {
  jmp_buf regs; /* callee-saved registers land here and in this frame */
  __builtin_unwind_init();
  (void)setjmp(regs);
  uintptr_t (*volatile below)(void) = frame_below_caller;
  uintptr_t lo = below(), frame = (uintptr_t)__builtin_frame_address(0);
  if (frame - lo > sizeof collector_frame) gc__fatal("gc__mark_roots: frame of %zu bytes", (size_t)(frame - lo));
  copy_stack_words(collector_frame, lo, frame);
  gc__mark_range((uintptr_t)collector_frame, (uintptr_t)collector_frame + (frame - lo));
  gc_tctx_t *t = gc__tl_ctx;
  uintptr_t base = t->registered ? t->stack_base : gc__stack_base_of_current_thread();
  gc__mark_range(frame, base);
  __asm__ volatile("" : : "r"(&regs) : "memory");

  gc__static_roots_for_each(mark_range_cb, NULL);

  const gc_ranges_t *r = &gc__heap.roots;
  for (size_t i = 0; i < r->n; i++) gc__mark_range(r->v[i].lo, r->v[i].hi);
}
