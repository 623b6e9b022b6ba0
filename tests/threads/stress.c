/*
 * stress.c -- the stress suite: randomized multithreaded stress
 * (lists shared through a gc_malloc'ed table, helper threads, gc_free).
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <sched.h>
#include <stdio.h>
#include <unistd.h>

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
static atomic_int st_pending; /* stress threads not finished */
static atomic_ulong st_spawned, st_freed, st_taken;
static __thread lref_t tls_lists[ST_SLOTS];

static uint64_t new_idbase(void) { return atomic_fetch_add(&g_ids, (uint64_t)1 << 16) + ((uint64_t)1 << 15); }

static T_NOINLINE void lr_new(lref_t *r, uint64_t *rs) {
  size_t c = (size_t)t_range(rs, 1, 100);
  r->idbase = new_idbase();
  r->count = c;
  r->head = tl_new(c, r->idbase);
}

static T_NOINLINE bool lr_ok(const lref_t *r, const char *where) {
  return tl_ok(r->head, r->count, r->idbase, where);
}

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
    case 1: lr_new(r, &rs); break;
    case 2:
    case 3: lr_ok(r, where < ST_SLOTS ? "worker stack list" : "worker __thread list"); break;
    case 4: lr_replace(r, &rs); break;
    case 5: lr_prepend(r); break;
    case 6:
      if (t_rand(&rs) % 4 == 0) lr_truncate(r);
      break;
    case 7: lr_pop_free(r); break;
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
    case 12: th_churn(32 * T_KiB, rs); break;
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
      if (t_rand(&rs) % 16 == 0)
        gc_collect();
      else
        sched_yield();
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
    cr_assert(wait_nthreads(n0, 10), "round %d: %zu thread contexts left (expected %zu)", round, nthreads(),
              n0);
    T_ASSERT_HEAP_VALID();
  }
  size_t coll = collections() - c0;
  cr_log_info("%d rounds: %zu collections, %lu helpers, %lu hand-overs through the table, %lu gc_free, table "
              "peak %zu nodes",
              rounds, coll, atomic_load(&st_spawned), atomic_load(&st_taken), atomic_load(&st_freed),
              max_nodes);
  cr_assert_gt(coll, (size_t)rounds * 5);
  cr_assert_gt(atomic_load(&st_taken), 50);
  cr_assert_gt(max_nodes, 500, "the table stayed trivially small");
  t_collect();
  verify_table("table at the end");
  g_table = NULL;
  t_collect();
  T_ASSERT_HEAP_VALID();
}

/* 18 s in a release build on 2 CPUs; --enable-debug=2 walks the heap after
 * each of its ~1,900 collections, twice the time, and more under load. */
Test(stress, threads_share_lists_through_a_heap_table, .timeout = 150.) { stress_mt(8, 3000, 0xC0FFEE); }

Test(stress, threads_share_lists_verify_every_collection, .timeout = 60.) {
  T_SETENV("CGC_VERIFY", "1");
  stress_mt(3, 800, 0xBADC0DE);
}
