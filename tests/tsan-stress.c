/*
 * tsan-stress.c -- cgc under ThreadSanitizer (tools/tsan.sh builds the
 * library with -fsanitize=thread and runs this; not a Criterion program:
 * Criterion cannot set itself up under TSan).
 *
 * What it does, with every reachable byte checked:
 *   - WORKERS threads build patterned trees, swap trees with each other
 *     through a shared table, gc_free part of what they take out (objects
 *     allocated by other threads), grow buffers with gc_realloc and ask
 *     gc_size/gc_base about shared objects, all without cgc's heap lock on
 *     the lock-free paths;
 *   - worker 0 collects every few rounds, so collections stop the others
 *     in the middle of allocating, freeing and building free lists;
 *   - batches of detached threads allocate and leave through pthread_exit
 *     (cgc's thread-exit destructor) while that goes on.
 * TSan reports any data race in cgc (or in this program); the checks catch
 * a reclaimed reachable object.  Exit status: 0 ok, 1 a check failed, 66
 * a TSan report (TSan's default).
 *
 * TSan holds a signal back while its thread is blocked in
 * pthread_mutex_lock, so a thread waiting on a mutex held by a stopped
 * thread could never answer a stop: the table is taken by polling a
 * trylock (cgc's own heap lock does the same in a TSan build).  The
 * loader's lock is the other such lock: the first pthread_exit of a
 * process dlopens libgcc_s, and a stop landing in that dlopen (TSan runs
 * the handler in dlopen's intercepted malloc) leaves a thread that waits
 * for the loader lock in pthread_create unable to answer.  Without TSan
 * the handler runs inside that wait; here main makes the first
 * pthread_exit itself, before any other thread exists (warm_unwinder).
 */
#include <cgc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WORKERS = 4, SLOTS = 256, ROUNDS = 150, DEPTH = 8, SWAP_DEPTH = 3, BATCHES = 6, DETACHED = 8 };

typedef struct node {
  struct node *l, *r;
  uint64_t id, pat[3];
} node;

static node *table[SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed; /* written only as 1; read after the joins */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned detached_done;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

static void polling_lock(pthread_mutex_t *m) {
  while (pthread_mutex_trylock(m) != 0) {
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  }
}

static void fail(const char *what, uint64_t id) {
  polling_lock(&fail_lock);
  if (!failed) fprintf(stderr, "tsan-stress: FAILED: %s (node %llu)\n", what, (unsigned long long)id);
  failed = 1;
  pthread_mutex_unlock(&fail_lock);
}

static uint64_t pattern(uint64_t id, int i) { return id * 0x9E3779B97F4A7C15ull + (uint64_t)i; }

static node *make(int depth, uint64_t id) {
  node *n = gc_malloc(sizeof *n);
  if (n == NULL) {
    fprintf(stderr, "tsan-stress: out of memory\n");
    exit(2);
  }
  n->id = id;
  for (int i = 0; i < 3; i++) n->pat[i] = pattern(id, i);
  if (depth > 0) {
    n->l = make(depth - 1, 2 * id);
    n->r = make(depth - 1, 2 * id + 1);
  }
  return n;
}

/* The node count of a tree made by make(depth, id), or a failure. */
static long check(const node *n, uint64_t id) {
  if (n == NULL) return 0;
  if (n->id != id) {
    fail("wrong id", id);
    return 0;
  }
  for (int i = 0; i < 3; i++)
    if (n->pat[i] != pattern(id, i)) fail("pattern overwritten", id);
  return 1 + check(n->l, 2 * id) + check(n->r, 2 * id + 1);
}

static uint64_t next(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

static void *detached_main(void *arg) {
  uintptr_t k = (uintptr_t)arg;
  node *t = make(5, 1);
  char *buf = gc_malloc_atomic(64 + k);
  if (buf == NULL)
    fail("out of memory", 0);
  else
    memset(buf, (int)k, 64 + k);
  if (check(t, 1) != 63) fail("detached tree", 1);
  polling_lock(&done_lock);
  detached_done++;
  pthread_mutex_unlock(&done_lock);
  pthread_exit(NULL); /* cgc unregisters it in its TSD destructor */
}

static void spawn_detached(unsigned batch) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  for (uintptr_t k = 0; k < DETACHED; k++) {
    pthread_t th;
    if (pthread_create(&th, &a, detached_main, (void *)(batch * DETACHED + k)) != 0)
      fail("pthread_create", k);
  }
  pthread_attr_destroy(&a);
}

static void *worker(void *arg) {
  uintptr_t me = (uintptr_t)arg;
  uint64_t rs = me * 7919 + 1;
  size_t cap = 16;
  unsigned char *grow = gc_malloc_atomic(cap);
  if (grow == NULL)
    fail("out of memory", 0);
  else
    for (size_t i = 0; i < cap; i++) grow[i] = (unsigned char)(i * 7 + me);
  for (int round = 0; round < ROUNDS && grow != NULL; round++) {
    node *mine = make(DEPTH, 1);
    unsigned s = (unsigned)(next(&rs) % SLOTS);
    node *fresh = make(SWAP_DEPTH, 1), *got;
    polling_lock(&table_lock);
    got = table[s];
    table[s] = fresh;
    pthread_mutex_unlock(&table_lock);
    if (got != NULL) {
      if (check(got, 1) != (2 << SWAP_DEPTH) - 1) fail("swapped tree", 1);
      if (gc_size(got) < sizeof *got || gc_base(&got->pat[1]) != got)
        fail("gc_size/gc_base of a shared node", got->id);
      if (round % 3 == 0) { /* made by another thread, now ours alone */
        node *l = got->l;
        got->l = NULL;
        gc_free(l->l);
        gc_free(l->r);
        gc_free(l);
      }
    }
    size_t ncap = cap + 1 + next(&rs) % 200;
    unsigned char *g = gc_realloc(grow, ncap);
    if (g == NULL) {
      fail("gc_realloc", ncap);
      break;
    }
    for (size_t i = 0; i < cap; i++)
      if (g[i] != (unsigned char)(i * 7 + me)) {
        fail("gc_realloc lost bytes", i);
        break;
      }
    for (size_t i = 0; i < ncap; i++) g[i] = (unsigned char)(i * 7 + me);
    grow = g, cap = ncap;
    if (check(mine, 1) != (2 << DEPTH) - 1) fail("own tree", 1);
    if (me == 0 && round % 5 == 0) gc_collect();
    if (me == 1 && round % (ROUNDS / BATCHES) == 0) spawn_detached((unsigned)(round / (ROUNDS / BATCHES)));
  }
  return NULL;
}

static void *exit_at_once(void *arg) { pthread_exit(arg); }

/* Why: loads libgcc_s for pthread_exit while no collection can happen
 * (see the header); once loaded, glibc keeps it and never dlopens again. */
static void warm_unwinder(void) {
  pthread_t th;
  if (pthread_create(&th, NULL, exit_at_once, NULL) != 0)
    fail("pthread_create", 0);
  else
    pthread_join(th, NULL);
}

int main(void) {
  pthread_t th[WORKERS];
  warm_unwinder();
  for (uintptr_t i = 1; i < WORKERS; i++)
    if (pthread_create(&th[i], NULL, worker, (void *)i) != 0) fail("pthread_create", i);
  worker(0);
  for (int i = 1; i < WORKERS; i++) pthread_join(th[i], NULL);
  for (int spin = 0; spin < 5000; spin++) { /* the detached threads finish */
    polling_lock(&done_lock);
    unsigned d = detached_done;
    pthread_mutex_unlock(&done_lock);
    if (d == BATCHES * DETACHED) break;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  gc_collect();
  long n = 0;
  for (int i = 0; i < SLOTS; i++)
    if (table[i] != NULL) n += check(table[i], 1);
  gc_stats_t st = {.size = sizeof st};
  gc_get_stats(&st);
  printf("tsan-stress: %s: %ld table nodes checked, %u detached threads, %zu collections\n",
         failed ? "FAILED" : "ok", n, detached_done, st.collections);
  return failed;
}
