/*
 * test_threads.c -- cgc with several threads: every per-thread root (stack,
 * registers of a stopped thread, __thread variables of the executable and
 * of a dlopen'ed library, pthread_setspecific values, the start argument,
 * coroutine stacks), registration (interposed pthread_create, foreign
 * threads), stop-the-world under thread churn, cancellation, fork, signal
 * masks, interrupted system calls, CGC_SIGNAL, and concurrent gc_free.
 *
 * How a test can fail: objects carry the pattern of their id (t_fill) and
 * are held by exactly one reference of the kind under test -- no copy in a
 * global or in system-malloc memory; helpers that build them are noinline
 * and return nothing, and the holder scrubs its dead stack and zeroes its
 * caller-saved registers (forget()) before the collections run; a holder
 * thread also hands its cached spans back first (let_go()), since a
 * collection never sweeps spans another thread still allocates from.  A
 * reclaimed object loses its alloc bit at once (gc_base no longer returns
 * it) and its slot is reused and stomped by the garbage that the
 * collecting thread allocates (th_churn), so every check reads every
 * byte.
 *
 * Criterion asserts work only in the test's own thread: other threads
 * record their first failure with terr() and the test thread asserts
 * that none was recorded (ASSERT_NO_ERRORS).
 */
#include "common.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef TEST_LIBDIR
#error "TEST_LIBDIR must name the directory that holds libtls.so"
#endif
#define LIBTLS_PATH TEST_LIBDIR "/libtls.so"

/* ======================================================================
 * helpers usable from any thread (no Criterion calls)
 * ====================================================================== */

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static char err_msg[2048];
static atomic_int err_count;

static void terr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void terr(const char *fmt, ...) {
  pthread_mutex_lock(&err_mu);
  if (atomic_fetch_add(&err_count, 1) == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&err_mu);
}

#define ASSERT_NO_ERRORS()                                                                        \
  cr_assert_eq(atomic_load(&err_count), 0, "%d failure(s) in threads; the first: %s", \
               atomic_load(&err_count), err_msg)

/* In a child process: print the first failure, exit status 10 if any. */
static int child_report(void) {
  if (atomic_load(&err_count) == 0) return 0;
  fprintf(stderr, "%d failure(s); the first: %s\n", atomic_load(&err_count), err_msg);
  return 10;
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* Node sizes: mostly 24..280 bytes, some up to 20 KiB, rarely a large
 * (> 512 KiB, its own span) one. */
static size_t tsize(uint64_t id) {
  uint64_t h = t_mix64(id ^ 0x7777);
  if (h % 3000 == 0) return 600 * T_KiB + (size_t)(h >> 24) % (64 * T_KiB);
  if (h % 40 == 0) return 512 + (size_t)(h >> 20) % (20 * T_KiB);
  return sizeof(t_node) + (size_t)(h >> 20) % 256;
}

static t_node *tn_new(uint64_t id, size_t size) {
  if (size < sizeof(t_node)) size = sizeof(t_node);
  t_node *n = gc_malloc(size);
  if (n == NULL) {
    terr("gc_malloc(%zu) returned NULL", size);
    abort();
  }
  n->id = id;
  n->size = size;
  t_fill((char *)n + sizeof *n, size - sizeof *n, id);
  return n;
}

/* A list of count nodes with ids idbase.., head first. */
static T_NOINLINE t_node *tl_new(size_t count, uint64_t idbase) {
  t_node *head = NULL;
  for (size_t i = count; i-- > 0;) {
    t_node *n = tn_new(idbase + i, tsize(idbase + i));
    n->next = head;
    head = n;
  }
  return head;
}

static bool tn_ok(const t_node *n, uint64_t id, const char *where) {
  if (n == NULL) {
    terr("%s: node %llu is missing", where, (unsigned long long)id);
    return false;
  }
  if (gc_base(n) != n) {
    terr("%s: node %llu at %p is not a live object any more (gc_base = %p): reclaimed while reachable", where,
         (unsigned long long)id, (const void *)n, gc_base(n));
    return false;
  }
  if (n->id != id || n->size < sizeof *n || gc_size(n) < n->size) {
    terr("%s: node at %p: header corrupted (id %llu, expected %llu; size %zu, gc_size %zu)", where, (const void *)n,
         (unsigned long long)n->id, (unsigned long long)id, n->size, gc_size(n));
    return false;
  }
  long bad = t_bad((const char *)n + sizeof *n, n->size - sizeof *n, id);
  if (bad >= 0) {
    terr("%s: node %llu at %p (%zu bytes) corrupted at offset %zu", where, (unsigned long long)id, (const void *)n,
         n->size, (size_t)bad + sizeof *n);
    return false;
  }
  return true;
}

static T_NOINLINE bool tl_ok(const t_node *head, size_t count, uint64_t idbase, const char *where) {
  const t_node *n = head;
  for (size_t i = 0; i < count; i++, n = n->next)
    if (!tn_ok(n, idbase + i, where)) return false;
  if (n != NULL) {
    terr("%s: list of %zu nodes (ids from %llu) is longer than expected", where, count, (unsigned long long)idbase);
    return false;
  }
  return true;
}

/* Garbage of small sizes, every byte stomped: a reclaimed slot that was
 * still reachable gets overwritten.  Scanned objects must come zeroed. */
static T_NOINLINE void th_churn(size_t bytes, uint64_t seed) {
  uint64_t s = seed * 0x2545F4914F6CDD1Du + 7;
  for (size_t done = 0; done < bytes;) {
    uint64_t r = t_rand(&s);
    size_t n = (r % 8 == 0) ? 256 + (size_t)(r >> 8) % 4096 : 1 + (size_t)(r >> 8) % 256;
    int atomic = ((r >> 40) & 3) == 0;
    unsigned char *p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
    if (p == NULL) {
      terr("churn: allocation of %zu bytes failed", n);
      return;
    }
    if (!atomic) {
      size_t z = t_first_nonzero(p, n);
      if (z != n) terr("churn: gc_malloc(%zu) = %p not zeroed at offset %zu", n, (void *)p, z);
    }
    memset(p, 0xA5, n);
    done += n;
  }
}

/* Collect `rounds` times with garbage in between (from the calling thread). */
static T_NOINLINE void churn_collect(int rounds, uint64_t seed) {
  for (int r = 0; r < rounds; r++) {
    th_churn(768 * T_KiB, seed * 1000 + (uint64_t)r);
    t_scrub_stack();
    gc_collect();
  }
}

/* Zero every caller-saved general and vector register: no stale copy of a
 * pointer that the caller just dropped survives in them. */
static T_NOINLINE void clobber_scratch_registers(void) {
  __asm__ volatile(
      "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\txor %%esi, %%esi\n\t"
      "xor %%edi, %%edi\n\txor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
      "xor %%r11d, %%r11d\n\t"
      "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
      "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
      "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
      "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15\n\t" ::
          : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
            "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
}

/* Drop every stale copy the calling thread may hold below its live frames
 * or in scratch registers. */
static T_NOINLINE void forget(void) {
  t_scrub_stack();
  clobber_scratch_registers();
}

/* A holder thread lets go of what it could hide behind: a collection
 * sweeps only spans that no other thread caches (internal.h, I2), so an
 * object in a span its allocating thread still owns is never reclaimed by
 * another thread's collection, rooted or not -- a test of that thread's
 * roots could not fail.  A collection run by the holder itself hands its
 * spans back; then forget(). */
static T_NOINLINE void let_go(void) {
  gc_collect();
  forget();
}

static void sem_wait_nointr(sem_t *s) {
  while (sem_wait(s) != 0)
    if (errno != EINTR) abort();
}

/* Registered thread contexts, now. */
static size_t nthreads(void) {
  gc__lock();
  size_t n = gc__registry.nthreads;
  gc__unlock();
  return n;
}

/* Poll until nthreads() == want (threads unregister after their last
 * instruction of user code); false after `secs`. */
static bool wait_nthreads(size_t want, double secs) {
  for (int i = 0; i < (int)(secs * 1000); i++) {
    if (nthreads() == want) return true;
    usleep(1000);
  }
  return nthreads() == want;
}

static pthread_t spawn(void *(*fn)(void *), void *arg) {
  pthread_t th;
  int rc = pthread_create(&th, NULL, fn, arg);
  cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
  return th;
}

static void *join(pthread_t th) {
  void *ret = NULL;
  int rc = pthread_join(th, &ret);
  cr_assert_eq(rc, 0, "pthread_join: %s", strerror(rc));
  return ret;
}

static size_t collections(void) { return t_stats().collections; }

/* A thread that collects until collector_stop, pausing arg microseconds
 * between collections. */
static atomic_int collector_stop;
static atomic_ulong collector_runs;

static void *collector_loop(void *arg) {
  unsigned pause_us = (unsigned)(uintptr_t)arg;
  while (!atomic_load(&collector_stop)) {
    gc_collect();
    atomic_fetch_add(&collector_runs, 1);
    if (pause_us) usleep(pause_us);
  }
  return NULL;
}


/* ======================================================================
 * Randomized multithreaded stress
 *
 * Over several rounds, worker threads (plain pthread_create, some
 * detached, some spawning short-lived detached helpers that get a list as
 * their start argument) build and mutate patterned lists held on their
 * stacks, in locals the compiler keeps in registers and in __thread
 * arrays, and hand lists to each other through a mutex-guarded table that
 * is itself a gc_malloc'ed object (grown with gc_realloc) whose only root
 * is a global.  A collector thread collects every few hundred
 * microseconds; allocation triggers more.  Lists are checked byte for
 * byte whenever they change hands, by their holder before it lets go, and
 * (the whole table) by the test thread at the end of every round.
 * ====================================================================== */

typedef struct {
  t_node *head;
  uint64_t idbase;
  size_t count;
} lref_t;

typedef struct {
  size_t cap, n;
  lref_t e[];
} table_t;

enum { ST_SLOTS = 4, TABLE_MAX = 1024 };
static table_t *volatile g_table; /* gc_malloc'ed; its only root */
static pthread_mutex_t g_table_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_least64_t g_ids = (uint64_t)1 << 36;
static atomic_int st_pending;   /* stress threads not finished */
static atomic_ulong st_spawned, st_freed, st_taken;
static __thread lref_t tls_lists[ST_SLOTS];

static uint64_t new_idbase(void) { return atomic_fetch_add(&g_ids, (uint64_t)1 << 16) + ((uint64_t)1 << 15); }

static T_NOINLINE void lr_new(lref_t *r, uint64_t *rs) {
  size_t c = (size_t)t_range(rs, 1, 100);
  r->idbase = new_idbase();
  r->count = c;
  r->head = tl_new(c, r->idbase);
}

static T_NOINLINE bool lr_ok(const lref_t *r, const char *where) { return tl_ok(r->head, r->count, r->idbase, where); }

/* Replace node k with a fresh copy (same id); the old one is garbage or,
 * one time in three, gc_free'd. */
static T_NOINLINE void lr_replace(lref_t *r, uint64_t *rs) {
  if (r->count == 0) return;
  size_t k = (size_t)(t_rand(rs) % r->count);
  t_node **link = &r->head;
  for (size_t i = 0; i < k; i++) link = &(*link)->next;
  t_node *old = *link, *n = tn_new(old->id, tsize(old->id ^ t_rand(rs)));
  n->next = old->next;
  *link = n;
  if (t_rand(rs) % 3 == 0) {
    gc_free(old);
    atomic_fetch_add(&st_freed, 1);
  }
}

static T_NOINLINE void lr_prepend(lref_t *r) {
  t_node *n = tn_new(r->idbase - 1, tsize(r->idbase - 1));
  n->next = r->head;
  r->head = n;
  r->idbase--;
  r->count++;
}

static T_NOINLINE void lr_truncate(lref_t *r) {
  size_t keep = r->count / 2;
  if (keep == 0) {
    r->head = NULL;
    r->count = 0;
    return;
  }
  t_node *n = r->head;
  for (size_t i = 1; i < keep; i++) n = n->next;
  n->next = NULL;
  r->count = keep;
}

static T_NOINLINE void lr_pop_free(lref_t *r) {
  if (r->count == 0) return;
  t_node *old = r->head;
  r->head = old->next;
  r->idbase++;
  r->count--;
  gc_free(old);
  atomic_fetch_add(&st_freed, 1);
}

/* Move *r into the table (growing it with gc_realloc); dropped when full. */
static T_NOINLINE void table_put(lref_t *r) {
  pthread_mutex_lock(&g_table_mu);
  table_t *t = g_table;
  if (t->n == t->cap && t->cap < TABLE_MAX) {
    size_t cap = t->cap * 2;
    t = gc_realloc(t, sizeof(table_t) + cap * sizeof(lref_t));
    if (t == NULL) {
      terr("gc_realloc of the table failed");
      abort();
    }
    t->cap = cap;
    g_table = t;
  }
  if (t->n < t->cap) t->e[t->n++] = *r;
  pthread_mutex_unlock(&g_table_mu);
  memset(r, 0, sizeof *r);
}

static T_NOINLINE bool table_take(lref_t *r, uint64_t *rs) {
  pthread_mutex_lock(&g_table_mu);
  table_t *t = g_table;
  bool got = t->n > 0;
  if (got) {
    size_t i = (size_t)(t_rand(rs) % t->n);
    *r = t->e[i];
    t->e[i] = t->e[--t->n];
    memset(&t->e[t->n], 0, sizeof t->e[0]);
  }
  pthread_mutex_unlock(&g_table_mu);
  if (got) atomic_fetch_add(&st_taken, 1);
  return got;
}

static void st_done(void) { atomic_fetch_sub(&st_pending, 1); }

/* A helper that gets a list (boxed in a gc_malloc'ed lref_t) as its only
 * start argument. */
static void *handoff_helper(void *arg) {
  lref_t *box = arg;
  for (int i = 0; i < 10; i++) sched_yield();
  lref_t r = *box;
  if (lr_ok(&r, "list handed over as a start argument")) {
    lr_prepend(&r);
    table_put(&r);
  }
  st_done();
  return NULL;
}

static T_NOINLINE void spawn_helper(lref_t *r) {
  lref_t *box = gc_malloc(sizeof *box);
  if (box == NULL) abort();
  *box = *r;
  memset(r, 0, sizeof *r);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  atomic_fetch_add(&st_pending, 1);
  pthread_t th;
  int rc = pthread_create(&th, &at, handoff_helper, box);
  pthread_attr_destroy(&at);
  if (rc != 0) {
    terr("pthread_create (helper): %s", strerror(rc));
    st_done();
    return;
  }
  atomic_fetch_add(&st_spawned, 1);
}

typedef struct {
  uint64_t seed;
  int ops;
} wargs_t; /* system malloc: holds no cgc pointer */

static void *stress_worker(void *arg) {
  wargs_t a = *(wargs_t *)arg;
  free(arg);
  uint64_t rs = a.seed;
  lref_t stk[ST_SLOTS];
  memset(stk, 0, sizeof stk);
  /* a node held in a local whose address is never taken: the compiler
   * keeps it in a callee-saved register across the calls below */
  t_node *reg = tn_new(a.seed, 64);
  uint64_t reg_id = a.seed;
  for (int op = 0; op < a.ops && atomic_load(&err_count) == 0; op++) {
    unsigned where = (unsigned)(t_rand(&rs) % (2 * ST_SLOTS));
    lref_t *r = where < ST_SLOTS ? &stk[where] : &tls_lists[where - ST_SLOTS];
    switch (t_rand(&rs) % 16) {
    case 0:
    case 1:
      lr_new(r, &rs);
      break;
    case 2:
    case 3:
      lr_ok(r, where < ST_SLOTS ? "worker stack list" : "worker __thread list");
      break;
    case 4:
      lr_replace(r, &rs);
      break;
    case 5:
      lr_prepend(r);
      break;
    case 6:
      if (t_rand(&rs) % 4 == 0) lr_truncate(r);
      break;
    case 7:
      lr_pop_free(r);
      break;
    case 8:
    case 9:
      if (lr_ok(r, "list put into the table")) table_put(r);
      break;
    case 10:
    case 11: {
      lref_t tmp;
      if (table_take(&tmp, &rs) && lr_ok(&tmp, "list taken from the table")) *r = tmp;
      break;
    }
    case 12:
      th_churn(32 * T_KiB, rs);
      break;
    case 13:
      if (t_rand(&rs) % 3 == 0 && lr_ok(r, "list handed to a helper")) spawn_helper(r);
      break;
    case 14:
      if (!tn_ok(reg, reg_id, "node held in a register")) break;
      if (t_rand(&rs) % 2) {
        reg_id = t_rand(&rs);
        reg = tn_new(reg_id, tsize(reg_id));
      }
      break;
    default:
      if (t_rand(&rs) % 16 == 0) gc_collect();
      else sched_yield();
      break;
    }
  }
  tn_ok(reg, reg_id, "node held in a register");
  for (int i = 0; i < ST_SLOTS; i++) {
    lref_t *r[2] = {&stk[i], &tls_lists[i]};
    for (int k = 0; k < 2; k++) {
      if (!lr_ok(r[k], "worker list at exit")) continue;
      if (t_rand(&rs) % 2) table_put(r[k]);
      memset(r[k], 0, sizeof *r[k]);
    }
  }
  st_done();
  return NULL;
}

static void spawn_worker(uint64_t seed, int ops, bool detached, pthread_t *out) {
  wargs_t *a = malloc(sizeof *a);
  cr_assert_not_null(a);
  a->seed = seed;
  a->ops = ops;
  pthread_attr_t at;
  pthread_attr_init(&at);
  if (detached) pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  atomic_fetch_add(&st_pending, 1);
  int rc = pthread_create(out, &at, stress_worker, a);
  pthread_attr_destroy(&at);
  cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
}

static T_NOINLINE size_t verify_table(const char *when) {
  size_t nodes = 0;
  table_t *t = g_table;
  cr_assert_eq(gc_base(t), t, "%s: the table itself was reclaimed", when);
  cr_assert_leq(t->n, t->cap);
  for (size_t i = 0; i < t->n; i++) {
    cr_assert(lr_ok(&t->e[i], when), "%s", err_msg);
    nodes += t->e[i].count;
  }
  return nodes;
}

static void stress_mt(int rounds, int ops, uint64_t seed) {
  gc_init();
  size_t n0 = nthreads();
  g_table = gc_malloc(sizeof(table_t) + 16 * sizeof(lref_t));
  cr_assert_not_null(g_table);
  g_table->cap = 16;
  uint64_t rs = seed;
  size_t c0 = collections(), max_nodes = 0;
  for (int round = 0; round < rounds; round++) {
    atomic_store(&collector_stop, 0);
    pthread_t col = spawn(collector_loop, (void *)(uintptr_t)300);
    int nw = (int)t_range(&rs, 3, 6);
    pthread_t joinable[8];
    int nj = 0;
    for (int i = 0; i < nw; i++) {
      bool detached = t_rand(&rs) % 3 == 0;
      pthread_t th;
      spawn_worker(t_rand(&rs), ops, detached, &th);
      if (!detached) joinable[nj++] = th;
    }
    for (int i = 0; i < nj; i++) join(joinable[i]);
    for (int i = 0; i < 30000 && atomic_load(&st_pending) > 0; i++) usleep(1000);
    cr_assert_eq(atomic_load(&st_pending), 0, "round %d: %d stress threads never finished", round,
                 atomic_load(&st_pending));
    atomic_store(&collector_stop, 1);
    join(col);
    ASSERT_NO_ERRORS();
    t_collect();
    char when[64];
    snprintf(when, sizeof when, "table after round %d", round);
    size_t nodes = verify_table(when);
    if (nodes > max_nodes) max_nodes = nodes;
    cr_assert(wait_nthreads(n0, 10), "round %d: %zu thread contexts left (expected %zu)", round, nthreads(), n0);
    T_ASSERT_HEAP_VALID();
  }
  size_t coll = collections() - c0;
  cr_log_info("%d rounds: %zu collections, %lu helpers, %lu hand-overs through the table, %lu gc_free, table peak %zu nodes",
              rounds, coll, atomic_load(&st_spawned), atomic_load(&st_taken), atomic_load(&st_freed), max_nodes);
  cr_assert_gt(coll, (size_t)rounds * 5);
  cr_assert_gt(atomic_load(&st_taken), 50);
  cr_assert_gt(max_nodes, 500, "the table stayed trivially small");
  t_collect();
  verify_table("table at the end");
  g_table = NULL;
  t_collect();
  T_ASSERT_HEAP_VALID();
}

Test(stress, threads_share_lists_through_a_heap_table, .timeout = 60.) { stress_mt(8, 3000, 0xC0FFEE); }

Test(stress, threads_share_lists_verify_every_collection, .timeout = 60.) {
  T_SETENV("CGC_VERIFY", "1");
  stress_mt(3, 800, 0xBADC0DE);
}

/* ======================================================================
 * Per-thread roots of a non-main thread, collections run by main:
 * its stack, its registers (saved in the signal frame when it is
 * stopped), its __thread variables (static TLS of the executable)
 * ====================================================================== */

static sem_t s_ready, s_go;

static T_NOINLINE void build_on(t_node *volatile *slot, size_t count, uint64_t idbase) {
  *slot = tl_new(count, idbase);
}

static void *stack_holder(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg;
  t_node *volatile heads[8];
  for (int i = 0; i < 8; i++) build_on(&heads[i], 200, base + (uint64_t)i * 1000);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  for (int i = 0; i < 8; i++) tl_ok(heads[i], 200, base + (uint64_t)i * 1000, "thread stack");
  return NULL;
}

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
      "movq $0, 0(%%rdi)\n\tmovq $0, 8(%%rdi)\n\tmovq $0, 16(%%rdi)\n\tmovq $0, 24(%%rdi)\n\tmovq $0, 32(%%rdi)\n\t"
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
      : "rax", "rbx", "rcx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3",
        "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
        "memory", "cc");
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
  for (int i = 0; i < 64; i++) tls_array[i] = tn_new(base + 1000 + (uint64_t)i, tsize(base + 1000 + (uint64_t)i));
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
  void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
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

static sem_t s_started, s_loaded;
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
    if (pthread_setspecific(g_keys[i], tl_new(40, base + (uint64_t)i * 100)) != 0) terr("pthread_setspecific failed");
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
  cr_assert_eq(atomic_load(&spec_thread_shadow_clear), 1, "pthread_key_delete left values in another thread's shadow");
  churn_collect(3, 7);
  size_t live = t_count_live_hidden(hidden, NKEYS_T);
  cr_assert_leq(live, NKEYS_T / 4, "%zu of %d values of deleted keys are still alive: the shadow still roots them",
                live, NKEYS_T);
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
  cr_assert_eq(atomic_load(&dtor_registered), 1, "a thread is not registered any more while key destructors run");
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * Registration: pthread_create'd threads from their first instruction,
 * the start argument as a root, foreign threads
 * ====================================================================== */

static atomic_int first_insn_registered = -1;

static void *check_arg_later(void *arg) {
  /* before anything else, allocation included */
  atomic_store(&first_insn_registered, gc_thread_is_registered());
  sem_post(&s_started);
  sem_wait_nointr(&s_go);
  tl_ok(arg, 400, 11000000, "start argument");
  return NULL;
}

/* The list exists only as the start argument once this returns. */
static T_NOINLINE pthread_t spawn_with_fresh_list(void *(*fn)(void *), size_t count, uint64_t base) {
  pthread_t th;
  int rc = pthread_create(&th, NULL, fn, tl_new(count, base));
  if (rc != 0) abort();
  return th;
}

Test(registration, registered_from_first_instruction_and_start_arg_is_a_root, .timeout = 30.) {
  sem_init(&s_started, 0, 0);
  sem_init(&s_go, 0, 0);
  pthread_t th = spawn_with_fresh_list(check_arg_later, 400, 11000000);
  forget();
  churn_collect(5, 9); /* the child may still be starting */
  sem_wait_nointr(&s_started);
  cr_assert_eq(atomic_load(&first_insn_registered), 1, "gc_thread_is_registered() is 0 in a new thread's start routine");
  churn_collect(15, 10);
  sem_post(&s_go);
  join(th);
  ASSERT_NO_ERRORS();
}

/* pthread_create that fails (here: a stack that cannot be mapped) leaves
 * no context behind for collections to wait for. */
static void *never_runs(void *arg) {
  terr("a thread whose creation failed ran");
  return arg;
}

Test(registration, failed_pthread_create_leaves_no_context, .timeout = 30.) {
  gc_init();
  size_t n0 = nthreads();
  pthread_attr_t at;
  pthread_attr_init(&at);
  cr_assert_eq(pthread_attr_setstacksize(&at, (size_t)1 << 46), 0);
  pthread_t th;
  int rc = pthread_create(&th, &at, never_runs, gc_malloc(64));
  pthread_attr_destroy(&at);
  cr_assert_neq(rc, 0, "a thread with a 64 TiB stack was created");
  cr_assert_eq(nthreads(), n0, "a failed pthread_create left a thread context (%zu, expected %zu)", nthreads(), n0);
  churn_collect(3, 32);
  ASSERT_NO_ERRORS();
}

/* Deterministic STARTING state: hold the heap lock right after
 * pthread_create, before the child could register (it blocks on the lock
 * in its trampoline), and collect from under the lock: the start argument
 * is then reachable only from cgc's record of the thread. */
static void *check_arg_now(void *arg) {
  tl_ok(arg, 300, 12000000, "start argument of a thread still starting");
  return NULL;
}

Test(registration, start_arg_of_a_thread_still_starting, .timeout = 30.) {
  gc_init();
  th_churn(T_MiB, 11);
  int starting_seen = 0;
  for (int attempt = 0; attempt < 20; attempt++) {
    pthread_t th = spawn_with_fresh_list(check_arg_now, 300, 12000000);
    forget();
    gc__lock();
    gc_tctx_t *t = gc__registry.threads; /* the newest context is first */
    bool starting = t != NULL && t->state == CGC_THREAD_STARTING && t->start_fn == check_arg_now;
    if (starting) {
      starting_seen++;
      for (int i = 0; i < 5; i++) gc__collect_locked("test");
    }
    gc__unlock();
    join(th);
    ASSERT_NO_ERRORS();
  }
  cr_assert_gt(starting_seen, 0, "never caught a thread before it registered");
  cr_log_info("caught %d of 20 threads still starting", starting_seen);
}

/* Thousands of threads that check their start argument while another
 * thread collects back to back: a collection may stop a new thread at any
 * point of its start-up. */
static void *check_arg_soon(void *arg) {
  t_node *l = arg;
  for (int i = 0; i < 20; i++) sched_yield();
  tl_ok(l, 4, l->id, "start argument under continuous collection");
  return NULL;
}

static T_NOINLINE pthread_t spawn_small(uint64_t base) { return spawn_with_fresh_list(check_arg_soon, 4, base); }

Test(registration, start_arg_under_continuous_collection, .timeout = 60.) {
  gc_init();
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)20);
  enum { N = 4000, INFLIGHT = 8 };
  pthread_t th[INFLIGHT];
  for (int i = 0; i < N; i++) {
    if (i >= INFLIGHT) join(th[i % INFLIGHT]);
    th[i % INFLIGHT] = spawn_small(13000000 + (uint64_t)i * 10);
    if (atomic_load(&err_count)) break;
  }
  for (int i = 0; i < INFLIGHT && i < N; i++) join(th[i]);
  atomic_store(&collector_stop, 1);
  join(col);
  cr_log_info("%lu collections during %d thread starts", atomic_load(&collector_runs), N);
  ASSERT_NO_ERRORS();
  cr_assert_gt(atomic_load(&collector_runs), 100);
}

/* A foreign thread: made with the system's pthread_create (found with
 * dlsym(RTLD_NEXT), bypassing cgc's), as a library's own thread pool
 * would be when cgc itself is dlopen'ed. */
typedef int (*create_fn_t)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static create_fn_t system_pthread_create(void) {
  create_fn_t f = (create_fn_t)dlsym(RTLD_NEXT, "pthread_create");
  cr_assert_not_null(f, "dlsym(RTLD_NEXT, pthread_create): %s", dlerror());
  cr_assert_neq((void *)f, (void *)pthread_create, "RTLD_NEXT found cgc's own pthread_create");
  return f;
}

static atomic_int foreign_state[4]; /* registered: at start, after register, after unregister */

static void *foreign_registers(void *arg) {
  (void)arg;
  atomic_store(&foreign_state[0], gc_thread_is_registered());
  if (gc_register_thread() != 0) terr("gc_register_thread failed");
  if (gc_register_thread() != 0) terr("gc_register_thread (again) failed");
  atomic_store(&foreign_state[1], gc_thread_is_registered());
  t_node *volatile head;
  build_on(&head, 500, 15000000);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go); /* main collects: this stack is the only root */
  tl_ok(head, 500, 15000000, "stack of a foreign thread after gc_register_thread");
  gc_unregister_thread();
  atomic_store(&foreign_state[2], gc_thread_is_registered());
  gc_unregister_thread(); /* idempotent */
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  return NULL;
}

Test(registration, foreign_thread_register_and_unregister, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  size_t n0 = nthreads();
  create_fn_t create = system_pthread_create();
  for (int i = 0; i < 3; i++) atomic_store(&foreign_state[i], -1);
  pthread_t th;
  cr_assert_eq(create(&th, NULL, foreign_registers, NULL), 0);
  sem_wait_nointr(&s_ready);
  cr_assert_eq(atomic_load(&foreign_state[0]), 0, "a foreign thread is registered before it asked");
  cr_assert_eq(atomic_load(&foreign_state[1]), 1, "gc_register_thread did not register the thread");
  cr_assert_eq(nthreads(), n0 + 1);
  churn_collect(20, 12);
  sem_post(&s_go);
  sem_wait_nointr(&s_ready);
  cr_assert_eq(atomic_load(&foreign_state[2]), 0, "gc_unregister_thread left the thread registered");
  cr_assert_eq(nthreads(), n0, "gc_unregister_thread did not remove the thread's context");
  churn_collect(2, 13); /* the unregistered thread is not stopped: no hang */
  sem_post(&s_go);
  cr_assert_eq(pthread_join(th, NULL), 0);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

static void *foreign_allocates(void *arg) {
  (void)arg;
  int before = gc_thread_is_registered();
  t_node *volatile head;
  build_on(&head, 300, 16000000); /* the first allocation registers it */
  int after = gc_thread_is_registered();
  if (before != 0 || after != 1) terr("foreign thread: registered %d before, %d after its first allocation", before, after);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  tl_ok(head, 300, 16000000, "stack of a foreign thread registered by its first allocation");
  return NULL; /* exits registered: cgc's key destructor unregisters it */
}

Test(registration, foreign_thread_registered_by_first_allocation, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  size_t n0 = nthreads();
  create_fn_t create = system_pthread_create();
  pthread_t th;
  cr_assert_eq(create(&th, NULL, foreign_allocates, NULL), 0);
  sem_wait_nointr(&s_ready);
  cr_assert_eq(nthreads(), n0 + 1);
  churn_collect(20, 14);
  sem_post(&s_go);
  cr_assert_eq(pthread_join(th, NULL), 0);
  cr_assert(wait_nthreads(n0, 5), "the foreign thread's context outlived it (%zu, expected %zu)", nthreads(), n0);
  churn_collect(2, 15);
  ASSERT_NO_ERRORS();
}

/* ======================================================================
 * Coroutine stacks (ucontext): gc_stack_register / gc_stack_switch
 * ====================================================================== */

enum { CO_STACK = 256 * 1024 };

/* The contexts live in a gc_malloc'ed object (scanned memory, as cgc.h
 * asks), rooted by a global; the stack is mmap'ed (never scanned unless
 * registered). */
typedef struct {
  ucontext_t main_uc, co_uc;
  gc_stack_t *stack;
  char *lo;
  int phase;
  uint64_t base;
  int collect_rounds; /* > 0: the coroutine collects */
  bool on_own_stack;
} coro_t;
static coro_t *volatile g_co;

static void co_yield_to_main(coro_t *co) {
  gc_stack_switch(NULL);
  swapcontext(&co->co_uc, &co->main_uc);
}

static void co_resume(coro_t *co) {
  gc_stack_switch(co->stack);
  swapcontext(&co->main_uc, &co->co_uc);
}

static void co_body(void) {
  coro_t *co = g_co;
  t_node *volatile mine;
  co->on_own_stack = (char *)&mine >= co->lo && (char *)&mine < co->lo + CO_STACK;
  if (co->collect_rounds > 0) {
    /* run collections on the coroutine stack; the main stack's frames
     * hold the only reference to main's list */
    forget();
    churn_collect(co->collect_rounds, 16);
    co->phase = 1;
    co_yield_to_main(co);
    return;
  }
  build_on(&mine, 400, co->base);
  forget();
  co->phase = 1;
  co_yield_to_main(co); /* suspended: `mine` is only on this stack */
  tl_ok(mine, 400, co->base, "local of a suspended coroutine");
  co->phase = 2;
  co_yield_to_main(co);
}

static coro_t *co_new(int collect_rounds, uint64_t base) {
  coro_t *co = gc_malloc(sizeof *co);
  cr_assert_not_null(co);
  co->lo = mmap(NULL, CO_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq((void *)co->lo, MAP_FAILED);
  co->stack = gc_stack_register(co->lo, co->lo + CO_STACK);
  cr_assert_not_null(co->stack, "gc_stack_register: %s", strerror(errno));
  co->collect_rounds = collect_rounds;
  co->base = base;
  cr_assert_eq(getcontext(&co->co_uc), 0);
  co->co_uc.uc_stack.ss_sp = co->lo;
  co->co_uc.uc_stack.ss_size = CO_STACK;
  co->co_uc.uc_link = NULL;
  makecontext(&co->co_uc, co_body, 0);
  g_co = co;
  return co;
}

static void co_free(coro_t *co) {
  gc_stack_unregister(co->stack);
  munmap(co->lo, CO_STACK);
  g_co = NULL;
}

Test(coroutines, suspended_coroutine_locals_survive, .timeout = 30.) {
  coro_t *co = co_new(0, 17000000);
  co_resume(co);
  cr_assert_eq(co->phase, 1);
  cr_assert(co->on_own_stack, "the coroutine does not run on its stack");
  churn_collect(20, 17); /* on the main stack; the coroutine is suspended */
  co_resume(co);
  cr_assert_eq(co->phase, 2);
  co_free(co);
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

static T_NOINLINE void main_side_of_reverse(void) {
  t_node *volatile mine;
  build_on(&mine, 400, 18000000);
  forget();
  coro_t *co = co_new(20, 0);
  size_t c0 = collections();
  co_resume(co); /* collects 20 times on the coroutine stack */
  cr_assert_eq(co->phase, 1);
  cr_assert_geq(collections() - c0, 20);
  tl_ok(mine, 400, 18000000, "main stack frame while a coroutine collected");
  co_free(co);
}

Test(coroutines, main_stack_survives_collections_run_on_a_coroutine, .timeout = 30.) {
  main_side_of_reverse();
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* A thread that runs on a coroutine stack when the main thread stops it:
 * the coroutine's frames (from the stopped stack pointer) and the thread's
 * own stack (from where it switched away) are both roots. */
static void co_spin_body(void) {
  coro_t *co = g_co;
  t_node *volatile mine;
  build_on(&mine, 300, co->base + 500000);
  let_go();
  co->on_own_stack = (char *)&mine >= co->lo && (char *)&mine < co->lo + CO_STACK;
  sem_post(&s_ready);
  sem_wait_nointr(&s_go); /* stopped here, on the coroutine stack */
  tl_ok(mine, 300, co->base + 500000, "local of a running coroutine of another thread");
  co_yield_to_main(co);
}

static void *thread_on_coroutine(void *arg) {
  coro_t *co = arg; /* gc_malloc'ed, also rooted by g_co */
  t_node *volatile native;
  build_on(&native, 300, co->base);
  forget();
  co_resume(co);
  tl_ok(native, 300, co->base, "own stack of a thread running a coroutine");
  return NULL;
}

Test(coroutines, thread_stopped_while_on_a_coroutine_stack, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  coro_t *co = co_new(0, 19000000);
  makecontext(&co->co_uc, co_spin_body, 0);
  pthread_t th = spawn(thread_on_coroutine, co);
  sem_wait_nointr(&s_ready);
  cr_assert(co->on_own_stack);
  churn_collect(20, 18);
  sem_post(&s_go);
  join(th);
  co_free(co);
  ASSERT_NO_ERRORS();
}

Test(coroutines, stack_register_errors) {
  gc_init();
  char *m = mmap(NULL, 4 * 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq((void *)m, MAP_FAILED);
  errno = 0;
  cr_assert_null(gc_stack_register(m + 65536, m), "hi < lo accepted");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(gc_stack_register(m, m), "hi == lo accepted");
  cr_assert_eq(errno, EINVAL);
  gc_stack_t *a = gc_stack_register(m, m + 2 * 65536);
  cr_assert_not_null(a);
  errno = 0;
  cr_assert_null(gc_stack_register(m + 65536, m + 3 * 65536), "an overlapping range accepted");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(gc_stack_register(m, m + 2 * 65536), "the same range accepted twice");
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_null(gc_stack_register(m + 100, m + 200), "a range inside a registered one accepted");
  cr_assert_eq(errno, EINVAL);
  gc_stack_t *b = gc_stack_register(m + 2 * 65536, m + 4 * 65536); /* adjacent: fine */
  cr_assert_not_null(b);
  gc_stack_unregister(a);
  gc_stack_t *c = gc_stack_register(m + 65536, m + 2 * 65536); /* free again */
  cr_assert_not_null(c);
  gc_stack_unregister(NULL);
  gc_stack_unregister(b);
  gc_stack_unregister(c);
  gc_collect();
  munmap(m, 4 * 65536);
}

/* ======================================================================
 * Signals: interrupted system calls restart, blocked signal masks,
 * stray stop signals
 * ====================================================================== */

/* The context of the thread whose pthread_t is th (NULL if none). */
static gc_tctx_t *ctx_of(pthread_t th) {
  gc_tctx_t *r = NULL;
  gc__lock();
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
    if (t->state == CGC_THREAD_RUNNING && pthread_equal(t->self, th)) r = t;
  gc__unlock();
  return r;
}

/* The system call thread `tid` is blocked in, from /proc (-1: running or
 * unknown). */
static long blocked_syscall(pid_t tid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (buf[0] < '0' || buf[0] > '9') return -1;
  return strtol(buf, NULL, 10);
}

static void wait_blocked_in(pid_t tid, long nr) {
  for (int i = 0; i < 5000; i++) {
    if (blocked_syscall(tid) == nr) return;
    usleep(1000);
  }
  cr_assert_fail("thread %d never blocked in system call %ld", (int)tid, nr);
}

typedef struct {
  int fd;
  atomic_int tid, done;
  ssize_t result;
  int err;
  char buf[64];
} reader_t;

static void *blocked_reader(void *arg) {
  reader_t *r = arg;
  t_node *volatile mine;
  build_on(&mine, 200, 20000000);
  let_go();
  atomic_store(&r->tid, gettid_());
  r->result = read(r->fd, r->buf, sizeof r->buf - 1);
  r->err = errno;
  atomic_store(&r->done, 1);
  tl_ok(mine, 200, 20000000, "stack of a thread blocked in read");
  return NULL;
}

Test(signals, read_on_a_pipe_restarts_across_collections, .timeout = 30.) {
  gc_init();
  int p[2];
  cr_assert_eq(pipe(p), 0);
  static reader_t r; /* no gc pointers */
  r.fd = p[0];
  pthread_t th = spawn(blocked_reader, &r);
  while (atomic_load(&r.tid) == 0) sched_yield();
  wait_blocked_in(atomic_load(&r.tid), SYS_read);
  gc_tctx_t *t = ctx_of(th);
  cr_assert_not_null(t);
  unsigned acked0 = t->stop_seq;
  churn_collect(50, 19);
  cr_assert_eq(atomic_load(&r.done), 0, "read() returned during the collections: %zd (errno %d: %s)", r.result, r.err,
               strerror(r.err));
  cr_assert_geq(t->stop_seq - acked0, 50, "the reader was not stopped by every collection (%u)", t->stop_seq - acked0);
  wait_blocked_in(atomic_load(&r.tid), SYS_read); /* back in read() once its stop handler returned */
  cr_assert_eq(write(p[1], "hello, cgc", 10), 10);
  join(th);
  cr_assert_eq(r.result, 10, "read returned %zd (errno %d: %s) after collections", r.result, r.err, strerror(r.err));
  cr_assert_str_eq(r.buf, "hello, cgc");
  close(p[0]);
  close(p[1]);
  ASSERT_NO_ERRORS();
}

static sem_t s_blocked;
static atomic_int semwait_tid, semwait_result = 99, semwait_errno;

static void *blocked_in_sem_wait(void *arg) {
  (void)arg;
  atomic_store(&semwait_tid, gettid_());
  int rc = sem_wait(&s_blocked);
  atomic_store(&semwait_errno, errno);
  atomic_store(&semwait_result, rc);
  return NULL;
}

Test(signals, sem_wait_restarts_across_collections, .timeout = 30.) {
  gc_init();
  sem_init(&s_blocked, 0, 0);
  pthread_t th = spawn(blocked_in_sem_wait, NULL);
  while (atomic_load(&semwait_tid) == 0) sched_yield();
  wait_blocked_in(atomic_load(&semwait_tid), SYS_futex);
  churn_collect(50, 20);
  sem_post(&s_blocked);
  join(th);
  cr_assert_eq(atomic_load(&semwait_result), 0, "sem_wait failed with errno %d (%s) during collections",
               atomic_load(&semwait_errno), strerror(atomic_load(&semwait_errno)));
}

/* Threads that block every signal still get stopped: cgc takes its stop
 * signal out of the masks registered threads set, and a foreign thread
 * that blocked everything before registering is unblocked when it
 * registers. */
static bool kernel_blocks(pid_t tid, int sig) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return true;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return true;
  buf[n] = 0;
  const char *b = strstr(buf, "SigBlk:");
  if (b == NULL) return true;
  unsigned long long mask = strtoull(b + 7, NULL, 16);
  return (mask >> (sig - 1)) & 1;
}

static void *blocks_everything(void *arg) {
  int how = (int)(uintptr_t)arg;
  sigset_t all, cur;
  sigfillset(&all);
  if (how == 2) { /* foreign: block first, register afterwards */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (gc_register_thread() != 0) terr("gc_register_thread failed");
  } else if (how == 1) {
    sigprocmask(SIG_SETMASK, &all, NULL);
  } else {
    pthread_sigmask(SIG_BLOCK, &all, NULL);
  }
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  int sig = gc__world_signal();
  if (sigismember(&cur, sig)) terr("mode %d: the stop signal is reported blocked", how);
  if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGINT)) terr("mode %d: other signals are not blocked", how);
  if (kernel_blocks(gettid_(), sig)) terr("mode %d: the kernel's mask blocks the stop signal", how);
  if (!kernel_blocks(gettid_(), SIGUSR1)) terr("mode %d: the kernel's mask does not block SIGUSR1", how);
  t_node *volatile mine;
  build_on(&mine, 300, 21000000 + (uint64_t)how * 1000);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  tl_ok(mine, 300, 21000000 + (uint64_t)how * 1000, "stack of a thread that blocked every signal");
  return NULL;
}

Test(signals, threads_blocking_every_signal_are_still_stopped, .timeout = 30.) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  create_fn_t create = system_pthread_create();
  pthread_t a = spawn(blocks_everything, (void *)0);
  pthread_t b = spawn(blocks_everything, (void *)1);
  pthread_t c;
  cr_assert_eq(create(&c, NULL, blocks_everything, (void *)2), 0);
  for (int i = 0; i < 3; i++) sem_wait_nointr(&s_ready);
  ASSERT_NO_ERRORS();
  churn_collect(20, 21);
  for (int i = 0; i < 3; i++) sem_post(&s_go);
  join(a);
  join(b);
  join(c);
  ASSERT_NO_ERRORS();
}

/* Calls that install a signal mask of their own while they wait, or take
 * the signals they wait for: with every signal in the mask or set, cgc
 * takes its stop signal out, so the waiting thread is stopped (not held
 * up until the call returns, not robbed of the signal by sigwait).  Each
 * waiter holds a tree on its stack; the collections must finish quickly
 * (the polling calls would otherwise wait out their 20 s timeout, the
 * others for ever) and the sigwait family must get SIGUSR1, never the
 * stop signal. */
enum { W_SIGSUSPEND, W_SIGWAIT, W_SIGWAITINFO, W_SIGTIMEDWAIT, W_PPOLL, W_PSELECT, W_EPOLL_PWAIT, W_EPOLL_PWAIT2, W_N };
static const long w_syscall[W_N] = {SYS_rt_sigsuspend, SYS_rt_sigtimedwait, SYS_rt_sigtimedwait, SYS_rt_sigtimedwait,
                                    SYS_ppoll,         SYS_pselect6,        SYS_epoll_pwait,     SYS_epoll_pwait2};
static const char *const w_name[W_N] = {"sigsuspend", "sigwait",  "sigwaitinfo", "sigtimedwait",
                                        "ppoll",      "pselect", "epoll_pwait", "epoll_pwait2"};
static atomic_int w_tid[W_N], w_got[W_N], w_usr1;
static int w_pipe[2];
static void on_usr1(int sig) {
  (void)sig;
  atomic_store(&w_usr1, 1);
}

/* Wait as call k does, again after each EINTR (a collection's stop
 * signal runs a handler, which these calls do not restart). */
static int masked_wait(int k, const sigset_t *all) {
  struct timespec tmo = {20, 0};
  siginfo_t si;
  int got = -1;
  switch (k) {
  case W_SIGSUSPEND: {
    sigset_t m = *all;
    sigdelset(&m, SIGUSR1);
    while (!atomic_load(&w_usr1)) sigsuspend(&m);
    return SIGUSR1;
  }
  case W_SIGWAIT:
    return sigwait(all, &got) == 0 ? got : -1;
  case W_SIGWAITINFO:
    while ((got = sigwaitinfo(all, &si)) < 0 && errno == EINTR) {
    }
    return got;
  case W_SIGTIMEDWAIT:
    while ((got = sigtimedwait(all, &si, &tmo)) < 0 && errno == EINTR) {
    }
    return got;
  case W_PPOLL: {
    struct pollfd pf = {.fd = w_pipe[0], .events = POLLIN};
    while ((got = ppoll(&pf, 1, &tmo, all)) < 0 && errno == EINTR) {
    }
    return got;
  }
  case W_PSELECT:
    for (;;) {
      fd_set r;
      FD_ZERO(&r);
      FD_SET(w_pipe[0], &r);
      if ((got = pselect(w_pipe[0] + 1, &r, NULL, NULL, &tmo, all)) >= 0 || errno != EINTR) return got;
    }
  default: {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, w_pipe[0], &ev);
    while ((got = k == W_EPOLL_PWAIT ? epoll_pwait(ep, &out, 1, 20000, all) : epoll_pwait2(ep, &out, 1, &tmo, all)) < 0 &&
           errno == EINTR) {
    }
    close(ep);
    return got;
  }
  }
}

static void *masked_waiter(void *arg) {
  int k = (int)(uintptr_t)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  t_node *volatile mine;
  build_on(&mine, 200, 23000000 + (uint64_t)k * 1000);
  let_go();
  atomic_store(&w_tid[k], gettid_());
  atomic_store(&w_got[k], masked_wait(k, &all));
  tl_ok(mine, 200, 23000000 + (uint64_t)k * 1000, w_name[k]);
  return NULL;
}

Test(signals, calls_with_their_own_masks_do_not_hold_up_or_swallow_stops, .timeout = 30.) {
  gc_init();
  struct sigaction sa = {.sa_handler = on_usr1};
  sigaction(SIGUSR1, &sa, NULL);
  cr_assert_eq(pipe(w_pipe), 0);
  pthread_t th[W_N];
  for (int k = 0; k < W_N; k++) th[k] = spawn(masked_waiter, (void *)(uintptr_t)k);
  for (int k = 0; k < W_N; k++) {
    while (atomic_load(&w_tid[k]) == 0) sched_yield();
    wait_blocked_in(atomic_load(&w_tid[k]), w_syscall[k]);
  }
  uint64_t t0 = gc__now_ns();
  churn_collect(10, 23);
  uint64_t ms = (gc__now_ns() - t0) / 1000000;
  cr_assert_lt(ms, 10000, "10 collections took %llu ms with threads waiting under full masks", (unsigned long long)ms);
  /* each is still waiting: back in its call once the stop handler returned
   * (a read right after the collection can catch one on its way back) */
  for (int k = 0; k < W_N; k++) wait_blocked_in(atomic_load(&w_tid[k]), w_syscall[k]);
  for (int k = W_SIGSUSPEND; k <= W_SIGTIMEDWAIT; k++) pthread_kill(th[k], SIGUSR1);
  cr_assert_eq(write(w_pipe[1], "x", 1), 1);
  for (int k = 0; k < W_N; k++) join(th[k]);
  for (int k = W_SIGSUSPEND; k <= W_SIGTIMEDWAIT; k++)
    cr_assert_eq(atomic_load(&w_got[k]), SIGUSR1, "%s returned %d, not SIGUSR1 (the stop signal is %d)", w_name[k],
                 atomic_load(&w_got[k]), gc__world_signal());
  for (int k = W_PPOLL; k < W_N; k++)
    cr_assert_eq(atomic_load(&w_got[k]), 1, "%s returned %d, not the pipe", w_name[k], atomic_load(&w_got[k]));
  close(w_pipe[0]);
  close(w_pipe[1]);
  ASSERT_NO_ERRORS();
}

/* A stop signal that cgc did not send must not count as an answer: here
 * the main thread raises it after a collection (main was never asked to
 * stop: it is the collector), then a thread that cannot answer for a
 * while (it blocks the stop signal with a raw system call, past cgc's
 * filter) is running when main collects.  The collection must wait for
 * that thread; a stray acknowledgement would let it go on with the thread
 * running -- and a thread may later wait in the stop handler for a
 * resumption that went by, so that every later collection hangs. */
static atomic_int rawblock_ready, rawblock_go;

static void *blocks_stop_signal_raw(void *arg) {
  (void)arg;
  uint64_t set = (uint64_t)1 << (gc__world_signal() - 1), old = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, sizeof set);
  atomic_store(&rawblock_ready, 1);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof set);
  while (!atomic_load(&rawblock_go)) usleep(1000);
  return NULL;
}

Test(signals, stray_stop_signal_is_not_an_answer, .timeout = 30.) {
  gc_init();
  gc_collect();
  for (int i = 0; i < 3; i++) raise(gc__world_signal());
  pthread_t th = spawn(blocks_stop_signal_raw, NULL);
  while (!atomic_load(&rawblock_ready)) usleep(1000);
  gc_tctx_t *t = ctx_of(th);
  cr_assert_not_null(t);
  unsigned acked0 = t->stop_seq;
  uint64_t t0 = gc__now_ns();
  gc_collect();
  double ms = (double)(gc__now_ns() - t0) / 1e6;
  unsigned acked1 = t->stop_seq;
  atomic_store(&rawblock_go, 1);
  join(th);
  cr_assert_neq(acked1, acked0,
                "a collection ended after %.0f ms without the thread that blocks the stop signal answering: a stray "
                "stop signal was counted as its answer", ms);
  churn_collect(3, 30);
}

/* A thread stopped while it runs a signal handler on an alternate signal
 * stack (sigaltstack, SA_ONSTACK): the handler's frames and the registers
 * of the code it interrupted are saved on that stack, not on the thread's
 * own. */
static atomic_int altstack_in_handler, altstack_go;
static atomic_int altstack_on_alt = -1;

static void altstack_handler(int sig) {
  (void)sig;
  stack_t ss;
  sigaltstack(NULL, &ss);
  atomic_store(&altstack_on_alt, (ss.ss_flags & SS_ONSTACK) != 0);
  /* Large nodes: each has a span of its own, which no thread caches, so
   * no collection from this thread (inside a signal handler) is needed
   * for main's collections to be able to reclaim them (see let_go). */
  t_node *volatile mine = NULL;
  for (uint64_t i = 4; i-- > 0;) {
    t_node *n = tn_new(46000000 + i, 600 * T_KiB);
    n->next = mine;
    mine = n;
  }
  forget();
  atomic_store(&altstack_in_handler, 1);
  while (!atomic_load(&altstack_go)) usleep(1000);
  for (uint64_t i = 0; i < 4; i++, mine = mine->next)
    if (!tn_ok(mine, 46000000 + i, "local of a signal handler running on an alternate stack")) break;
}

static void *runs_handler_on_altstack(void *arg) {
  (void)arg;
  stack_t ss = {.ss_sp = malloc(256 * 1024), .ss_size = 256 * 1024, .ss_flags = 0};
  if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) {
    terr("sigaltstack failed");
    return NULL;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = altstack_handler;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  stack_t off = {.ss_flags = SS_DISABLE};
  sigaltstack(&off, NULL);
  free(ss.ss_sp);
  return NULL;
}

Test(signals, thread_stopped_on_an_alternate_signal_stack, .timeout = 30.) {
  gc_init();
  pthread_t th = spawn(runs_handler_on_altstack, NULL);
  while (!atomic_load(&altstack_in_handler) && atomic_load(&err_count) == 0) usleep(1000);
  cr_assert_eq(atomic_load(&altstack_on_alt), 1, "the handler does not run on the alternate stack");
  churn_collect(15, 31);
  atomic_store(&altstack_go, 1);
  join(th);
  ASSERT_NO_ERRORS();
}

/* A stop signal nobody asked for (kill, raise) returns at once. */
static void *raises_stop_signal(void *arg) {
  (void)arg;
  t_node *volatile mine;
  build_on(&mine, 100, 22000000);
  for (int i = 0; i < 100; i++) raise(gc__world_signal());
  tl_ok(mine, 100, 22000000, "after stray stop signals");
  return NULL;
}

Test(signals, stray_stop_signals_are_ignored, .timeout = 30.) {
  gc_init();
  t_node *volatile mine;
  build_on(&mine, 100, 23000000);
  for (int i = 0; i < 100; i++) raise(gc__world_signal());
  pthread_t th = spawn(raises_stop_signal, NULL);
  for (int i = 0; i < 50; i++) {
    pthread_kill(th, gc__world_signal());
    gc_collect();
  }
  join(th);
  churn_collect(3, 22);
  tl_ok(mine, 100, 23000000, "main after stray stop signals");
  ASSERT_NO_ERRORS();
}

/* ======================================================================
 * gc_free from many threads at once, of objects other threads allocated
 * ====================================================================== */

enum { XF_THREADS = 4, XF_CAP = 4096, XF_ITERS = 300, XF_BATCH = 24 };
typedef struct {
  size_t n;
  t_node *v[XF_CAP];
} xtable_t;
static xtable_t *volatile g_xt; /* gc_malloc'ed; this global is its only root */
static pthread_mutex_t g_xt_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong xf_freed_bytes, xf_freed_objs;

static size_t xf_size(uint64_t id) {
  uint64_t h = t_mix64(id);
  if (h % 400 == 0) return 600 * T_KiB; /* large: gc_free takes the lock */
  if (h % 10 == 0) return 1024 + (size_t)(h >> 20) % 8192;
  return sizeof(t_node) + (size_t)(h >> 20) % 200;
}

static T_NOINLINE void xf_produce(unsigned me, uint64_t *seq) {
  for (int k = 0; k < XF_BATCH; k++) {
    uint64_t id = ((uint64_t)(me + 1) << 40) | (*seq)++;
    t_node *n = tn_new(id, xf_size(id));
    pthread_mutex_lock(&g_xt_mu);
    xtable_t *xt = g_xt;
    if (xt->n < XF_CAP) xt->v[xt->n++] = n;
    pthread_mutex_unlock(&g_xt_mu);
  }
}

static T_NOINLINE void xf_consume(unsigned me, uint64_t *rs) {
  t_node *take[XF_BATCH];
  size_t nt = 0;
  pthread_mutex_lock(&g_xt_mu);
  xtable_t *xt = g_xt;
  size_t start = xt->n ? (size_t)(t_rand(rs) % xt->n) : 0;
  for (size_t j = 0; j < xt->n && nt < XF_BATCH;) {
    size_t i = (start + j) % xt->n;
    t_node *n = xt->v[i];
    if ((n->id >> 40) != me + 1) {
      take[nt++] = n;
      xt->v[i] = xt->v[--xt->n];
      xt->v[xt->n] = NULL;
      continue; /* look at the entry moved into i */
    }
    j++;
  }
  pthread_mutex_unlock(&g_xt_mu);
  for (size_t k = 0; k < nt; k++) {
    t_node *n = take[k];
    uint64_t id = n->id, producer = id >> 40;
    if (producer == 0 || producer > XF_THREADS || producer == me + 1) terr("gc_free table: bad id %llx", (unsigned long long)id);
    if (!tn_ok(n, id, "object handed over for gc_free")) return;
    size_t sz = gc_size(n);
    gc_free(n);
    atomic_fetch_add(&xf_freed_bytes, sz);
    atomic_fetch_add(&xf_freed_objs, 1);
  }
}

static void *xfree_worker(void *arg) {
  unsigned me = (unsigned)(uintptr_t)arg;
  uint64_t seq = 0, rs = me * 77 + 1;
  for (int it = 0; it < XF_ITERS && atomic_load(&err_count) == 0; it++) {
    xf_produce(me, &seq);
    xf_consume(me, &rs);
    if (it % 50 == 0) th_churn(256 * T_KiB, me * 1000 + (uint64_t)it);
  }
  return NULL;
}

Test(gc_free, many_threads_free_each_others_objects, .timeout = 60.) {
  gc_init();
  g_xt = gc_malloc(sizeof(xtable_t));
  cr_assert_not_null(g_xt);
  gc_stats_t s0 = t_stats();
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)300);
  pthread_t th[XF_THREADS];
  for (unsigned i = 0; i < XF_THREADS; i++) th[i] = spawn(xfree_worker, (void *)(uintptr_t)i);
  for (unsigned i = 0; i < XF_THREADS; i++) join(th[i]);
  atomic_store(&collector_stop, 1);
  join(col);
  ASSERT_NO_ERRORS();
  gc_stats_t s1 = t_stats();
  cr_assert_gt(atomic_load(&xf_freed_objs), XF_THREADS * XF_ITERS * XF_BATCH / 2, "only %lu objects were freed",
               atomic_load(&xf_freed_objs));
  cr_assert_eq(s1.freed_bytes - s0.freed_bytes, atomic_load(&xf_freed_bytes), "freed_bytes counts %zu, the threads freed %lu",
               s1.freed_bytes - s0.freed_bytes, atomic_load(&xf_freed_bytes));
  cr_assert_gt(s1.collections - s0.collections, 5);
  t_collect();
  xtable_t *xt = g_xt;
  for (size_t i = 0; i < xt->n; i++) cr_assert(tn_ok(xt->v[i], xt->v[i]->id, "left in the table"), "%s", err_msg);
  T_ASSERT_HEAP_VALID();
  cr_log_info("%lu objects freed across threads, %zu collections", atomic_load(&xf_freed_objs),
              s1.collections - s0.collections);
}

/* ======================================================================
 * Thread churn: hundreds of short-lived detached threads, pthread_exit,
 * cancellation, threads exiting while collections run
 * ====================================================================== */

static sem_t s_slots;
static atomic_int short_done;

static void *short_lived(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  size_t count = 20 + (size_t)(i % 100);
  t_node *volatile l;
  build_on(&l, count, 30000000 + i * 1000);
  if (i % 7 == 0) th_churn(64 * T_KiB, i);
  if (i % 16 == 0) gc_collect();
  tl_ok(l, count, 30000000 + i * 1000, "short-lived detached thread");
  atomic_fetch_add(&short_done, 1);
  sem_post(&s_slots);
  if (i % 2) pthread_exit(NULL);
  return NULL;
}

Test(thread_churn, hundreds_of_short_lived_detached_threads, .timeout = 60.) {
  gc_init();
  size_t n0 = nthreads();
  t_node *volatile mine;
  build_on(&mine, 1000, 29000000);
  sem_init(&s_slots, 0, 12);
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  enum { N = 500 };
  size_t c0 = collections();
  for (int i = 0; i < N; i++) {
    sem_wait_nointr(&s_slots);
    pthread_t th;
    int rc = pthread_create(&th, &at, short_lived, (void *)(uintptr_t)i);
    cr_assert_eq(rc, 0, "pthread_create #%d: %s", i, strerror(rc));
    if (i % 25 == 0) {
      th_churn(256 * T_KiB, (uint64_t)i);
      gc_collect();
    }
  }
  pthread_attr_destroy(&at);
  for (int i = 0; i < 20000 && atomic_load(&short_done) < N; i++) usleep(1000);
  cr_assert_eq(atomic_load(&short_done), N);
  cr_assert(wait_nthreads(n0, 10), "%zu thread contexts left after every detached thread ended (expected %zu)",
            nthreads(), n0);
  churn_collect(3, 24);
  cr_log_info("%zu collections", collections() - c0);
  tl_ok(mine, 1000, 29000000, "main");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

typedef struct {
  t_node *head;
  size_t count;
  uint64_t base;
} held_t;

static atomic_int cancel_blocked, cancel_cleanups;
static sem_t s_never;
static int cancel_pipe[2];

static void cancel_cleanup(void *arg) {
  held_t *h = arg;
  tl_ok(h->head, h->count, h->base, "list held by a cancelled thread, in its cleanup handler");
  atomic_fetch_add(&cancel_cleanups, 1);
}

static void *cancellable(void *arg) {
  unsigned i = (unsigned)(uintptr_t)arg;
  held_t h = {NULL, 50 + i, 31000000 + (uint64_t)i * 1000};
  t_node *volatile l;
  build_on(&l, h.count, h.base);
  h.head = l;
  pthread_cleanup_push(cancel_cleanup, &h);
  let_go();
  atomic_fetch_add(&cancel_blocked, 1);
  char c;
  struct timespec ts = {10, 0};
  switch (i % 4) {
  case 0:
    for (;;) pause();
  case 1:
    for (;;) sem_wait(&s_never);
  case 2:
    for (;;)
      if (read(cancel_pipe[0], &c, 1) != -1 || errno != EINTR) break;
    break;
  default:
    for (;;) nanosleep(&ts, NULL); /* returns EINTR at each collection */
  }
  pthread_cleanup_pop(0);
  terr("cancellable thread %u left its cancellation point", i);
  return NULL;
}

Test(thread_churn, cancelled_threads_holding_objects, .timeout = 30.) {
  gc_init();
  size_t n0 = nthreads();
  sem_init(&s_never, 0, 0);
  cr_assert_eq(pipe(cancel_pipe), 0);
  t_node *volatile mine;
  build_on(&mine, 500, 32000000);
  enum { N = 40 };
  pthread_t th[N];
  for (unsigned i = 0; i < N; i++) th[i] = spawn(cancellable, (void *)(uintptr_t)i);
  while (atomic_load(&cancel_blocked) < N) usleep(1000);
  usleep(10000);
  churn_collect(5, 25);
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)100);
  for (unsigned i = 0; i < N; i++) {
    cr_assert_eq(pthread_cancel(th[i]), 0);
    if (i % 8 == 0) gc_collect();
  }
  for (unsigned i = 0; i < N; i++) cr_assert_eq(join(th[i]), PTHREAD_CANCELED, "thread %u was not cancelled", i);
  atomic_store(&collector_stop, 1);
  join(col);
  cr_assert_eq(atomic_load(&cancel_cleanups), N);
  cr_assert(wait_nthreads(n0, 10), "%zu thread contexts left after the cancelled threads ended (expected %zu)",
            nthreads(), n0);
  churn_collect(3, 26);
  tl_ok(mine, 500, 32000000, "main");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* Deterministic: pthread_cancel of a thread that is stopped (inside a
 * cancellable system call) must not let it run -- its cleanup handlers
 * run only once the world restarts, and it is stoppable afterwards. */
static atomic_int stopped_cleanup_ran;
static atomic_int stopped_blocked;

static void note_cleanup(void *arg) {
  (void)arg;
  atomic_store(&stopped_cleanup_ran, 1);
}

static void *pauses_forever(void *arg) {
  (void)arg;
  pthread_cleanup_push(note_cleanup, NULL);
  atomic_store(&stopped_blocked, 1);
  for (;;) pause();
  pthread_cleanup_pop(0);
  return NULL;
}

Test(thread_churn, cancelling_a_stopped_thread_waits_for_the_restart, .timeout = 30.) {
  gc_init();
  size_t n0 = nthreads();
  pthread_t th = spawn(pauses_forever, NULL);
  while (!atomic_load(&stopped_blocked)) usleep(1000);
  usleep(20000);
  gc__lock();
  gc__world_stop(NULL);
  int rc = pthread_cancel(th);
  usleep(100000);
  int ran_while_stopped = atomic_load(&stopped_cleanup_ran);
  gc__world_start();
  gc__unlock();
  cr_assert_eq(rc, 0);
  cr_assert_eq(join(th), PTHREAD_CANCELED);
  cr_assert_eq(ran_while_stopped, 0, "a stopped thread ran its cancellation cleanup handler while the world was stopped");
  cr_assert(wait_nthreads(n0, 5), "the cancelled thread's context is left (%zu, expected %zu)", nthreads(), n0);
  churn_collect(3, 27); /* would wait for ever on a thread left with the stop signal blocked */
}

/* A key destructor that defers itself to the last round (re-setting its
 * value, as cgc's own does) and allocates there, after cgc let go of the
 * thread: the allocation registers the thread again, and no destructor
 * round is left to unregister it.  The thread then ends registered;
 * collections must not wait for it for ever (nor signal a dead thread). */
static pthread_key_t g_late_key;
static atomic_int late_rounds, late_registered = -1, late_tid;

static void late_dtor(void *v) {
  if (atomic_fetch_add(&late_rounds, 1) + 1 < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_late_key, v);
    return;
  }
  t_node *volatile n = tn_new(45000000, 64); /* registers the thread again */
  (void)n;
  atomic_store(&late_registered, gc_thread_is_registered());
  atomic_store(&late_tid, gettid_());
}

static void *sets_late_key(void *arg) {
  pthread_setspecific(g_late_key, arg);
  return NULL;
}

Test(thread_churn, thread_registered_again_in_its_last_destructor_round, .timeout = 30.) {
  gc_init();
  cr_assert_eq(pthread_key_create(&g_late_key, late_dtor), 0);
  pthread_t th = spawn(sets_late_key, (void *)1);
  join(th);
  cr_assert_eq(atomic_load(&late_rounds), PTHREAD_DESTRUCTOR_ITERATIONS);
  cr_log_info("registered after allocating in the last destructor round: %d", atomic_load(&late_registered));
  uint64_t t0 = gc__now_ns();
  churn_collect(5, 29);
  double secs = (double)(gc__now_ns() - t0) / 1e9;
  cr_assert_lt(secs, 5.0, "5 collections took %.1f s: they waited for a thread that had ended", secs);
  size_t running = 0;
  gc__lock();
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
    if (t->state == CGC_THREAD_RUNNING && t->tid == (pid_t)atomic_load(&late_tid)) running++;
  gc__unlock();
  cr_assert_eq(running, 0, "the ended thread is still scanned and signalled as running");
  T_ASSERT_HEAP_VALID();
}

/* Threads end (return, pthread_exit, after gc_unregister_thread, after
 * unregistering and allocating again) while another thread collects back
 * to back. */
static void *exits_soon(void *arg) {
  uint64_t i = (uint64_t)(uintptr_t)arg;
  t_node *volatile l;
  build_on(&l, 10, 33000000 + i * 100);
  tl_ok(l, 10, 33000000 + i * 100, "thread exiting during collections");
  switch (i % 5) {
  case 0:
    gc_unregister_thread();
    break;
  case 1:
    gc_unregister_thread();
    build_on(&l, 5, 33000000 + i * 100 + 50); /* registers again */
    if (!gc_thread_is_registered()) terr("allocating did not register the thread again");
    tl_ok(l, 5, 33000000 + i * 100 + 50, "re-registered thread");
    break;
  case 2:
    pthread_exit(NULL);
  default:
    break;
  }
  return NULL;
}

Test(thread_churn, threads_exit_while_collections_run, .timeout = 60.) {
  gc_init();
  size_t n0 = nthreads();
  t_node *volatile mine;
  build_on(&mine, 500, 34000000);
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)10);
  pthread_attr_t det;
  pthread_attr_init(&det);
  pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);
  enum { N = 1000, INFLIGHT = 8 };
  pthread_t th[INFLIGHT];
  for (int i = 0; i < N; i++) {
    if (i % 2) {
      pthread_t d;
      cr_assert_eq(pthread_create(&d, &det, exits_soon, (void *)(uintptr_t)i), 0);
      continue;
    }
    int k = (i / 2) % INFLIGHT;
    if (i / 2 >= INFLIGHT) join(th[k]);
    th[k] = spawn(exits_soon, (void *)(uintptr_t)i);
  }
  for (int k = 0; k < INFLIGHT; k++) join(th[k]);
  pthread_attr_destroy(&det);
  cr_assert(wait_nthreads(n0 + 1, 10), "%zu thread contexts left (expected %zu)", nthreads(), n0 + 1);
  atomic_store(&collector_stop, 1);
  join(col);
  cr_log_info("%lu collections while %d threads came and went", atomic_load(&collector_runs), N);
  cr_assert_gt(atomic_load(&collector_runs), 50);
  tl_ok(mine, 500, 34000000, "main");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * fork() in a multithreaded program
 * ====================================================================== */

static atomic_int fork_stop;

static void *child_side_thread(void *arg) {
  (void)arg;
  t_node *volatile l;
  build_on(&l, 200, 41000000);
  for (int i = 0; i < 5; i++) {
    th_churn(256 * T_KiB, (uint64_t)i);
    gc_collect();
  }
  tl_ok(l, 200, 41000000, "fork child: a thread of the child");
  return NULL;
}

/* Runs in the child: only the forking thread exists.  No Criterion. */
static T_NOINLINE int fork_child_body(const t_node *inherited, size_t count, uint64_t base) {
  alarm(30);
  if (nthreads() != 1) terr("fork child: %zu registered threads, expected 1", nthreads());
  if (!tl_ok(inherited, count, base, "fork child: data inherited from the parent")) return child_report();
  t_node *volatile mine;
  build_on(&mine, 500, 40000000);
  for (int r = 0; r < 20 && atomic_load(&err_count) == 0; r++) {
    th_churn(512 * T_KiB, (uint64_t)r);
    gc_collect();
    tl_ok(inherited, count, base, "fork child: inherited data after collections");
    tl_ok(mine, 500, 40000000, "fork child: new data after collections");
  }
  pthread_t th;
  if (pthread_create(&th, NULL, child_side_thread, NULL) != 0) terr("fork child: pthread_create failed");
  else pthread_join(th, NULL);
  gc_collect();
  if (!gc__heap_is_valid()) terr("fork child: heap invariants broken");
  return child_report();
}

static void *fork_worker(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg;
  for (uint64_t it = 0; !atomic_load(&fork_stop); it++) {
    t_node *volatile l;
    build_on(&l, 100, base + it * 1000);
    th_churn(128 * T_KiB, base + it);
    tl_ok(l, 100, base + it * 1000, "fork parent: worker");
  }
  return NULL;
}

static atomic_int fork_from_thread_status = -1;

static void *forks_from_a_thread(void *arg) {
  (void)arg;
  t_node *volatile l;
  build_on(&l, 300, 42000000);
  pid_t pid = fork();
  if (pid == 0) _exit(fork_child_body(l, 300, 42000000));
  int st = -1;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) terr("fork/waitpid from a thread failed");
  atomic_store(&fork_from_thread_status, st);
  tl_ok(l, 300, 42000000, "fork parent: the forking thread");
  return NULL;
}

Test(fork, child_of_a_multithreaded_program, .timeout = 60.) {
  gc_init();
  t_node *volatile mine;
  build_on(&mine, 2000, 43000000);
  pthread_t w[3];
  for (int i = 0; i < 3; i++) w[i] = spawn(fork_worker, (void *)(uintptr_t)(44000000 + 10000000 * i));
  pthread_t col = spawn(collector_loop, (void *)(uintptr_t)200);
  uint64_t rs = 5;
  for (int i = 0; i < 8; i++) {
    usleep((useconds_t)t_range(&rs, 0, 20000));
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) _exit(fork_child_body(mine, 2000, 43000000));
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child #%d: %s %d", i,
              WIFEXITED(st) ? "exit status" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    tl_ok(mine, 2000, 43000000, "fork parent: main after a fork");
  }
  pthread_t f = spawn(forks_from_a_thread, NULL);
  join(f);
  int st = atomic_load(&fork_from_thread_status);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child forked from a non-main thread: status %#x", st);
  atomic_store(&fork_stop, 1);
  for (int i = 0; i < 3; i++) join(w[i]);
  atomic_store(&collector_stop, 1);
  join(col);
  churn_collect(3, 28);
  tl_ok(mine, 2000, 43000000, "fork parent: main at the end");
  ASSERT_NO_ERRORS();
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * Child processes: scenarios that need their own environment (CGC_SIGNAL,
 * LD_PRELOAD) or that must die.  The program re-executes itself with
 * CGC_TEST_CHILD naming the scenario; a constructor runs it before
 * Criterion starts (t_run_child, common.h).  Plain checks, exit codes.
 * ====================================================================== */

#define ASSERT_CHILD_EXIT0(res, what)                                                                  \
  cr_assert(WIFEXITED((res)->status) && WEXITSTATUS((res)->status) == 0,                               \
            "%s: child %s %d\nstdout:\n%s\nstderr:\n%s", (what),                                       \
            WIFEXITED((res)->status) ? "exited with" : "killed by signal",                             \
            WIFEXITED((res)->status) ? WEXITSTATUS((res)->status) : WTERMSIG((res)->status), (res)->out, \
            (res)->err)

/* ---- the start argument right after registration (libhook preloaded) ---- */

static atomic_ulong window_base;

static void *check_arg_window(void *arg) {
  tl_ok(arg, 300, atomic_load(&window_base), "start argument right after the thread registered");
  return NULL;
}

static int child_startarg_window(void) {
  atomic_int *armed = dlsym(RTLD_DEFAULT, "hook_armed");
  pthread_t *armer = dlsym(RTLD_DEFAULT, "hook_armer");
  sem_t *parked = dlsym(RTLD_DEFAULT, "hook_parked"), *release = dlsym(RTLD_DEFAULT, "hook_release");
  if (armed == NULL || armer == NULL || parked == NULL || release == NULL) {
    fprintf(stderr, "libhook.so is not preloaded\n");
    return 20;
  }
  sem_init(parked, 0, 0);
  sem_init(release, 0, 0);
  gc_init();
  th_churn(T_MiB, 1);
  for (int round = 0; round < 5; round++) {
    atomic_store(&window_base, 14000000 + (uint64_t)round * 1000);
    *armer = pthread_self();
    atomic_store(armed, 1);
    pthread_t th = spawn_with_fresh_list(check_arg_window, 300, atomic_load(&window_base));
    forget();
    sem_wait_nointr(parked);
    /* the new thread is registered (RUNNING) and parked inside cgc's
     * registration; its start routine has not run */
    int running = 0;
    gc__lock();
    for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next)
      if (t->start_fn == check_arg_window && t->state == CGC_THREAD_RUNNING) running++;
    gc__unlock();
    if (running != 1) terr("round %d: the parked thread is not registered and running (%d)", round, running);
    churn_collect(5, (uint64_t)round);
    sem_post(release);
    pthread_join(th, NULL);
  }
  return child_report();
}

Test(registration, start_arg_right_after_registration, .timeout = 30.) {
  const char *env[] = {"LD_PRELOAD=" TEST_LIBDIR "/libhook.so", NULL};
  t_child_t *res = t_run_child("startarg_window", env);
  ASSERT_CHILD_EXIT0(res, "start argument while the new thread sits right after its registration");
  free(res);
}

/* ---- CGC_SIGNAL ---- */

static int child_signal(void) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  int sig = gc__world_signal();
  struct sigaction sa;
  sigaction(sig, NULL, &sa);
  printf("signal=%d installed=%d restart=%d", sig,
         (sa.sa_flags & SA_SIGINFO) != 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN,
         (sa.sa_flags & SA_RESTART) != 0);
  sigaction(SIGPWR, NULL, &sa);
  printf(" pwr_default=%d", sa.sa_handler == SIG_DFL);
  enum { N = 3 };
  pthread_t th[N];
  for (int i = 0; i < N; i++)
    if (pthread_create(&th[i], NULL, stack_holder, (void *)(uintptr_t)(24000000 + 100000 * i)) != 0) return 3;
  for (int i = 0; i < N; i++) sem_wait_nointr(&s_ready);
  size_t c0 = collections();
  churn_collect(15, 23);
  for (int i = 0; i < N; i++) sem_post(&s_go);
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  printf(" collections=%zu\n", collections() - c0);
  return child_report();
}

typedef struct {
  const char *env;
  int expect; /* signal number */
  bool invalid;
} sigcase_t;

Test(options, cgc_signal, .timeout = 60.) {
  char rtmin2[32], num12[32];
  snprintf(rtmin2, sizeof rtmin2, "%d", SIGRTMIN + 2);
  snprintf(num12, sizeof num12, "%d", SIGUSR2);
  const sigcase_t cases[] = {
      {NULL, SIGPWR, false},
      {"CGC_SIGNAL=SIGUSR2", SIGUSR2, false},
      {"CGC_SIGNAL=USR1", SIGUSR1, false},
      {"CGC_SIGNAL=RTMIN+2", SIGRTMIN + 2, false},
      {"CGC_SIGNAL=SIGRTMIN+5", SIGRTMIN + 5, false},
      {"CGC_SIGNAL=12", 12, false},
      {"CGC_SIGNAL=SIGXCPU", SIGXCPU, false},
      {"CGC_SIGNAL=KILL", SIGPWR, true},
      {"CGC_SIGNAL=SIGSEGV", SIGPWR, true},
      {"CGC_SIGNAL=SEGV", SIGPWR, true},
      {"CGC_SIGNAL=STOP", SIGPWR, true},
      {"CGC_SIGNAL=0", SIGPWR, true},
      {"CGC_SIGNAL=9", SIGPWR, true},
      {"CGC_SIGNAL=abc", SIGPWR, true},
      {"CGC_SIGNAL=RTMIN+", SIGPWR, true},
      {"CGC_SIGNAL=200", SIGPWR, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const sigcase_t *c = &cases[i];
    const char *env[] = {c->env, NULL};
    t_child_t *res = t_run_child("signal", env);
    const char *what = c->env ? c->env : "(no CGC_SIGNAL)";
    ASSERT_CHILD_EXIT0(res, what);
    int sig = -1, installed = -1, restart = -1, pwr_default = -1;
    size_t coll = 0;
    cr_assert_eq(sscanf(res->out, "signal=%d installed=%d restart=%d pwr_default=%d collections=%zu", &sig, &installed,
                        &restart, &pwr_default, &coll),
                 5, "%s: bad child output: %s", what, res->out);
    cr_assert_eq(sig, c->expect, "%s: cgc uses signal %d, expected %d", what, sig, c->expect);
    cr_assert_eq(installed, 1, "%s: no SA_SIGINFO handler on signal %d", what, sig);
    cr_assert_eq(restart, 1, "%s: the stop handler lacks SA_RESTART", what);
    if (c->expect != SIGPWR) cr_assert_eq(pwr_default, 1, "%s: SIGPWR was touched", what);
    cr_assert_geq(coll, 15, "%s", what);
    if (c->invalid) {
      cr_assert_not_null(strstr(res->err, "CGC_SIGNAL"), "%s: the invalid value was not reported:\n%s", what, res->err);
    } else {
      cr_assert_eq(res->err_len, 0, "%s: unexpected messages:\n%s", what, res->err);
    }
    free(res);
  }
}

/* ---- double free ---- */

/* Both threads spin until the other arrives, so the two frees start
 * within nanoseconds of each other and often both get past the lookup:
 * then the clearing CAS decides ("freed twice?"); otherwise the lookup
 * of the second already fails ("already freed"). */
static atomic_int df_arrived;

static void *free_after_barrier(void *p) {
  atomic_fetch_add(&df_arrived, 1);
  while (atomic_load(&df_arrived) < 2) {
  }
  gc_free(p);
  return NULL;
}

static int child_double_free_race(void) {
  void *keep = gc_malloc(48); /* the span stays in use */
  void *p = gc_malloc(48);
  printf("p=%p keep=%p\n", p, keep);
  fflush(stdout);
  pthread_t th;
  if (pthread_create(&th, NULL, free_after_barrier, p) != 0) return 3;
  free_after_barrier(p);
  pthread_join(th, NULL);
  return 4; /* both frees returned: the double free went unnoticed */
}

static int child_double_free_single(void) {
  void *keep = gc_malloc(32);
  void *p = gc_malloc(32);
  printf("p=%p keep=%p\n", p, keep);
  fflush(stdout);
  gc_free(p);
  gc_free(t_launder(p));
  return 4;
}

static int df_twice_seen; /* deaths in the CAS ("freed twice") */

static void assert_double_free_death(const char *scenario) {
  t_child_t *res = t_run_child(scenario, NULL);
  cr_assert(WIFSIGNALED(res->status) && WTERMSIG(res->status) == SIGABRT,
            "%s: the child did not abort (status %#x)\nstdout:\n%s\nstderr:\n%s", scenario, res->status, res->out,
            res->err);
  void *p = NULL, *keep = NULL;
  cr_assert_eq(sscanf(res->out, "p=%p keep=%p", &p, &keep), 2, "bad child output: %s", res->out);
  char needle[64];
  snprintf(needle, sizeof needle, "gc_free(%p)", p);
  cr_assert_not_null(strstr(res->err, needle), "%s: the diagnostic does not name %s:\n%s", scenario, needle, res->err);
  cr_assert_not_null(strstr(res->err, "not a live cgc object"), "%s: unexpected diagnostic:\n%s", scenario, res->err);
  cr_assert_not_null(strstr(res->err, "freed"), "%s: the diagnostic does not say freed:\n%s", scenario, res->err);
  if (strstr(res->err, "freed twice")) df_twice_seen++;
  free(res);
}

Test(gc_free, double_free_from_two_threads_dies, .timeout = 60.) {
  for (int i = 0; i < 20; i++) assert_double_free_death("double_free_race");
  cr_log_info("%d of 20 races decided by the clearing CAS", df_twice_seen);
}

Test(gc_free, double_free_in_one_thread_dies) { assert_double_free_death("double_free_single"); }

/* ---- the constructor that runs scenarios ---- */

__attribute__((constructor)) static void child_main(void) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  int rc;
  if (strcmp(scenario, "startarg_window") == 0)
    rc = child_startarg_window();
  else if (strcmp(scenario, "signal") == 0)
    rc = child_signal();
  else if (strcmp(scenario, "double_free_race") == 0)
    rc = child_double_free_race();
  else if (strcmp(scenario, "double_free_single") == 0)
    rc = child_double_free_single();
  else
    rc = 2;
  fflush(stdout);
  fflush(stderr);
  _exit(rc);
}
