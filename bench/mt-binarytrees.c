/*
 * mt-binarytrees.c -- binary-trees (see binarytrees.c) with N threads,
 * written once against bench/mode.h and built as mt-binarytrees-cgc,
 * mt-binarytrees-bdwgc and mt-binarytrees-malloc.
 *
 * What it measures: allocation and collection when several threads
 * allocate at once -- contention on the allocator (thread caches, locks),
 * and for the collectors stopping the world and marking the stacks of
 * every thread.  Nodes are {left, right}, 16 bytes, as in binarytrees.
 *
 * The program (arguments THREADS (default 2) and MAX (default 16)):
 *
 *   1. the main thread builds, checks and drops a stretch tree of depth
 *      MAX+1, then builds a long-lived tree of depth MAX, shared by all
 *      threads (it stays live while they allocate; under the collectors
 *      it is reachable only from the main thread's stack, and the main
 *      thread is itself one of the workers);
 *   2. THREADS workers (the main thread and THREADS-1 pthreads) each take,
 *      for every d = 4, 6, ..., MAX, a fixed contiguous share of the
 *      2^(MAX-d+4) trees of depth d, build them bottom-up, check (count)
 *      and drop each one; the split depends only on the tree index, so the
 *      totals and the checksum do not depend on THREADS;
 *   3. the main thread joins the workers, prints the per-depth totals and
 *      checks the long-lived tree.
 *
 * Dropped trees are freed by a post-order walk in malloc mode and simply
 * forgotten under the collectors.  With THREADS == 1 no thread is created
 * at all: the main thread does all the work, in every mode.
 *
 * Output: stdout gets the Benchmarks Game lines and then
 * "mt-binarytrees: ok checksum=0x... nodes=N depth=MAX", identical in
 * every mode and for every THREADS.  A wrong check prints
 * "mt-binarytrees: FAILED ..." and exits 1.  stderr gets bm_report()
 * (with threads=N appended).
 */
#include "mode.h"

#include <pthread.h>
#include <string.h>

enum { kMinDepth = 4, kMaxThreads = 256, kMaxDepthLimit = 30 };

typedef struct node {
  struct node *left;
  struct node *right;
} node;

typedef struct worker {
  pthread_t tid;
  int index;
  int nthreads;
  int max_depth;
  int failed_depth;                    /* -1, or the depth of a bad tree */
  long long check[kMaxDepthLimit + 1]; /* per depth: sum of this share's checks */
  long long built[kMaxDepthLimit + 1]; /* per depth: trees built */
} worker;

static unsigned long long checksum = 0xcbf29ce484222325ull;
static int failed;

static void mix(unsigned long long v) {
  checksum ^= v;
  checksum *= 0x100000001b3ull; /* FNV-1a step, over whole words */
}

static long long tree_size(int d) { return (1LL << (d + 1)) - 1; }

static node *bottom_up_tree(int depth) {
  node *n = bm_alloc(sizeof(node)); /* zeroed: a leaf */
  if (depth > 0) {
    n->left = bottom_up_tree(depth - 1);
    n->right = bottom_up_tree(depth - 1);
  }
  return n;
}

/* The node count of a complete tree of the given depth; -1 at the first
 * node out of shape. */
static long long item_check(const node *n, int depth) {
  if (n->left == NULL || n->right == NULL)
    return (n->left == NULL && n->right == NULL && depth == 0) ? 1 : -1;
  if (depth == 0) return -1;
  long long l = item_check(n->left, depth - 1);
  if (l < 0) return -1;
  long long r = item_check(n->right, depth - 1);
  if (r < 0) return -1;
  return 1 + l + r;
}

/* malloc mode only: free a dropped tree. */
static void delete_tree(node *n) {
  if (n->left) {
    delete_tree(n->left);
    delete_tree(n->right);
  }
  bm_free(n);
}

static void drop_tree(node *n) {
  if (BM_MANUAL_FREE) delete_tree(n);
}

/* Worker w builds trees [lo, hi) of each depth: a contiguous share. */
static void *work(void *arg) {
  worker *w = arg;
  for (int d = kMinDepth; d <= w->max_depth; d += 2) {
    long long iterations = 1LL << (w->max_depth - d + kMinDepth);
    long long lo = iterations * w->index / w->nthreads;
    long long hi = iterations * (w->index + 1) / w->nthreads;
    long long check = 0;
    for (long long i = lo; i < hi; i++) {
      node *t = bottom_up_tree(d);
      long long c = item_check(t, d);
      if (c < 0) {
        w->failed_depth = d;
        return NULL;
      }
      check += c;
      drop_tree(t);
    }
    w->check[d] = check;
    w->built[d] = hi - lo;
  }
  return NULL;
}

static void account(const char *what, int depth, long long iterations, long long check) {
  long long want = iterations * tree_size(depth);
  mix((unsigned long long)depth);
  mix((unsigned long long)iterations);
  mix((unsigned long long)check);
  if (check != want) {
    printf("mt-binarytrees: FAILED %s of depth %d: check %lld, want %lld\n", what, depth, check, want);
    fflush(stdout);
    failed = 1;
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: mt-binarytrees [THREADS [MAXDEPTH]]\n"
          "  binary-trees with THREADS threads (%s mode): THREADS 1..%d (default 2),\n"
          "  MAXDEPTH 6..%d (default 16).\n",
          bm_name(), (int)kMaxThreads, (int)kMaxDepthLimit);
}

static int parse(const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

static worker workers[kMaxThreads];

int main(int argc, char **argv) {
  long nthreads = 2, max_depth = 16;

  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc > 3 || (argc > 1 && !parse(argv[1], 1, kMaxThreads, &nthreads)) ||
      (argc > 2 && !parse(argv[2], kMinDepth + 2, kMaxDepthLimit, &max_depth))) {
    usage(stderr);
    return 2;
  }

  bm_init();

  /* 1. stretch tree, then the shared long-lived tree */
  int stretch_depth = (int)max_depth + 1;
  node *stretch = bottom_up_tree(stretch_depth);
  long long check = item_check(stretch, stretch_depth);
  printf("stretch tree of depth %d\t check: %lld\n", stretch_depth, check);
  account("stretch tree", stretch_depth, 1, check);
  drop_tree(stretch);
  stretch = NULL;

  node *long_lived = bottom_up_tree((int)max_depth);
  unsigned long long nodes_built = (unsigned long long)(tree_size(stretch_depth) + tree_size((int)max_depth));

  /* 2. the workers; worker 0 is the main thread */
  for (int t = 0; t < nthreads; t++) {
    workers[t].index = t;
    workers[t].nthreads = (int)nthreads;
    workers[t].max_depth = (int)max_depth;
    workers[t].failed_depth = -1;
  }
  int started = 1;
  for (int t = 1; t < nthreads; t++) {
    int e = pthread_create(&workers[t].tid, NULL, work, &workers[t]);
    if (e != 0) {
      fprintf(stderr, "mt-binarytrees: pthread_create: %s\n", strerror(e));
      failed = 1;
      break;
    }
    started++;
  }
  if (!failed) work(&workers[0]);
  for (int t = 1; t < started; t++) {
    int e = pthread_join(workers[t].tid, NULL);
    if (e != 0) {
      fprintf(stderr, "mt-binarytrees: pthread_join: %s\n", strerror(e));
      failed = 1;
    }
  }
  if (failed) return 1;

  /* 3. totals per depth, in order */
  for (int t = 0; t < nthreads && !failed; t++) {
    if (workers[t].failed_depth >= 0) {
      printf("mt-binarytrees: FAILED thread %d: a tree of depth %d is out of shape\n", t,
             workers[t].failed_depth);
      fflush(stdout);
      failed = 1;
    }
  }
  for (int d = kMinDepth; d <= max_depth && !failed; d += 2) {
    long long iterations = 0;
    check = 0;
    for (int t = 0; t < nthreads; t++) {
      iterations += workers[t].built[d];
      check += workers[t].check[d];
    }
    nodes_built += (unsigned long long)(iterations * tree_size(d));
    printf("%lld\t trees of depth %d\t check: %lld\n", iterations, d, check);
    account("trees", d, iterations, check);
    if (iterations != 1LL << (max_depth - d + kMinDepth)) {
      printf("mt-binarytrees: FAILED depth %d: %lld trees built\n", d, iterations);
      failed = 1;
    }
  }

  if (!failed) {
    check = item_check(long_lived, (int)max_depth);
    printf("long lived tree of depth %ld\t check: %lld\n", max_depth, check);
    account("long lived tree", (int)max_depth, 1, check);
    /* malloc mode: free it too, so that a leak checker finds nothing */
    drop_tree(long_lived);
  }

  if (!failed)
    printf("mt-binarytrees: ok checksum=0x%016llx nodes=%llu depth=%ld\n", checksum, nodes_built, max_depth);
  fflush(stdout);
  bm_report_add("threads=%ld", nthreads);
  bm_report("mt-binarytrees");
  return failed ? 1 : 0;
}
