/*
 * test_api.c -- every contract of the public API in cgc.h: initialisation,
 * allocation (zeroing, sizes, kinds), realloc, strings, free, queries,
 * explicit roots, disable/enable, heap cap, OOM handler, statistics.
 */
#include "common.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static char g_buf[256];     /* .bss */
static int g_data_int = 42; /* .data */
static const char g_rodata[] = "read-only data";

/* ======================================================================
 * gc_init and lazy initialisation
 * ====================================================================== */

Test(init, idempotent) {
  gc_init();
  gc_init();
  char *p = gc_malloc(100);
  cr_assert_not_null(p);
  t_fill(p, 100, 7);
  gc_stats_t s0 = t_stats();
  gc_init();
  gc_stats_t s1 = t_stats();
  cr_assert_eq(s1.collections, s0.collections, "gc_init ran a collection");
  cr_assert_geq(s1.heap_bytes, s0.heap_bytes, "gc_init shrank the heap");
  gc_collect();
  gc_init();
  gc_collect();
  cr_assert_eq(gc_base(p), p, "gc_init after allocation forgot the heap");
  T_ASSERT_PATTERN(p, 100, 7);
  cr_assert_eq(t_stats().collections, s0.collections + 2);
  T_ASSERT_HEAP_VALID();
}

Test(init, lazy_first_call_queries) {
  int local = 0;
  cr_assert_null(gc_base(&local));
  cr_assert_eq(gc_size(&local), 0);
  cr_assert_null(gc_base(NULL));
  cr_assert_eq(gc_size(NULL), 0);
}

Test(init, lazy_first_call_free_null) {
  gc_free(NULL);
  void *p = gc_malloc(10);
  cr_assert_not_null(p);
  gc_free(p);
}

Test(init, lazy_first_call_collect) {
  gc_collect();
  gc_stats_t s = t_stats();
  cr_assert_eq(s.collections, 1, "one gc_collect in a fresh process gave %zu collections", s.collections);
  T_ASSERT_HEAP_VALID();
}

Test(init, lazy_first_call_stats) {
  gc_stats_t s = t_stats();
  cr_assert_eq(s.collections, 0);
  cr_assert_eq(s.freed_bytes, 0);
  cr_assert_eq(s.returned_bytes, 0);
  cr_assert_geq(s.heap_bytes_peak, s.heap_bytes);
}

Test(init, lazy_first_call_control) {
  gc_disable();
  gc_enable();
  cr_assert_null(gc_set_oom_handler(NULL), "the initial OOM handler is not the default");
  gc_set_max_heap_size(0);
  static void *slot;
  gc_add_roots(&slot, &slot + 1);
  gc_remove_roots(&slot, &slot + 1);
  gc_collect();
  cr_assert_eq(t_stats().collections, 1);
}

/* ======================================================================
 * gc_malloc
 * ====================================================================== */

static const size_t k_sizes[] = {
    1,      7,      8,      15,     16,     17,     24,      31,      32,      48,      63,     64,
    100,    127,    128,    200,    255,    256,    257,     300,     511,     512,     1000,   1024,
    1025,   2000,   4096,   5000,   8192,   10000,  16384,   30000,   65535,   65536,   65537,  100000,
    200000, 262144, 400000, 524288, 524289, 600000, 1048576, 2000000, 3000000, 4194304, 5000000};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])

Test(malloc, fresh_memory_is_zeroed_and_sized) {
  for (size_t i = 0; i < N_SIZES; i++) {
    size_t n = k_sizes[i];
    unsigned char *p = gc_malloc(n);
    cr_assert_not_null(p, "gc_malloc(%zu)", n);
    cr_assert_eq((uintptr_t)p % 16, 0, "gc_malloc(%zu) = %p is not 16-byte aligned", n, (void *)p);
    cr_assert_geq(gc_size(p), n, "gc_size(gc_malloc(%zu)) = %zu", n, gc_size(p));
    cr_assert_eq(gc_base(p), p);
    T_ASSERT_ZERO(p, n, "fresh gc_malloc");
    memset(t_launder(p), 0xFF, gc_size(p)); /* the whole usable size is ours to write */
  }
  T_ASSERT_HEAP_VALID();
}

/* Fill `count` objects of n bytes (and their whole usable size) with 0xFF,
 * half released with gc_free, half just dropped. */
static T_NOINLINE void dirty_and_drop(size_t n, size_t count, int atomic) {
  for (size_t i = 0; i < count; i++) {
    unsigned char *p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
    cr_assert_not_null(p);
    memset(t_launder(p), 0xFF, gc_size(p));
    if (i & 1) gc_free(p);
  }
}

static T_NOINLINE void alloc_check_zero_then_dirty(size_t n, size_t count) {
  for (size_t i = 0; i < count; i++) {
    unsigned char *p = gc_malloc(n);
    cr_assert_not_null(p);
    T_ASSERT_ZERO(p, n, "gc_malloc over reclaimed memory");
    memset(t_launder(p), 0xFF, gc_size(p));
    if (i % 3 == 0) gc_free(p);
  }
}

Test(malloc, reused_memory_is_zeroed, .timeout = 60.) {
  /* Objects are filled with 0xFF, dropped (or freed), collected, and the
   * memory handed out again must be zero -- for every kind of span. */
  for (size_t i = 0; i < N_SIZES; i++) {
    size_t n = k_sizes[i];
    size_t count = (4 * T_MiB) / n;
    if (count < 3) count = 3;
    if (count > 20000) count = 20000;
    dirty_and_drop(n, count, 0);
    for (int round = 0; round < 4; round++) {
      t_collect();
      alloc_check_zero_then_dirty(n, count);
    }
  }
  T_ASSERT_HEAP_VALID();
}

Test(malloc, memory_freed_with_gc_free_is_zeroed_on_reuse) {
  /* No collection in between: the freed slots are reused straight away. */
  for (size_t i = 0; i < N_SIZES; i++) {
    size_t n = k_sizes[i];
    if (n > 600000) continue;
    for (int round = 0; round < 50; round++) {
      unsigned char *p = gc_malloc(n);
      cr_assert_not_null(p);
      T_ASSERT_ZERO(p, n, "gc_malloc after gc_free");
      memset(t_launder(p), 0xFF, gc_size(p));
      gc_free(p);
    }
  }
  T_ASSERT_HEAP_VALID();
}

/* OS pages of [p, p+n) that are resident (mincore). */
static size_t resident_pages(uintptr_t p, size_t n) {
  const size_t os = (size_t)sysconf(_SC_PAGESIZE);
  unsigned char vec[CGC_PAGE_SIZE / 4096];
  cr_assert_leq(n / os, sizeof vec);
  cr_assert_eq(mincore((void *)p, n, vec), 0, "mincore: %s", strerror(errno));
  size_t r = 0;
  for (size_t i = 0; i < n / os; i++) r += vec[i] & 1;
  return r;
}

/* A page fresh from the OS is linked into the free list (its memory
 * written for the first time) CGC_EXTEND_BYTES at a time, as the owner
 * allocates, not all at once: one allocation call never takes 16 page
 * faults, and slots never used stay out of RSS.  Every object of the span
 * is handed out once, in address order, zero; all survive collections. */
Test(malloc, fresh_page_is_touched_one_chunk_at_a_time) {
  cr_assert_eq(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0); /* a huge page would fault 2 MiB at once */
  const size_t n = 208, os = (size_t)sysconf(_SC_PAGESIZE), chunk = CGC_EXTEND_BYTES / n;
  static unsigned char *keep[CGC_PAGE_SIZE / 208]; /* .bss: a root */
  unsigned char *first = gc_malloc(n);
  cr_assert_not_null(first);
  gc_segment_t *seg = NULL;
  gc_span_t *sp = NULL;
  cr_assert_eq(gc__find_object((uintptr_t)first, &seg, &sp), (uintptr_t)first);
  cr_assert(seg != NULL && sp != NULL);
  const uintptr_t page = gc__span_base(seg, sp);
  const size_t nobjs = sp->nobjs;
  cr_assert_eq(nobjs, sizeof keep / sizeof keep[0]);
  cr_assert_eq((uintptr_t)first, page, "the process's first %zu-byte object does not start a fresh span", n);
  cr_assert_eq(sp->unbuilt, page + chunk * n, "a fresh span linked %#lx bytes, not one chunk",
               (unsigned long)(sp->unbuilt - page));
  size_t r = resident_pages(page, CGC_PAGE_SIZE);
  cr_assert_leq(r, (chunk * n + os - 1) / os, "one allocation made %zu of the span's OS pages resident", r);
  keep[0] = first;
  t_fill(first, n, 1);
  for (size_t i = 1; i < nobjs; i++) {
    unsigned char *p = gc_malloc(n);
    cr_assert_eq((uintptr_t)p, page + i * n, "object %zu of a fresh span is at %p, not in address order", i,
                 (void *)p);
    T_ASSERT_ZERO(p, n, "object from an unlinked tail");
    t_fill(p, n, i + 1);
    keep[i] = p;
    size_t linked = (i / chunk + 1) * chunk; /* slots linked so far */
    if (linked > nobjs) linked = nobjs;
    r = resident_pages(page, CGC_PAGE_SIZE);
    cr_assert_leq(r, (linked * n + os - 1) / os,
                  "%zu objects handed out, %zu linked, yet %zu OS pages resident", i + 1, linked, r);
  }
  cr_assert_eq(sp->unbuilt, 0, "the whole span is handed out but a tail is left");
  unsigned char *next = gc_malloc(n);
  cr_assert(next < (unsigned char *)page || next >= (unsigned char *)page + CGC_PAGE_SIZE,
            "a full span handed out %p again", (void *)next);
  T_ASSERT_HEAP_VALID();
  for (int round = 0; round < 3; round++) t_collect();
  T_ASSERT_HEAP_VALID();
  for (size_t i = 0; i < nobjs; i++) T_ASSERT_PATTERN(keep[i], n, i + 1);
}

/* Tails left unlinked in many spans -- every class up to 1 KiB, scanned
 * and atomic, one object each -- by the collecting thread (its caches go
 * back at each collection), by threads that exit (theirs go back at exit)
 * and by a thread that stays (its spans stay owned across collections).
 * The slots of a released tail must become free (handed out again, zero)
 * and never be handed out twice: every object below stays reachable, so
 * two that overlap, or a pattern that changes, is a failure. */
#define TAIL_CLASSES (CGC_DIRECT_MAX / CGC_GRANULE_SIZE)
enum { TAIL_ROUNDS = 4, TAIL_WHO = 3 }; /* main, a thread that stays, one that leaves each round */
static unsigned char *tail_obj[TAIL_ROUNDS][TAIL_WHO][2][TAIL_CLASSES]; /* .bss: a root */
static uint64_t tail_id(int round, int who, int kind, size_t c) {
  return ((uint64_t)round << 32) | ((uint64_t)who << 24) | ((uint64_t)kind << 16) | c;
}
static void tail_fill_set(int round, int who) {
  for (int kind = 0; kind < 2; kind++)
    for (size_t c = 0; c < TAIL_CLASSES; c++) {
      size_t n = (c + 1) * CGC_GRANULE_SIZE;
      unsigned char *p = kind ? gc_malloc_atomic(n) : gc_malloc(n);
      cr_assert_not_null(p);
      if (!kind) T_ASSERT_ZERO(p, n, "gc_malloc next to unlinked tails");
      t_fill(p, n, tail_id(round, who, kind, c));
      tail_obj[round][who][kind][c] = p;
    }
}
/* The unlinked tails of the spans the calling thread's objects of `round`
 * came from, as they are now; returns how many. */
typedef struct {
  gc_segment_t *seg;
  gc_span_t *sp;
  uintptr_t from, end;
  gc_tctx_t *owner;
} tail_rec_t;
static tail_rec_t tail_recs[TAIL_WHO][2][TAIL_CLASSES];
static size_t tail_record(int round, int who) {
  size_t tails = 0;
  for (int k = 0; k < 2; k++)
    for (size_t c = 0; c < TAIL_CLASSES; c++) {
      tail_rec_t *t = &tail_recs[who][k][c];
      memset(t, 0, sizeof *t);
      gc_segment_t *seg = NULL;
      gc_span_t *sp = NULL;
      unsigned char *p = tail_obj[round][who][k][c];
      cr_assert_eq(gc__find_object((uintptr_t)p, &seg, &sp), (uintptr_t)p);
      if (sp == NULL || seg == NULL || sp->owner != gc__tl_ctx || sp->unbuilt == 0) continue;
      *t = (tail_rec_t){seg, sp, sp->unbuilt, gc__span_base(seg, sp) + (uintptr_t)sp->nobjs * sp->obj_size,
                        sp->owner};
      tails++;
    }
  return tails;
}
/* Each recorded tail: its slots' alloc bits set while the span is still
 * owned by the same thread (held), else all clear (released). */
static void tail_expect(int who, bool held) {
  for (int k = 0; k < 2; k++)
    for (size_t c = 0; c < TAIL_CLASSES; c++) {
      const tail_rec_t *t = &tail_recs[who][k][c];
      if (t->sp == NULL) continue;
      if (held)
        cr_assert_eq(t->sp->owner, t->owner, "a span with a tail changed hands while its owner lived");
      else
        cr_assert_neq(t->sp->owner, t->owner, "a released span is still owned by the same thread");
      for (uintptr_t a = t->from; a < t->end; a += t->sp->obj_size)
        cr_assert_eq(gc__alloc_test(t->seg, gc__granule_index(t->seg, a)), held,
                     "slot %p of an unlinked tail (%s span) has alloc bit %d", (void *)a,
                     held ? "owned" : "released", !held);
    }
}
typedef struct {
  sem_t go, done;
  size_t tails; /* tail_record's count for the last round (read after done) */
} tail_stayer_t;
static void *tail_stayer(void *arg) {
  tail_stayer_t *a = arg;
  for (int round = 0; round < TAIL_ROUNDS; round++) {
    sem_wait(&a->go);
    tail_fill_set(round, 1);
    a->tails = tail_record(round, 1);
    sem_post(&a->done);
  }
  sem_wait(&a->go); /* exit (releasing its caches) only when told */
  return NULL;
}
static void *tail_leaver(void *arg) {
  int round = (int)(intptr_t)arg;
  tail_fill_set(round, 2);
  size_t tails = tail_record(round, 2);
  if (round == 0)
    cr_assert_gt(tails, 0, "a thread that made one object per class on fresh pages left no unlinked tail");
  return NULL;
}
static int cmp_uptr(const void *x, const void *y) {
  uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
  return a < b ? -1 : a > b;
}
/* Every object made so far keeps its pattern, and no two overlap. */
static void tail_check(int rounds) {
  static uintptr_t addr[TAIL_ROUNDS * TAIL_WHO * 2 * TAIL_CLASSES];
  size_t m = 0;
  for (int r = 0; r < rounds; r++)
    for (int w = 0; w < TAIL_WHO; w++)
      for (int k = 0; k < 2; k++)
        for (size_t c = 0; c < TAIL_CLASSES; c++) {
          unsigned char *p = tail_obj[r][w][k][c];
          T_ASSERT_PATTERN(p, (c + 1) * CGC_GRANULE_SIZE, tail_id(r, w, k, c));
          addr[m++] = (uintptr_t)p;
        }
  qsort(addr, m, sizeof addr[0], cmp_uptr);
  for (size_t i = 1; i < m; i++) {
    size_t size = gc_size((void *)addr[i - 1]);
    cr_assert_leq(addr[i - 1] + size, addr[i],
                  "objects %p (%zu bytes) and %p overlap: a slot handed out twice", (void *)addr[i - 1], size,
                  (void *)addr[i]);
  }
}
Test(malloc, unlinked_tails_released_by_collections_and_thread_exit, .timeout = 60.) {
  static tail_stayer_t st;
  gc_init();
  sem_init(&st.go, 0, 0);
  sem_init(&st.done, 0, 0);
  pthread_t stayer, leaver;
  cr_assert_eq(pthread_create(&stayer, NULL, tail_stayer, &st), 0);
  for (int round = 0; round < TAIL_ROUNDS; round++) {
    /* one thread at a time, so that in round 0 each takes fresh pages
     * (the others' spans are owned) and nobody takes the leaver's
     * released spans before they are looked at */
    tail_fill_set(round, 0);
    size_t mine = tail_record(round, 0);
    if (round == 0) cr_assert_gt(mine, 0, "one object per class left no unlinked tail");
    sem_post(&st.go);
    sem_wait(&st.done);
    if (round == 0) cr_assert_gt(st.tails, 0, "the staying thread left no unlinked tail");
    cr_assert_eq(pthread_create(&leaver, NULL, tail_leaver, (void *)(intptr_t)round), 0);
    cr_assert_eq(pthread_join(leaver, NULL), 0);
    tail_expect(2, false); /* released when the leaver exited */
    T_ASSERT_HEAP_VALID(); /* the stayer's spans are owned, with tails */
    t_collect();
    tail_expect(0, false); /* the collecting thread's caches went back */
    tail_expect(1, true);  /* another thread's stay with it */
    T_ASSERT_HEAP_VALID();
    tail_check(round + 1);
  }
  sem_post(&st.go);
  cr_assert_eq(pthread_join(stayer, NULL), 0);
  tail_expect(1, false); /* released when the stayer exited */
  t_collect();
  T_ASSERT_HEAP_VALID();
  tail_check(TAIL_ROUNDS);
}

/* A span whose slots are all free again but for different reasons: some
 * dead at the last collection (still dirty: the taker must zero them),
 * some released with gc_free (zeroed then).  Half the objects survive a
 * collection, the other half die; then the survivors are gc_free'd.  Every
 * slot handed out afterwards must be zero.  Sizes cover one-page spans
 * whose starts repeat in every bitmap word (16, 64, 1024 B), ones that do
 * not (48, 4194 B), and a multi-page span (40000 B). */
Test(malloc, span_of_dead_and_freed_slots_is_zeroed) {
  static const size_t sizes[] = {16, 48, 64, 1024, 4194, 40000};
  enum { N = 2000 };
  unsigned char **keep = malloc(N * sizeof *keep); /* not scanned: roots below */
  cr_assert_not_null(keep);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    unsigned char **live = gc_malloc(N * sizeof *live);
    cr_assert_not_null(live);
    for (size_t k = 0; k < N; k++) {
      unsigned char *p = gc_malloc(n);
      cr_assert_not_null(p);
      memset(t_launder(p), 0xA5, gc_size(p));
      if (k % 2 == 0) live[k] = p; /* the rest die */
    }
    t_collect();
    for (size_t k = 0; k < N; k += 2) {
      keep[k] = live[k];
      live[k] = NULL;
    }
    for (size_t k = 0; k < N; k += 2) gc_free(keep[k]);
    for (size_t k = 0; k < N; k++) {
      unsigned char *p = gc_malloc(n);
      cr_assert_not_null(p);
      T_ASSERT_ZERO(p, n, "gc_malloc over dead and freed slots");
      memset(t_launder(p), 0xA5, gc_size(p));
    }
  }
  free(keep);
  T_ASSERT_HEAP_VALID();
}

Test(malloc, pages_of_atomic_objects_are_zeroed_for_scanned_use, .timeout = 60.) {
  /* Pages that held (never zeroed) atomic objects and went back to the page
   * pool must be zeroed before they hold scanned objects; keep them from
   * being decommitted so that the OS does not zero them for us. */
  T_SETENV("CGC_DECOMMIT_DELAY", "1000000");
  static const size_t sizes[] = {16, 48, 160, 1000, 7000, 40000, 300000, 700000, 1500000};
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
      dirty_and_drop(sizes[i], (6 * T_MiB) / sizes[i] + 1, 1);
    t_collect();
    t_collect();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      size_t n = sizes[(i + round + 1) % (sizeof sizes / sizeof sizes[0])];
      alloc_check_zero_then_dirty(n, (6 * T_MiB) / n + 1);
    }
    t_collect();
    t_collect();
  }
  T_ASSERT_HEAP_VALID();
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

Test(malloc, zero_size_gives_valid_unique_objects) {
  enum { N = 1000 };
  void **v = malloc(2 * N * sizeof *v); /* not scanned */
  void **keep = gc_malloc(2 * N * sizeof *keep);
  cr_assert(v && keep);
  for (size_t i = 0; i < 2 * N; i++) {
    keep[i] = v[i] = (i < N) ? gc_malloc(0) : gc_malloc_atomic(0);
    cr_assert_not_null(v[i], "gc_malloc%s(0) returned NULL", i < N ? "" : "_atomic");
    cr_assert_eq(gc_base(v[i]), v[i], "gc_malloc(0) result is not a live object");
  }
  qsort(v, 2 * N, sizeof *v, cmp_ptr);
  for (size_t i = 1; i < 2 * N; i++) cr_assert_neq(v[i - 1], v[i], "gc_malloc(0) returned %p twice", v[i]);
  t_collect();
  for (size_t i = 0; i < 2 * N; i++)
    cr_assert_eq(gc_base(keep[i]), keep[i], "a reachable 0-byte object was reclaimed");
  gc_free(keep[0]);
  cr_assert_null(gc_base(keep[0]));
  free(v);
  T_ASSERT_HEAP_VALID();
}

Test(malloc, no_overlap_and_contents_survive) {
  enum { N = 3000 };
  uint64_t rs = 99;
  unsigned char **v = gc_malloc(N * sizeof *v);
  size_t *sz = malloc(N * sizeof *sz);
  cr_assert(v && sz);
  for (size_t i = 0; i < N; i++) {
    sz[i] = (i % 100 == 0) ? t_range(&rs, 100000, 1200000) : t_range(&rs, 1, 3000);
    v[i] = (i & 1) ? gc_malloc(sz[i]) : gc_malloc_atomic(sz[i]);
    cr_assert_not_null(v[i]);
    t_fill(v[i], sz[i], i);
  }
  for (size_t i = 0; i < N; i++) T_ASSERT_PATTERN(v[i], sz[i], i);
  for (int r = 0; r < 3; r++) {
    t_churn(8 * T_MiB, (uint64_t)r);
    t_collect();
  }
  for (size_t i = 0; i < N; i++) {
    cr_assert_eq(gc_base(v[i]), v[i]);
    T_ASSERT_PATTERN(v[i], sz[i], i);
  }
  free(sz);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * gc_malloc_atomic
 * ====================================================================== */

Test(malloc_atomic, works_and_survives_when_referenced) {
  enum { N = N_SIZES };
  void **hold = gc_malloc(N * sizeof *hold); /* scanned holder */
  cr_assert_not_null(hold);
  for (size_t i = 0; i < N; i++) {
    size_t n = k_sizes[i];
    unsigned char *p = gc_malloc_atomic(n);
    cr_assert_not_null(p, "gc_malloc_atomic(%zu)", n);
    cr_assert_eq((uintptr_t)p % 16, 0);
    cr_assert_geq(gc_size(p), n);
    cr_assert_eq(gc_base(p + n - 1), p);
    t_fill(p, n, 1000 + i);
    hold[i] = p;
  }
  for (int r = 0; r < 4; r++) {
    t_churn(4 * T_MiB, 10 + (uint64_t)r);
    t_collect();
  }
  for (size_t i = 0; i < N; i++) {
    cr_assert_eq(gc_base(hold[i]), hold[i]);
    T_ASSERT_PATTERN(hold[i], k_sizes[i], 1000 + i);
  }
  T_ASSERT_HEAP_VALID();
}

/* Store in each of n objects made by `make` a pointer to a fresh target;
 * return the targets' addresses hidden.  The holders are kept in `holders`
 * (scanned, reachable); the targets are referenced only from the holders. */
typedef void *(*maker_fn)(size_t);
static T_NOINLINE void make_holders(void **holders, uintptr_t *hidden, size_t n, maker_fn make, size_t size) {
  for (size_t i = 0; i < n; i++) {
    void **h = make(size);
    cr_assert_not_null(h);
    void *target = gc_malloc(64);
    cr_assert_not_null(target);
    h[1] = target;
    hidden[i] = ~(uintptr_t)target;
    holders[i] = h;
  }
}
static void *make_atomic(size_t n) { return gc_malloc_atomic(n); }
static void *make_scanned(size_t n) { return gc_malloc(n); }

Test(malloc_atomic, is_not_scanned) {
  enum { N = 1000 };
  void **holders = gc_malloc(N * sizeof *holders);
  uintptr_t *hidden = malloc(N * sizeof *hidden);
  cr_assert(holders && hidden);
  gc_disable(); /* the collections below are the ones measured */
  make_holders(holders, hidden, N, make_atomic, 32);
  gc_enable();
  cr_assert_eq(t_count_live_hidden(hidden, N), N);
  t_collect();
  t_collect();
  size_t live = t_count_live_hidden(hidden, N);
  cr_assert_leq(live, N / 10, "%zu of %d objects referenced only from atomic objects survived", live, N);
  cr_assert_eq(t_count_live(holders, N), N, "reachable atomic holders were reclaimed");
  free(hidden);
  T_ASSERT_HEAP_VALID();
}

Test(malloc, is_scanned) {
  enum { N = 1000 };
  void **holders = gc_malloc(N * sizeof *holders);
  uintptr_t *hidden = malloc(N * sizeof *hidden);
  cr_assert(holders && hidden);
  make_holders(holders, hidden, N, make_scanned, 32);
  for (int r = 0; r < 3; r++) {
    t_churn(4 * T_MiB, 20 + (uint64_t)r);
    t_collect();
  }
  cr_assert_eq(t_count_live_hidden(hidden, N), N, "an object referenced from a scanned object was reclaimed");
  free(hidden);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * gc_calloc
 * ====================================================================== */

Test(calloc, zeroed_even_over_reclaimed_memory) {
  for (int round = 0; round < 4; round++) {
    dirty_and_drop(96, 20000, 0);
    dirty_and_drop(3000, 1000, 0);
    t_collect();
    for (size_t i = 0; i < 20000; i++) {
      unsigned char *p = gc_calloc(12, 8);
      cr_assert_not_null(p);
      T_ASSERT_ZERO(p, 96, "gc_calloc");
      memset(p, 0xFF, 96);
    }
    for (size_t i = 0; i < 1000; i++) {
      unsigned char *p = gc_calloc(3, 1000);
      cr_assert_not_null(p);
      T_ASSERT_ZERO(p, 3000, "gc_calloc");
      memset(p, 0xFF, 3000);
    }
  }
  unsigned char *big = gc_calloc(1000, 3000);
  cr_assert_not_null(big);
  cr_assert_geq(gc_size(big), 3000000);
  T_ASSERT_ZERO(big, 3000000, "gc_calloc large");
  T_ASSERT_HEAP_VALID();
}

Test(calloc, overflow_is_enomem) {
  static const size_t pairs[][2] = {
      {SIZE_MAX, 2},
      {2, SIZE_MAX},
      {SIZE_MAX, SIZE_MAX},
      {(size_t)1 << 32, (size_t)1 << 32},
      {SIZE_MAX / 16 + 1, 16},
      {16, SIZE_MAX / 16 + 1},
      {((size_t)1 << 63) + 1, 2},
      {3, SIZE_MAX / 2},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    errno = 0;
    void *p = gc_calloc(t_opaque(pairs[i][0]), t_opaque(pairs[i][1]));
    cr_assert_null(p, "gc_calloc(%zu, %zu) = %p", pairs[i][0], pairs[i][1], p);
    cr_assert_eq(errno, ENOMEM, "gc_calloc(%zu, %zu): errno %d", pairs[i][0], pairs[i][1], errno);
  }
  /* Not an overflow, but far too big. */
  errno = 0;
  cr_assert_null(gc_calloc(1, t_opaque(SIZE_MAX)));
  cr_assert_eq(errno, ENOMEM);
  /* The heap still works. */
  void *p = gc_calloc(10, 10);
  cr_assert_not_null(p);
  T_ASSERT_ZERO(p, 100, "gc_calloc");
}

Test(calloc, zero_count_or_size_gives_object) {
  void *a = gc_calloc(0, 16), *b = gc_calloc(16, 0), *c = gc_calloc(0, 0);
  cr_assert(a && b && c, "gc_calloc with a zero product must behave like gc_malloc(0)");
  cr_assert(a != b && b != c && a != c);
}

Test(calloc, is_scanned) {
  enum { N = 1000 };
  void **holders = gc_malloc(N * sizeof *holders);
  uintptr_t *hidden = malloc(N * sizeof *hidden);
  cr_assert(holders && hidden);
  make_holders(holders, hidden, N, make_scanned, 32);
  /* replace the holders with calloc'ed copies */
  for (size_t i = 0; i < N; i++) {
    void **c = gc_calloc(4, sizeof(void *));
    cr_assert_not_null(c);
    c[1] = ((void **)holders[i])[1];
    holders[i] = c;
  }
  t_collect();
  t_churn(4 * T_MiB, 3);
  t_collect();
  cr_assert_eq(t_count_live_hidden(hidden, N), N,
               "an object referenced from a gc_calloc object was reclaimed");
  free(hidden);
}

/* ======================================================================
 * gc_realloc
 * ====================================================================== */

Test(realloc, null_allocates_scanned) {
  enum { N = 500 };
  void **holders = gc_malloc(N * sizeof *holders);
  uintptr_t *hidden = malloc(N * sizeof *hidden);
  cr_assert(holders && hidden);
  for (size_t i = 0; i < N; i++) {
    void **h = gc_realloc(NULL, 48);
    cr_assert_not_null(h);
    cr_assert_geq(gc_size(h), 48);
    T_ASSERT_ZERO(h, 48, "gc_realloc(NULL, n)");
    void *t = gc_malloc(32);
    h[2] = t;
    hidden[i] = ~(uintptr_t)t;
    holders[i] = h;
  }
  t_collect();
  t_churn(2 * T_MiB, 4);
  t_collect();
  cr_assert_eq(t_count_live_hidden(hidden, N), N, "gc_realloc(NULL, n) did not give a scanned object");
  free(hidden);
}

Test(realloc, zero_size_frees) {
  char *p = gc_malloc(100);
  cr_assert_not_null(p);
  gc_stats_t s0 = t_stats();
  char *q = gc_realloc(p, 0);
  cr_assert_null(q, "gc_realloc(p, 0) must return NULL");
  cr_assert_null(gc_base(p), "gc_realloc(p, 0) did not free p");
  cr_assert_eq(gc_size(p), 0);
  cr_assert_geq(t_stats().freed_bytes, s0.freed_bytes + 100);
  char *big = gc_malloc(2 * T_MiB);
  cr_assert_null(gc_realloc(big, 0));
  cr_assert_null(gc_base(big));
  T_ASSERT_HEAP_VALID();
}

Test(realloc, grow_and_shrink_keep_content) {
  /* Walk up through every kind of object and back down. */
  size_t n = 1;
  unsigned char *p = gc_malloc(n);
  cr_assert_not_null(p);
  t_fill(p, n, 5);
  while (n < 20 * T_MiB) {
    size_t m = n * 2 + 3;
    unsigned char *q = gc_realloc(p, m);
    cr_assert_not_null(q, "gc_realloc(%zu -> %zu)", n, m);
    cr_assert_geq(gc_size(q), m);
    T_ASSERT_PATTERN(q, n, 5);
    T_ASSERT_ZERO(q + n, m - n, "grown part of a scanned object");
    t_fill(q, m, 5);
    p = q;
    n = m;
    if ((n & 7) == 0) t_collect();
  }
  while (n >= 3) { /* m > 0: gc_realloc(p, 0) would free */
    size_t m = n / 3;
    unsigned char *q = gc_realloc(p, m);
    cr_assert_not_null(q, "gc_realloc(%zu -> %zu)", n, m);
    cr_assert_geq(gc_size(q), m);
    T_ASSERT_PATTERN(q, m, 5);
    p = q;
    n = m;
    t_churn_small(256 * T_KiB, n);
  }
  t_collect();
  cr_assert_eq(gc_base(p), p);
  T_ASSERT_HEAP_VALID();
}

Test(realloc, same_and_usable_size) {
  unsigned char *p = gc_malloc(100);
  size_t us = gc_size(p);
  t_fill(t_launder(p), us, 8);
  unsigned char *q = gc_realloc(p, us);
  cr_assert_not_null(q);
  T_ASSERT_PATTERN(q, us, 8);
  q = gc_realloc(q, 100);
  cr_assert_not_null(q);
  T_ASSERT_PATTERN(q, 100, 8);
}

Test(realloc, grown_bytes_are_zero_over_dirty_memory, .timeout = 60.) {
  static const size_t sizes[] = {24, 100, 250, 600, 3000, 20000, 100000, 500000, 900000, 3000000};
  enum { NS = sizeof sizes / sizeof sizes[0] };
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < NS; i++) dirty_and_drop(sizes[i], 2 * T_MiB / sizes[i] + 2, 0);
    t_collect();
    for (size_t i = 0; i + 1 < NS; i++) {
      for (int k = 0; k < 20; k++) {
        size_t n = sizes[i], m = sizes[i + 1] - (size_t)k;
        unsigned char *p = gc_malloc(n);
        cr_assert_not_null(p);
        t_fill(p, n, (uint64_t)k);
        unsigned char *q = gc_realloc(p, m);
        cr_assert_not_null(q);
        T_ASSERT_PATTERN(q, n, (uint64_t)k);
        /* [n, usable) was never written (zero from gc_malloc); the rest is new */
        T_ASSERT_ZERO(q + n, m - n, "bytes past the old size after gc_realloc");
        memset(t_launder(q), 0xFF, gc_size(q));
      }
    }
  }
  T_ASSERT_HEAP_VALID();
}

Test(realloc, shrink_then_grow_exposes_no_stale_bytes) {
  /* Write n bytes, shrink to `small`, grow back to n.  "Bytes past the old
   * size of a scanned object are zero": the old size is the size the
   * object was last given (`small`), not its slot -- an in-place shrink
   * must not leave the old tail to reappear (alloc.c: "Scanned objects get
   * the tail zeroed, so growing later reads zeros"). */
  static const size_t sizes[] = {200, 1000, 9000, 70000, 800000, 5000000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i], small = n / 4;
    unsigned char *p = gc_malloc(n);
    cr_assert_not_null(p);
    memset(p, 0xEE, n);
    t_fill(p, small, 77);
    unsigned char *q = gc_realloc(p, small);
    cr_assert_not_null(q);
    T_ASSERT_PATTERN(q, small, 77);
    size_t us = gc_size(q);
    cr_assert_geq(us, small);
    unsigned char *r = gc_realloc(q, n);
    cr_assert_not_null(r);
    T_ASSERT_PATTERN(r, small, 77);
    T_ASSERT_ZERO(r + small, n - small, "bytes past the shrunk size after growing again");
    (void)us;
  }
  /* the same through an atomic object: contents preserved, no zero promise */
  unsigned char *a = gc_malloc_atomic(3000);
  t_fill(a, 3000, 78);
  a = gc_realloc(a, 1000);
  T_ASSERT_PATTERN(a, 1000, 78);
  a = gc_realloc(a, 5000);
  T_ASSERT_PATTERN(a, 1000, 78);
}

Test(realloc, atomic_stays_atomic) {
  enum { N = 1000 };
  void **holders = gc_malloc(N * sizeof *holders);
  uintptr_t *hidden = malloc(N * sizeof *hidden);
  cr_assert(holders && hidden);
  /* No collection until the reallocation is done: the targets must still
   * be there when their only reference is copied. */
  gc_disable();
  make_holders(holders, hidden, N, make_atomic, 32);
  for (size_t i = 0; i < N; i++) {
    size_t m = (i % 10 == 0) ? 700000 : 200 + i; /* small and large */
    void *q = gc_realloc(holders[i], m);
    cr_assert_not_null(q);
    cr_assert_geq(gc_size(q), m);
    cr_assert_eq(((uintptr_t *)q)[1], ~hidden[i], "content lost");
    holders[i] = q;
  }
  gc_enable();
  cr_assert_eq(t_count_live_hidden(hidden, N), N);
  t_collect();
  t_collect();
  size_t live = t_count_live_hidden(hidden, N);
  cr_assert_leq(live, N / 10,
                "%zu of %d objects referenced only from realloc'ed atomic objects survived: "
                "gc_realloc made them scanned",
                live, N);
  free(hidden);
}

Test(realloc, scanned_stays_scanned) {
  enum { N = 1000 };
  void **holders = gc_malloc(N * sizeof *holders);
  uintptr_t *hidden = malloc(N * sizeof *hidden);
  cr_assert(holders && hidden);
  make_holders(holders, hidden, N, make_scanned, 32);
  for (size_t i = 0; i < N; i++) {
    size_t m = (i % 10 == 0) ? 700000 : (i % 3 ? 200 + i : 16);
    void *q = gc_realloc(holders[i], m);
    cr_assert_not_null(q);
    holders[i] = q;
  }
  t_collect();
  t_churn(4 * T_MiB, 6);
  t_collect();
  cr_assert_eq(t_count_live_hidden(hidden, N), N, "gc_realloc of a scanned object lost its scanning");
  free(hidden);
}

Test(realloc, failure_leaves_object_untouched) {
  unsigned char *p = gc_malloc(1000);
  t_fill(p, 1000, 9);
  static const size_t bad[] = {SIZE_MAX,         SIZE_MAX - 1, SIZE_MAX - 15,  SIZE_MAX - 4095,
                               SIZE_MAX - 65535, SIZE_MAX / 2, (size_t)1 << 50};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *q = gc_realloc(p, t_opaque(bad[i]));
    cr_assert_null(q, "gc_realloc(p, %zu) = %p", bad[i], q);
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(gc_base(p), p, "failed gc_realloc freed p");
    T_ASSERT_PATTERN(p, 1000, 9);
  }
  t_collect();
  T_ASSERT_PATTERN(p, 1000, 9);
}

/* ======================================================================
 * gc_strdup / gc_strndup
 * ====================================================================== */

Test(strings, strdup) {
  const char *src = "hello, collector";
  char *s = gc_strdup(src);
  cr_assert_not_null(s);
  cr_assert_neq(s, src);
  cr_assert_str_eq(s, src);
  cr_assert_eq(gc_base(s), s);
  cr_assert_geq(gc_size(s), strlen(src) + 1);
  char *e = gc_strdup("");
  cr_assert_not_null(e);
  cr_assert_eq(e[0], '\0');
  size_t n = 300000;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
  big[n] = 0;
  char *bs = gc_strdup(big);
  cr_assert_not_null(bs);
  cr_assert_eq(strlen(bs), n);
  cr_assert_eq(memcmp(bs, big, n + 1), 0);
  free(big);
  t_churn(2 * T_MiB, 5);
  t_collect();
  cr_assert_str_eq(s, src);
  cr_assert_eq(strlen(bs), n);
  cr_assert_eq(e[0], '\0');
}

Test(strings, strndup_reads_at_most_n_bytes) {
  /* "abcde" ends exactly at an inaccessible page */
  long pg = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(m, MAP_FAILED);
  cr_assert_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
  char *s = m + pg - 5;
  memcpy(s, "abcde", 5);
  char *d = gc_strndup(s, 5);
  cr_assert_not_null(d);
  cr_assert_str_eq(d, "abcde");
  d = gc_strndup(s, 2);
  cr_assert_str_eq(d, "ab");
  munmap(m, (size_t)pg * 2);
}

Test(strings, strndup) {
  const char unterminated[5] = {'a', 'b', 'c', 'd', 'e'};
  char *s = gc_strndup(unterminated, 3);
  cr_assert_not_null(s);
  cr_assert_str_eq(s, "abc");
  s = gc_strndup(unterminated, 5); /* reads at most 5 bytes */
  cr_assert_not_null(s);
  cr_assert_str_eq(s, "abcde");
  s = gc_strndup("xy", 100);
  cr_assert_str_eq(s, "xy");
  s = gc_strndup("xyz", 0);
  cr_assert_not_null(s);
  cr_assert_str_eq(s, "");
  s = gc_strndup("hello", 5);
  cr_assert_str_eq(s, "hello");
  cr_assert_eq(gc_base(s), s);
}

/* ======================================================================
 * gc_free
 * ====================================================================== */

Test(free, null_is_noop) {
  gc_stats_t s0 = t_stats();
  gc_free(NULL);
  gc_stats_t s1 = t_stats();
  cr_assert_eq(s1.freed_bytes, s0.freed_bytes);
}

Test(free, releases_now) {
  static const size_t sizes[] = {16, 100, 5000, 200000, 1048576, 16 * 1048576};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    gc_stats_t s0 = t_stats();
    char *p = gc_malloc(sizes[i]);
    cr_assert_not_null(p);
    gc_free(p);
    cr_assert_null(gc_base(p), "gc_base of a freed %zu-byte object", sizes[i]);
    cr_assert_eq(gc_size(p), 0);
    cr_assert_geq(t_stats().freed_bytes, s0.freed_bytes + sizes[i], "freed_bytes did not count gc_free");
  }
  void *a = gc_malloc_atomic(300);
  gc_free(a);
  cr_assert_null(gc_base(a));
  T_ASSERT_HEAP_VALID();
}

Test(free, memory_is_reused_without_a_collection, .timeout = 60.) {
  /* "Release p now instead of waiting for a collection": with collection
   * disabled, allocating and freeing the same amount again and again must
   * not grow the heap. */
  static const size_t sizes[] = {48, 1000, 4000, 100000, 400000, T_MiB};
  enum { ROUNDS = 6 };
  const size_t per_round = 16 * T_MiB;
  size_t nmax = per_round / 48 + 1;
  void **v = malloc(nmax * sizeof *v);
  cr_assert_not_null(v);
  gc_add_roots(v, v + nmax);
  gc_disable();
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = per_round / sizes[k], base = 0;
    for (int r = 0; r < ROUNDS; r++) {
      for (size_t i = 0; i < n; i++) {
        v[i] = gc_malloc(sizes[k]);
        cr_assert_not_null(v[i]);
      }
      if (r == 0) base = t_stats().heap_bytes;
      for (size_t i = 0; i < n; i++) gc_free(v[i]);
    }
    size_t now = t_stats().heap_bytes;
    cr_assert_leq(now, base + 8 * T_MiB,
                  "%zu-byte objects: heap grew from %zu to %zu bytes over %d rounds of allocate-all/free-all "
                  "with collection disabled: freed memory is not reused",
                  sizes[k], base, now, ROUNDS);
  }
  gc_enable();
  cr_assert_eq(t_stats().collections, 0);
  gc_remove_roots(v, v + nmax);
  free(v);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * gc_size / gc_base
 * ====================================================================== */

static void check_queries(unsigned char *p, size_t n) {
  size_t us = gc_size(p);
  cr_assert_geq(us, n, "gc_size = %zu < %zu", us, n);
  const size_t offs[] = {0, 1, 7, 8, 15, 16, 17, n / 3, n / 2, n - 1, us - 1, us / 2};
  for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    size_t o = offs[i];
    if (o >= us) continue;
    cr_assert_eq(gc_base(p + o), p, "gc_base(p + %zu) for a %zu-byte object", o, n);
    cr_assert_eq(gc_size(p + o), us, "gc_size(p + %zu) for a %zu-byte object", o, n);
  }
  cr_assert_neq(gc_base(p + us), p, "one past the end is not inside the object");
  cr_assert_neq(gc_base(p - 1), p);
}

Test(queries, interior_pointers_small_large_huge) {
  static const size_t sizes[] = {1,       16,      24,          100,          256,
                                 1000,    4096,    60000,       524288,       524289,
                                 1048576, 1048577, 3 * 1048576, 16 * 1048576, 16 * 1048576 + 12345};
  unsigned char *keep[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    keep[i] = (i & 1) ? gc_malloc_atomic(sizes[i]) : gc_malloc(sizes[i]);
    cr_assert_not_null(keep[i]);
    check_queries(keep[i], sizes[i]);
  }
  t_collect();
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) check_queries(keep[i], sizes[i]);
  /* a huge object has nothing of its own before it */
  cr_assert_null(gc_base(keep[13] - 1));
}

Test(queries, foreign_addresses) {
  int local = 1;
  char *m = malloc(100);
  char *mm = malloc(8 * T_MiB); /* mmap'ed by glibc */
  cr_assert(m && mm);
  void *gcobj = gc_malloc(64);
  cr_assert_not_null(gcobj);
  const void *addrs[] = {&local,
                         g_buf,
                         g_buf + 100,
                         &g_data_int,
                         g_rodata,
                         m,
                         m + 50,
                         mm,
                         mm + 4 * T_MiB,
                         (void *)&t_fill,
                         (void *)1,
                         (void *)4096,
                         (void *)(uintptr_t)0xFFFFFFFFFFFFFFF0u,
                         (void *)((uintptr_t)1 << 47),
                         (void *)(((uintptr_t)1 << 47) - 16),
                         NULL};
  for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
    cr_assert_null(gc_base(addrs[i]), "gc_base(%p) of a non-cgc address", addrs[i]);
    cr_assert_eq(gc_size(addrs[i]), 0, "gc_size(%p) of a non-cgc address", addrs[i]);
  }
  /* segment metadata is not an object */
  uintptr_t seg = (uintptr_t)gcobj & ~(uintptr_t)CGC_SEGMENT_MASK;
  cr_assert_null(gc_base((void *)seg));
  cr_assert_null(gc_base((void *)(seg + 1000)));
  cr_assert_eq(gc_size((void *)(seg + 8)), 0);
  cr_assert_eq(gc_base(gcobj), gcobj);
  free(m);
  free(mm);
}

Test(queries, span_tail_is_not_an_object) {
  /* In a span whose objects do not fill it exactly, the tail past the last
   * object belongs to no object. */
  gc_init();
  int checked = 0;
  for (unsigned c = 0; c < CGC_NCLASSES && checked < 20; c++) {
    size_t sz = gc__classes[c].size;
    size_t span_bytes = (size_t)gc__classes[c].pages * CGC_PAGE_SIZE;
    if (gc__classes[c].nobjs * sz >= span_bytes) continue;
    unsigned char *p = gc_malloc(sz);
    cr_assert_not_null(p);
    gc_segment_t *seg = gc__segment_of((uintptr_t)p);
    size_t page = ((uintptr_t)p & CGC_SEGMENT_MASK) >> CGC_PAGE_SHIFT;
    gc_span_t *sp = &seg->spans[seg->spans[page].head];
    uintptr_t base = gc__span_base(seg, sp);
    uintptr_t tail = base + (size_t)sp->nobjs * sp->obj_size;
    uintptr_t end = base + gc__span_bytes(sp);
    cr_assert_lt(tail, end);
    cr_assert_null(gc_base((void *)tail), "class %u (%zu B): span tail %p is reported as an object", c, sz,
                   (void *)tail);
    cr_assert_null(gc_base((void *)(end - 1)));
    checked++;
  }
  cr_assert_gt(checked, 0);
}

/* ======================================================================
 * gc_add_roots / gc_remove_roots
 * ====================================================================== */

static T_NOINLINE void fill_slots(void **slots, size_t from, size_t to, uint64_t idbase) {
  for (size_t i = from; i < to; i++) {
    size_t n = 16 + (i * 37) % 2000;
    void *p = (i % 97 == 0) ? gc_malloc(600000) : gc_malloc(n);
    cr_assert_not_null(p);
    t_fill(p, (i % 97 == 0) ? 600000 : n, idbase + i);
    slots[i] = p;
  }
}
static T_NOINLINE void verify_slots(void **slots, size_t from, size_t to, uint64_t idbase) {
  for (size_t i = from; i < to; i++) {
    cr_assert_eq(gc_base(slots[i]), slots[i], "root slot %zu: object %p was reclaimed", i, slots[i]);
    T_ASSERT_PATTERN(slots[i], (i % 97 == 0) ? 600000 : 16 + (i * 37) % 2000, idbase + i);
  }
}

Test(roots, add_roots_keeps_malloc_referenced_objects_alive) {
  enum { N = 2000 };
  void **slots = calloc(N, sizeof *slots); /* system malloc: not scanned */
  cr_assert_not_null(slots);
  gc_add_roots(slots, slots + N);
  fill_slots(slots, 0, N, 0);
  for (int r = 0; r < 8; r++) {
    t_churn(4 * T_MiB, 100 + (uint64_t)r);
    t_collect();
    verify_slots(slots, 0, N, 0);
  }
  T_ASSERT_HEAP_VALID();
  gc_remove_roots(slots, slots + N);
  free(slots);
}

Test(roots, remove_roots_makes_objects_collectable) {
  enum { N = 2000 };
  void **slots = calloc(N, sizeof *slots);
  cr_assert_not_null(slots);
  gc_add_roots(slots, slots + N);
  fill_slots(slots, 0, N, 0);
  t_collect();
  verify_slots(slots, 0, N, 0);
  gc_remove_roots(slots, slots + N);
  t_collect();
  t_collect();
  size_t live = t_count_live(slots, N);
  cr_assert_leq(live, N / 10, "%zu of %d objects survived after their root range was removed", live, N);
  free(slots);
  T_ASSERT_HEAP_VALID();
}

Test(roots, remove_cuts_straddling_ranges) {
  enum { N = 3000 };
  void **slots = calloc(N, sizeof *slots);
  cr_assert_not_null(slots);
  /* two overlapping ranges [0, 2000) and [1000, 3000); a bogus one */
  gc_add_roots(slots, slots + 2000);
  gc_add_roots(slots + 1000, slots + N);
  gc_add_roots(slots + 10, slots + 5); /* hi <= lo: ignored */
  fill_slots(slots, 0, N, 500);
  t_collect();
  verify_slots(slots, 0, N, 500);
  /* cut the middle out of both: [500, 2500) */
  gc_remove_roots(slots + 500, slots + 2500);
  t_churn(2 * T_MiB, 7);
  t_collect();
  t_collect();
  verify_slots(slots, 0, 500, 500);
  verify_slots(slots, 2500, N, 500);
  size_t live = t_count_live(slots + 500, 2000);
  cr_assert_leq(live, 200, "%zu of 2000 objects in the removed middle survived", live);
  /* remove the rest, including bytes never added */
  gc_remove_roots(slots, slots + N + 100);
  t_collect();
  live = t_count_live(slots, N);
  cr_assert_leq(live, 300, "%zu of %d objects survived after all roots were removed", live, N);
  free(slots);
  T_ASSERT_HEAP_VALID();
}

Test(roots, remove_middle_of_one_range) {
  enum { N = 3000 };
  void **slots = calloc(N, sizeof *slots);
  cr_assert_not_null(slots);
  gc_add_roots(slots, slots + N);
  fill_slots(slots, 0, N, 900);
  t_collect();
  verify_slots(slots, 0, N, 900);
  gc_remove_roots(slots + 1000, slots + 2000); /* the range is cut in two */
  t_churn(2 * T_MiB, 17);
  t_collect();
  t_collect();
  verify_slots(slots, 0, 1000, 900);
  verify_slots(slots, 2000, N, 900);
  size_t live = t_count_live(slots + 1000, 1000);
  cr_assert_leq(live, 100, "%zu of 1000 objects in the removed middle survived", live);
  gc_remove_roots(slots, slots + N);
  free(slots);
}

Test(roots, many_small_ranges) {
  /* thousands of one-slot ranges: the root table grows; removing every
   * other one leaves exactly the rest */
  enum { N = 6000 };
  void **slots = calloc(N, sizeof *slots);
  cr_assert_not_null(slots);
  for (size_t i = 0; i < N; i++) gc_add_roots(slots + i, slots + i + 1);
  fill_slots(slots, 0, N, 3000);
  t_collect();
  verify_slots(slots, 0, N, 3000);
  for (size_t i = 0; i < N; i += 2) gc_remove_roots(slots + i, slots + i + 1);
  t_churn(2 * T_MiB, 18);
  t_collect();
  size_t dead_kept = 0;
  for (size_t i = 0; i < N; i++) {
    if (i & 1) {
      cr_assert_eq(gc_base(slots[i]), slots[i], "object in still-registered slot %zu was reclaimed", i);
      T_ASSERT_PATTERN(slots[i], (i % 97 == 0) ? 600000 : 16 + (i * 37) % 2000, 3000 + i);
    } else if (gc_base(slots[i]) == slots[i]) {
      dead_kept++;
    }
  }
  cr_assert_leq(dead_kept, N / 20, "%zu of %d objects in removed slots survived", dead_kept, N / 2);
  gc_remove_roots(slots, slots + N);
  free(slots);
}

Test(roots, unaligned_root_range) {
  /* A range whose ends are not word aligned still covers the whole words
   * inside it. */
  enum { N = 256 };
  unsigned char *raw = calloc(N + 2, sizeof(void *));
  void **slots = (void **)(raw + sizeof(void *));
  gc_add_roots(raw + 3, raw + (N + 2) * sizeof(void *) - 3);
  fill_slots(slots, 0, N, 42);
  t_collect();
  t_churn(2 * T_MiB, 8);
  t_collect();
  verify_slots(slots, 0, N, 42);
  gc_remove_roots(raw, raw + (N + 2) * sizeof(void *));
  free(raw);
}

/* ======================================================================
 * gc_disable / gc_enable
 * ====================================================================== */

static T_NOINLINE void garbage(size_t bytes) {
  for (size_t done = 0; done < bytes; done += 4000) {
    char *p = gc_malloc(4000);
    cr_assert_not_null(p);
    p[0] = 1;
  }
}

Test(control, disable_enable_nesting) {
  gc_collect();
  size_t c0 = t_stats().collections;
  cr_assert_eq(c0, 1);
  gc_disable();
  gc_disable();
  gc_collect();
  garbage(128 * T_MiB);
  gc_collect();
  cr_assert_eq(t_stats().collections, c0, "a collection ran while disabled twice");
  gc_enable();
  gc_collect();
  garbage(64 * T_MiB);
  cr_assert_eq(t_stats().collections, c0, "a collection ran while still disabled once");
  cr_assert_geq(t_stats().heap_bytes, 128 * T_MiB, "the heap did not grow while collection was disabled");
  gc_enable();
  gc_collect();
  cr_assert_eq(t_stats().collections, c0 + 1, "gc_collect after the last gc_enable did not collect");
  garbage(256 * T_MiB);
  cr_assert_gt(t_stats().collections, c0 + 1, "allocation never triggered a collection after gc_enable");
  T_ASSERT_HEAP_VALID();
}

Test(control, env_disable) {
  T_SETENV("CGC_DISABLE", "1");
  gc_collect();
  garbage(64 * T_MiB);
  gc_collect();
  cr_assert_eq(t_stats().collections, 0, "CGC_DISABLE=1 but collections ran");
}

/* ======================================================================
 * heap cap
 * ====================================================================== */

Test(cap, allocation_past_cap_fails_cleanly, .timeout = 60.) {
  const size_t cap = 32 * T_MiB;
  gc_set_max_heap_size(cap);
  enum { MAXOBJ = 100000 };
  void **slots = calloc(MAXOBJ, sizeof *slots);
  cr_assert_not_null(slots);
  gc_add_roots(slots, slots + MAXOBJ);
  size_t n = 0;
  errno = 0;
  for (; n < MAXOBJ; n++) {
    slots[n] = gc_malloc(T_MiB);
    if (slots[n] == NULL) break;
    memset(slots[n], (int)n, 64);
  }
  cr_assert_lt(n, MAXOBJ, "never hit the cap");
  cr_assert_eq(errno, ENOMEM);
  cr_assert_geq(n, 8, "only %zu MiB fit below a 32 MiB cap", n);
  gc_stats_t s = t_stats();
  cr_assert_leq(s.heap_bytes, cap, "heap_bytes %zu > cap %zu", s.heap_bytes, cap);
  cr_assert_leq(s.heap_bytes_peak, cap, "heap_bytes_peak %zu > cap %zu", s.heap_bytes_peak, cap);
  /* fill what is left with small objects; must end in NULL/ENOMEM */
  size_t k = 0;
  errno = 0;
  for (; n + k < MAXOBJ; k++) {
    slots[n + k] = gc_malloc(4000);
    if (slots[n + k] == NULL) break;
  }
  cr_assert_lt(n + k, MAXOBJ, "small allocations never hit the cap");
  cr_assert_eq(errno, ENOMEM);
  s = t_stats();
  cr_assert_leq(s.heap_bytes, cap);
  /* a huge request past the cap */
  errno = 0;
  cr_assert_null(gc_malloc(2 * cap));
  cr_assert_eq(errno, ENOMEM);
  cr_assert_leq(t_stats().heap_bytes, cap);
  /* everything held is intact */
  for (size_t i = 0; i < n; i++) cr_assert_eq(((unsigned char *)slots[i])[63], (unsigned char)i);
  T_ASSERT_HEAP_VALID();
  /* drop it all: allocation works again */
  gc_remove_roots(slots, slots + MAXOBJ);
  memset(slots, 0, MAXOBJ * sizeof *slots);
  t_collect();
  for (size_t i = 0; i < 8; i++) cr_assert_not_null(gc_malloc(T_MiB), "allocation after dropping everything");
  cr_assert_leq(t_stats().heap_bytes, cap);
  free(slots);
}

Test(cap, garbage_is_collected_rather_than_failing, .timeout = 60.) {
  const size_t cap = 32 * T_MiB;
  gc_set_max_heap_size(cap);
  void **live = gc_malloc(256 * sizeof *live);
  cr_assert_not_null(live);
  uint64_t rs = 1;
  static const size_t sizes[] = {32, 100, 1000, 8000, T_MiB};
  for (size_t i = 0; i < 20000; i++) {
    size_t n = sizes[t_rand(&rs) % 5];
    if (n == T_MiB && (i % 8)) n = 500;
    void *p = gc_malloc(n);
    cr_assert_not_null(p, "gc_malloc(%zu) failed under a 32 MiB cap with a tiny live set (iteration %zu)", n,
                       i);
    if (n <= 1000) live[t_rand(&rs) % 256] = p;
  }
  gc_stats_t s = t_stats();
  cr_assert_leq(s.heap_bytes_peak, cap);
  cr_assert_gt(s.collections, 0);
}

Test(cap, env_max_heap_size_with_suffix, .timeout = 60.) {
  T_SETENV("CGC_MAX_HEAP_SIZE", "24M");
  enum { MAXOBJ = 10000 };
  void **slots = calloc(MAXOBJ, sizeof *slots);
  gc_add_roots(slots, slots + MAXOBJ);
  size_t n = 0;
  errno = 0;
  for (; n < MAXOBJ; n++)
    if ((slots[n] = gc_malloc(64000)) == NULL) break;
  cr_assert_lt(n, MAXOBJ);
  cr_assert_eq(errno, ENOMEM);
  gc_stats_t s = t_stats();
  cr_assert_leq(s.heap_bytes, 24 * T_MiB);
  cr_assert_geq((size_t)n * 64000, 12 * T_MiB, "only %zu bytes fit below CGC_MAX_HEAP_SIZE=24M", n * 64000);
  gc_remove_roots(slots, slots + MAXOBJ);
  free(slots);
}

/* ======================================================================
 * OOM handler and impossible sizes
 * ====================================================================== */

static char g_oom_sentinel[16];
static size_t g_oom_requested;
static int g_oom_calls;
static void *oom_sentinel(size_t n) {
  g_oom_requested = n;
  g_oom_calls++;
  return g_oom_sentinel;
}
static void *oom_other(size_t n) {
  (void)n;
  return NULL;
}

Test(oom, impossible_sizes_are_enomem) {
  static const size_t bad[] = {SIZE_MAX,      SIZE_MAX - 1,    SIZE_MAX - 8,     SIZE_MAX - 15,
                               SIZE_MAX - 16, SIZE_MAX - 4095, SIZE_MAX - 65535, SIZE_MAX - CGC_SEGMENT_SIZE,
                               SIZE_MAX / 2,  (size_t)1 << 63, (size_t)1 << 48,  (size_t)1 << 47};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    errno = 0;
    void *p = gc_malloc(t_opaque(bad[i]));
    cr_assert_null(p, "gc_malloc(%zu) = %p", bad[i], p);
    cr_assert_eq(errno, ENOMEM, "gc_malloc(%zu): errno %d", bad[i], errno);
    errno = 0;
    p = gc_malloc_atomic(t_opaque(bad[i]));
    cr_assert_null(p, "gc_malloc_atomic(%zu) = %p", bad[i], p);
    cr_assert_eq(errno, ENOMEM);
    void *q = gc_malloc(10);
    errno = 0;
    p = gc_realloc(q, t_opaque(bad[i]));
    cr_assert_null(p, "gc_realloc(q, %zu) = %p", bad[i], p);
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(gc_base(q), q);
  }
  cr_assert_not_null(gc_malloc(100));
  T_ASSERT_HEAP_VALID();
}

/* gc_malloc is declared __attribute__((malloc)), so the compiler may assume
 * its result equals no existing address: compare through t_launder. */
Test(oom, handler_result_and_size) {
  cr_assert_null(gc_set_oom_handler(oom_sentinel));
  void *p = gc_malloc(t_opaque(SIZE_MAX));
  cr_assert_eq(t_launder(p), (void *)g_oom_sentinel, "the OOM handler's result was not returned");
  cr_assert_eq(g_oom_requested, SIZE_MAX);
  p = gc_malloc_atomic(t_opaque((size_t)1 << 50));
  cr_assert_eq(t_launder(p), (void *)g_oom_sentinel);
  cr_assert_eq(g_oom_requested, (size_t)1 << 50);
  int calls = g_oom_calls;
  p = gc_calloc(t_opaque(SIZE_MAX), 4);
  cr_assert_eq(t_launder(p), (void *)g_oom_sentinel, "gc_calloc overflow must give the OOM handler's result");
  cr_assert_gt(g_oom_calls, calls);

  /* a capped heap */
  gc_set_max_heap_size(16 * T_MiB);
  g_oom_requested = 0;
  p = gc_malloc(40 * T_MiB);
  cr_assert_eq(t_launder(p), (void *)g_oom_sentinel);
  cr_assert_eq(g_oom_requested, 40 * T_MiB);
  /* ordinary allocation does not call it */
  calls = g_oom_calls;
  cr_assert_not_null(gc_malloc(1000));
  cr_assert_eq(g_oom_calls, calls);

  cr_assert_eq(gc_set_oom_handler(oom_other), oom_sentinel,
               "gc_set_oom_handler must return the previous handler");
  cr_assert_eq(gc_set_oom_handler(NULL), oom_other);
  errno = 0;
  cr_assert_null(gc_malloc(t_opaque(SIZE_MAX)), "NULL must restore the default handler");
  cr_assert_eq(errno, ENOMEM);
  cr_assert_null(gc_set_oom_handler(NULL));
}

static void *volatile g_reserve[64]; /* volatile: see test_collect.c */
static size_t g_reserve_n;
static int g_reentrant_calls;
static void *oom_free_and_retry(size_t n) {
  if (++g_reentrant_calls > 1) return NULL; /* called again from its own gc_malloc */
  /* release memory explicitly, then allocate from cgc (allowed by the contract) */
  while (g_reserve_n > 0) {
    gc_free(g_reserve[--g_reserve_n]);
    g_reserve[g_reserve_n] = NULL;
  }
  return gc_malloc(n);
}

Test(oom, handler_may_free_and_allocate, .timeout = 20.) {
  gc_set_max_heap_size(16 * T_MiB);
  enum { MAXOBJ = 1000 };
  void **slots = calloc(MAXOBJ, sizeof *slots);
  gc_add_roots(slots, slots + MAXOBJ);
  /* a reserve of large objects held by a global */
  for (g_reserve_n = 0; g_reserve_n < 4; g_reserve_n++) {
    g_reserve[g_reserve_n] = gc_malloc(T_MiB);
    cr_assert_not_null(g_reserve[g_reserve_n]);
  }
  size_t n = 0;
  for (; n < MAXOBJ; n++)
    if ((slots[n] = gc_malloc(T_MiB)) == NULL) break;
  cr_assert_lt(n, MAXOBJ);
  gc_set_oom_handler(oom_free_and_retry);
  void *p = gc_malloc(T_MiB);
  cr_assert_eq(g_reentrant_calls, 1);
  cr_assert_not_null(p, "the handler freed 4 MiB but its allocation failed");
  cr_assert_geq(gc_size(p), T_MiB);
  T_ASSERT_ZERO(p, T_MiB, "allocation made by the OOM handler");
  gc_set_oom_handler(NULL);
  gc_remove_roots(slots, slots + MAXOBJ);
  free(slots);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * statistics
 * ====================================================================== */

Test(stats, versioned_prefix_only) {
  void *keep = gc_malloc(1000);
  cr_assert_not_null(keep);
  gc_collect();
  union {
    gc_stats_t s;
    unsigned char b[sizeof(gc_stats_t) + 64];
  } u;
  for (size_t prefix = sizeof(size_t); prefix <= sizeof(gc_stats_t); prefix++) {
    memset(u.b, 0xCD, sizeof u.b);
    u.s.size = prefix;
    gc_get_stats(&u.s);
    for (size_t i = prefix; i < sizeof u.b; i++)
      cr_assert_eq(u.b[i], 0xCD, "gc_get_stats with size %zu wrote byte %zu", prefix, i);
    if (prefix >= offsetof(gc_stats_t, heap_bytes) + sizeof(size_t))
      cr_assert(u.s.heap_bytes > 0 && u.s.heap_bytes != (size_t)0xCDCDCDCDCDCDCDCDu,
                "heap_bytes not filled with size %zu", prefix);
    if (prefix >= offsetof(gc_stats_t, collections) + sizeof(size_t))
      cr_assert_eq(u.s.collections, 1, "collections not filled with size %zu", prefix);
  }
  /* an older caller that knows only `size` and `heap_bytes` */
  memset(u.b, 0xCD, sizeof u.b);
  u.s.size = offsetof(gc_stats_t, heap_bytes_peak);
  gc_get_stats(&u.s);
  cr_assert_neq(u.s.heap_bytes, (size_t)0xCDCDCDCDCDCDCDCDu);
  cr_assert_eq(u.s.heap_bytes_peak, (size_t)0xCDCDCDCDCDCDCDCDu);
  cr_assert_eq(gc_base(keep), keep);
}

static void **volatile g_hold;
enum { HOLD_N = 4000, HOLD_BIG = 4 };
static size_t hold_size(size_t i) { return 1 + (i * 131) % 5000; }
/* Everything is reachable only through the global g_hold. */
static T_NOINLINE size_t build_hold(void) {
  size_t total = HOLD_N * sizeof(void *);
  g_hold = gc_malloc(HOLD_N * sizeof(void *));
  cr_assert_not_null(g_hold);
  for (size_t i = 0; i < HOLD_N; i++) {
    g_hold[i] = gc_malloc(i < HOLD_BIG ? 2 * T_MiB : hold_size(i));
    cr_assert_not_null(g_hold[i]);
    total += i < HOLD_BIG ? 2 * T_MiB : hold_size(i);
  }
  return total;
}
static T_NOINLINE size_t free_some_hold(void) {
  size_t freed = 0;
  for (size_t i = HOLD_BIG; i < 1000 + HOLD_BIG; i++) {
    gc_free(g_hold[i]);
    g_hold[i] = NULL;
    freed += hold_size(i);
  }
  return freed;
}

Test(stats, fields_move_sensibly, .timeout = 60.) {
  gc_stats_t s0 = t_stats();
  cr_assert_eq(s0.size, sizeof(gc_stats_t));
  cr_assert_eq(s0.collections, 0);

  /* allocated_bytes covers everything allocated (no collection yet) */
  gc_disable();
  size_t total = build_hold();
  gc_enable();
  gc_stats_t s1 = t_stats();
  cr_assert_eq(s1.collections, 0);
  cr_assert_geq(s1.allocated_bytes, total, "allocated_bytes %zu < %zu allocated", s1.allocated_bytes, total);
  cr_assert_geq(s1.heap_bytes, total / 2);
  cr_assert_geq(s1.heap_bytes_peak, s1.heap_bytes);

  /* collections and pause times */
  for (int i = 0; i < 5; i++) gc_collect();
  gc_stats_t s2 = t_stats();
  cr_assert_eq(s2.collections, s1.collections + 5);
  cr_assert_gt(s2.pause_total_ns, 0);
  cr_assert_gt(s2.pause_last_ns, 0);
  cr_assert_geq(s2.pause_max_ns, s2.pause_last_ns);
  cr_assert_geq(s2.pause_total_ns, s2.pause_max_ns);
  cr_assert_lt(s2.pause_max_ns, (uint64_t)60 * 1000000000u);
  /* live_bytes covers the live set */
  cr_assert_geq(s2.live_bytes, HOLD_BIG * 2 * T_MiB, "live_bytes %zu < the 8 MiB held", s2.live_bytes);
  cr_assert_leq(s2.live_bytes, s2.heap_bytes);

  /* freed_bytes */
  size_t freed = free_some_hold();
  gc_stats_t s3 = t_stats();
  cr_assert_geq(s3.freed_bytes, s2.freed_bytes + freed, "freed_bytes grew by %zu after gc_free of %zu bytes",
                s3.freed_bytes - s2.freed_bytes, freed);

  /* drop everything: live_bytes falls, memory is returned to the OS */
  g_hold = NULL;
  for (int i = 0; i < 6; i++) {
    t_collect();
    t_churn_small(64 * T_KiB, (uint64_t)i);
  }
  gc_stats_t s4 = t_stats();
  cr_assert_lt(s4.live_bytes, s2.live_bytes / 2, "live_bytes %zu did not fall from %zu", s4.live_bytes,
               s2.live_bytes);
  cr_assert_gt(s4.returned_bytes, 0, "nothing returned to the OS after dropping %zu bytes", total);
  cr_assert_geq(s4.heap_bytes_peak, s1.heap_bytes);
  cr_assert_geq(s4.allocated_bytes, s1.allocated_bytes);
  cr_assert_geq(s4.pause_total_ns, s2.pause_total_ns);
  cr_assert_geq(s4.collections, s2.collections + 6);
  T_ASSERT_HEAP_VALID();
}

/* Counters described as totals "since start" never go down. */
static void assert_totals_monotonic(const gc_stats_t *a, const gc_stats_t *b, const char *when) {
  cr_assert_geq(b->allocated_bytes, a->allocated_bytes, "%s: allocated_bytes went down from %zu to %zu", when,
                a->allocated_bytes, b->allocated_bytes);
  cr_assert_geq(b->freed_bytes, a->freed_bytes, "%s: freed_bytes went down", when);
  cr_assert_geq(b->collections, a->collections, "%s: collections went down", when);
  cr_assert_geq(b->pause_total_ns, a->pause_total_ns, "%s: pause_total_ns went down", when);
  cr_assert_geq(b->pause_max_ns, a->pause_max_ns, "%s: pause_max_ns went down", when);
  cr_assert_geq(b->returned_bytes, a->returned_bytes, "%s: returned_bytes went down", when);
  cr_assert_geq(b->heap_bytes_peak, a->heap_bytes_peak, "%s: heap_bytes_peak went down", when);
}

Test(stats, totals_never_decrease) {
  void *volatile keep = gc_malloc(24);
  gc_stats_t prev = t_stats(), cur;
  for (int i = 0; i < 50; i++) {
    size_t n = (i % 5 == 0) ? 300000 : 24 + (size_t)i * 40;
    void *p = (i & 1) ? gc_malloc(n) : gc_malloc_atomic(n);
    cr_assert_not_null(p);
    if (i % 7 == 3) gc_free(p);
    cur = t_stats();
    assert_totals_monotonic(&prev, &cur, "after an allocation");
    prev = cur;
    gc_collect();
    cur = t_stats();
    assert_totals_monotonic(&prev, &cur, "across gc_collect");
    prev = cur;
  }
  cr_assert_eq(gc_base(keep), keep);
}

Test(stats, returned_bytes_after_dropping_large_heap, .timeout = 60.) {
  static void *volatile g_big[64];
  for (size_t i = 0; i < 64; i++) {
    g_big[i] = (i % 4 == 0) ? gc_malloc(T_MiB) : gc_malloc_atomic(600000);
    cr_assert_not_null(g_big[i]);
    memset(g_big[i], 1, 600000);
  }
  gc_collect();
  cr_assert_eq(t_stats().returned_bytes, 0);
  for (size_t i = 0; i < 64; i++) g_big[i] = NULL;
  for (int i = 0; i < 5; i++) t_collect();
  gc_stats_t s = t_stats();
  cr_assert_gt(s.returned_bytes, 8 * T_MiB, "only %zu bytes returned to the OS after dropping ~44 MiB",
               s.returned_bytes);
}
