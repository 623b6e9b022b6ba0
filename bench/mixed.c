/*
 * mixed.c -- fragmentation, large objects, realloc and an object graph,
 * written once against bench/mode.h and built as mixed-cgc, mixed-bdwgc
 * and mixed-malloc.
 *
 * What it measures: a long-running program's heap rather than a tree
 * benchmark's.  A table of SLOTS live objects is replaced at random for
 * ROUNDS rounds (SLOTS operations each), with a realistic size mix:
 *
 *   90%  16..255 B          (log-uniform: each power of two equally likely)
 *    9%  256 B..4 KiB
 *    1%  8 KiB..1 MiB        (these are most of the bytes)
 *
 * so the allocator has to reuse holes of every size among long-lived
 * neighbours (fragmentation), serve and return large objects, and, for the
 * collectors, mark a big live set of mixed objects -- including some large
 * scanned ones -- at every collection.
 *
 * The objects (every one starts with a 16-byte header {id, size|kind, rc,
 * mark} and is filled with a pattern derived from its id and the offset):
 *
 *   buffer  30%: bm_alloc_atomic (payload bytes, never scanned); owned by
 *           its table slot only.
 *   record  70%: bm_alloc, scanned; a pointer to a private edge vector
 *           (scanned, 16 + 16*cap bytes: {record *, id} pairs) naming 0..3
 *           other records that were in the table when it was made.
 *
 * Edges always point from a newer record to an older one (a DAG), so a
 * record that leaves the table stays live -- reachable only through other
 * objects -- as long as some live record points to it; an edge vector is
 * only ever reachable through its record.
 *
 * 5% of the operations grow the object in a random slot by 1.5-3x instead
 * of replacing it, with bm_realloc: a buffer grows its payload (up to 4
 * MiB), a record grows its edge vector (a scanned object full of pointers,
 * up to 255 edges) and appends edges to older records in the table.
 *
 * malloc mode frees exactly the garbage: every object carries a reference
 * count (its table slot plus the edges to it), kept only under
 * `if (BM_MANUAL_FREE)`; when a replaced object's count drops to zero it is
 * freed, with its edge vector, and its targets are released in turn.  The
 * collectors do none of this.  Every mode makes the same graph from the
 * same fixed-seed PRNG.
 *
 * Checks (every mode does the same ones): a replaced object is verified in
 * full (header against the slot's expected id and size, every pattern
 * byte) and so is its edge vector and the header, id and first/last
 * pattern words of every record it points to; a grown object is checked
 * for what realloc preserved; at the end every object reachable from the
 * table is walked and verified in full.  In malloc mode the number of
 * blocks not freed must equal the number reachable (nothing leaked, nothing
 * freed early).  A failed check prints "mixed: FAILED ..." and exits 1.
 *
 * Output: stdout gets "mixed: ok checksum=0x... slots=S rounds=R ..." --
 * identical in every mode: the checksum mixes the id, size and edges of
 * every object replaced or grown and the final walk.  stderr gets
 * bm_report() with reachable_bytes= appended (what a perfect collector
 * would keep; compare with the peak heap and RSS).
 */
#include "mode.h"

#include <string.h>

/* ---- objects ------------------------------------------------------------ */

#define KIND_RECORD 0x80000000u /* in hdr.size_kind */
#define SIZE_MASK 0x7fffffffu

enum {
  BUFFER_HDR = 16,       /* sizeof(hdr) */
  RECORD_HDR = 24,       /* sizeof(record) */
  MAX_EDGES = 255,       /* edge vector: up to 16 + 16*255 = 4096 bytes */
  MAX_BUFFER = 4u << 20, /* a buffer is not grown past 4 MiB */
};

typedef struct hdr {
  uint32_t id;        /* unique, from 1 */
  uint32_t size_kind; /* total bytes, | KIND_RECORD */
  uint32_t rc;        /* malloc mode: table slot + edges pointing here */
  uint32_t mark;      /* set by the final walk */
} hdr;

struct record;

typedef struct edge {
  struct record *to;
  uint64_t id; /* to's id: a freed-and-reused target shows */
} edge;

typedef struct edges {
  uint32_t n, cap;
  uint32_t owner; /* the record's id */
  uint32_t pad;
  edge e[];
} edges;

typedef struct record {
  hdr h;
  edges *ev; /* NULL, or private */
} record;

_Static_assert(sizeof(hdr) == BUFFER_HDR, "header size");
_Static_assert(sizeof(record) == RECORD_HDR, "record size");
_Static_assert(sizeof(edges) == 16 && sizeof(edge) == 16, "edge vector layout");

static inline uint32_t obj_size(const hdr *h) { return h->size_kind & SIZE_MASK; }
static inline int is_record(const hdr *h) { return (h->size_kind & KIND_RECORD) != 0; }
static inline uint32_t payload_off(const hdr *h) { return is_record(h) ? RECORD_HDR : BUFFER_HDR; }
static inline size_t edges_bytes(uint32_t cap) { return sizeof(edges) + (size_t)cap * sizeof(edge); }

/* ---- PRNG, checksum ------------------------------------------------------ */

static uint64_t rng_state = 0x243f6a8885a308d3ull; /* fixed seed */

static inline uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline uint64_t rnd64(void) {
  rng_state += 0x9e3779b97f4a7c15ull;
  uint64_t x = rng_state;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Uniform in [0, n), n < 2^32. */
static inline uint32_t rnd(uint32_t n) { return (uint32_t)(((rnd64() >> 32) * n) >> 32); }

static unsigned long long checksum = 0xcbf29ce484222325ull;

static inline void mix(unsigned long long v) {
  checksum ^= v;
  checksum *= 0x100000001b3ull; /* FNV-1a step, over whole words */
}

/* ---- the pattern ----------------------------------------------------------
 * The 8-byte word at offset 8*i of object id is pat_base(id) + i*K: cheap to
 * write and check, different for every object, and independent of the
 * object's size, so a grown object just extends it. */

static inline uint64_t pat_base(uint32_t id) { return splitmix(id); }
#define PAT_STEP 0x9e3779b97f4a7c15ull

/* Fill bytes [from, to) of the object at p (from rounded down to a word:
 * the bytes before `from` in that word get the same values again). */
static void fill_pattern(void *p, uint32_t id, uint32_t from, uint32_t to) {
  unsigned char *b = p;
  uint64_t base = pat_base(id);
  uint32_t i = from / 8;
  for (; 8 * i + 8 <= to; i++) {
    uint64_t w = base + i * PAT_STEP;
    memcpy(b + 8 * i, &w, 8);
  }
  if (8 * i < to) {
    uint64_t w = base + i * PAT_STEP;
    memcpy(b + 8 * i, &w, to - 8 * i);
  }
}

/* Offset of the first byte of [from, to) that is not the pattern; -1 if
 * none. */
static long check_pattern(const void *p, uint32_t id, uint32_t from, uint32_t to) {
  const unsigned char *b = p;
  uint64_t base = pat_base(id);
  uint32_t i = from / 8;
  for (; 8 * i + 8 <= to; i++) {
    uint64_t w;
    memcpy(&w, b + 8 * i, 8);
    if (w != base + i * PAT_STEP) return 8L * i;
  }
  if (8 * i < to) {
    uint64_t w = base + i * PAT_STEP;
    if (memcmp(b + 8 * i, &w, to - 8 * i) != 0) return 8L * i;
  }
  return -1;
}

/* ---- state -------------------------------------------------------------- */

static uint32_t nslots;
static hdr **table;         /* bm_alloc'd (scanned), held by this global */
static uint32_t *slot_id;   /* expected id of each slot (plain malloc) */
static uint32_t *slot_size; /* expected size of each slot */
static uint32_t next_id = 1;
static int failed;

static unsigned long long n_replaced, n_grown, n_grow_skipped, n_edges_made;
static unsigned long long blocks_allocated, blocks_freed; /* objects + edge vectors */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  printf("mixed: FAILED ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
  failed = 1;
}

/* ---- malloc mode: reference counts -------------------------------------- */

static hdr **rel_stack;
static size_t rel_len, rel_cap;

static void rel_push(hdr *h) {
  if (rel_len == rel_cap) {
    rel_cap = rel_cap ? 2 * rel_cap : 1024;
    rel_stack = realloc(rel_stack, rel_cap * sizeof *rel_stack);
    if (rel_stack == NULL) bm_oom(rel_cap * sizeof *rel_stack);
  }
  rel_stack[rel_len++] = h;
}

/* Drop one reference to h; free whatever that makes garbage. */
static void release(hdr *h) {
  rel_push(h);
  while (rel_len > 0) {
    hdr *o = rel_stack[--rel_len];
    if (--o->rc != 0) continue;
    if (is_record(o)) {
      edges *ev = ((record *)o)->ev;
      if (ev != NULL) {
        for (uint32_t k = 0; k < ev->n; k++) rel_push(&ev->e[k].to->h);
        bm_free(ev);
        blocks_freed++;
      }
    }
    bm_free(o);
    blocks_freed++;
  }
}

/* ---- making and checking objects ---------------------------------------- */

/* Total size of a new object: see the table at the top. */
static uint32_t sample_size(void) {
  uint32_t u = rnd(1000), e;
  if (u < 10)
    e = 13 + rnd(7); /* [8 KiB, 1 MiB) */
  else if (u < 100)
    e = 8 + rnd(4); /* [256 B, 4 KiB) */
  else
    e = 4 + rnd(4); /* [16 B, 256 B) */
  return (1u << e) + rnd(1u << e);
}

/* A record in a random slot for a new edge from a record with id `from`
 * (edges only point to older records); NULL if the slot does not qualify. */
static record *edge_target(uint32_t from) {
  hdr *t = table[rnd(nslots)];
  if (t == NULL || !is_record(t) || t->id >= from) return NULL;
  return (record *)t;
}

static void add_edge(edges *ev, record *t) {
  ev->e[ev->n].to = t;
  ev->e[ev->n].id = t->h.id;
  ev->n++;
  n_edges_made++;
  if (BM_MANUAL_FREE) t->h.rc++;
}

static hdr *make_object(void) {
  uint32_t size = sample_size();
  uint32_t id = next_id++;
  hdr *h;
  if (rnd(10) < 3) {
    if (size < BUFFER_HDR) size = BUFFER_HDR;
    h = bm_alloc_atomic(size);
    h->size_kind = size;
  } else {
    static const uint8_t nedges[20] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3};
    record *targets[3];
    uint32_t want = nedges[rnd(20)], n = 0;
    for (uint32_t k = 0; k < want; k++) {
      record *t = edge_target(id);
      if (t != NULL) targets[n++] = t;
    }
    if (size < RECORD_HDR) size = RECORD_HDR;
    record *r = bm_alloc(size);
    r->h.size_kind = size | KIND_RECORD;
    r->h.id = id;
    if (n > 0) {
      edges *ev = bm_alloc(edges_bytes(n));
      blocks_allocated++;
      ev->cap = n;
      ev->owner = id;
      for (uint32_t k = 0; k < n; k++) add_edge(ev, targets[k]);
      r->ev = ev;
    }
    h = &r->h;
  }
  blocks_allocated++;
  h->id = id;
  h->rc = 1;
  h->mark = 0;
  fill_pattern(h, id, payload_off(h), size);
  return h;
}

/* Cheap check of an edge's target: header, id, first and last pattern
 * word. */
static int check_target(const edge *e) {
  const hdr *t = &e->to->h;
  if (t->id != e->id || !is_record(t)) return 0;
  uint32_t size = obj_size(t);
  if (size < RECORD_HDR || size > MAX_BUFFER) return 0;
  if (size == RECORD_HDR) return 1; /* no payload */
  if (check_pattern(t, t->id, RECORD_HDR, size < RECORD_HDR + 8 ? size : RECORD_HDR + 8) >= 0) return 0;
  return check_pattern(t, t->id, (size - 1) & ~7u, size) < 0; /* >= RECORD_HDR */
}

/* Check a record's edge vector and its targets; mix them in. */
static int check_edges(const record *r) {
  const edges *ev = r->ev;
  if (ev == NULL) {
    mix(0);
    return 1;
  }
  if (ev->owner != r->h.id || ev->n > ev->cap || ev->cap > MAX_EDGES) {
    fail("edge vector of object %u: owner %u, %u/%u edges", r->h.id, ev->owner, ev->n, ev->cap);
    return 0;
  }
  mix(ev->n);
  for (uint32_t k = 0; k < ev->n; k++) {
    const edge *e = &ev->e[k];
    if (e->id >= r->h.id || !check_target(e)) {
      fail("object %u: edge %u to object %llu is broken (found id %u)", r->h.id, k, (unsigned long long)e->id,
           e->to->h.id);
      return 0;
    }
    mix(e->id);
  }
  return 1;
}

/* Full check of an object whose id and size are known. */
static int check_object(const hdr *h, uint32_t id, uint32_t size, const char *where) {
  if (h->id != id || obj_size(h) != size) {
    fail("%s: object %u (size %u) has header id %u size %u", where, id, size, h->id, obj_size(h));
    return 0;
  }
  long bad = check_pattern(h, id, payload_off(h), size);
  if (bad >= 0) {
    fail("%s: object %u (size %u) corrupted at offset %ld", where, id, size, bad);
    return 0;
  }
  return 1;
}

/* ---- the operations ----------------------------------------------------- */

static void replace(uint32_t j) {
  hdr *old = table[j];
  if (!check_object(old, slot_id[j], slot_size[j], "replaced")) return;
  mix(old->id);
  mix(obj_size(old));
  if (is_record(old) && !check_edges((record *)old)) return;
  table[j] = NULL;
  if (BM_MANUAL_FREE) release(old);
  old = NULL;
  hdr *h = make_object();
  table[j] = h;
  slot_id[j] = h->id;
  slot_size[j] = obj_size(h);
  n_replaced++;
}

static void grow(uint32_t j) {
  hdr *h = table[j];
  uint32_t id = slot_id[j], size = slot_size[j];
  uint32_t factor = 3 + rnd(4); /* new = old * factor / 2: 1.5x .. 3x */
  if (!check_object(h, id, size, "grown")) return;
  mix(id);
  if (!is_record(h)) {
    uint64_t nsize = (uint64_t)size * factor / 2;
    if (nsize > MAX_BUFFER) {
      n_grow_skipped++;
      mix(0);
      return;
    }
    h = bm_realloc(h, (size_t)nsize);
    table[j] = h;
    long bad = check_pattern(h, id, BUFFER_HDR, size);
    if (h->id != id || bad >= 0) {
      fail("realloc of buffer %u from %u to %u bytes lost its content (offset %ld)", id, size,
           (unsigned)nsize, bad);
      return;
    }
    h->size_kind = (uint32_t)nsize;
    fill_pattern(h, id, size, (uint32_t)nsize);
    slot_size[j] = (uint32_t)nsize;
    mix(nsize);
  } else {
    record *r = (record *)h;
    edges *ev = r->ev;
    uint32_t n = ev ? ev->n : 0, cap = ev ? ev->cap : 0;
    uint32_t ncap = cap < 2 ? cap + 2 : cap * factor / 2;
    if (ncap > MAX_EDGES) {
      n_grow_skipped++;
      mix(0);
      return;
    }
    if (ev == NULL) {
      ev = bm_alloc(edges_bytes(ncap));
      blocks_allocated++;
      ev->owner = id;
    } else {
      /* check what realloc must preserve: the old edges */
      if (!check_edges(r)) return;
      ev = bm_realloc(ev, edges_bytes(ncap));
      if (ev->owner != id || ev->n != n) {
        fail("realloc of edge vector of record %u lost its content", id);
        return;
      }
      for (uint32_t k = 0; k < n; k++)
        if (!check_target(&ev->e[k])) {
          fail("realloc of edge vector of record %u lost edge %u", id, k);
          return;
        }
    }
    ev->cap = ncap;
    r->ev = ev;
    uint32_t add = 1 + rnd(3);
    for (uint32_t k = 0; k < add && ev->n < ncap; k++) {
      record *t = edge_target(id);
      if (t != NULL) add_edge(ev, t);
    }
    mix(ncap);
    mix(ev->n);
  }
  n_grown++;
}

/* ---- the final walk ------------------------------------------------------ */

static unsigned long long reach_objects, reach_blocks, reach_bytes;

static void final_walk(void) {
  /* a plain malloc'd stack: nothing is allocated from the collectors
   * during the walk, and everything on it is reachable from the table */
  size_t cap = 1024, len = 0;
  hdr **stack = malloc(cap * sizeof *stack);
  if (stack == NULL) bm_oom(cap * sizeof *stack);

  for (uint32_t j = 0; j < nslots && !failed; j++) {
    hdr *h = table[j];
    if (!check_object(h, slot_id[j], slot_size[j], "final walk")) break;
    if (h->mark) continue; /* already reached through an edge */
    h->mark = 1;
    stack[len++] = h;
    while (len > 0 && !failed) {
      hdr *o = stack[--len];
      uint32_t size = obj_size(o);
      if (!check_object(o, o->id, size, "final walk")) break;
      mix(o->id);
      reach_objects++;
      reach_blocks++;
      reach_bytes += size;
      if (!is_record(o)) continue;
      record *r = (record *)o;
      if (!check_edges(r)) break;
      if (r->ev == NULL) continue;
      reach_blocks++;
      reach_bytes += edges_bytes(r->ev->cap);
      for (uint32_t k = 0; k < r->ev->n; k++) {
        hdr *t = &r->ev->e[k].to->h;
        if (t->mark) continue;
        t->mark = 1;
        if (len == cap) {
          cap *= 2;
          stack = realloc(stack, cap * sizeof *stack);
          if (stack == NULL) bm_oom(cap * sizeof *stack);
        }
        stack[len++] = t;
      }
    }
  }
  free(stack);
  mix(reach_objects);
  mix(reach_bytes);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: mixed [SLOTS [ROUNDS]]\n"
          "  random replacement in a table of SLOTS objects (default 50000) for ROUNDS\n"
          "  rounds of SLOTS operations (default 8), %s mode.\n",
          bm_name());
}

static int parse(const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int main(int argc, char **argv) {
  long slots = 50000, rounds = 8;

  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc > 3 || (argc > 1 && !parse(argv[1], 1, 10000000, &slots)) ||
      (argc > 2 && !parse(argv[2], 0, 100000, &rounds))) {
    usage(stderr);
    return 2;
  }
  if ((unsigned long long)slots * (unsigned long long)(rounds + 1) > 0xffffff00ull) {
    fprintf(stderr, "mixed: too many operations (object ids are 32-bit)\n");
    return 2;
  }

  bm_init();

  nslots = (uint32_t)slots;
  table = bm_alloc(nslots * sizeof *table);
  slot_id = malloc(nslots * sizeof *slot_id);
  slot_size = malloc(nslots * sizeof *slot_size);
  if (slot_id == NULL || slot_size == NULL) bm_oom(nslots * sizeof *slot_id);

  for (uint32_t j = 0; j < nslots; j++) {
    hdr *h = make_object();
    table[j] = h;
    slot_id[j] = h->id;
    slot_size[j] = obj_size(h);
  }

  unsigned long long ops = (unsigned long long)nslots * (unsigned long long)rounds;
  for (unsigned long long op = 0; op < ops && !failed; op++) {
    uint32_t j = rnd(nslots);
    if (rnd(100) < 5)
      grow(j);
    else
      replace(j);
  }

  if (!failed) final_walk();

  if (!failed && BM_MANUAL_FREE && blocks_allocated - blocks_freed != reach_blocks)
    fail("malloc mode: %llu blocks not freed, %llu reachable", blocks_allocated - blocks_freed, reach_blocks);

  if (!failed)
    printf("mixed: ok checksum=0x%016llx slots=%u rounds=%ld replaced=%llu grown=%llu"
           " edges=%llu reachable=%llu retained=%llu\n",
           checksum, nslots, rounds, n_replaced, n_grown, n_edges_made, reach_objects,
           reach_objects - nslots);
  fflush(stdout);
  bm_report_add("reachable_bytes=%llu", reach_bytes);
  bm_report("mixed");
  return failed ? 1 : 0;
}
