/*
 * test_stress.c -- a randomized, deterministic (fixed seed) stress test.
 *
 * A graph of scanned nodes (16 B .. ~100 KiB, each carrying the pattern of
 * its id) with payload blobs (mostly atomic, some scanned) hanging off
 * them is mutated for a number of rounds: subgraphs are added and dropped,
 * edges rewired, payloads reallocated or replaced, garbage allocated so
 * that collections happen by allocation pressure, and sometimes a
 * collection is forced.  A shadow model of the graph lives in system-malloc
 * memory (not scanned, so it keeps nothing alive); after every round every
 * object the model says is reachable is checked byte for byte: that it is a
 * live object, its header, its edges, its pattern, its payload.
 *
 * Round structure, so that the test itself never touches a dead object:
 *   1. allocate (new subgraphs are held by a scanned staging array; their
 *      edges may point at nodes reachable at the start of the round, which
 *      nothing has disconnected yet);
 *   2. rewire, attach, drop -- no allocation, so no collection can run;
 *   3. garbage + maybe gc_collect;
 *   4. verify what the model reaches and forget the rest.
 */
#include "common.h"

#include <stdio.h>

enum { NROOTS = 64, MAXE = 8 };

typedef struct snode {
  uint64_t id;
  uint32_t nedges, pad;
  size_t size;
  void *payload;
  struct snode *e[]; /* nedges, then the pattern of id up to size */
} snode;

typedef struct mnode {
  snode *p; /* NULL: dead (forgotten) */
  size_t size;
  uint32_t nedges;
  uint32_t seen;
  int64_t edges[MAXE]; /* ids, -1 = NULL */
  void *payload;
  size_t payload_size;
  uint64_t payload_id;
  int payload_atomic;
} mnode;

/* volatile: stores to these roots must really happen (see test_collect.c) */
static snode *volatile g_roots[NROOTS]; /* scanned: the real roots */
static snode **volatile g_stage;        /* scanned: holds new subgraphs while they are built */

typedef struct model {
  mnode *m;
  size_t n, cap;
  int64_t root_ids[NROOTS];
  int64_t *reach; /* ids reachable at the start of the round */
  size_t reach_n, reach_cap;
  uint32_t epoch;
  uint64_t next_payload_id;
  uint64_t rs;
  size_t reach_bytes;
  size_t verified_bytes;
} model_t;

static size_t pick_size(uint64_t *rs, size_t min) {
  uint64_t r = t_rand(rs) % 100;
  size_t n;
  if (r < 55)
    n = t_range(rs, 16, 256);
  else if (r < 85)
    n = t_range(rs, 256, 4096);
  else if (r < 98)
    n = t_range(rs, 4096, 32768);
  else
    n = t_range(rs, 32768, 100 * 1024);
  return n < min ? min : n;
}

static size_t node_header(uint32_t nedges) { return sizeof(snode) + nedges * sizeof(snode *); }

static mnode *model_new_id(model_t *md) {
  if (md->n == md->cap) {
    md->cap = md->cap ? 2 * md->cap : 4096;
    md->m = realloc(md->m, md->cap * sizeof *md->m);
    cr_assert_not_null(md->m);
  }
  mnode *mn = &md->m[md->n++];
  memset(mn, 0, sizeof *mn);
  for (int k = 0; k < MAXE; k++) mn->edges[k] = -1;
  return mn;
}

static void new_payload(model_t *md, mnode *mn) {
  size_t n = pick_size(&md->rs, 1);
  int atomic = (t_rand(&md->rs) % 4) != 0;
  void *p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
  cr_assert_not_null(p);
  if (!atomic) T_ASSERT_ZERO(p, n, "payload gc_malloc");
  uint64_t pid = md->next_payload_id++;
  t_fill(p, n, pid);
  mn->payload = p;
  mn->payload_size = n;
  mn->payload_id = pid;
  mn->payload_atomic = atomic;
  mn->p->payload = p;
}

/* Phase 1: allocate subgraphs into g_stage; returns how many nodes. */
static size_t phase_alloc(model_t *md, int64_t *stage_ids, size_t stage_cap, size_t *sub_start,
                          size_t *nsub_out) {
  size_t nsub = t_range(&md->rs, 2, 6), total = 0;
  g_stage = gc_malloc(stage_cap * sizeof *g_stage);
  cr_assert_not_null(g_stage);
  for (size_t s = 0; s < nsub; s++) {
    size_t k = t_range(&md->rs, 5, 120);
    if (total + k > stage_cap) k = stage_cap - total;
    sub_start[s] = total;
    for (size_t j = 0; j < k; j++) {
      uint32_t ne = (uint32_t)t_range(&md->rs, 0, MAXE);
      if (j + 1 < k && ne == 0 && (t_rand(&md->rs) % 4)) ne = 1; /* mostly chained */
      size_t sz = pick_size(&md->rs, node_header(ne));
      snode *p = gc_malloc(sz);
      cr_assert_not_null(p, "gc_malloc(%zu) for a node", sz);
      T_ASSERT_ZERO(p, sz, "node gc_malloc");
      mnode *mn = model_new_id(md);
      int64_t id = (int64_t)(md->n - 1);
      p->id = (uint64_t)id;
      p->nedges = ne;
      p->size = sz;
      t_fill((char *)p + node_header(ne), sz - node_header(ne), (uint64_t)id);
      mn->p = p;
      mn->size = sz;
      mn->nedges = ne;
      g_stage[total + j] = p;
      stage_ids[total + j] = id;
      if (t_rand(&md->rs) % 10 < 3) new_payload(md, mn);
    }
    /* edges: chain, within the subgraph, to old reachable nodes, or NULL */
    for (size_t j = 0; j < k; j++) {
      int64_t id = stage_ids[total + j];
      mnode *mn = &md->m[id];
      for (uint32_t e = 0; e < mn->nedges; e++) {
        int64_t t = -1;
        uint64_t r = t_rand(&md->rs) % 10;
        if (e == 0 && j + 1 < k)
          t = stage_ids[total + j + 1];
        else if (r < 4)
          t = stage_ids[total + (size_t)(t_rand(&md->rs) % k)];
        else if (r < 6 && md->reach_n > 0)
          t = md->reach[t_rand(&md->rs) % md->reach_n];
        mn->edges[e] = t;
        mn->p->e[e] = t >= 0 ? md->m[t].p : NULL;
      }
    }
    total += k;
    if (total == stage_cap) {
      nsub = s + 1;
      break;
    }
  }
  /* payload churn on old reachable nodes: realloc (kind kept) or replace */
  for (int i = 0; i < 40 && md->reach_n > 0; i++) {
    mnode *mn = &md->m[md->reach[t_rand(&md->rs) % md->reach_n]];
    if (mn->payload == NULL) {
      if (t_rand(&md->rs) % 2) new_payload(md, mn);
      continue;
    }
    uint64_t r = t_rand(&md->rs) % 4;
    if (r == 0) { /* realloc */
      size_t n = pick_size(&md->rs, 1);
      void *q = gc_realloc(mn->payload, n);
      cr_assert_not_null(q);
      size_t keep = n < mn->payload_size ? n : mn->payload_size;
      T_ASSERT_PATTERN(q, keep, mn->payload_id);
      if (!mn->payload_atomic && n > mn->payload_size)
        T_ASSERT_ZERO((char *)q + mn->payload_size, n - mn->payload_size, "grown scanned payload");
      uint64_t pid = md->next_payload_id++;
      t_fill(q, n, pid);
      mn->payload = q;
      mn->payload_size = n;
      mn->payload_id = pid;
      mn->p->payload = q;
    } else if (r == 1) { /* replace, freeing the old one explicitly */
      void *old = mn->payload;
      new_payload(md, mn);
      gc_free(old);
    } else if (r == 2) { /* replace, leaving the old one to the collector */
      new_payload(md, mn);
    } else { /* drop */
      mn->payload = NULL;
      mn->p->payload = NULL;
    }
  }
  *nsub_out = nsub;
  return total;
}

static void set_edge(model_t *md, int64_t from, uint32_t e, int64_t to) {
  md->m[from].edges[e] = to;
  md->m[from].p->e[e] = to >= 0 ? md->m[to].p : NULL;
}

/* Phase 2: attach, rewire, drop.  No allocation here. */
static void phase_link(model_t *md, const int64_t *stage_ids, size_t nstage, const size_t *sub_start,
                       size_t nsub) {
  for (size_t s = 0; s < nsub; s++) {
    int64_t head = stage_ids[sub_start[s]];
    uint64_t r = t_rand(&md->rs) % 10;
    if (r < 6 || md->reach_n == 0) {
      size_t slot = (size_t)(t_rand(&md->rs) % NROOTS);
      md->root_ids[slot] = head;
      g_roots[slot] = md->m[head].p;
    } else {
      int64_t from = md->reach[t_rand(&md->rs) % md->reach_n];
      if (md->m[from].nedges > 0) set_edge(md, from, (uint32_t)(t_rand(&md->rs) % md->m[from].nedges), head);
    }
  }
  for (int i = 0; i < 60; i++) {
    int64_t from;
    if (nstage > 0 && (t_rand(&md->rs) % 3) == 0)
      from = stage_ids[t_rand(&md->rs) % nstage];
    else if (md->reach_n > 0)
      from = md->reach[t_rand(&md->rs) % md->reach_n];
    else
      continue;
    if (md->m[from].nedges == 0) continue;
    uint64_t r = t_rand(&md->rs) % 10;
    int64_t to = -1;
    if (r < 4 && md->reach_n > 0)
      to = md->reach[t_rand(&md->rs) % md->reach_n];
    else if (r < 7 && nstage > 0)
      to = stage_ids[t_rand(&md->rs) % nstage];
    set_edge(md, from, (uint32_t)(t_rand(&md->rs) % md->m[from].nedges), to);
  }
  for (int i = 0; i < 4; i++) {
    size_t slot = (size_t)(t_rand(&md->rs) % NROOTS);
    md->root_ids[slot] = -1;
    g_roots[slot] = NULL;
  }
  g_stage = NULL;
}

static void check_node(model_t *md, int64_t id) {
  mnode *mn = &md->m[id];
  snode *p = mn->p;
  if (gc_base(p) != p)
    cr_assert_fail("reachable node %lld at %p was reclaimed (gc_base = %p)", (long long)id, (void *)p,
                   gc_base(p));
  if (gc_size(p) < mn->size)
    cr_assert_fail("node %lld: gc_size %zu < %zu", (long long)id, gc_size(p), mn->size);
  if (p->id != (uint64_t)id || p->nedges != mn->nedges || p->size != mn->size)
    cr_assert_fail("node %lld at %p: header corrupted (id %llu, nedges %u, size %zu)", (long long)id,
                   (void *)p, (unsigned long long)p->id, p->nedges, p->size);
  for (uint32_t e = 0; e < mn->nedges; e++) {
    snode *want = mn->edges[e] >= 0 ? md->m[mn->edges[e]].p : NULL;
    if (p->e[e] != want)
      cr_assert_fail("node %lld: edge %u is %p, expected %p", (long long)id, e, (void *)p->e[e],
                     (void *)want);
  }
  size_t h = node_header(mn->nedges);
  long bad = t_bad((char *)p + h, mn->size - h, (uint64_t)id);
  if (bad >= 0)
    cr_assert_fail("node %lld at %p (%zu bytes) corrupted at offset %zu", (long long)id, (void *)p, mn->size,
                   h + (size_t)bad);
  if (p->payload != mn->payload) cr_assert_fail("node %lld: payload pointer changed", (long long)id);
  md->reach_bytes += mn->size;
  md->verified_bytes += mn->size;
  if (mn->payload != NULL) {
    if (gc_base(mn->payload) != mn->payload)
      cr_assert_fail("payload of node %lld (%s, %zu bytes) at %p was reclaimed", (long long)id,
                     mn->payload_atomic ? "atomic" : "scanned", mn->payload_size, mn->payload);
    if (gc_size(mn->payload) < mn->payload_size)
      cr_assert_fail("payload of node %lld: gc_size too small", (long long)id);
    bad = t_bad(mn->payload, mn->payload_size, mn->payload_id);
    if (bad >= 0)
      cr_assert_fail("payload of node %lld (%s, %zu bytes) corrupted at offset %ld", (long long)id,
                     mn->payload_atomic ? "atomic" : "scanned", mn->payload_size, bad);
    md->reach_bytes += mn->payload_size;
    md->verified_bytes += mn->payload_size;
  }
}

/* Phase 4: verify everything the model reaches; forget the rest. */
static void phase_verify(model_t *md) {
  md->epoch++;
  md->reach_n = 0;
  md->reach_bytes = 0;
  for (int r = 0; r < NROOTS; r++) {
    int64_t id = md->root_ids[r];
    if (g_roots[r] != (id >= 0 ? md->m[id].p : NULL)) cr_assert_fail("root slot %d changed", r);
    if (id < 0 || md->m[id].seen == md->epoch) continue;
    md->m[id].seen = md->epoch;
    if (md->reach_n == md->reach_cap) {
      md->reach_cap = md->reach_cap ? 2 * md->reach_cap : 4096;
      md->reach = realloc(md->reach, md->reach_cap * sizeof *md->reach);
    }
    md->reach[md->reach_n++] = id;
  }
  for (size_t q = 0; q < md->reach_n; q++) { /* BFS; reach doubles as the queue */
    int64_t id = md->reach[q];
    check_node(md, id);
    mnode *mn = &md->m[id];
    for (uint32_t e = 0; e < mn->nedges; e++) {
      int64_t t = mn->edges[e];
      if (t < 0 || md->m[t].seen == md->epoch) continue;
      if (md->m[t].p == NULL) cr_assert_fail("model: edge to forgotten node %lld", (long long)t);
      md->m[t].seen = md->epoch;
      if (md->reach_n == md->reach_cap) {
        md->reach_cap = md->reach_cap ? 2 * md->reach_cap : 4096;
        md->reach = realloc(md->reach, md->reach_cap * sizeof *md->reach);
      }
      md->reach[md->reach_n++] = t;
    }
  }
  for (size_t i = 0; i < md->n; i++)
    if (md->m[i].p != NULL && md->m[i].seen != md->epoch) md->m[i].p = NULL; /* garbage now */
}

static void stress(unsigned rounds, uint64_t seed) {
  static model_t md; /* static: its (malloc'ed) arrays are not roots anyway */
  memset(&md, 0, sizeof md);
  md.rs = seed;
  md.next_payload_id = (uint64_t)1 << 40;
  for (int r = 0; r < NROOTS; r++) md.root_ids[r] = -1;
  enum { STAGE_CAP = 600 };
  int64_t *stage_ids = malloc(STAGE_CAP * sizeof *stage_ids);
  size_t sub_start[8];
  size_t forced = 0, max_reach_nodes = 0;
  gc_stats_t s0 = t_stats();
  for (unsigned round = 0; round < rounds; round++) {
    size_t nsub;
    size_t nstage = phase_alloc(&md, stage_ids, STAGE_CAP, sub_start, &nsub);
    phase_link(&md, stage_ids, nstage, sub_start, nsub);
    t_churn_small((size_t)t_range(&md.rs, 1 * T_MiB, 12 * T_MiB), round);
    int collect_now = (round % 5) == 0;
    if (collect_now) {
      gc_collect();
      forced++;
    }
    gc_stats_t s = t_stats();
    phase_verify(&md);
    if (md.reach_n > max_reach_nodes) max_reach_nodes = md.reach_n;
    if (collect_now) {
      cr_assert_geq(s.live_bytes, md.reach_bytes,
                    "round %u: live_bytes %zu < %zu bytes the program can reach", round, s.live_bytes,
                    md.reach_bytes);
      cr_assert_leq(s.live_bytes, 3 * md.reach_bytes + 64 * T_MiB,
                    "round %u: live_bytes %zu for %zu reachable bytes: garbage is not reclaimed", round,
                    s.live_bytes, md.reach_bytes);
    }
  }
  gc_stats_t s1 = t_stats();
  cr_assert_gt(s1.collections - s0.collections, forced, "no collection was triggered by allocation pressure");
  cr_assert_gt(max_reach_nodes, 1000, "the graph stayed trivially small");
  t_collect();
  phase_verify(&md);
  T_ASSERT_HEAP_VALID();
  /* drop everything */
  for (int r = 0; r < NROOTS; r++) {
    g_roots[r] = NULL;
    md.root_ids[r] = -1;
  }
  t_collect();
  t_collect();
  cr_assert_lt(t_stats().live_bytes, 3 * s1.live_bytes / 4 + 8 * T_MiB, "dropping every root freed little");
  T_ASSERT_HEAP_VALID();
  free(stage_ids);
  free(md.m);
  free(md.reach);
}

Test(stress, random_graph, .timeout = 120.) { stress(45, 0xC0FFEE); }

Test(stress, random_graph_verify_every_collection, .timeout = 120.) {
  T_SETENV("CGC_VERIFY", "1");
  stress(30, 0xBADC0DE);
}

Test(stress, random_graph_small_heap_growth_tiny_mark_stack, .timeout = 120.) {
  T_SETENV("CGC_HEAP_GROWTH", "20");
  T_SETENV("CGC_MARK_STACK_MAX", "32");
  stress(30, 0x5EED);
}
