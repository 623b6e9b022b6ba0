/*
 * pause.c -- allocation latency with a large live heap, written once
 * against bench/mode.h and built as pause-cgc, pause-bdwgc and pause-malloc.
 *
 * What it measures, and why: throughput benchmarks (gcbench, binarytrees)
 * hide how a stop-the-world collector spends its time.  A program with a
 * big live heap -- a cache, an in-memory table, a game world -- sees every
 * full collection as one allocation call that lasts as long as marking the
 * whole live heap.  This program makes that visible:
 *
 *   1. Build LIVE_MB (argument 1, default 200) of long-lived data: 4096
 *      linked lists of 48-byte nodes {next, key, 4 payload words} (about
 *      4.4 million nodes for 200 MB), each list allocated in one go, as a
 *      program loading its data would.  It stays alive, unchanged, to the
 *      end.  This phase is not timed per allocation.
 *   2. Allocate GARBAGE_MB (argument 2, default 2048) of short-lived
 *      objects: scanned objects of 16..128 bytes (55%), atomic buffers of
 *      16..256 bytes (25%), records -- a 32-byte scanned header that alone
 *      points to an atomic payload of 16..512 bytes (15%, two allocations),
 *      and atomic buffers of 512..4096 bytes (5%); about 200 bytes per
 *      allocation on average, so 10.5 million allocations by default.
 *      Each new object replaces a random slot of an 8192-entry table, so
 *      lifetimes are geometric (mean 8192 objects; about 2 MB of young data
 *      is live at any time).  In malloc mode the replaced object is freed
 *      (outside the timed interval).  EVERY allocation call of this phase
 *      is timed: bm_now_ns() right before and right after it.  Every 1024
 *      objects, one node of the live data is read and checked.
 *   3. Check every young object's stamps when it is dropped, and walk and
 *      check all the live data at the end (every list complete, in order,
 *      payloads intact): an object reclaimed while still reachable shows
 *      up as a FAILED line.
 *
 * The latencies go into a log-linear histogram, not a sample array: values
 * below 64 ns have a bucket each; above, every power of two is split into
 * 64 equal buckets, so a bucket is at most 1/64 (1.6%) of its lower bound
 * wide.  A percentile is reported as the upper bound of the bucket that
 * holds it (capped at the maximum): never below the exact value, at most
 * 1.6% above it.  lat_max_us is exact.  Every sample includes about one
 * clock read's worth of overhead (clock_gettime through the vDSO: about
 * 40 ns a call on the reference VM), in every mode alike, so p50 mostly
 * measures the clock; p99.9 and up and the maximum are the point.  With
 * -v, phase times and the histogram (by power of two) go to stderr.
 *
 * Arguments: full run `pause` (200 MB live, 2048 MB garbage: about 2-3 s
 * with glibc on the reference 2-core VM), quick run `pause 50 300`.
 *
 * Output: stdout gets one line, "pause: ok checksum=0x... nodes=N
 * allocs=A probes=P", identical in every mode (the checksum mixes the
 * verified live data, the sizes allocated and the stamps checked; nothing
 * timed), or "pause: FAILED ..." and exit status 1.  The latencies are
 * appended to the bench-stats line on stderr: allocs (timed calls),
 * lat_p50_us, lat_p99_us, lat_p999_us, lat_p9999_us, lat_max_us, and
 * lat_over_1ms / lat_over_10ms (calls slower than 1 ms / 10 ms, to
 * within a bucket: about the number of pauses a user would notice).
 */
#include "mode.h"

#include <string.h>

/* ---- deterministic random numbers --------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t hash64(uint64_t x) { /* a bijective mixer */
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

static uint64_t checksum = 0xcbf29ce484222325ull;
static int failed;

static void mix(uint64_t v) {
  checksum ^= v;
  checksum *= 0x100000001b3ull;
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  if (failed) return; /* report the first problem only */
  va_list ap;
  va_start(ap, fmt);
  printf("pause: FAILED ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  failed = 1;
}

/* ---- the long-lived data ------------------------------------------------- */

typedef struct Node {
  struct Node *next;
  uint64_t key;
  uint64_t val[4]; /* a pattern derived from the key */
} Node;            /* 48 bytes */

enum { kLists = 4096 };

typedef struct Live {
  Node **head; /* kLists list heads (32 KiB) */
  size_t per_list, nnodes;
} Live;

static Live live; /* a root: the whole structure hangs off it */

static inline uint64_t val_pattern(uint64_t key, int i) { return hash64(key * 4 + (uint64_t)i + 1); }

/* List l holds keys l * per_list .. (l + 1) * per_list - 1 in order, each
 * list allocated in one go, as a program that loads its data would. */
static void live_build(size_t live_bytes) {
  live.per_list = live_bytes / sizeof(Node) / kLists;
  live.nnodes = live.per_list * kLists;
  live.head = bm_alloc(kLists * sizeof *live.head);
  uint64_t key = 0;
  for (size_t l = 0; l < kLists; l++) {
    Node **link = &live.head[l];
    for (size_t j = 0; j < live.per_list; j++, key++) {
      Node *n = bm_alloc(sizeof *n);
      n->key = key;
      for (int i = 0; i < 4; i++) n->val[i] = val_pattern(key, i);
      *link = n;
      link = &n->next;
    }
  }
}

static int node_intact(const Node *n, uint64_t key) {
  if (n->key != key) return 0;
  for (int i = 0; i < 4; i++)
    if (n->val[i] != val_pattern(key, i)) return 0;
  return 1;
}

/* Every list must hold exactly its keys, in order, with intact payloads. */
static void live_verify(void) {
  uint64_t count = 0, valsum = 0;
  for (size_t l = 0; l < kLists && !failed; l++) {
    uint64_t key = l * live.per_list, end = key + live.per_list;
    const Node *n = live.head[l];
    for (; n != NULL && key < end; n = n->next, key++) {
      if (!node_intact(n, key)) {
        fail("live list %zu: node %llu is corrupt", l, (unsigned long long)key);
        return;
      }
      count++;
      valsum += n->val[0] ^ n->val[3];
    }
    if (n != NULL || key != end) {
      fail("live list %zu: %llu nodes, want %zu", l, (unsigned long long)(key - l * live.per_list),
           live.per_list);
      return;
    }
  }
  mix(count);
  mix(valsum);
}

/* Spot-check one node (a short walk) while the garbage is made. */
static void live_probe(uint64_t r) {
  size_t l = (size_t)(r % kLists), steps = (size_t)((r >> 16) % 64);
  if (steps >= live.per_list) return;
  const Node *n = live.head[l];
  for (size_t j = 0; j < steps; j++) n = n->next;
  uint64_t key = l * live.per_list + steps;
  if (!node_intact(n, key))
    fail("live list %zu: node %llu corrupt during the churn", l, (unsigned long long)key);
  else
    mix(n->val[1]);
}

static void live_free(void) { /* malloc mode only */
  for (size_t l = 0; l < kLists; l++) {
    Node *n = live.head[l];
    while (n != NULL) {
      Node *next = n->next;
      bm_free(n);
      n = next;
    }
  }
  bm_free(live.head);
}

/* ---- the latency histogram ----------------------------------------------- */

enum {
  kSubBits = 6,
  kSub = 1 << kSubBits,                     /* buckets per power of two */
  kBuckets = kSub + (64 - kSubBits) * kSub, /* covers every uint64_t */
};

static uint64_t hist[kBuckets];
static uint64_t lat_max_ns, lat_count;

static inline unsigned hist_bucket(uint64_t v) {
  if (v < kSub) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= kSubBits */
  unsigned sub = (unsigned)(v >> (e - kSubBits)) - kSub;
  return kSub + (e - kSubBits) * kSub + sub;
}

/* The largest value that falls into bucket i. */
static uint64_t hist_upper(unsigned i) {
  if (i < kSub) return i;
  unsigned e = (i - kSub) / kSub + kSubBits, sub = (i - kSub) % kSub;
  uint64_t lo = (uint64_t)(kSub + sub) << (e - kSubBits);
  return lo + ((uint64_t)1 << (e - kSubBits)) - 1;
}

static inline void hist_record(uint64_t ns) {
  hist[hist_bucket(ns)]++;
  if (ns > lat_max_ns) lat_max_ns = ns;
  lat_count++;
}

/* The q-quantile (0 < q < 1), as the upper bound of its bucket. */
static double hist_quantile_us(double q) {
  if (lat_count == 0) return 0.0;
  double want = q * (double)lat_count;
  uint64_t rank = (uint64_t)want; /* ceil(q * count), at least 1 */
  if ((double)rank < want || rank == 0) rank++;
  uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; i++) {
    seen += hist[i];
    if (seen >= rank) {
      uint64_t v = hist_upper(i);
      return (double)(v < lat_max_ns ? v : lat_max_ns) / 1e3;
    }
  }
  return (double)lat_max_ns / 1e3;
}

static uint64_t hist_count_over(uint64_t ns) {
  uint64_t n = 0;
  for (unsigned i = 0; i < kBuckets; i++)
    if (hist_upper(i) > ns) n += hist[i]; /* whole buckets: within 1.6% of ns */
  return n;
}

/* Counts per power-of-two range of latency (-v). */
static void hist_print(FILE *f) {
  fprintf(f, "pause: allocation latency histogram (ns range: count)\n");
  uint64_t lo = 0, n = 0;
  for (unsigned i = 0; i < kBuckets; i++) {
    uint64_t hi = hist_upper(i);
    n += hist[i];
    if ((hi & (hi + 1)) == 0 || i + 1 == kBuckets) { /* hi = 2^k - 1: a range ends */
      if (n)
        fprintf(f, "  %12llu .. %12llu: %llu\n", (unsigned long long)lo, (unsigned long long)hi,
                (unsigned long long)n);
      lo = hi + 1;
      n = 0;
    }
  }
}

/* ---- the short-lived objects --------------------------------------------- */

enum { kSlots = 8192 };
enum { K_SCANNED, K_ATOMIC, K_RECORD };

typedef struct Record {
  uint64_t stamp;
  unsigned char *payload; /* atomic, only reachable through here */
  size_t len;
  uint64_t stamp2;
} Record; /* 32 bytes */

/* The young objects: slot[i] with its kind and size.  Globals, so roots. */
static void *slot[kSlots];
static uint32_t slot_kind[kSlots], slot_size[kSlots];
static uint64_t slot_stamp[kSlots];

static inline void *timed_alloc(size_t n, int atomic) {
  uint64_t t0 = bm_now_ns();
  void *p = atomic ? bm_alloc_atomic(n) : bm_alloc(n);
  uint64_t t1 = bm_now_ns();
  hist_record(t1 - t0);
  return p;
}

static inline void put_stamps(unsigned char *p, size_t n, uint64_t s) {
  memcpy(p, &s, 8);
  uint64_t t = ~s;
  memcpy(p + n - 8, &t, 8);
}

static inline int stamps_ok(const unsigned char *p, size_t n, uint64_t s) {
  uint64_t a, b;
  memcpy(&a, p, 8);
  memcpy(&b, p + n - 8, 8);
  return a == s && b == ~s;
}

/* Check (and in malloc mode free) the object in slot i. */
static void slot_drop(unsigned i) {
  void *p = slot[i];
  if (p == NULL) return;
  uint64_t s = slot_stamp[i];
  size_t n = slot_size[i];
  int ok;
  if (slot_kind[i] == K_RECORD) {
    Record *r = p;
    ok = r->stamp == s && r->stamp2 == ~s && r->len == n && stamps_ok(r->payload, n, s);
    if (BM_MANUAL_FREE) bm_free(r->payload);
  } else {
    ok = stamps_ok(p, n, s);
  }
  if (!ok) fail("young object 0x%016llx (slot %u) overwritten", (unsigned long long)s, i);
  mix(s);
  bm_free(p);
  slot[i] = NULL;
}

/* Returns the number of allocation calls made. */
static uint64_t churn(uint64_t garbage_bytes, uint64_t *probes) {
  uint64_t bytes = 0, serial = 0, calls = 0;
  while (bytes < garbage_bytes && !failed) {
    uint64_t r = rng_next();
    unsigned i = (unsigned)(r % kSlots);
    unsigned pick = (unsigned)((r >> 16) % 100);
    uint64_t s = hash64(++serial);
    slot_drop(i);
    if (pick < 55) { /* scanned, 16..128 bytes */
      size_t n = 16 + 8 * ((r >> 24) % 15);
      unsigned char *p = timed_alloc(n, 0);
      put_stamps(p, n, s);
      slot_kind[i] = K_SCANNED;
      slot_size[i] = (uint32_t)n;
      slot[i] = p;
      bytes += n;
      calls++;
    } else if (pick < 85) { /* atomic, 16..256 bytes */
      size_t n = 16 + 8 * ((r >> 24) % 31);
      unsigned char *p = timed_alloc(n, 1);
      put_stamps(p, n, s);
      slot_kind[i] = K_ATOMIC;
      slot_size[i] = (uint32_t)n;
      slot[i] = p;
      bytes += n;
      calls++;
    } else if (pick < 95) { /* a record and its payload, 32 + 16..512 bytes */
      size_t n = 16 + 8 * ((r >> 24) % 63);
      Record *rec = timed_alloc(sizeof *rec, 0);
      slot[i] = rec; /* reachable before the second allocation */
      rec->stamp = s;
      rec->stamp2 = ~s;
      rec->len = n;
      rec->payload = timed_alloc(n, 1);
      put_stamps(rec->payload, n, s);
      slot_kind[i] = K_RECORD;
      slot_size[i] = (uint32_t)n;
      bytes += sizeof *rec + n;
      calls += 2;
    } else { /* an atomic buffer, 512..4096 bytes */
      size_t n = 512 + 64 * ((r >> 24) % 57);
      unsigned char *p = timed_alloc(n, 1);
      put_stamps(p, n, s);
      slot_kind[i] = K_ATOMIC;
      slot_size[i] = (uint32_t)n;
      slot[i] = p;
      bytes += n;
      calls++;
    }
    slot_stamp[i] = s;
    if ((serial & 1023) == 0 && live.per_list > 0) { /* the live data is in use */
      live_probe(r >> 32);
      ++*probes;
    }
  }
  mix(bytes);
  return calls;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: pause [-v] [LIVE_MB [GARBAGE_MB]]\n"
          "  keep LIVE_MB (default 200) of linked lists alive while\n"
          "  allocating GARBAGE_MB (default 2048) of short-lived objects, timing\n"
          "  every allocation (%s mode).  Quick setting: pause 50 300.\n"
          "  -v: phase times and the latency histogram on stderr.\n",
          bm_name());
}

static int parse_mb(const char *s, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 0 || v > 1L << 20) return 0;
  *out = v;
  return 1;
}

int main(int argc, char **argv) {
  long live_mb = 200, garbage_mb = 2048;
  int verbose = 0;

  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    verbose = 1;
    argv++;
    argc--;
  }
  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc > 3 || (argc > 1 && !parse_mb(argv[1], &live_mb)) ||
      (argc > 2 && !parse_mb(argv[2], &garbage_mb))) {
    usage(stderr);
    return 2;
  }

  bm_init();

  live_build((size_t)live_mb << 20);

  uint64_t probes = 0, t0 = bm_now_ns();
  uint64_t calls = churn((uint64_t)garbage_mb << 20, &probes);
  if (verbose) {
    fprintf(stderr, "pause: live data built in %.1f ms; %llu allocations in %.1f ms\n",
            (double)(t0 - bm_start_ns) / 1e6, (unsigned long long)calls, (double)(bm_now_ns() - t0) / 1e6);
    hist_print(stderr);
  }

  for (unsigned i = 0; i < kSlots; i++) slot_drop(i); /* check the survivors */
  if (!failed) live_verify();
  if (BM_MANUAL_FREE) live_free();
  mix(calls);

  if (!failed)
    printf("pause: ok checksum=0x%016llx nodes=%zu allocs=%llu probes=%llu\n", (unsigned long long)checksum,
           live.nnodes, (unsigned long long)calls, (unsigned long long)probes);
  fflush(stdout);

  bm_report_add("allocs=%llu", (unsigned long long)lat_count);
  bm_report_add("lat_p50_us=%.3f", hist_quantile_us(0.5));
  bm_report_add("lat_p99_us=%.3f", hist_quantile_us(0.99));
  bm_report_add("lat_p999_us=%.3f", hist_quantile_us(0.999));
  bm_report_add("lat_p9999_us=%.3f", hist_quantile_us(0.9999));
  bm_report_add("lat_max_us=%.3f", (double)lat_max_ns / 1e3);
  bm_report_add("lat_over_1ms=%llu", (unsigned long long)hist_count_over(1000000));
  bm_report_add("lat_over_10ms=%llu", (unsigned long long)hist_count_over(10000000));
  bm_report("pause");
  return failed ? 1 : 0;
}
