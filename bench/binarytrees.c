/*
 * binarytrees.c -- the Computer Language Benchmarks Game "binary-trees",
 * single-threaded, written once against bench/mode.h and built as
 * binarytrees-cgc, binarytrees-bdwgc and binarytrees-malloc.
 *
 * What it measures: the allocation fast path and the cost of collecting
 * short-lived garbage, with the smallest objects a tree program can have.
 * A node is {left, right}: 16 bytes, the size where allocators' per-object
 * overheads show most (bdwgc, for one, rounds a 16-byte request up to a
 * 32-byte slot because of its extra byte at the end of every object).  A
 * long-lived tree stays live the whole run, so every collection also has
 * to mark it.
 *
 * The program (MAX = argument, default 16, at least 6):
 *
 *   1. a "stretch" tree of depth MAX+1 is built, checked and dropped;
 *   2. a long-lived tree of depth MAX is built and kept to the end;
 *   3. for d = 4, 6, ..., MAX: 2^(MAX-d+4) trees of depth d are built
 *      bottom-up (children first), each checked (its nodes counted) and
 *      dropped;
 *   4. the long-lived tree is checked.
 *
 * "Dropped" means freed by a post-order walk in malloc mode (the
 * Benchmarks Game's C programs free their trees too) and simply forgotten
 * under the collectors.  Every tree is checked in every mode: the check
 * counts the nodes and verifies the shape (every node has two children or
 * none, every leaf is at depth d), so a node that was collected while live
 * and reused shows up as a wrong count.
 *
 * Output: stdout gets the Benchmarks Game lines ("stretch tree of depth
 * ...", "N trees of depth D check: C", "long lived tree of depth ...") and
 * then "binarytrees: ok checksum=0x... nodes=N depth=MAX", identical in
 * every mode; the checksum mixes every (depth, count, check) line, and
 * every check is also compared with its analytic value.  A wrong check
 * prints "binarytrees: FAILED ..." and exits 1.  stderr gets bm_report().
 */
#include "mode.h"

#include <string.h>

enum { kMinDepth = 4 };

typedef struct node {
  struct node *left;
  struct node *right;
} node;

static unsigned long long nodes_built;
static unsigned long long checksum = 0xcbf29ce484222325ull;
static int failed;

static void mix(unsigned long long v) {
  checksum ^= v;
  checksum *= 0x100000001b3ull; /* FNV-1a step, over whole words */
}

/* Nodes in a complete tree of depth d. */
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

/* Record one result line in the checksum and compare it with its value. */
static void account(const char *what, int depth, long long iterations, long long check) {
  long long want = iterations * tree_size(depth);
  mix((unsigned long long)depth);
  mix((unsigned long long)iterations);
  mix((unsigned long long)check);
  if (check != want) {
    printf("binarytrees: FAILED %s of depth %d: check %lld, want %lld\n", what, depth, check, want);
    fflush(stdout);
    failed = 1;
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: binarytrees [MAXDEPTH]\n"
          "  Benchmarks Game binary-trees (%s mode), MAXDEPTH 6..30 (default 16).\n",
          bm_name());
}

int main(int argc, char **argv) {
  int max_depth = 16;

  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc > 2) {
    usage(stderr);
    return 2;
  }
  if (argc == 2) {
    char *end;
    long v = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || v < kMinDepth + 2 || v > 30) {
      usage(stderr);
      return 2;
    }
    max_depth = (int)v;
  }

  bm_init();

  /* 1. stretch */
  int stretch_depth = max_depth + 1;
  node *stretch = bottom_up_tree(stretch_depth);
  nodes_built += (unsigned long long)tree_size(stretch_depth);
  long long check = item_check(stretch, stretch_depth);
  printf("stretch tree of depth %d\t check: %lld\n", stretch_depth, check);
  account("stretch tree", stretch_depth, 1, check);
  drop_tree(stretch);
  stretch = NULL;

  /* 2. long-lived tree */
  node *long_lived = bottom_up_tree(max_depth);
  nodes_built += (unsigned long long)tree_size(max_depth);

  /* 3. short-lived trees */
  for (int d = kMinDepth; d <= max_depth && !failed; d += 2) {
    long long iterations = 1LL << (max_depth - d + kMinDepth);
    check = 0;
    for (long long i = 0; i < iterations; i++) {
      node *t = bottom_up_tree(d);
      long long c = item_check(t, d);
      if (c < 0) {
        printf("binarytrees: FAILED tree %lld of depth %d is out of shape\n", i, d);
        fflush(stdout);
        failed = 1;
        break;
      }
      check += c;
      drop_tree(t);
    }
    nodes_built += (unsigned long long)(iterations * tree_size(d));
    if (failed) break;
    printf("%lld\t trees of depth %d\t check: %lld\n", iterations, d, check);
    account("trees", d, iterations, check);
  }

  /* 4. the long-lived tree, after all that garbage */
  if (!failed) {
    check = item_check(long_lived, max_depth);
    printf("long lived tree of depth %d\t check: %lld\n", max_depth, check);
    account("long lived tree", max_depth, 1, check);
    /* malloc mode: free it too, so that a leak checker finds nothing */
    drop_tree(long_lived);
  }

  if (!failed)
    printf("binarytrees: ok checksum=0x%016llx nodes=%llu depth=%d\n", checksum, nodes_built, max_depth);
  fflush(stdout);
  bm_report("binarytrees");
  return failed ? 1 : 0;
}
