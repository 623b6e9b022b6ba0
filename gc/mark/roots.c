/*
 * roots.c -- where marking starts.  With the world stopped (world.c):
 *   - every registered thread: its registers and the stack it runs on,
 *     from its stack pointer up; its other stacks (its own while it runs a
 *     coroutine) from where they stopped; its thread-local storage (the
 *     static TLS block of the executable and the libraries loaded at
 *     start, and the blocks of dlopen'ed libraries, found through the
 *     thread's DTV); its pthread_setspecific values (threads/registry.c
 *     keeps them);
 *   - a thread still starting: the argument of its start routine;
 *   - registered coroutine stacks that no thread runs on;
 *   - the writable data of the executable and of every loaded shared
 *     library (re-read at each collection, so dlopen'ed ones count);
 *   - the ranges added with gc_add_roots.
 * Memory from the system malloc is not a root unless added.  cgc's own
 * state (gc__heap) is excluded: its tables point at segments and free
 * lists, not at objects.
 *
 * TLS layout (glibc, x86-64, TLS variant II): the thread pointer tp
 * points at the thread's TCB; the static TLS blocks lie right below it,
 * in [tp - (static_size - tcb_size), tp), both sizes read once from
 * ld.so/libc (_dl_get_tls_static_info, _thread_db_sizeof_pthread: the
 * interfaces sanitizers use).  The TCB's second word is the DTV: entry
 * -1 holds its length, entry m the address of module m's block, or -1
 * when the thread has not allocated it.  Blocks outside the static area
 * (dlopen'ed libraries) are scanned for PT_TLS memsz bytes.
 */
#include "mark/roots.h"

#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <setjmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgc.h"

#include "alloc/tctx.h"
#include "base/ranges.h"
#include "heap/heap.h"
#include "mark/mark.h"
#include "threads/registry.h"
#include "threads/stacks.h"

/* ---- explicit roots --------------------------------------------------- */

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

/* ---- static data and TLS modules -------------------------------------- */

/* Emit [lo, hi) minus the excluded ranges ex[0..n). */
static void emit_minus(uintptr_t lo, uintptr_t hi, const gc_range_t *ex, size_t n, gc_range_fn_t fn,
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

/* Writable PT_LOAD segments minus PT_GNU_RELRO (read-only after
 * relocation: it holds addresses of code and data, never of objects) and
 * minus cgc's own state. */
static void module_data(struct dl_phdr_info *info, gc_range_fn_t fn, void *arg) {
  gc_range_t ex[3] = {{(uintptr_t)&gc__heap, (uintptr_t)(&gc__heap + 1)},
                      {(uintptr_t)&gc__map, (uintptr_t)(&gc__map + 1)},
                      {0, 0}};
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_GNU_RELRO) {
      ex[2].lo = info->dlpi_addr + ph->p_vaddr;
      ex[2].hi = ex[2].lo + ph->p_memsz;
    }
  }
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    emit_minus(lo, lo + ph->p_memsz, ex, 3, fn, arg);
  }
}

static void push_range_cb(uintptr_t lo, uintptr_t hi, void *arg) {
  if (!gc__ranges_push(arg, lo, hi)) gc__fatal("out of memory for the module table");
}

/* The loaded modules as the last stop of the world found them: static
 * data ranges, and (TLS module id, PT_TLS memsz) pairs. */
static gc_ranges_t modules_data, modules_tls;

void gc__modules_reset(void) {
  CGC_ASSERT_LOCKED();
  modules_data.n = 0;
  modules_tls.n = 0;
}

void gc__modules_add(struct dl_phdr_info *info) {
  CGC_ASSERT_STOPPED();
  module_data(info, push_range_cb, &modules_data);
  if (info->dlpi_tls_modid == 0) return;
  for (size_t i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_TLS && ph->p_memsz > 0)
      push_range_cb(info->dlpi_tls_modid, ph->p_memsz, &modules_tls);
  }
}

typedef struct {
  gc_range_fn_t fn;
  void *arg;
} phdr_ctx_t;

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  phdr_ctx_t *c = data;
  module_data(info, c->fn, c->arg);
  return 0;
}

void gc__static_roots_for_each(gc_range_fn_t fn, void *arg) {
  phdr_ctx_t c = {fn, arg};
  dl_iterate_phdr(phdr_cb, &c);
}

/* ---- thread-local storage --------------------------------------------- */

static size_t tls_static_size, tcb_size; /* 0: unknown, scan DTV blocks only */

void gc__tls_init(void) {
  void (*info)(size_t *, size_t *) =
      (void (*)(size_t *, size_t *))dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
  if (info == NULL) info = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
  const unsigned *psz = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
  if (info == NULL || psz == NULL) return;
  size_t size, align;
  info(&size, &align);
  if (size > *psz) {
    tls_static_size = size;
    tcb_size = *psz;
  }
}

/* glibc's dtv_t: a union of a counter and {value, to_free}. */
typedef struct {
  void *val;
  void *to_free;
} dtv_entry_t;

static void mark_tls(const gc_tctx_t *t) {
  uintptr_t slo = 0, shi = 0;
  if (tls_static_size != 0) {
    slo = t->tp - (tls_static_size - tcb_size);
    shi = t->tp;
    gc__mark_range(slo, shi);
  }
  const dtv_entry_t *dtv = ((dtv_entry_t *const *)t->tp)[1];
  if (dtv == NULL) return;
  size_t len = (size_t)(uintptr_t)dtv[-1].val;
  const gc_ranges_t *m = &modules_tls;
  for (size_t i = 0; i < m->n; i++) {
    size_t modid = m->v[i].lo, memsz = m->v[i].hi;
    if (modid > len) continue; /* this thread's DTV predates the module */
    uintptr_t block = (uintptr_t)dtv[modid].val;
    if (block == 0 || block == UINTPTR_MAX) continue;   /* not allocated by this thread */
    if (block >= slo && block + memsz <= shi) continue; /* static: scanned above */
    gc__mark_range(block, block + memsz);
  }
}

/* ---- per-thread roots ------------------------------------------------- */

/* Scan the thread's stacks: the one sp is on from sp up, its own stack
 * from where it stopped when it switched to a coroutine, and note which
 * coroutine stack it covered.  A thread stopped in a signal handler on
 * its alternate signal stack has that stack scanned from sp up (the stop
 * handler recorded its bounds).  When sp lies on no known stack (an
 * unregistered coroutine stack) the end of that stack is unknown: it is
 * reported once, and the thread's own stack is scanned from the lowest
 * point known to be mapped (its low end, or for the main thread, whose
 * stack grows on demand, the lowest sp seen). */
static void mark_thread_stacks(gc_tctx_t *t, uintptr_t sp) {
  uint32_t epoch = gc__heap.gc_count;
  if (sp >= t->stack_lo && sp < t->stack_base) {
    gc__mark_range(sp, t->stack_base);
    if (sp < t->lowest_sp) t->lowest_sp = sp;
    return;
  }
  struct gc_stack *on = gc__stack_find(sp);
  if (on != NULL) {
    gc__mark_range(sp, on->hi);
    on->scanned = epoch;
  } else if (sp >= t->stop_alt_lo && sp < t->stop_alt_hi) {
    gc__mark_range(sp, t->stop_alt_hi); /* a signal handler on the alternate stack */
  } else {
    static bool reported;
    if (!reported)
      gc__message("a thread stopped on a stack cgc does not know (sp %p; an "
                  "unregistered coroutine stack?): register coroutine stacks with gc_stack_register",
                  (void *)sp);
    reported = true;
  }
  uintptr_t from = t->native_sp;
  if (from < t->stack_lo || from >= t->stack_base) from = t->main_stack ? t->lowest_sp : t->stack_lo;
  gc__mark_range(from, t->stack_base);
}

static void mark_thread(gc_tctx_t *t, uintptr_t sp) {
  mark_thread_stacks(t, sp);
  mark_tls(t);
  if (t->specific != NULL)
    gc__mark_range((uintptr_t)t->specific, (uintptr_t)(t->specific + PTHREAD_KEYS_MAX));
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

/* Roots in the order: threads, coroutine stacks, static data, explicit
 * roots.  Roots are only pushed here and traced by gc__mark_drain, so the
 * collecting thread's stack is pushed from this function's frame up (the
 * frames below it are dead by then, reused by the marker) and the
 * registers spilled into this frame go in as a copy.  Stopped threads sit
 * in the stop handler, their stacks intact, until the world restarts. */
void gc__mark_roots(void) {
  CGC_ASSERT_STOPPED();
  jmp_buf regs; /* callee-saved registers land here and in this frame */
  __builtin_unwind_init();
  (void)setjmp(regs);
  uintptr_t (*volatile below)(void) = frame_below_caller;
  uintptr_t lo = below(), frame = (uintptr_t)__builtin_frame_address(0);
  if (frame - lo > sizeof collector_frame)
    gc__fatal("gc__mark_roots: frame of %zu bytes", (size_t)(frame - lo));
  copy_stack_words(collector_frame, lo, frame);
  gc__mark_range((uintptr_t)collector_frame, (uintptr_t)collector_frame + (frame - lo));
  gc_tctx_t *self = gc__tl_ctx;
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next) {
    if (t->state == CGC_THREAD_STARTING)
      gc__mark_range((uintptr_t)&t->start_arg, (uintptr_t)(&t->start_arg + 1));
    else
      mark_thread(t, t == self ? frame : t->stop_sp);
  }
  __asm__ volatile("" : : "r"(&regs) : "memory");

  for (struct gc_stack *s = gc__registry.stacks; s != NULL; s = s->next) {
    if (s->scanned == gc__heap.gc_count) continue;
    uintptr_t from = s->saved_sp >= s->lo && s->saved_sp < s->hi ? s->saved_sp : s->lo;
    gc__mark_range(from, s->hi);
  }

  const gc_ranges_t *d = &modules_data;
  for (size_t i = 0; i < d->n; i++) gc__mark_range(d->v[i].lo, d->v[i].hi);

  const gc_ranges_t *r = &gc__heap.roots;
  for (size_t i = 0; i < r->n; i++) gc__mark_range(r->v[i].lo, r->v[i].hi);
}
