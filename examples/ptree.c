/*
 * ptree.c -- a persistent (immutable) search tree on a garbage-collected heap.
 *
 * Nodes are never modified once built.  Setting a key copies the path from
 * the root down to it and returns a new root; every other node is shared
 * with the previous version.  So every old version stays valid for as long
 * as something points at it.  The program keeps a few versions (in a global
 * array: global data is a root for the collector) and forgets all the
 * others, whose unshared nodes become garbage for cgc to reclaim.
 *
 * The tree is a treap: each node also carries a priority, a hash of its key,
 * and parents have priorities no lower than their children's, which keeps
 * the tree balanced (in expectation) whatever the order of insertion.
 *
 * The run: 200000 inserts of distinct keys, then 100000 updates of existing
 * keys.  At the end the kept versions must be exactly as they were, and the
 * final tree must be sorted, a valid treap, of the right size and hold the
 * right values.  Prints one line per kept version, then OK and a checksum.
 */
#include <cgc.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct node {
  const struct node *left, *right;
  uint32_t key;
  uint32_t prio;
  uint64_t value;
};

#define NKEYS 200000u

static uint32_t key_of(uint32_t i) { /* distinct for distinct i */
  return i * 2654435761u;
}

static uint32_t prio_of(uint32_t key) { /* a 32-bit integer hash */
  key = (key ^ (key >> 16)) * 0x7feb352du;
  key = (key ^ (key >> 15)) * 0x846ca68bu;
  return key ^ (key >> 16);
}

static const struct node *node(uint32_t key, uint64_t value, const struct node *left,
                               const struct node *right) {
  struct node *n = gc_malloc(sizeof *n);
  if (n == NULL) {
    perror("ptree");
    exit(EXIT_FAILURE);
  }
  n->left = left;
  n->right = right;
  n->key = key;
  n->prio = prio_of(key);
  n->value = value;
  return n;
}

/* The tree t with key bound to value.  Returns t itself when nothing
 * changes; otherwise new nodes on the path, shared nodes elsewhere. */
static const struct node *set(const struct node *t, uint32_t key, uint64_t value) {
  if (t == NULL) return node(key, value, NULL, NULL);
  if (key == t->key) return t->value == value ? t : node(key, value, t->left, t->right);
  if (key < t->key) {
    const struct node *l = set(t->left, key, value);
    if (l == t->left) return t;
    if (l->prio > t->prio) /* rotate right: l moves up */
      return node(l->key, l->value, l->left, node(t->key, t->value, l->right, t->right));
    return node(t->key, t->value, l, t->right);
  }
  const struct node *r = set(t->right, key, value);
  if (r == t->right) return t;
  if (r->prio > t->prio) /* rotate left: r moves up */
    return node(r->key, r->value, node(t->key, t->value, t->left, r->left), r->right);
  return node(t->key, t->value, t->left, r);
}

static const struct node *find(const struct node *t, uint32_t key) {
  while (t != NULL && t->key != key) t = key < t->key ? t->left : t->right;
  return t;
}

/* In-order walk: counts nodes, folds keys and values into a checksum, and
 * checks order and the treap property. */
struct walk {
  size_t size;
  uint64_t sum;
  int depth;
  int ok;
  int have_prev;
  uint32_t prev;
};

static void walk(const struct node *t, int depth, struct walk *w) {
  if (t == NULL) return;
  if ((t->left != NULL && t->left->prio > t->prio) || (t->right != NULL && t->right->prio > t->prio) ||
      t->prio != prio_of(t->key))
    w->ok = 0;
  walk(t->left, depth + 1, w);
  if (w->have_prev && t->key <= w->prev) w->ok = 0;
  w->have_prev = 1;
  w->prev = t->key;
  w->size++;
  w->sum = (w->sum ^ t->key) * 1099511628211u;
  w->sum = (w->sum ^ t->value) * 1099511628211u;
  if (depth > w->depth) w->depth = depth;
  walk(t->right, depth + 1, w);
}

static struct walk check(const struct node *t) {
  struct walk w = {.sum = 14695981039346656037u, .ok = 1};
  walk(t, 1, &w);
  return w;
}

/* The versions kept alive, and what they looked like when taken. */
static struct {
  const struct node *root;
  unsigned ops;
  struct walk seen;
} kept[4];

int main(void) {
  const struct node *root = NULL;
  unsigned ops = 0, nkept = 0;

  for (uint32_t i = 0; i < NKEYS; i++) {
    root = set(root, key_of(i), i);
    ops++;
    if (ops == 1 || ops == 1000 || ops == NKEYS / 2 || ops == NKEYS) {
      kept[nkept].root = root;
      kept[nkept].ops = ops;
      kept[nkept].seen = check(root);
      nkept++;
    }
  }
  /* Updates: even-numbered keys get a new value.  The versions above must
   * keep the old values. */
  for (uint32_t i = 0; i < NKEYS; i += 2) {
    root = set(root, key_of(i), (uint64_t)i + NKEYS);
    ops++;
  }

  gc_collect(); /* all forgotten versions are garbage by now */

  int ok = 1;
  for (unsigned v = 0; v < nkept; v++) {
    struct walk now = check(kept[v].root);
    if (!now.ok || now.size != kept[v].ops || now.size != kept[v].seen.size || now.sum != kept[v].seen.sum) {
      fprintf(stderr, "ptree: version %u changed\n", kept[v].ops);
      ok = 0;
    }
    printf("version after %6u ops: %6zu keys, depth %2d, checksum %016" PRIx64 "\n", kept[v].ops, now.size,
           now.depth, now.sum);
  }

  struct walk fin = check(root);
  if (!fin.ok || fin.size != NKEYS) {
    fprintf(stderr, "ptree: final tree is damaged\n");
    ok = 0;
  }
  for (uint32_t i = 0; i < NKEYS; i++) {
    const struct node *n = find(root, key_of(i));
    const struct node *old = find(kept[nkept - 1].root, key_of(i));
    uint64_t want = i % 2 == 0 ? (uint64_t)i + NKEYS : i;
    if (n == NULL || n->value != want || old == NULL || old->value != i) {
      fprintf(stderr, "ptree: wrong value for key %" PRIu32 "\n", key_of(i));
      ok = 0;
      break;
    }
  }

  gc_stats_t s = {.size = sizeof s};
  gc_get_stats(&s);
  fprintf(stderr, "cgc: %zu collections, heap %zu bytes (peak %zu), live %zu bytes\n", s.collections,
          s.heap_bytes, s.heap_bytes_peak, s.live_bytes);

  if (!ok) return EXIT_FAILURE;
  printf("OK: %u ops, %zu keys, depth %d, checksum %016" PRIx64 "\n", ops, fin.size, fin.depth, fin.sum);
  return EXIT_SUCCESS;
}
