/*
 * gcbench.c -- the Ellis/Kovac/Boehm GCBench, written once against
 * bench/mode.h and built as gcbench-cgc, gcbench-bdwgc and gcbench-malloc.
 *
 * The workload is the classic one (Hans Boehm's C translation of John
 * Ellis and Pete Kovac's Java benchmark):
 *
 *   1. "Stretch" the heap with a binary tree of depth 18 (~512 Ki nodes),
 *      then drop it.
 *   2. Build a long-lived tree of depth 16 and a long-lived atomic array
 *      of 500,000 doubles (half of it filled), kept until the end.
 *   3. For depth = 4, 6, ..., 16 build NumIters(depth) =
 *      2 * TreeSize(18) / TreeSize(depth) temporary trees top-down
 *      (Populate: parents first, children stored into older objects) and
 *      as many bottom-up (MakeTree: children first), dropping each one.
 *
 * Nodes are {left, right, i, j} (24 bytes).  What this version adds:
 *
 *   - REPEATS (argument, default 1) runs step 3 that many times, so that a
 *     run lasts long enough to time; steps 1-2 run once, as in the original.
 *   - In malloc mode every dropped tree is freed by a post-order walk (the
 *     original's destroy_Node); under the collectors it is just dropped.
 *   - Every node records its height (i) and which builder made it (j).
 *     The first tree of each batch, the stretch tree, and the long-lived
 *     tree (after every repetition) are walked and checked; the array is
 *     checked at the end.  Every mode does exactly the same checking, so it
 *     costs every mode the same (about 2% of the nodes built).
 *   - The checksum mixes, in order, the node counts built and verified in
 *     every phase; it depends only on the work done, so every mode must
 *     print the same line.  Each count is also compared with its analytic
 *     value as it is made.
 *
 * Output: stdout gets one line, "gcbench: ok checksum=0x... nodes=N
 * verified=M repeats=R", or "gcbench: FAILED ..." and exit status 1 when a
 * tree, the array or a count is wrong.  stderr gets the bm_report() line,
 * and with -v the per-phase times of the original.
 */
#include "mode.h"

#include <string.h>

enum {
  kStretchTreeDepth = 18,   /* about 16 MiB of nodes in the original */
  kLongLivedTreeDepth = 16, /* about 4 MiB */
  kArraySize = 500000,      /* about 4 MiB */
  kMinTreeDepth = 4,
  kMaxTreeDepth = 16,
};

/* j: which builder made the node */
enum { TAG_STRETCH = 0x5354, TAG_LONG = 0x4c4c, TAG_TOPDOWN = 0x5444, TAG_BOTTOMUP = 0x4255 };

typedef struct Node0 {
  struct Node0 *left;
  struct Node0 *right;
  int i, j;
} Node0;
typedef Node0 *Node;

static int verbose;
static unsigned long long nodes_built;    /* every node ever allocated */
static unsigned long long nodes_verified; /* every node walked by check_tree */
static unsigned long long checksum = 0xcbf29ce484222325ull;
static int failed;

/* Nodes in a tree of depth i. */
static long TreeSize(int i) { return (1L << (i + 1)) - 1; }

/* Trees built of depth i in each direction: same node count per depth. */
static long NumIters(int i) { return 2 * TreeSize(kStretchTreeDepth) / TreeSize(i); }

static inline Node new_node(int height, int tag) {
  Node n = bm_alloc(sizeof(Node0)); /* zeroed: left = right = NULL */
  n->i = height;
  n->j = tag;
  nodes_built++;
  return n;
}

/* Build the children of thisNode top down, assigning to older objects. */
static void Populate(int iDepth, Node thisNode, int tag) {
  if (iDepth <= 0) return;
  iDepth--;
  thisNode->left = new_node(iDepth, tag);
  thisNode->right = new_node(iDepth, tag);
  Populate(iDepth, thisNode->left, tag);
  Populate(iDepth, thisNode->right, tag);
}

/* Build a tree bottom up. */
static Node MakeTree(int iDepth, int tag) {
  if (iDepth <= 0) return new_node(0, tag);
  Node left = MakeTree(iDepth - 1, tag);
  Node right = MakeTree(iDepth - 1, tag);
  Node result = new_node(iDepth, tag);
  result->left = left;
  result->right = right;
  return result;
}

/* Free a dropped tree (malloc mode only: the original's destroy_Node). */
static void destroy_tree(Node n) {
  if (n->left) destroy_tree(n->left);
  if (n->right) destroy_tree(n->right);
  bm_free(n);
}

static void drop_tree(Node n) {
  if (BM_MANUAL_FREE) destroy_tree(n);
}

/* Count the nodes of a complete tree of the given height whose nodes all
 * carry tag; -1 at the first node out of shape. */
static long check_tree(const Node0 *n, int height, int tag) {
  if (n == NULL || n->i != height || n->j != tag) return -1;
  if (height == 0) return (n->left == NULL && n->right == NULL) ? 1 : -1;
  long l = check_tree(n->left, height - 1, tag);
  if (l < 0) return -1;
  long r = check_tree(n->right, height - 1, tag);
  if (r < 0) return -1;
  return l + r + 1;
}

static void mix(unsigned long long v) {
  checksum ^= v;
  checksum *= 0x100000001b3ull; /* FNV-1a step, over whole words */
}

/* Record a count in the checksum and compare it with its analytic value. */
static void account(const char *what, int depth, long long got, long long want) {
  mix((unsigned long long)depth);
  mix((unsigned long long)got);
  if (got != want) {
    printf("gcbench: FAILED %s (depth %d): got %lld, want %lld\n", what, depth, got, want);
    fflush(stdout);
    failed = 1;
  }
}

static void verify(const char *what, const Node0 *n, int height, int tag) {
  long c = check_tree(n, height, tag);
  if (c > 0) nodes_verified += (unsigned long long)c;
  account(what, height, c, TreeSize(height));
}

static double ms_since(uint64_t t0) { return (double)(bm_now_ns() - t0) / 1e6; }

static void TimeConstruction(int depth) {
  long iNumIters = NumIters(depth);
  unsigned long long before;
  uint64_t t0;
  long i;

  if (verbose) fprintf(stderr, "Creating %ld trees of depth %d\n", iNumIters, depth);

  before = nodes_built;
  t0 = bm_now_ns();
  for (i = 0; i < iNumIters; ++i) {
    Node tempTree = new_node(depth, TAG_TOPDOWN);
    Populate(depth, tempTree, TAG_TOPDOWN);
    if (i == 0) verify("top-down tree", tempTree, depth, TAG_TOPDOWN);
    drop_tree(tempTree);
  }
  if (verbose) fprintf(stderr, "\tTop down construction took %.1f msec\n", ms_since(t0));
  account("top-down nodes built", depth, (long long)(nodes_built - before),
          (long long)iNumIters * TreeSize(depth));

  before = nodes_built;
  t0 = bm_now_ns();
  for (i = 0; i < iNumIters; ++i) {
    Node tempTree = MakeTree(depth, TAG_BOTTOMUP);
    if (i == 0) verify("bottom-up tree", tempTree, depth, TAG_BOTTOMUP);
    drop_tree(tempTree);
  }
  if (verbose) fprintf(stderr, "\tBottom up construction took %.1f msec\n", ms_since(t0));
  account("bottom-up nodes built", depth, (long long)(nodes_built - before),
          (long long)iNumIters * TreeSize(depth));
}

static double array_value(int i) { return i == 0 ? 0.0 : 1.0 / i; }

static int check_array(const double *array) {
  for (int i = 0; i < kArraySize / 2; ++i)
    if (array[i] != array_value(i)) return i;
  return -1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: gcbench [-v] [REPEATS]\n"
          "  Ellis/Kovac/Boehm GCBench (%s mode); REPEATS (default 1) runs the\n"
          "  depth %d..%d construction phase that many times.  -v: per-phase times.\n",
          bm_name(), (int)kMinTreeDepth, (int)kMaxTreeDepth);
}

int main(int argc, char **argv) {
  long repeats = 1;
  int argi = 1;

  if (argi < argc && strcmp(argv[argi], "-v") == 0) {
    verbose = 1;
    argi++;
  }
  if (argi < argc && (strcmp(argv[argi], "-h") == 0 || strcmp(argv[argi], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argi < argc) {
    char *end;
    repeats = strtol(argv[argi], &end, 10);
    if (*argv[argi] == '\0' || *end != '\0' || repeats < 1 || repeats > 100000) {
      usage(stderr);
      return 2;
    }
    argi++;
  }
  if (argi != argc) {
    usage(stderr);
    return 2;
  }

  bm_init();

  Node longLivedTree;
  Node tempTree;
  double *array;
  uint64_t t0 = bm_now_ns();

  if (verbose) {
    fprintf(stderr, "Garbage Collector Test (%s)\n", bm_name());
    fprintf(stderr, " Stretching memory with a binary tree of depth %d\n", (int)kStretchTreeDepth);
  }

  /* Stretch the memory space quickly. */
  tempTree = MakeTree(kStretchTreeDepth, TAG_STRETCH);
  verify("stretch tree", tempTree, kStretchTreeDepth, TAG_STRETCH);
  drop_tree(tempTree);
  tempTree = NULL;

  /* Create a long-lived object. */
  if (verbose) fprintf(stderr, " Creating a long-lived binary tree of depth %d\n", (int)kLongLivedTreeDepth);
  longLivedTree = new_node(kLongLivedTreeDepth, TAG_LONG);
  Populate(kLongLivedTreeDepth, longLivedTree, TAG_LONG);

  /* Create a long-lived array, filling half of it. */
  if (verbose) fprintf(stderr, " Creating a long-lived array of %d doubles\n", (int)kArraySize);
  array = bm_alloc_atomic(sizeof(double) * kArraySize);
  for (int i = 0; i < kArraySize / 2; ++i) array[i] = array_value(i);

  for (long r = 0; r < repeats && !failed; ++r) {
    for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) TimeConstruction(d);
    verify("long-lived tree", longLivedTree, kLongLivedTreeDepth, TAG_LONG);
  }

  int bad = check_array(array);
  if (bad >= 0) {
    printf("gcbench: FAILED long-lived array: element %d is %g, want %g\n", bad, array[bad],
           array_value(bad));
    failed = 1;
  }
  account("long-lived tree at exit", kLongLivedTreeDepth,
          check_tree(longLivedTree, kLongLivedTreeDepth, TAG_LONG), TreeSize(kLongLivedTreeDepth));

  if (verbose) fprintf(stderr, "Completed in %.1f msec\n", ms_since(t0));

  if (!failed)
    printf("gcbench: ok checksum=0x%016llx nodes=%llu verified=%llu repeats=%ld\n", checksum, nodes_built,
           nodes_verified, repeats);
  fflush(stdout);
  bm_report("gcbench");
  return failed ? 1 : 0;
}
