/*
 * test_collect.c -- what a collection does: unreachable memory is reclaimed
 * (the heap stays bounded under churn), atomic objects are not scanned,
 * very long lists and degenerate deep trees are marked without crashing
 * (also with a tiny mark stack: overflow recovery), and a stale pointer to
 * a gc_free'd slot resurrects nothing.
 */
#include "common.h"
#include "obs/stats.h"

/* ======================================================================
 * reclamation
 * ====================================================================== */

Test(collect, churn_keeps_heap_bounded, .timeout = 60.) {
  enum { LIVE = 2000 };
  t_node **live = gc_malloc(LIVE * sizeof *live);
  uint64_t *ids = malloc(LIVE * sizeof *ids);
  cr_assert(live && ids);
  for (size_t i = 0; i < LIVE; i++) {
    ids[i] = i;
    live[i] = t_node_new(i, t_node_size(i) % 4096 + sizeof(t_node));
  }
  uint64_t rs = 4242, next_id = LIVE;
  size_t total = 0;
  const size_t chunk = 16 * T_MiB;
  while (total < T_GiB + chunk) {
    t_churn(chunk, total / chunk);
    total += chunk;
    for (int k = 0; k < 100; k++) { /* replace part of the live set */
      size_t j = (size_t)(t_rand(&rs) % LIVE);
      ids[j] = next_id++;
      live[j] = t_node_new(ids[j], t_node_size(ids[j]) % 4096 + sizeof(t_node));
    }
    gc_stats_t s = t_stats();
    cr_assert_lt(s.heap_bytes, 64 * T_MiB,
                 "heap grew to %zu bytes after %zu MiB of churn with a ~2 MiB live set", s.heap_bytes,
                 total >> 20);
  }
  gc_stats_t s = t_stats();
  cr_assert_gt(s.collections, 10, "only %zu collections while allocating 1 GiB", s.collections);
  cr_assert_geq(s.allocated_bytes, T_GiB);
  for (size_t i = 0; i < LIVE; i++) t_node_check(live[i], ids[i]);
  free(ids);
  T_ASSERT_HEAP_VALID();
}

enum { NHIDE = 1000 };

/* Make `count` unreachable objects of `size`; remember them hidden. */
static T_NOINLINE void make_garbage(uintptr_t *hidden, size_t count, size_t size, int atomic) {
  for (size_t i = 0; i < count; i++) {
    void *p = atomic ? gc_malloc_atomic(size) : gc_malloc(size);
    cr_assert_not_null(p);
    memset(p, 0x11, size < 64 ? size : 64);
    hidden[i] = ~(uintptr_t)p;
  }
}

Test(collect, unreachable_objects_are_reclaimed) {
  static const size_t sizes[] = {16, 100, 2000, 30000, 600000};
  uintptr_t *hidden = malloc(NHIDE * sizeof *hidden);
  cr_assert_not_null(hidden);
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    for (int atomic = 0; atomic < 2; atomic++) {
      size_t n = sizes[k] >= 30000 ? NHIDE / 10 : NHIDE; /* keep it cheap */
      gc_disable();                                      /* no collection before we have looked */
      make_garbage(hidden, n, sizes[k], atomic);
      cr_assert_eq(t_count_live_hidden(hidden, n), n);
      gc_enable();
      t_collect();
      size_t live = t_count_live_hidden(hidden, n);
      cr_assert_leq(live, n / 10, "%zu of %zu unreachable %zu-byte %s objects survived a collection", live, n,
                    sizes[k], atomic ? "atomic" : "scanned");
    }
  }
  free(hidden);
  T_ASSERT_HEAP_VALID();
}

/* Targets referenced only from atomic objects (stored hidden elsewhere). */
static T_NOINLINE void **atomic_refs(uintptr_t *hidden, size_t payload) {
  void **holders = gc_malloc(NHIDE * sizeof *holders);
  cr_assert_not_null(holders);
  for (size_t i = 0; i < NHIDE; i++) {
    void **a = gc_malloc_atomic(payload);
    cr_assert_not_null(a);
    memset(a, 0, payload);
    void *t = gc_malloc(40);
    cr_assert_not_null(t);
    for (size_t w = 0; w < payload / sizeof(void *); w += 7) a[w] = t; /* many copies */
    hidden[i] = ~(uintptr_t)t;
    holders[i] = a;
  }
  return holders;
}

Test(collect, pointer_in_atomic_object_does_not_keep_target) {
  uintptr_t *hidden = malloc(NHIDE * sizeof *hidden);
  cr_assert_not_null(hidden);
  static const size_t payloads[] = {16, 256, 4096, 700000};
  for (size_t k = 0; k < sizeof payloads / sizeof payloads[0]; k++) {
    size_t pl = payloads[k];
    gc_disable(); /* the targets die in the collections below, not before */
    void **volatile holders = atomic_refs(hidden, pl > 100000 ? 4096 : pl);
    if (pl > 100000) { /* one large atomic object holding every target */
      void **big = gc_malloc_atomic(pl);
      cr_assert_not_null(big);
      for (size_t i = 0; i < NHIDE; i++) big[i * 8] = (void *)~hidden[i];
      holders[0] = big;
    }
    gc_enable();
    cr_assert_eq(t_count_live_hidden(hidden, NHIDE), NHIDE);
    t_collect();
    t_collect();
    size_t live = t_count_live_hidden(hidden, NHIDE);
    cr_assert_leq(live, NHIDE / 10, "%zu of %d objects referenced only from %zu-byte atomic objects survived",
                  live, NHIDE, pl);
    cr_assert_eq(t_count_live(holders, NHIDE), NHIDE, "reachable atomic objects were reclaimed");
  }
  free(hidden);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * big and degenerate graphs
 * ====================================================================== */

typedef struct lnode {
  struct lnode *next;
  uint64_t id;
} lnode;
/* Globals used as roots are volatile: a static that the compiler can prove
 * no other translation unit reads could otherwise lose its stores (a
 * write-only root, or `root = NULL` before gc_collect, is a dead store). */
static lnode *volatile g_long_list;
enum { LONG_N = 10 * 1000 * 1000 };

static inline uint64_t lkey(uint64_t i) { return i * 0x9E3779B97F4A7C15u ^ 0xABCDEFu; }

static T_NOINLINE void build_long_list(void) {
  g_long_list = NULL;
  for (uint64_t i = LONG_N; i-- > 0;) {
    lnode *n = gc_malloc(sizeof *n);
    if (n == NULL) cr_assert_fail("allocation %llu of the long list failed", (unsigned long long)i);
    n->id = lkey(i);
    n->next = g_long_list;
    g_long_list = n;
  }
}

static T_NOINLINE void check_long_list(void) {
  lnode *n = g_long_list;
  for (uint64_t i = 0; i < LONG_N; i++, n = n->next) {
    if (n == NULL) cr_assert_fail("the list ends after %llu nodes", (unsigned long long)i);
    if (n->id != lkey(i))
      cr_assert_fail("node %llu of the long list is corrupted (%p)", (unsigned long long)i, (void *)n);
  }
  cr_assert_null(n);
  /* spot-check that nodes are live objects */
  n = g_long_list;
  for (uint64_t i = 0; i < LONG_N; i++, n = n->next)
    if (i % 9973 == 0 && gc_base(n) != n)
      cr_assert_fail("node %llu is not a live object", (unsigned long long)i);
}

Test(collect, ten_million_node_list, .timeout = 120.) {
  build_long_list();
  for (int r = 0; r < 3; r++) {
    t_churn_small(4 * T_MiB, (uint64_t)r);
    t_collect();
    check_long_list();
  }
  gc_stats_t s = t_stats();
  cr_assert_geq(s.live_bytes, (size_t)LONG_N * sizeof(lnode));
  T_ASSERT_HEAP_VALID();
  /* and it is all reclaimable */
  g_long_list = NULL;
  t_collect();
  cr_assert_lt(t_stats().live_bytes, 16 * T_MiB);
}

typedef struct tnode {
  struct tnode *left, *right;
  uint64_t id, check;
} tnode;
static tnode *volatile g_left_spine, *volatile g_right_spine;
enum { SPINE_N = 1000 * 1000 };

static inline uint64_t tcheck(uint64_t id) { return t_mix64(id + 17); }

/* A degenerate tree: a spine of `n` nodes, each with a leaf on the other
 * side (alternately scanned and atomic). */
static T_NOINLINE tnode *build_spine(size_t n, int left, uint64_t idbase) {
  tnode *below = NULL;
  for (size_t i = n; i-- > 0;) {
    tnode *t = gc_malloc(sizeof *t);
    cr_assert_not_null(t);
    uint64_t *leaf = (i & 1) ? gc_malloc_atomic(16) : gc_malloc(16);
    cr_assert_not_null(leaf);
    leaf[0] = idbase + i;
    leaf[1] = ~(idbase + i);
    t->id = idbase + i;
    t->check = tcheck(idbase + i);
    if (left) {
      t->left = below;
      t->right = (tnode *)(void *)leaf;
    } else {
      t->right = below;
      t->left = (tnode *)(void *)leaf;
    }
    below = t;
  }
  return below;
}

static T_NOINLINE void check_spine(const tnode *t, size_t n, int left, uint64_t idbase) {
  for (size_t i = 0; i < n; i++) {
    if (t == NULL) cr_assert_fail("spine ends at depth %zu", i);
    if (t->id != idbase + i || t->check != tcheck(idbase + i))
      cr_assert_fail("spine node at depth %zu corrupted", i);
    const uint64_t *leaf = (const uint64_t *)(const void *)(left ? t->right : t->left);
    if (leaf == NULL || leaf[0] != idbase + i || leaf[1] != ~(idbase + i))
      cr_assert_fail("leaf at depth %zu corrupted", i);
    if (i % 4099 == 0 && (gc_base(t) != t || gc_base(leaf) != leaf))
      cr_assert_fail("node at depth %zu is not live", i);
    t = left ? t->left : t->right;
  }
  cr_assert_null(t);
}

static T_NOINLINE void build_spines(size_t n) {
  g_left_spine = build_spine(n, 1, 0);
  g_right_spine = build_spine(n, 0, 5000000);
}

Test(collect, degenerate_deep_tree, .timeout = 60.) {
  build_spines(SPINE_N);
  for (int r = 0; r < 3; r++) {
    t_churn_small(2 * T_MiB, (uint64_t)r);
    t_collect();
    check_spine(g_left_spine, SPINE_N, 1, 0);
    check_spine(g_right_spine, SPINE_N, 0, 5000000);
  }
  T_ASSERT_HEAP_VALID();
}

/* ---- mark-stack overflow ------------------------------------------------ */

enum { GNODES = 200000, GEDGES = 6, WIDE = 100000 };
typedef struct gnode {
  struct gnode *e[GEDGES];
  uint64_t id, check;
} gnode;
static gnode **g_graph_index; /* system malloc: not a root */
static gnode *volatile g_graph_root;
static void **volatile g_wide; /* one object with WIDE pointers */

static inline uint64_t gcheck(uint64_t id) { return t_mix64(id * 3 + 1); }

static T_NOINLINE void build_graph(void) {
  g_graph_index = malloc(GNODES * sizeof *g_graph_index);
  cr_assert_not_null(g_graph_index);
  /* the index is system malloc memory: a root only while the graph is built */
  gc_add_roots(g_graph_index, g_graph_index + GNODES);
  for (size_t i = 0; i < GNODES; i++) {
    gnode *g = gc_malloc(sizeof *g);
    cr_assert_not_null(g);
    g->id = i;
    g->check = gcheck(i);
    g_graph_index[i] = g;
  }
  uint64_t rs = 31337;
  for (size_t i = 0; i < GNODES; i++) {
    gnode *g = g_graph_index[i];
    /* tree edges make everything reachable from node 0 ... */
    g->e[0] = 2 * i + 1 < GNODES ? g_graph_index[2 * i + 1] : NULL;
    g->e[1] = 2 * i + 2 < GNODES ? g_graph_index[2 * i + 2] : NULL;
    /* ... and random cross edges (some interior) make it a tangle */
    for (int k = 2; k < GEDGES; k++) {
      gnode *t = g_graph_index[t_rand(&rs) % GNODES];
      g->e[k] = (k == 5) ? (gnode *)(void *)((char *)t + 8) : t;
    }
  }
  g_graph_root = g_graph_index[0];
  gc_remove_roots(g_graph_index, g_graph_index + GNODES);
  g_wide = gc_malloc(WIDE * sizeof *g_wide);
  cr_assert_not_null(g_wide);
  for (size_t i = 0; i < WIDE; i++) {
    uint64_t *leaf = gc_malloc(16);
    cr_assert_not_null(leaf);
    leaf[0] = i;
    leaf[1] = gcheck(i);
    g_wide[i] = leaf;
  }
}

static T_NOINLINE void check_graph(void) {
  cr_assert_eq(g_graph_root, g_graph_index[0]);
  for (size_t i = 0; i < GNODES; i++) {
    gnode *g = g_graph_index[i];
    if (gc_base(g) != g) cr_assert_fail("graph node %zu was reclaimed", i);
    if (g->id != i || g->check != gcheck(i)) cr_assert_fail("graph node %zu corrupted", i);
    if (g->e[0] != (2 * i + 1 < GNODES ? g_graph_index[2 * i + 1] : NULL))
      cr_assert_fail("edge of %zu lost", i);
  }
  for (size_t i = 0; i < WIDE; i++) {
    uint64_t *leaf = g_wide[i];
    if (gc_base(leaf) != leaf || leaf[0] != i || leaf[1] != gcheck(i))
      cr_assert_fail("leaf %zu of the wide object was reclaimed or corrupted", i);
  }
}

Test(collect, tiny_mark_stack_overflow_recovery, .timeout = 60.) {
  T_SETENV("CGC_MARK_STACK_MAX", "64");
  build_graph();
  g_left_spine = build_spine(SPINE_N / 5, 1, 0);
  uintptr_t *hidden = malloc(NHIDE * sizeof *hidden);
  for (int r = 0; r < 3; r++) {
    make_garbage(hidden, NHIDE, 48, 0);
    t_churn_small(2 * T_MiB, (uint64_t)r);
    t_collect();
    check_graph();
    check_spine(g_left_spine, SPINE_N / 5, 1, 0);
    /* overflow recovery must not mark garbage */
    size_t live = t_count_live_hidden(hidden, NHIDE);
    cr_assert_leq(live, NHIDE / 10, "%zu of %d garbage objects survived with a tiny mark stack", live, NHIDE);
  }
  cr_assert_gt(gc__stats.mark_overflows, 0, "the mark stack never overflowed: recovery was not exercised");
  free(hidden);
  T_ASSERT_HEAP_VALID();
}

/* ---- where pointers may sit inside scanned objects ------------------------- */

enum { NPOS = 400 };
static void **volatile g_containers[4];
static size_t g_container_size[4];

/* Fill containers of every kind (small, large, huge) with pointers to
 * patterned targets at many offsets: the first word, the last word, both
 * sides of every 64 KiB boundary (the marker scans big objects in
 * pieces), and random words in between.  The containers hold the only
 * references. */
static T_NOINLINE void build_containers(size_t *offs, uint64_t *ids, size_t *n_out) {
  static const size_t sizes[4] = {1024, 3 * T_MiB / 2, 20 * T_MiB + 40, 200000};
  uint64_t rs = 2024;
  size_t n = 0;
  for (size_t c = 0; c < 4; c++) {
    size_t words = sizes[c] / sizeof(void *);
    void **obj = gc_malloc(sizes[c]);
    cr_assert_not_null(obj);
    g_containers[c] = obj;
    g_container_size[c] = sizes[c];
    size_t want[NPOS], k = 0;
    want[k++] = 0;
    want[k++] = words - 1;
    for (size_t b = 65536 / sizeof(void *); b < words && k + 2 < NPOS / 2; b += 65536 / sizeof(void *)) {
      want[k++] = b - 1;
      want[k++] = b;
    }
    while (k < NPOS / 4) want[k++] = (size_t)(t_rand(&rs) % words);
    for (size_t i = 0; i < k; i++) {
      if (obj[want[i]] != NULL) continue;
      uint64_t id = 700000 + n;
      t_node *t = t_node_new(id, 48 + (id % 5) * 16);
      obj[want[i]] = t;
      offs[n] = c * ((size_t)1 << 40) + want[i];
      ids[n] = id;
      n++;
    }
  }
  *n_out = n;
}

Test(collect, pointers_anywhere_in_small_large_huge_objects, .timeout = 60.) {
  size_t *offs = malloc(4 * NPOS * sizeof *offs);
  uint64_t *ids = malloc(4 * NPOS * sizeof *ids);
  size_t n;
  build_containers(offs, ids, &n);
  cr_assert_gt(n, 300);
  for (int r = 0; r < 4; r++) {
    t_churn_small(4 * T_MiB, 40 + (uint64_t)r);
    t_collect();
    for (size_t i = 0; i < n; i++) {
      size_t c = offs[i] >> 40, w = offs[i] & (((size_t)1 << 40) - 1);
      void **obj = g_containers[c];
      cr_assert_eq(gc_base(obj), (void *)obj);
      t_node_check(obj[w], ids[i]);
    }
  }
  free(offs);
  free(ids);
  T_ASSERT_HEAP_VALID();
}

/* A huge object held only by interior pointers past its first 4 MiB
 * segment-sized block, one in a root and one inside a small heap object
 * (found while tracing, not while scanning roots): the marker's lookup
 * must find the huge segment from any of its blocks.  Its pattern is
 * checked after every collection; small garbage churns in between. */
static T_NOINLINE void make_huge_held_by_interior(uintptr_t *hidden_root, void ***holder) {
  size_t n = 20 * T_MiB + 4000;
  unsigned char *h = gc_malloc_atomic(n);
  cr_assert_not_null(h);
  t_fill(h, n, 4242);
  void **box = gc_malloc(4 * sizeof *box);
  cr_assert_not_null(box);
  box[1] = h + 17 * T_MiB + 8;                /* traced: inside a scanned object */
  *hidden_root = ~(uintptr_t)(h + 9 * T_MiB); /* becomes a root below */
  *holder = box;
}

Test(collect, huge_object_held_only_by_interior_pointers_past_its_first_block, .timeout = 60.) {
  uintptr_t hidden;
  void **volatile box;
  void **b;
  make_huge_held_by_interior(&hidden, &b);
  box = b;
  for (int r = 0; r < 6; r++) {
    unsigned char *volatile root =
        (r % 2 == 0) ? (unsigned char *)~hidden : NULL; /* half the time traced only */
    t_churn_small(2 * T_MiB, 90 + (uint64_t)r);
    t_collect();
    unsigned char *h = (unsigned char *)box[1] - 17 * T_MiB - 8;
    cr_assert_eq(gc_base(box[1]), (void *)h, "the huge object was reclaimed (round %d)", r);
    T_ASSERT_PATTERN(h, 20 * T_MiB + 4000, 4242);
    (void)root;
  }
  T_ASSERT_HEAP_VALID();
}

/* ---- stale pointers into memory given back to the OS ---------------------- */

static T_NOINLINE void big_garbage(uintptr_t *hidden, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t sz = (i % 3 == 0) ? 6 * T_MiB : (i % 3 == 1) ? T_MiB : 2000;
    unsigned char *p = gc_malloc(sz);
    cr_assert_not_null(p);
    memset(p, 0x5A, sz);
    hidden[i] = ~(uintptr_t)(p + sz / 2);
  }
}

static T_NOINLINE void collect_with_stale_pointers(const uintptr_t *hidden, size_t n) {
  void *volatile stale[64];
  for (size_t i = 0; i < n && i < 64; i++) stale[i] = (void *)~hidden[i]; /* roots now */
  gc_collect();
  for (size_t i = 0; i < n && i < 64; i++) cr_assert_not_null(stale[i]);
}

Test(collect, stale_pointers_into_returned_memory_are_harmless) {
  enum { N = 60 };
  uintptr_t hidden[N];
  big_garbage(hidden, N);
  for (int r = 0; r < 6; r++) t_collect(); /* past the decommit delay: segments unmapped */
  gc_stats_t s = t_stats();
  cr_assert_gt(s.returned_bytes, 0);
  size_t live = 0;
  for (size_t i = 0; i < N; i++) {
    const void *p = (const void *)~hidden[i];
    if (gc_base(p) != NULL) live++;
    (void)gc_size(p);
  }
  cr_assert_leq(live, N / 5, "%zu of %d dropped objects still live", live, N);
  /* the addresses (some now unmapped) as conservative roots */
  collect_with_stale_pointers(hidden, N);
  t_churn(8 * T_MiB, 77);
  collect_with_stale_pointers(hidden, N);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * gc_free'd slots
 * ====================================================================== */

Test(collect, stale_pointer_to_freed_slot_resurrects_nothing) {
  enum { K = 200 };
  void *volatile neighbours[K]; /* keep the span in use */
  for (size_t i = 0; i < K; i++) neighbours[i] = gc_malloc(48);
  unsigned char *volatile p = gc_malloc(48);
  cr_assert_not_null(p);
  memset(p, 0xFF, 48);
  gc_free(p);
  cr_assert_null(gc_base(p), "gc_base of a freed slot");
  for (int r = 0; r < 3; r++) t_collect();
  cr_assert_null(gc_base(p), "a stale stack pointer resurrected a freed slot");
  cr_assert_eq(gc_size(p), 0);
  /* the slot is reused by allocations of the same size, zeroed */
  int reused = 0;
  for (size_t i = 0; i < 200000 && !reused; i++) {
    unsigned char *q = gc_malloc(48);
    cr_assert_not_null(q);
    T_ASSERT_ZERO(q, 48, "reused slot");
    if (q == p) reused = 1;
  }
  cr_assert(reused, "the freed slot %p was never handed out again", (void *)p);
  for (size_t i = 0; i < K; i++) cr_assert_eq(gc_base(neighbours[i]), neighbours[i]);
  T_ASSERT_HEAP_VALID();
}

/* A freed object's stale contents keep nothing alive. */
static T_NOINLINE void *freed_holder(uintptr_t *hidden) {
  void **h = gc_malloc(NHIDE * sizeof *h);
  cr_assert_not_null(h);
  for (size_t i = 0; i < NHIDE; i++) {
    h[i] = gc_malloc(32);
    hidden[i] = ~(uintptr_t)h[i];
  }
  gc_free(h);
  return h; /* dangling, on purpose */
}

Test(collect, freed_object_contents_are_not_roots) {
  uintptr_t *hidden = malloc(NHIDE * sizeof *hidden);
  void *volatile dangling = freed_holder(hidden);
  t_collect();
  t_collect();
  cr_assert_null(gc_base(dangling));
  size_t live = t_count_live_hidden(hidden, NHIDE);
  cr_assert_leq(live, NHIDE / 10, "%zu of %d objects referenced only from a freed object survived", live,
                NHIDE);
  free(hidden);
}

Test(collect, freed_large_and_huge_stay_dead) {
  unsigned char *volatile big = gc_malloc(2 * T_MiB);
  unsigned char *volatile huge = gc_malloc(20 * T_MiB);
  cr_assert(big && huge);
  gc_free(big);
  gc_free(huge);
  t_collect();
  t_collect();
  cr_assert_null(gc_base(big));
  cr_assert_null(gc_base(big + T_MiB));
  cr_assert_null(gc_base(huge));
  cr_assert_null(gc_base(huge + 10 * T_MiB));
  /* the space is usable again */
  for (int i = 0; i < 4; i++) {
    unsigned char *q = gc_malloc(2 * T_MiB);
    cr_assert_not_null(q);
    T_ASSERT_ZERO(q, 2 * T_MiB, "large object over a freed one");
    memset(q, 0xFF, 2 * T_MiB);
  }
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * collection by allocation pressure alone
 * ====================================================================== */

Test(collect, allocation_triggers_collections) {
  t_node *volatile head = t_list_new(5000, 7, 0);
  size_t c0 = t_stats().collections;
  t_churn(256 * T_MiB, 9);
  cr_assert_gt(t_stats().collections, c0, "256 MiB of garbage never triggered a collection");
  t_list_check(head, 5000, 7);
  T_ASSERT_HEAP_VALID();
}

/* Memory released with gc_free is reusable without a collection, so it
 * comes off the allocation budget.  512 MiB of malloc/free pairs reuse the
 * same slots (taken again from the span queue, which never collects); a
 * big allocation afterwards asks the policy, and without the credit the
 * reuse would have spent the whole budget and forced a collection. */
Test(collect, freed_bytes_do_not_trigger_collections) {
  gc_collect();
  size_t c0 = t_stats().collections;
  for (size_t done = 0; done < 512 * T_MiB; done += 2048) {
    char *p = gc_malloc(2048);
    cr_assert_not_null(p);
    p[0] = 1;
    gc_free(p);
  }
  char *big = gc_malloc(T_MiB);
  cr_assert_not_null(big);
  size_t extra = t_stats().collections - c0;
  cr_assert_eq(extra, 0, "%zu collections for 512 MiB of objects freed right away", extra);
  T_ASSERT_HEAP_VALID();
}

/* A program whose live data shrinks after a peak may use, without
 * collecting, the room its recent peak already needed (the heap does not
 * grow past that peak's live + budget); after CGC_NEED_WINDOW (8)
 * collections the peak is forgotten and the budget is the small one
 * again.  32 MiB live at the default growth (50%): the peak allowed
 * ~48 MiB; once the list is dropped the plain budget is
 * CGC_INITIAL_HEAP_SIZE (8 MiB).  Without the rule, 32 MiB of garbage
 * takes ~4 collections; without the forgetting, none after. */
Test(collect, room_of_a_recent_peak_is_used_then_forgotten, .timeout = 60.) {
  if (getenv("CGC_HEAP_GROWTH") || getenv("CGC_INITIAL_HEAP_SIZE") || getenv("CGC_DISABLE"))
    cr_skip_test("needs the default heap policy");
  t_node *volatile head = t_list_new(8192, 31, 4096); /* 32 MiB, scanned */
  gc_collect();
  gc_collect(); /* both remembered collections saw it: budget from 32 MiB */
  t_list_check(head, 8192, 31);
  head = NULL;
  t_collect(); /* scrubbed: the collector's own frames land where t_list_check's were */
  cr_assert_lt(t_stats().live_bytes, 4 * T_MiB, "the dropped list is still live");

  size_t c0 = t_stats().collections;
  t_churn(32 * T_MiB, 5);
  size_t used = t_stats().collections - c0;
  cr_assert_eq(used, 0, "%zu collections for 32 MiB of garbage right after a 24 MiB peak", used);
  /* the policy's bound: the peak's live + budget (48 MiB), plus slack for
   * partly used spans */
  cr_assert_leq(t_stats().heap_bytes, 64 * T_MiB, "heap grew to %zu bytes", t_stats().heap_bytes);

  for (int i = 0; i < 8; i++) gc_collect();
  size_t c1 = t_stats().collections;
  t_churn(32 * T_MiB, 6);
  size_t later = t_stats().collections - c1;
  cr_assert_geq(later, 2, "only %zu collections for 32 MiB of garbage 8 collections after the peak", later);
  T_ASSERT_HEAP_VALID();
}
