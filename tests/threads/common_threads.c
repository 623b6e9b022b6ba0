/* common_threads.c -- helpers shared by the thread suites (see
 * common_threads.h). */
#include "common_threads.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ======================================================================
 * helpers usable from any thread (no Criterion calls, except spawn and
 * join)
 * ====================================================================== */

static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
char err_msg[2048];
atomic_int err_count;

void terr(const char *fmt, ...) {
  pthread_mutex_lock(&err_mu);
  if (atomic_fetch_add(&err_count, 1) == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&err_mu);
}

/* In a child process: print the first failure, exit status 10 if any. */
int child_report(void) {
  if (atomic_load(&err_count) == 0) return 0;
  fprintf(stderr, "%d failure(s); the first: %s\n", atomic_load(&err_count), err_msg);
  return 10;
}

pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* Node sizes: mostly 24..280 bytes, some up to 20 KiB, rarely a large
 * (> 512 KiB, its own span) one. */
size_t tsize(uint64_t id) {
  uint64_t h = t_mix64(id ^ 0x7777);
  if (h % 3000 == 0) return 600 * T_KiB + (size_t)(h >> 24) % (64 * T_KiB);
  if (h % 40 == 0) return 512 + (size_t)(h >> 20) % (20 * T_KiB);
  return sizeof(t_node) + (size_t)(h >> 20) % 256;
}

t_node *tn_new(uint64_t id, size_t size) {
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
T_NOINLINE t_node *tl_new(size_t count, uint64_t idbase) {
  t_node *head = NULL;
  for (size_t i = count; i-- > 0;) {
    t_node *n = tn_new(idbase + i, tsize(idbase + i));
    n->next = head;
    head = n;
  }
  return head;
}

bool tn_ok(const t_node *n, uint64_t id, const char *where) {
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
    terr("%s: node at %p: header corrupted (id %llu, expected %llu; size %zu, gc_size %zu)", where,
         (const void *)n, (unsigned long long)n->id, (unsigned long long)id, n->size, gc_size(n));
    return false;
  }
  long bad = t_bad((const char *)n + sizeof *n, n->size - sizeof *n, id);
  if (bad >= 0) {
    terr("%s: node %llu at %p (%zu bytes) corrupted at offset %zu", where, (unsigned long long)id,
         (const void *)n, n->size, (size_t)bad + sizeof *n);
    return false;
  }
  return true;
}

T_NOINLINE bool tl_ok(const t_node *head, size_t count, uint64_t idbase, const char *where) {
  const t_node *n = head;
  for (size_t i = 0; i < count; i++, n = n->next)
    if (!tn_ok(n, idbase + i, where)) return false;
  if (n != NULL) {
    terr("%s: list of %zu nodes (ids from %llu) is longer than expected", where, count,
         (unsigned long long)idbase);
    return false;
  }
  return true;
}

/* Garbage of small sizes, every byte stomped: a reclaimed slot that was
 * still reachable gets overwritten.  Scanned objects must come zeroed. */
T_NOINLINE void th_churn(size_t bytes, uint64_t seed) {
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
T_NOINLINE void churn_collect(int rounds, uint64_t seed) {
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
      "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, "
      "%%xmm15\n\t" ::
          : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3",
            "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
            "xmm15", "memory");
}

/* Drop every stale copy the calling thread may hold below its live frames
 * or in scratch registers. */
T_NOINLINE void forget(void) {
  t_scrub_stack();
  clobber_scratch_registers();
}

/* A holder thread lets go of what it could hide behind: a collection
 * sweeps only spans that no other thread caches (heap/layout.h, I2), so an
 * object in a span its allocating thread still owns is never reclaimed by
 * another thread's collection, rooted or not -- a test of that thread's
 * roots could not fail.  A collection run by the holder itself hands its
 * spans back; then forget(). */
T_NOINLINE void let_go(void) {
  gc_collect();
  forget();
}

void sem_wait_nointr(sem_t *s) {
  while (sem_wait(s) != 0)
    if (errno != EINTR) abort();
}

/* Registered thread contexts, now. */
size_t nthreads(void) {
  gc__lock();
  size_t n = gc__registry.nthreads;
  gc__unlock();
  return n;
}

/* Poll until nthreads() == want (threads unregister after their last
 * instruction of user code); false after `secs`. */
bool wait_nthreads(size_t want, double secs) {
  for (int i = 0; i < (int)(secs * 1000); i++) {
    if (nthreads() == want) return true;
    usleep(1000);
  }
  return nthreads() == want;
}

pthread_t spawn(void *(*fn)(void *), void *arg) {
  pthread_t th;
  int rc = pthread_create(&th, NULL, fn, arg);
  cr_assert_eq(rc, 0, "pthread_create: %s", strerror(rc));
  return th;
}

void *join(pthread_t th) {
  void *ret = NULL;
  int rc = pthread_join(th, &ret);
  cr_assert_eq(rc, 0, "pthread_join: %s", strerror(rc));
  return ret;
}

size_t collections(void) { return t_stats().collections; }

/* A thread that collects until collector_stop, pausing arg microseconds
 * between collections. */
atomic_int collector_stop;
atomic_ulong collector_runs;

void *collector_loop(void *arg) {
  unsigned pause_us = (unsigned)(uintptr_t)arg;
  while (!atomic_load(&collector_stop)) {
    gc_collect();
    atomic_fetch_add(&collector_runs, 1);
    if (pause_us) usleep(pause_us);
  }
  return NULL;
}

/* ======================================================================
 * Shared by several suites
 * ====================================================================== */

sem_t s_ready, s_go, s_started;

T_NOINLINE void build_on(t_node *volatile *slot, size_t count, uint64_t idbase) {
  *slot = tl_new(count, idbase);
}

void *stack_holder(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg;
  t_node *volatile heads[8];
  for (int i = 0; i < 8; i++) build_on(&heads[i], 200, base + (uint64_t)i * 1000);
  let_go();
  sem_post(&s_ready);
  sem_wait_nointr(&s_go);
  for (int i = 0; i < 8; i++) tl_ok(heads[i], 200, base + (uint64_t)i * 1000, "thread stack");
  return NULL;
}

create_fn_t system_pthread_create(void) {
  create_fn_t f = (create_fn_t)dlsym(RTLD_NEXT, "pthread_create");
  cr_assert_not_null(f, "dlsym(RTLD_NEXT, pthread_create): %s", dlerror());
  cr_assert_neq((void *)f, (void *)pthread_create, "RTLD_NEXT found cgc's own pthread_create");
  return f;
}

void run_child_scenario(const child_scenario_t *scenarios, size_t n) {
  const char *scenario = t_child_scenario();
  if (scenario == NULL) return;
  int rc = 2;
  for (size_t i = 0; i < n; i++)
    if (strcmp(scenario, scenarios[i].name) == 0) {
      rc = scenarios[i].run();
      break;
    }
  fflush(stdout);
  fflush(stderr);
  _exit(rc);
}
