/*
 * roots.c -- the thread_roots suite: per-thread roots of other threads
 * and of the main thread (stacks, registers of a stopped thread, __thread
 * variables of the executable and of a dlopen'ed library,
 * pthread_setspecific values, also during their key's destructor).
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>

#ifndef TEST_LIBDIR
#error "TEST_LIBDIR must name the directory that holds libtls.so"
#endif
#define LIBTLS_PATH TEST_LIBDIR "/libtls.so"

/* ======================================================================
 * Per-thread roots of a non-main thread, collections run by main:
 * its stack, its registers (saved in the signal frame when it is
 * stopped), its __thread variables (static TLS of the executable)
 * ====================================================================== */

/* stack_holder (common_threads.c): lists held only on a thread's stack. */

Test(thread_roots, stacks_of_other_threads, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  enum { N = 4 };
  pthread_t th[N];
  for (int i = 0; i < N; i++) th[i] = spawn(stack_holder, (void *)(uintptr_t)(1000000 * (i + 1)));
  for (int i = 0; i < N; i++) sem_wait_nointr(&s_ready);
  size_t c0 = collections();
  churn_collect(20, 1);
  cr_assert_geq(collections() - c0, 20);
  for (int i = 0; i < N; i++) sem_post(&s_go);
  for (int i = 0; i < N; i++) join(th[i]);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* Five list heads live only in rbx, r12..r15 while the thread spins: the
 * stop signal's frame (saved registers) is the only place a collection
 * can find them. */
static atomic_int regs_ready, regs_go;

static T_NOINLINE void spin_with_heads_in_registers(t_node **slots) {
  __asm__ volatile(
      "mov 0(%%rdi), %%rbx\n\t"
      "mov 8(%%rdi), %%r12\n\t"
      "mov 16(%%rdi), %%r13\n\t"
      "mov 24(%%rdi), %%r14\n\t"
      "mov 32(%%rdi), %%r15\n\t"
      "movq $0, 0(%%rdi)\n\tmovq $0, 8(%%rdi)\n\tmovq $0, 16(%%rdi)\n\tmovq $0, 24(%%rdi)\n\tmovq $0, "
      "32(%%rdi)\n\t"
      "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\t"
      "xor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\t"
      "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
      "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
      "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
      "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15\n\t"
      "movl $1, (%%rsi)\n\t" /* regs_ready = 1 */
      "1:\n\tpause\n\t"
      "cmpl $0, (%%rdx)\n\t" /* until regs_go */
      "je 1b\n\t"
      "mov %%rbx, 0(%%rdi)\n\t"
      "mov %%r12, 8(%%rdi)\n\t"
      "mov %%r13, 16(%%rdi)\n\t"
      "mov %%r14, 24(%%rdi)\n\t"
      "mov %%r15, 32(%%rdi)\n\t"
      :
      : "D"(slots), "S"(&regs_ready), "d"(&regs_go)
      : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2",
        "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
        "xmm15", "memory", "cc");
}

static T_NOINLINE void fill_slots(t_node **slots, int n, uint64_t base) {
  for (int i = 0; i < n; i++) slots[i] = tl_new(150, base + (uint64_t)i * 1000);
}

static void *register_holder(void *arg) {
  (void)arg;
  t_node *slots[5];
  fill_slots(slots, 5, 7000000);
  gc_collect(); /* hand this thread's spans back (see let_go) */
  t_scrub_stack();
  spin_with_heads_in_registers(slots);
  for (int i = 0; i < 5; i++) tl_ok(slots[i], 150, 7000000 + (uint64_t)i * 1000, "callee-saved register");
  return NULL;
}

Test(thread_roots, registers_of_a_stopped_thread, .timeout = 30.) {
  pthread_t th = spawn(register_holder, NULL);
  while (!atomic_load(&regs_ready)) sched_yield();
  churn_collect(15, 2);
  atomic_store(&regs_go, 1);
  join(th);
  ASSERT_NO_ERRORS();
}

/* __thread variables of the executable (its static TLS block). */
static __thread t_node *tls_head;
static __thread t_node *tls_array[64];
static __thread uint64_t tls_base;

static T_NOINLINE void tls_fill(uint64_t base) {
  tls_base = base;
  tls_head = tl_new(300, base);
  for (int i = 0; i < 64; i++)
    tls_array[i] = tn_new(base + 1000 + (uint64_t)i, tsize(base + 1000 + (uint64_t)i));
}

static T_NOINLINE void tls_check(const char *where) {
  tl_ok(tls_head, 300, tls_base, where);
  for (int i = 0; i < 64; i++) tn_ok(tls_array[i], tls_base + 1000 + (uint64_t)i, where);
}

static void *tls_holder(void *arg) {
  tls_fill((uint64_t)(uintptr_t)arg);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  tls_check("__thread variable of a non-main thread");
  return NULL;
}

Test(thread_roots, thread_local_variables_of_other_threads, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  pthread_t a = spawn(tls_holder, (void *)(uintptr_t)2000000);
  pthread_t b = spawn(tls_holder, (void *)(uintptr_t)3000000);
  sem_wait_nointr(&s_ready);
  sem_wait_nointr(&s_ready);
  churn_collect(25, 3);
  sem_post(&s_go);
  sem_post(&s_go);
  join(a);
  join(b);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * __thread variables of a library dlopen'ed after the thread started
 * (general-dynamic model: blocks reached through each thread's DTV)
 * ====================================================================== */

typedef struct {
  void *handle;
  void (*set)(size_t, void *);
  void *(*get)(size_t);
  size_t (*nslots)(void);
  void *(*block)(void);
  void *(*marker)(void);
} libtls_t;
static libtls_t g_libtls; /* function pointers only */

static void libtls_open(void) {
  libtls_t *l = &g_libtls;
  l->handle = dlopen(LIBTLS_PATH, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(l->handle, "dlopen(%s): %s", LIBTLS_PATH, dlerror());
  l->set = (void (*)(size_t, void *))dlsym(l->handle, "libtls_set");
  l->get = (void *(*)(size_t))dlsym(l->handle, "libtls_get");
  l->nslots = (size_t(*)(void))dlsym(l->handle, "libtls_nslots");
  l->block = (void *(*)(void))dlsym(l->handle, "libtls_block");
  l->marker = (void *(*)(void))dlsym(l->handle, "libtls_get_marker");
  cr_assert(l->set && l->get && l->nslots && l->block && l->marker, "libtls symbols missing");
}

/* Is p in the calling thread's static TLS area (where the TLS of the
 * executable and of the libraries loaded at start lives)?  -1: unknown. */
static int in_static_tls(const void *p) {
  void (*info)(size_t *, size_t *) =
      (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
  if (info == NULL) return -1;
  size_t size, align;
  info(&size, &align);
  uintptr_t tp;
  __asm__("mov %%fs:0, %0" : "=r"(tp));
  return (uintptr_t)p >= tp - size && (uintptr_t)p < tp;
}

enum { LIBTLS_USED = 8 };

/* Store lists in slots 0, 9, 18, ... 63 of this thread's libtls block. */
static T_NOINLINE void libtls_fill(uint64_t base) {
  size_t n = g_libtls.nslots();
  for (size_t k = 0; k < LIBTLS_USED; k++) {
    size_t slot = k * (n - 1) / (LIBTLS_USED - 1);
    g_libtls.set(slot, tl_new(100, base + k * 1000));
  }
}

static T_NOINLINE void libtls_check(uint64_t base, const char *where) {
  size_t n = g_libtls.nslots();
  for (size_t k = 0; k < LIBTLS_USED; k++) {
    size_t slot = k * (n - 1) / (LIBTLS_USED - 1);
    tl_ok(g_libtls.get(slot), 100, base + k * 1000, where);
  }
  if (g_libtls.marker() != (void *)0x7) terr("%s: libtls .tdata initialiser lost", where);
}

static sem_t s_loaded;
static atomic_int libtls_block_static = -2;

static void *libtls_holder(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg;
  sem_post(&s_started);
  sem_wait_nointr(&s_loaded); /* the library is loaded after this thread started */
  libtls_fill(base);
  atomic_store(&libtls_block_static, in_static_tls(g_libtls.block()));
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  libtls_check(base, "dlopen'ed library's __thread variable, non-main thread");
  return NULL;
}

Test(thread_roots, dlopened_library_thread_locals, .timeout = 30.) {
  sem_init(&s_started, 0, 0);
  sem_init(&s_loaded, 0, 0);
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  pthread_t th = spawn(libtls_holder, (void *)(uintptr_t)5000000);
  sem_wait_nointr(&s_started);
  cr_assert_null(dlopen(LIBTLS_PATH, RTLD_NOW | RTLD_NOLOAD), "libtls.so loaded too early");
  libtls_open();
  sem_post(&s_loaded);
  /* the main thread's own block too */
  libtls_fill(6000000);
  cr_assert_eq(in_static_tls(g_libtls.block()), 0,
               "libtls's block of the main thread is in static TLS: the DTV path is not exercised");
  forget();
  sem_wait_nointr(&s_ready);
  cr_assert_eq(atomic_load(&libtls_block_static), 0, "the thread's libtls block is in static TLS");
  churn_collect(25, 4);
  sem_post(&s_go);
  join(th);
  libtls_check(6000000, "dlopen'ed library's __thread variable, main thread");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* The executable's own __thread variables in the main thread, while other
 * threads allocate. */
static atomic_int tls_main_stop;

static void *allocator_loop(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg;
  while (!atomic_load(&tls_main_stop)) {
    t_node *volatile l = tl_new(50, seed);
    th_churn(128 * T_KiB, seed++);
    tl_ok(l, 50, seed - 1, "allocator loop");
  }
  return NULL;
}

Test(thread_roots, main_thread_locals_while_others_allocate, .timeout = 30.) {
  tls_fill(8000000);
  forget();
  pthread_t a = spawn(allocator_loop, (void *)(uintptr_t)8100000);
  pthread_t b = spawn(allocator_loop, (void *)(uintptr_t)8200000);
  churn_collect(20, 5);
  atomic_store(&tls_main_stop, 1);
  join(a);
  join(b);
  tls_check("__thread variable of the main thread");
  ASSERT_NO_ERRORS();
}

/* ======================================================================
 * pthread_setspecific values are roots (keys below 32 live in glibc's
 * first-level array, the others in blocks it mallocs: neither is scanned
 * unless cgc shadows them)
 * ====================================================================== */

enum { NKEYS_T = 40 };
static pthread_key_t g_keys[NKEYS_T];

static void create_keys(void) {
  for (int i = 0; i < NKEYS_T; i++) cr_assert_eq(pthread_key_create(&g_keys[i], NULL), 0);
  bool low = false, high = false;
  for (int i = 0; i < NKEYS_T; i++) {
    if (g_keys[i] < 32) low = true;
    if (g_keys[i] >= 32) high = true;
  }
  cr_assert(low && high, "expected keys below and above 32 (glibc's first-level block)");
}

static T_NOINLINE void specific_fill(uint64_t base) {
  for (int i = 0; i < NKEYS_T; i++)
    if (pthread_setspecific(g_keys[i], tl_new(40, base + (uint64_t)i * 100)) != 0)
      terr("pthread_setspecific failed");
}

static T_NOINLINE void specific_check(uint64_t base, const char *where) {
  char what[160];
  for (int i = 0; i < NKEYS_T; i++) {
    snprintf(what, sizeof what, "%s (key %u)", where, (unsigned)g_keys[i]);
    tl_ok(pthread_getspecific(g_keys[i]), 40, base + (uint64_t)i * 100, what);
  }
}

/* The shadow of the calling thread holds nothing for the deleted keys. */
static bool shadow_clear(void) {
  gc_tctx_t *t = gc__tl_ctx;
  if (!t->registered || t->specific == NULL) return true;
  for (int i = 0; i < NKEYS_T; i++)
    if (t->specific[g_keys[i]] != NULL) return false;
  return true;
}

static atomic_int spec_thread_shadow_clear = -1;

static void *specific_holder(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg;
  specific_fill(base);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  specific_check(base, "pthread_setspecific value of a non-main thread");
  sem_post(&s_ready);
  sem_wait_nointr(&s_go); /* main deletes the keys meanwhile */
  atomic_store(&spec_thread_shadow_clear, shadow_clear());
  return NULL;
}

Test(thread_roots, setspecific_values, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  create_keys();
  pthread_t th = spawn(specific_holder, (void *)(uintptr_t)9000000);
  specific_fill(9500000);
  forget();
  sem_wait_nointr(&s_ready);
  churn_collect(25, 6);
  specific_check(9500000, "pthread_setspecific value of the main thread");
  sem_post(&s_go);
  sem_wait_nointr(&s_ready);
  ASSERT_NO_ERRORS();

  /* Delete every key: the shadows of both threads are cleared and
   * collections go on (the values are garbage now). */
  uintptr_t hidden[NKEYS_T];
  for (int i = 0; i < NKEYS_T; i++) hidden[i] = ~(uintptr_t)pthread_getspecific(g_keys[i]);
  for (int i = 0; i < NKEYS_T; i++) cr_assert_eq(pthread_key_delete(g_keys[i]), 0);
  cr_assert(shadow_clear(), "pthread_key_delete left values in the main thread's shadow");
  sem_post(&s_go);
  join(th);
  cr_assert_eq(atomic_load(&spec_thread_shadow_clear), 1,
               "pthread_key_delete left values in another thread's shadow");
  churn_collect(3, 7);
  size_t live = t_count_live_hidden(hidden, NKEYS_T);
  cr_assert_leq(live, NKEYS_T / 4,
                "%zu of %d values of deleted keys are still alive: the shadow still roots them", live,
                NKEYS_T);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* A value is still a root while its key's destructor runs at thread exit
 * (the thread is registered "from its first instruction to its exit"):
 * the destructor gets the value as its argument, glibc has already
 * cleared the slot, and a collection may run meanwhile. */
static pthread_key_t g_dkey;
static atomic_int dtor_registered = -1, dtor_ran;

static void dtor_checks(void *value) {
  atomic_store(&dtor_registered, gc_thread_is_registered());
  forget();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go); /* main collects */
  tl_ok(value, 300, 9900000, "pthread_setspecific value inside its destructor");
  atomic_store(&dtor_ran, 1);
}

static T_NOINLINE void set_dkey(void) { pthread_setspecific(g_dkey, tl_new(300, 9900000)); }

static void *dtor_thread(void *arg) {
  (void)arg;
  set_dkey();
  let_go();
  return NULL;
}

Test(thread_roots, setspecific_value_during_its_destructor, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  cr_assert_eq(pthread_key_create(&g_dkey, dtor_checks), 0);
  pthread_t th = spawn(dtor_thread, NULL);
  sem_wait_nointr(&s_ready);
  churn_collect(20, 8);
  sem_post(&s_go);
  join(th);
  cr_assert_eq(atomic_load(&dtor_ran), 1);
  ASSERT_NO_ERRORS();
  cr_assert_eq(atomic_load(&dtor_registered), 1,
               "a thread is not registered any more while key destructors run");
  T_ASSERT_HEAP_VALID();
}
