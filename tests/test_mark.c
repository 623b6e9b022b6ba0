/*
 * test_mark.c -- the parallel marker: big random object graphs (shared
 * subgraphs, so markers race for the same objects; long lists; deep
 * spines; wide arrays split between markers; atomic payloads) marked with
 * 1, 2, 4 and 8 markers and verified byte for byte after every
 * collection; a graph rewired between collections against a model;
 * reclamation of what becomes unreachable; overflow recovery with a tiny
 * mark stack; roots bigger than the mark stack; the helper threads
 * (created lazily, signals blocked, not mutators, re-created after a
 * fork); and the CGC_MARKERS option.
 *
 * gc__mark_force_parallel(true) makes every collection use all
 * CGC_MARKERS markers, whatever the size policy says, so the parallel
 * path is exercised on every collection.  Each Criterion test is its own
 * process, so CGC_* variables set before the first cgc call apply.
 */
#include "common.h"
#include "obs/stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* ======================================================================
 * the world: a deterministic graph and its model
 * ====================================================================== */

/* A scanned node: header, `nedges` edges (some interior pointers), then
 * the pattern of `id` up to `size` bytes.  `blob` is an atomic payload
 * holding the pattern of ~id (and words that look like pointers, which
 * must keep nothing alive). */
typedef struct gnode {
  uint64_t id;
  uint32_t nedges, part;
  size_t size;
  void *blob;
  size_t blob_size;
  struct gnode *e[];
} gnode;

enum { PART_GRAPH, PART_LIST, PART_SPINE, PART_LEAF, NPARTS };
enum { MAXE = 6, NROOTS = 8 };

typedef struct world {
  size_t ng, nl, ns, nw, nh; /* graph, list, spine nodes; wide and huge-array leaves */
  size_t n;                  /* all nodes: graph, list, spine, spine leaves, wide leaves, huge leaves */
  uintptr_t *addr;           /* node index -> address (system malloc: not a root) */
  int32_t *edge;             /* graph: MAXE targets per node, -1 = none */
  uint8_t *interior;         /* graph: per edge, 1 = points 16 bytes in */
  size_t wide_words, huge_words;
  uint64_t seed;
} world_t;

/* Roots: volatile so that their stores are real (see test_collect.c). */
static void *volatile g_root[NROOTS];

static inline uint64_t w_rand(uint64_t seed, uint64_t a, uint64_t b) {
  return t_mix64(seed ^ t_mix64(a * 31 + b));
}

/* Node sizes: mostly small, some medium, a few large (> 512 KiB). */
static size_t graph_size(const world_t *w, size_t i, uint32_t nedges) {
  uint64_t h = w_rand(w->seed, i, 1);
  size_t base = sizeof(gnode) + nedges * sizeof(gnode *);
  if (h % 20000 == 0) return base + 520 * T_KiB + (size_t)(h >> 40) % (64 * T_KiB);
  if (h % 100 == 0) return base + (size_t)(h >> 32) % (8 * T_KiB);
  return base + (size_t)(h >> 32) % 96;
}

static size_t pattern_off(uint32_t nedges) { return sizeof(gnode) + nedges * sizeof(gnode *); }

static T_NOINLINE gnode *node_new(uint64_t id, uint32_t nedges, uint32_t part, size_t size,
                                  size_t blob_size) {
  gnode *g = gc_malloc(size);
  if (g == NULL) cr_assert_fail("gc_malloc(%zu) failed", size);
  g->id = id;
  g->nedges = nedges;
  g->part = part;
  g->size = size;
  size_t off = pattern_off(nedges);
  t_fill(t_launder((char *)g + off), size - off, id);
  if (blob_size) {
    uint64_t *b = gc_malloc_atomic(blob_size);
    if (b == NULL) cr_assert_fail("gc_malloc_atomic(%zu) failed", blob_size);
    t_fill(b, blob_size, ~id);
    g->blob = b;
    g->blob_size = blob_size;
  }
  return g;
}

/* The graph's deterministic edges: tree edges i -> 2i+1, 2i+2 make every
 * node reachable from node 0; cross edges prefer low indices, so a few
 * nodes are shared by very many (markers race for them). */
static void graph_edges(world_t *w) {
  for (size_t i = 0; i < w->ng; i++) {
    int32_t *e = &w->edge[i * MAXE];
    uint64_t h = w_rand(w->seed, i, 2);
    uint32_t ncross = (uint32_t)(h % 5);
    e[0] = 2 * i + 1 < w->ng ? (int32_t)(2 * i + 1) : -1;
    e[1] = 2 * i + 2 < w->ng ? (int32_t)(2 * i + 2) : -1;
    for (uint32_t k = 0; k < MAXE - 2; k++) {
      uint64_t r = w_rand(w->seed, i, 10 + k);
      e[2 + k] = k < ncross ? (int32_t)((r % ((r >> 32) % w->ng + 1))) : -1;
      w->interior[i * MAXE + 2 + k] = (r >> 20) & 1;
    }
    w->interior[i * MAXE] = w->interior[i * MAXE + 1] = 0;
  }
}

static uint32_t graph_nedges(const world_t *w, size_t i) {
  (void)w;
  (void)i;
  return MAXE;
}

static gnode *edge_ptr(const world_t *w, size_t i, unsigned k) {
  int32_t t = w->edge[i * MAXE + k];
  if (t < 0) return NULL;
  return (gnode *)(w->addr[t] + (w->interior[i * MAXE + k] ? 16 : 0));
}

/* Build everything; node indices: graph [0, ng), list [ng, ng+nl), spine
 * [.., +ns), spine leaves [.., +ns), wide leaves [.., +nw), huge-array
 * leaves [.., +nh). */
static T_NOINLINE void world_build(world_t *w, size_t ng, size_t nl, size_t ns, size_t nw, uint64_t seed) {
  memset(w, 0, sizeof *w);
  w->ng = ng, w->nl = nl, w->ns = ns, w->nw = nw, w->seed = seed;
  w->huge_words = (5 * T_MiB) / sizeof(void *); /* > a segment: a huge object */
  w->nh = w->huge_words / 64;
  w->wide_words = nw;
  w->n = ng + nl + 2 * ns + nw + w->nh;
  w->addr = calloc(w->n, sizeof *w->addr);
  w->edge = malloc(ng * MAXE * sizeof *w->edge);
  w->interior = malloc(ng * MAXE);
  cr_assert(w->addr && w->edge && w->interior);
  graph_edges(w);
  /* the index is system memory: a root only while the world is built */
  gc_add_roots(w->addr, w->addr + w->n);
  /* graph nodes, then their edges (targets exist by then) */
  for (size_t i = 0; i < ng; i++) {
    uint64_t h = w_rand(seed, i, 3);
    size_t blob = h % 8 == 0 ? 16 + (size_t)(h >> 40) % 300 : 0;
    w->addr[i] = (uintptr_t)node_new(i, graph_nedges(w, i), PART_GRAPH, graph_size(w, i, MAXE), blob);
  }
  for (size_t i = 0; i < ng; i++) {
    gnode *g = (gnode *)w->addr[i];
    for (unsigned k = 0; k < MAXE; k++) g->e[k] = edge_ptr(w, i, k);
  }
  g_root[0] = (void *)w->addr[0];
  /* a long list, built from its tail */
  gnode *next = NULL;
  for (size_t j = nl; j-- > 0;) {
    size_t i = ng + j;
    gnode *g = node_new(i, 1, PART_LIST, pattern_off(1) + (i % 3) * 8, 0);
    g->e[0] = next;
    next = g;
    w->addr[i] = (uintptr_t)g;
  }
  g_root[1] = next;
  /* a degenerate deep tree: a spine whose nodes each hold a leaf */
  size_t s0 = ng + nl, l0 = s0 + ns;
  next = NULL;
  for (size_t j = ns; j-- > 0;) {
    gnode *leaf = node_new(l0 + j, 0, PART_LEAF, pattern_off(0) + 8 + (j % 4) * 16, j % 2 ? 40 : 0);
    gnode *g = node_new(s0 + j, 2, PART_SPINE, pattern_off(2) + 16, 0);
    g->e[0] = next;
    g->e[1] = leaf;
    next = g;
    w->addr[s0 + j] = (uintptr_t)g;
    w->addr[l0 + j] = (uintptr_t)leaf;
  }
  g_root[2] = next;
  /* a wide array (a large object, scanned in chunks by several markers) */
  size_t w0 = l0 + ns;
  gnode **wide = gc_malloc(nw * sizeof *wide);
  cr_assert_not_null(wide);
  for (size_t j = 0; j < nw; j++) {
    gnode *leaf = node_new(w0 + j, 0, PART_LEAF, pattern_off(0) + 8 * (j % 5), 0);
    wide[j] = leaf;
    w->addr[w0 + j] = (uintptr_t)leaf;
  }
  g_root[3] = wide;
  /* a huge array (its own mapping), sparse */
  size_t h0 = w0 + nw;
  gnode **huge = gc_malloc(w->huge_words * sizeof *huge);
  cr_assert_not_null(huge);
  for (size_t j = 0; j < w->nh; j++) {
    gnode *leaf = node_new(h0 + j, 0, PART_LEAF, pattern_off(0) + 24, j % 3 ? 0 : 24);
    huge[j * 64 + (j % 64)] = leaf;
    w->addr[h0 + j] = (uintptr_t)leaf;
  }
  g_root[4] = huge;
  gc_remove_roots(w->addr, w->addr + w->n);
}

/* Node i must be a live object holding what was written.  Returns a
 * description of the first problem, or NULL. */
static const char *node_problem(const world_t *w, size_t i, uint32_t nedges, uint32_t part) {
  const gnode *g = (const gnode *)w->addr[i];
  if (gc_base(g) != g) return "reclaimed";
  if (g->id != i || g->nedges != nedges || g->part != part) return "header corrupted";
  if (gc_size(g) < g->size) return "size shrank";
  size_t off = pattern_off(nedges);
  if (t_bad((const char *)g + off, g->size - off, i) >= 0) return "pattern corrupted";
  if (g->blob != NULL) {
    if (gc_base(g->blob) != g->blob) return "payload reclaimed";
    if (t_bad(g->blob, g->blob_size, ~(uint64_t)i) >= 0) return "payload corrupted";
  }
  return NULL;
}

#define NODE_OK(w, i, ne, part)                                                                 \
  do {                                                                                          \
    const char *p_ = node_problem((w), (i), (ne), (part));                                      \
    if (p_ != NULL) cr_assert_fail("node %zu (%p): %s", (size_t)(i), (void *)(w)->addr[i], p_); \
  } while (0)

/* Verify every node of the world and every edge. */
static T_NOINLINE void world_check(const world_t *w) {
  cr_assert_eq(g_root[0], (void *)w->addr[0]);
  for (size_t i = 0; i < w->ng; i++) {
    NODE_OK(w, i, MAXE, PART_GRAPH);
    const gnode *g = (const gnode *)w->addr[i];
    for (unsigned k = 0; k < MAXE; k++)
      if (g->e[k] != edge_ptr(w, i, k)) cr_assert_fail("graph node %zu: edge %u lost", i, k);
  }
  const gnode *g = g_root[1];
  for (size_t j = 0; j < w->nl; j++, g = g->e[0]) {
    if (g != (const gnode *)w->addr[w->ng + j]) cr_assert_fail("list broken at %zu", j);
    NODE_OK(w, w->ng + j, 1, PART_LIST);
  }
  cr_assert_null(g, "list too long");
  size_t s0 = w->ng + w->nl, l0 = s0 + w->ns, w0 = l0 + w->ns, h0 = w0 + w->nw;
  g = g_root[2];
  for (size_t j = 0; j < w->ns; j++, g = g->e[0]) {
    if (g != (const gnode *)w->addr[s0 + j]) cr_assert_fail("spine broken at %zu", j);
    NODE_OK(w, s0 + j, 2, PART_SPINE);
    if (g->e[1] != (gnode *)w->addr[l0 + j]) cr_assert_fail("spine leaf %zu lost", j);
    NODE_OK(w, l0 + j, 0, PART_LEAF);
  }
  gnode *const *wide = g_root[3];
  cr_assert_eq(gc_base(wide), (void *)wide);
  for (size_t j = 0; j < w->nw; j++) {
    if (wide[j] != (gnode *)w->addr[w0 + j]) cr_assert_fail("wide slot %zu lost", j);
    NODE_OK(w, w0 + j, 0, PART_LEAF);
  }
  gnode *const *huge = g_root[4];
  cr_assert_eq(gc_base(huge), (void *)huge);
  for (size_t j = 0; j < w->nh; j++) {
    if (huge[j * 64 + (j % 64)] != (gnode *)w->addr[h0 + j]) cr_assert_fail("huge slot %zu lost", j);
    NODE_OK(w, h0 + j, 0, PART_LEAF);
  }
}

/* Not inline in world_drop_and_check_reclaimed: gc_stats_t temporaries
 * there (200 bytes each) would be unwritten stack while it collects,
 * still holding node pointers that world_check left at that depth. */
static T_NOINLINE size_t live_bytes_now(void) { return t_stats().live_bytes; }

/* Drop the world; its nodes must then be reclaimed (a few may survive
 * through stray words: a conservative collector).  The two arrays are
 * cleared first: a stale stack word that keeps one of them (the baseline
 * serial marker does that too) must not keep thousands of leaves. */
static T_NOINLINE void drop_and_check_reclaimed(world_t *w) {
  memset(g_root[3], 0, w->wide_words * sizeof(void *));
  memset(g_root[4], 0, w->huge_words * sizeof(void *));
  for (int r = 0; r < NROOTS; r++) g_root[r] = NULL;
  t_collect();
  t_collect();
  size_t live = t_count_live((void *const *)w->addr, w->n);
  cr_assert_leq(live, w->n / 100, "%zu of %zu dropped nodes survived two collections", live, w->n);
  size_t live_bytes = live_bytes_now();
  cr_assert_lt(live_bytes, 16 * T_MiB, "%zu bytes live after dropping everything", live_bytes);
  free(w->addr);
  free(w->edge);
  free(w->interior);
}
/* Scrubbed first: the frame drop_and_check_reclaimed gets (the cr_assert
 * temporaries) lies where world_check's frames were, at the same depth,
 * and must not keep their stale words, each one a root for a dropped node
 * (seen with ASan's bigger frames and in debug builds). */
static T_NOINLINE void world_drop_and_check_reclaimed(world_t *w) {
  t_scrub_stack();
  drop_and_check_reclaimed(w);
}

/* The scenario shared by the markers tests: build, then collect `rounds`
 * times with small churn in between (freed memory is reused and stomped),
 * verifying everything each time. */
static void graph_scenario(const char *markers, bool force, int rounds) {
  T_SETENV("CGC_MARKERS", markers);
  if (force) gc__mark_force_parallel(true);
  world_t w;
  world_build(&w, 150000, 300000, 60000, 100000, 0x5eed + (uint64_t)atoi(markers));
  for (int r = 0; r < rounds; r++) {
    t_churn_small(3 * T_MiB, (uint64_t)r);
    t_collect();
    world_check(&w);
  }
  T_ASSERT_HEAP_VALID();
  unsigned m = (unsigned)atoi(markers);
  if (m == 1) {
    cr_assert_eq(gc__stats.parallel_marks, 0, "CGC_MARKERS=1 marked in parallel");
  } else if (force) {
    cr_assert_eq(gc__stats.parallel_marks, gc__stats.collections,
                 "%llu of %llu collections marked in parallel", (unsigned long long)gc__stats.parallel_marks,
                 (unsigned long long)gc__stats.collections);
    cr_assert_eq(gc__stats.markers_last, m);
  }
  world_drop_and_check_reclaimed(&w);
}

Test(mark, graph_1_marker, .timeout = 120.) { graph_scenario("1", true, 6); }
Test(mark, graph_2_markers, .timeout = 120.) { graph_scenario("2", true, 8); }
Test(mark, graph_4_markers, .timeout = 120.) { graph_scenario("4", true, 8); }
Test(mark, graph_8_markers, .timeout = 120.) { graph_scenario("8", true, 8); }
/* The size/rate policy decides (no forcing): correct whichever it picks. */
Test(mark, graph_2_markers_policy, .timeout = 120.) { graph_scenario("2", false, 8); }

/* ======================================================================
 * a graph rewired between collections, against a model
 * ====================================================================== */

/* Rewire `n` random graph edges among the nodes reachable now (reach[]),
 * some to NULL, so parts of the graph become unreachable.  No allocation
 * here, so no collection can run in the middle. */
static void rewire(world_t *w, const uint8_t *reach, uint64_t *rs, size_t n) {
  for (size_t c = 0; c < n; c++) {
    size_t i = (size_t)(t_rand(rs) % w->ng);
    if (!reach[i]) continue;
    unsigned k = (unsigned)(t_rand(rs) % MAXE);
    size_t t = (size_t)(t_rand(rs) % w->ng);
    int32_t to = (t_rand(rs) % 4 == 0 || !reach[t]) ? -1 : (int32_t)t;
    w->edge[i * MAXE + k] = to;
    w->interior[i * MAXE + k] = (uint8_t)(t_rand(rs) & 1);
    ((gnode *)w->addr[i])->e[k] = edge_ptr(w, i, k);
  }
}

/* reach[i] = 1 for graph nodes reachable from node 0 in the model. */
static size_t model_reach(const world_t *w, uint8_t *reach, int32_t *queue) {
  memset(reach, 0, w->ng);
  size_t head = 0, tail = 0;
  reach[0] = 1;
  queue[tail++] = 0;
  while (head < tail) {
    int32_t i = queue[head++];
    for (unsigned k = 0; k < MAXE; k++) {
      int32_t t = w->edge[(size_t)i * MAXE + k];
      if (t >= 0 && !reach[t]) {
        reach[t] = 1;
        queue[tail++] = t;
      }
    }
  }
  return tail;
}

Test(mark, rewired_graph_4_markers, .timeout = 120.) {
  T_SETENV("CGC_MARKERS", "4");
  gc__mark_force_parallel(true);
  world_t w;
  world_build(&w, 200000, 1000, 1000, 1000, 77);
  uint8_t *reach = malloc(w.ng), *was = malloc(w.ng);
  int32_t *queue = malloc(w.ng * sizeof *queue);
  cr_assert(reach && was && queue);
  uint64_t rs = 99;
  size_t dropped = 0, dropped_live = 0;
  model_reach(&w, reach, queue);
  for (int round = 0; round < 12; round++) {
    memcpy(was, reach, w.ng);
    rewire(&w, reach, &rs, 20000);
    size_t nreach = model_reach(&w, reach, queue);
    t_churn_small(2 * T_MiB, 1000 + (uint64_t)round);
    t_collect();
    size_t lost = 0, kept = 0;
    for (size_t i = 0; i < w.ng; i++) {
      if (reach[i]) {
        NODE_OK(&w, i, MAXE, PART_GRAPH);
        const gnode *g = (const gnode *)w.addr[i];
        for (unsigned k = 0; k < MAXE; k++)
          if (g->e[k] != edge_ptr(&w, i, k)) cr_assert_fail("round %d: node %zu edge %u wrong", round, i, k);
      } else if (was[i]) { /* unreachable since this round: should be gone */
        lost++;
        if (gc_base((void *)w.addr[i]) == (void *)w.addr[i]) kept++;
      }
    }
    dropped += lost;
    dropped_live += kept;
    cr_assert_gt(nreach, 1000, "the rewiring disconnected nearly everything (round %d)", round);
  }
  cr_assert_gt(dropped, 10000, "only %zu nodes became unreachable: the test did not exercise reclamation",
               dropped);
  cr_assert_leq(dropped_live, dropped / 50, "%zu of %zu unreachable nodes survived the next collection",
                dropped_live, dropped);
  cr_assert_eq(gc__stats.parallel_marks, gc__stats.collections);
  T_ASSERT_HEAP_VALID();
  free(reach);
  free(was);
  free(queue);
}

/* ======================================================================
 * churn: the heap stays bounded with parallel marking
 * ====================================================================== */

Test(mark, churn_keeps_heap_bounded_4_markers, .timeout = 120.) {
  T_SETENV("CGC_MARKERS", "4");
  gc__mark_force_parallel(true);
  world_t w;
  world_build(&w, 40000, 40000, 10000, 10000, 5);
  size_t total = 0;
  while (total < 768 * T_MiB) {
    t_churn(32 * T_MiB, 7000 + total / T_MiB);
    total += 32 * T_MiB;
    gc_stats_t s = t_stats();
    cr_assert_lt(s.heap_bytes, 96 * T_MiB, "heap grew to %zu bytes after %zu MiB of churn", s.heap_bytes,
                 total >> 20);
  }
  cr_assert_gt(gc__stats.collections, 20);
  world_check(&w);
  world_drop_and_check_reclaimed(&w);
}

/* ======================================================================
 * overflow recovery and roots with a tiny mark stack
 * ====================================================================== */

Test(mark, tiny_mark_stack_overflow_recovery_4_markers, .timeout = 120.) {
  T_SETENV("CGC_MARK_STACK_MAX", "64");
  T_SETENV("CGC_MARKERS", "4");
  gc__mark_force_parallel(true);
  world_t w;
  world_build(&w, 100000, 50000, 30000, 50000, 11);
  for (int r = 0; r < 4; r++) {
    t_churn_small(2 * T_MiB, 500 + (uint64_t)r);
    t_collect();
    world_check(&w);
  }
  cr_assert_gt(gc__stats.mark_overflows, 0, "the mark stack never overflowed: recovery was not exercised");
  cr_assert_eq(gc__stats.parallel_marks, gc__stats.collections);
  T_ASSERT_HEAP_VALID();
  world_drop_and_check_reclaimed(&w);
}

/* A root range far bigger than the mark stack (thousands of 64 KiB
 * chunks with a 16-entry stack): root chunks are never dropped, since
 * overflow recovery could not find them again. */
Test(mark, big_roots_with_tiny_mark_stack, .timeout = 120.) {
  T_SETENV("CGC_MARK_STACK_MAX", "16");
  T_SETENV("CGC_MARKERS", "4");
  gc__mark_force_parallel(true);
  enum { WORDS = 64 * 1024 * 1024 / 8, STRIDE = 4099 };
  uintptr_t *area = calloc(WORDS, sizeof *area); /* system memory: a root only once added */
  cr_assert_not_null(area);
  gc_add_roots(area, area + WORDS);
  size_t n = 0;
  for (size_t i = 0; i < WORDS; i += STRIDE, n++) {
    gnode *g = node_new(n, 0, PART_LEAF, pattern_off(0) + 16, 0);
    area[i] = (uintptr_t)g;
  }
  for (int r = 0; r < 3; r++) {
    t_churn_small(2 * T_MiB, 900 + (uint64_t)r);
    t_collect();
    size_t k = 0;
    for (size_t i = 0; i < WORDS; i += STRIDE, k++) {
      const gnode *g = (const gnode *)area[i];
      if (gc_base(g) != g || g->id != k || t_bad((const char *)g + pattern_off(0), 16, k) >= 0)
        cr_assert_fail("object %zu held only by root word %zu was lost or corrupted", k, i);
    }
  }
  gc_remove_roots(area, area + WORDS);
  free(area);
}

/* ======================================================================
 * registers of the collecting thread
 * ====================================================================== */

#if defined(__x86_64__)
/* Pointers that live only in r13, r14 and r15 across gc_collect: the
 * collector's call chain does not save those, so they reach
 * gc__mark_roots in registers.  Roots are only pushed there and scanned
 * later, from gc__mark_drain, after gc__mark_roots's frame (where the
 * registers are spilled) is dead: the spill must be kept elsewhere. */
static T_NOINLINE void pinned_registers_loop(void) {
  register gnode *p13 __asm__("r13") = node_new(13, 0, PART_LEAF, pattern_off(0) + 40, 0);
  register gnode *p14 __asm__("r14") = node_new(14, 0, PART_LEAF, pattern_off(0) + 56, 0);
  register gnode *p15 __asm__("r15") = node_new(15, 0, PART_LEAF, pattern_off(0) + 72, 0);
  for (int it = 0; it < 20; it++) {
    __asm__ volatile("" : "+r"(p13), "+r"(p14), "+r"(p15));
    t_collect();
    __asm__ volatile("" : "+r"(p13), "+r"(p14), "+r"(p15));
    t_churn_small(512 * T_KiB, 300 + (uint64_t)it);
    __asm__ volatile("" : "+r"(p13), "+r"(p14), "+r"(p15));
    gnode *v[3] = {p13, p14, p15};
    for (int k = 0; k < 3; k++)
      if (gc_base(v[k]) != v[k] || v[k]->id != 13u + (unsigned)k ||
          t_bad((const char *)v[k] + pattern_off(0), v[k]->size - pattern_off(0), v[k]->id) >= 0)
        cr_assert_fail("object held in r%d was reclaimed (collection %d)", 13 + k, it);
  }
}

Test(mark, pointers_only_in_callee_saved_registers, .timeout = 60.) {
  T_SETENV("CGC_MARKERS", "2");
  gc__mark_force_parallel(true);
  pinned_registers_loop();
}
#endif

/* ======================================================================
 * helper threads
 * ====================================================================== */

/* Threads that existed before cgc started (Criterion's own, if any). */
static pid_t g_before[64];
static size_t g_nbefore;

/* Thread ids of this process other than the caller's and those in
 * g_before, into tids[0..max). */
static size_t other_threads(pid_t *tids, size_t max) {
  DIR *d = opendir("/proc/self/task");
  cr_assert_not_null(d);
  size_t n = 0;
  pid_t self = (pid_t)gettid();
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    pid_t t = (pid_t)atoi(e->d_name);
    bool old = t == self;
    for (size_t i = 0; i < g_nbefore; i++) old |= g_before[i] == t;
    if (!old && n < max) tids[n++] = t;
  }
  closedir(d);
  return n;
}

static void note_threads_before(void) {
  g_nbefore = 0;
  g_nbefore = other_threads(g_before, 64);
}

/* The blocked-signal mask of thread `tid` (SigBlk in its status). */
static uint64_t sig_blocked(pid_t tid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  uint64_t m = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "SigBlk: %" SCNx64, &m) == 1) break;
  fclose(f);
  return m;
}

static uint64_t sigbit(int sig) { return (uint64_t)1 << (sig - 1); }

Test(mark, helpers_are_lazy_blocked_and_not_mutators, .timeout = 60.) {
  T_SETENV("CGC_MARKERS", "4");
  pid_t tids[32];
  note_threads_before();
  gc_init();
  gc__mark_force_parallel(true);
  cr_assert_eq(other_threads(tids, 32), 0, "helper threads exist before any collection");
  size_t mutators_before = 0; /* the runner's own threads are registered (pthread_create) */
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next) mutators_before++;
  world_t w;
  world_build(&w, 20000, 1000, 1000, 1000, 3);
  t_collect();
  world_check(&w);
  size_t n = other_threads(tids, 32);
  cr_assert_eq(n, 3, "%zu helper threads for CGC_MARKERS=4", n);
  uint64_t must = sigbit(SIGINT) | sigbit(SIGTERM) | sigbit(SIGUSR1) | sigbit(SIGUSR2) | sigbit(SIGPWR) |
                  sigbit(SIGXCPU) | sigbit(SIGCHLD) | sigbit(SIGALRM) | sigbit(SIGRTMIN + 5);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(sig_blocked(tids[i]) & must, must,
                 "helper %d does not block every signal (SigBlk %#" PRIx64 ")", (int)tids[i],
                 sig_blocked(tids[i]));
  size_t mutators = 0;
  for (gc_tctx_t *t = gc__registry.threads; t != NULL; t = t->next) mutators++;
  cr_assert_eq(mutators, mutators_before, "%zu registered threads, %zu before: helpers must not be mutators",
               mutators, mutators_before);
  /* more collections reuse the same helpers */
  t_collect();
  t_collect();
  cr_assert_eq(other_threads(tids, 32), 3);
  world_check(&w);
  world_drop_and_check_reclaimed(&w);
}

/* After a fork only the forking thread exists; the fork hook forgets the
 * helpers and the next parallel collection creates them again. */
Test(mark, fork_child_recreates_helpers, .timeout = 60.) {
  T_SETENV("CGC_MARKERS", "3");
  note_threads_before();
  gc__mark_force_parallel(true);
  world_t w;
  world_build(&w, 30000, 10000, 5000, 5000, 21);
  t_collect();
  world_check(&w);
  pid_t tids[32];
  cr_assert_eq(other_threads(tids, 32), 2);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    g_nbefore = 0; /* only the forking thread was copied */
    gc__lock();
    gc__mark_atfork_child(); /* what the pthread_atfork child handler calls */
    gc__unlock();
    if (other_threads(tids, 32) != 0) _exit(10);
    t_churn_small(2 * T_MiB, 1);
    t_collect();
    if (other_threads(tids, 32) != 2) _exit(11);
    if (gc__stats.markers_last != 3) _exit(12);
    world_check(&w); /* an assertion failure exits non-zero */
    _exit(0);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork child failed: status %#x", status);
  world_check(&w);
}

/* ======================================================================
 * CGC_MARKERS
 * ====================================================================== */

/* Initialise cgc with stderr captured; returns what it printed. */
static char *init_capturing_stderr(void) {
  char name[] = "/tmp/cgc-mark-err-XXXXXX";
  int fd = mkstemp(name);
  cr_assert_geq(fd, 0);
  unlink(name);
  int saved = dup(2);
  dup2(fd, 2);
  gc_init();
  dup2(saved, 2);
  close(saved);
  static char buf[4096];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = 0;
  close(fd);
  return buf;
}

/* Markers used by a forced parallel collection. */
static unsigned markers_used(void) {
  gc__mark_force_parallel(true);
  void *volatile keep = gc_malloc(64);
  (void)keep;
  t_collect();
  return (unsigned)gc__stats.markers_last;
}

static unsigned auto_markers(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < cpus) cpus = CPU_COUNT(&set);
  if (cpus < 1) cpus = 1;
  return cpus > 16 ? 16 : (unsigned)cpus;
}

Test(mark_option, explicit_count) {
  T_SETENV("CGC_MARKERS", "3");
  char *err = init_capturing_stderr();
  cr_assert_str_empty(err, "CGC_MARKERS=3 printed: %s", err);
  cr_assert_eq(markers_used(), 3);
}

Test(mark_option, one_is_serial) {
  T_SETENV("CGC_MARKERS", "1");
  gc_init();
  cr_assert_eq(markers_used(), 1);
  cr_assert_eq(gc__stats.parallel_marks, 0);
}

Test(mark_option, zero_is_one_per_cpu) {
  T_SETENV("CGC_MARKERS", "0");
  char *err = init_capturing_stderr();
  cr_assert_str_empty(err);
  cr_assert_eq(markers_used(), auto_markers());
}

Test(mark_option, unset_is_one_per_cpu) {
  unsetenv("CGC_MARKERS");
  gc_init();
  cr_assert_eq(markers_used(), auto_markers());
}

Test(mark_option, malformed_values_are_reported_and_ignored) {
  static const char *bad[] = {"abc", "-2", "2x", "4M", " "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) { /* a fresh cgc per value */
      setenv("CGC_MARKERS", bad[i], 1);
      char *err = init_capturing_stderr();
      if (strstr(err, "CGC_MARKERS") == NULL) _exit(20);
      if (markers_used() != auto_markers()) _exit(21);
      _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "CGC_MARKERS='%s': child status %#x", bad[i],
              status);
  }
}

Test(mark_option, too_many_is_capped_and_reported) {
  T_SETENV("CGC_MARKERS", "100");
  char *err = init_capturing_stderr();
  cr_assert_not_null(strstr(err, "CGC_MARKERS"), "CGC_MARKERS=100 was not reported: '%s'", err);
  cr_assert_eq(markers_used(), 16);
}

/* ======================================================================
 * the serial-or-parallel policy, driven with made-up tracing rates
 * ====================================================================== */

/* The modes chosen for `n` collections in a row when every collection of
 * mode m traces at rate[m]; returns how many were parallel. */
static unsigned run_policy(gc_mark_policy_t *p, unsigned n, const double rate[2]) {
  unsigned par = 0;
  for (unsigned i = 0; i < n; i++) {
    int m = gc__mark_policy_choose(p);
    par += (unsigned)m;
    gc__mark_policy_record(p, m, rate[m]);
  }
  return par;
}

Test(mark_policy, measures_both_modes_then_keeps_the_faster_and_probes_the_other) {
  gc_mark_policy_t p = {0};
  cr_assert_eq(gc__mark_policy_choose(&p), 1, "parallel is measured first");
  gc__mark_policy_record(&p, 1, 2.0);
  cr_assert_eq(gc__mark_policy_choose(&p), 0, "then serial");
  gc__mark_policy_record(&p, 0, 1.0);
  const double par_faster[2] = {1.0, 2.0};
  unsigned n = 4 * CGC_PROBE_EVERY;
  unsigned par = run_policy(&p, n, par_faster);
  cr_assert_eq(par, n - n / CGC_PROBE_EVERY, "one serial probe in %d: %u of %u parallel", CGC_PROBE_EVERY,
               par, n);
  const double serial_faster[2] = {3.0, 2.0};
  par = run_policy(&p, n, serial_faster);
  /* the next probe of serial finds it faster: at most CGC_PROBE_EVERY
   * collections until then, one probe of parallel in CGC_PROBE_EVERY after */
  cr_assert_leq(par, CGC_PROBE_EVERY + n / CGC_PROBE_EVERY,
                "serial has become faster: %u of %u still parallel", par, n);
  cr_assert_geq(par, n / CGC_PROBE_EVERY - 1, "parallel is still probed: %u of %u", par, n);
}

/* A parallel collection that a preempted helper made slow must not send
 * every following collection to serial (an average, or a probe replacing
 * the estimate, did: noise only slows collections down). */
Test(mark_policy, one_unlucky_sample_does_not_switch_modes) {
  gc_mark_policy_t p = {0};
  const double par_faster[2] = {1.3, 1.6}; /* close: a quarter-weight average of 0.3 would flip */
  (void)run_policy(&p, 2 * CGC_PROBE_EVERY, par_faster);
  gc__mark_policy_record(&p, 1, 0.3); /* one parallel mark 5x slower than usual */
  int m = gc__mark_policy_choose(&p);
  if (m == 0) m = gc__mark_policy_choose(&p); /* (it may be the probe's turn) */
  cr_assert_eq(m, 1, "one slow parallel collection switched to serial");
}

/* A mode that really became slower loses its old best rate after
 * CGC_RATE_WINDOW samples of its own. */
Test(mark_policy, a_lasting_slowdown_switches_within_the_window) {
  gc_mark_policy_t p = {0};
  const double par_faster[2] = {1.0, 1.6};
  (void)run_policy(&p, 2 * CGC_PROBE_EVERY, par_faster);
  const double par_slow[2] = {1.0, 0.5};
  unsigned par = run_policy(&p, CGC_PROBE_EVERY, par_slow);
  cr_assert_leq(par, CGC_RATE_WINDOW + 1, "%u parallel collections after parallel became slower", par);
}
