/*
 * wordfreq.c -- count word frequencies in a garbage-collected hash table.
 *
 * Demonstrates:
 *   - scanned objects (gc_malloc) that hold pointers: the bucket array and
 *     the entries;
 *   - atomic objects (gc_malloc_atomic, gc_strndup) for plain characters;
 *   - a table that grows by allocating a bigger bucket array and simply
 *     dropping the old one, a word buffer grown with gc_realloc, and
 *     temporary strings that are never freed;
 *   - gc_collect and gc_get_stats.
 * Nothing is ever freed: the collector reclaims what is no longer reachable.
 *
 * Usage: wordfreq < text              count the words of standard input
 *        wordfreq --generate N SEED   count N generated words
 * A word is a run of ASCII letters, folded to lower case.  Prints the total,
 * the number of distinct words and the ten most frequent ones; statistics
 * from the collector go to standard error.
 */
#include <cgc.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  struct entry *next; /* next entry in the same bucket */
  char *word;         /* atomic copy made by gc_strndup */
  size_t len;
  uint64_t hash;
  size_t count;
};

struct table {
  struct entry **buckets; /* gc_malloc'd: zeroed and scanned */
  size_t nbuckets;        /* a power of two */
  size_t nentries;
  size_t total; /* words counted */
};

/* cgc reports failure the way malloc does: NULL with errno ENOMEM. */
static void *need(void *p) {
  if (p == NULL) {
    perror("wordfreq");
    exit(EXIT_FAILURE);
  }
  return p;
}

static uint64_t hash(const char *s, size_t len) { /* FNV-1a */
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

static void table_init(struct table *t) {
  t->nbuckets = 16;
  t->buckets = need(gc_malloc(t->nbuckets * sizeof *t->buckets));
  t->nentries = 0;
  t->total = 0;
}

/* Double the bucket array.  The old array just becomes garbage. */
static void table_grow(struct table *t) {
  size_t n = 2 * t->nbuckets;
  struct entry **b = need(gc_malloc(n * sizeof *b));
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct entry *e = t->buckets[i];
    while (e != NULL) {
      struct entry *next = e->next;
      size_t j = e->hash & (n - 1);
      e->next = b[j];
      b[j] = e;
      e = next;
    }
  }
  t->buckets = b;
  t->nbuckets = n;
}

static void count_word(struct table *t, const char *w, size_t len) {
  uint64_t h = hash(w, len);
  struct entry **bucket = &t->buckets[h & (t->nbuckets - 1)];
  t->total++;
  for (struct entry *e = *bucket; e != NULL; e = e->next)
    if (e->hash == h && e->len == len && memcmp(e->word, w, len) == 0) {
      e->count++;
      return;
    }
  struct entry *e = need(gc_malloc(sizeof *e));
  e->word = need(gc_strndup(w, len));
  e->len = len;
  e->hash = h;
  e->count = 1;
  e->next = *bucket;
  *bucket = e;
  if (++t->nentries > t->nbuckets) table_grow(t);
}

static void count_stream(struct table *t, FILE *in) {
  size_t cap = 16, len = 0;
  char *w = need(gc_malloc_atomic(cap));
  int c;
  do {
    c = getc(in);
    if (c != EOF && isalpha(c)) {
      if (len == cap) {
        cap *= 2;
        w = need(gc_realloc(w, cap)); /* stays atomic */
      }
      w[len++] = (char)tolower(c);
    } else if (len > 0) {
      count_word(t, w, len);
      len = 0;
    }
  } while (c != EOF);
}

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Word number k of an invented language: the base-20 digits of k + 1
 * spelled as two-letter syllables, so different k give different words.
 * The string is a temporary: it becomes garbage once counted. */
static char *invented_word(size_t k) {
  static const char syllables[] = "kalomineruvositapedugahobizecywafojuxeqi";
  char *w = need(gc_malloc_atomic(2 * 15 + 1)), *p = w; /* 20^15 > 2^64 */
  for (size_t n = k + 1; n > 0; n /= 20) {
    *p++ = syllables[2 * (n % 20)];
    *p++ = syllables[2 * (n % 20) + 1];
  }
  *p = '\0';
  return w;
}

/* n words drawn from a 20000-word vocabulary, skewed towards low word
 * numbers (k = V * u^3 for u uniform in [0, 1)), like natural text. */
static void count_generated(struct table *t, size_t n, uint64_t seed) {
  const uint64_t vocabulary = 20000;
  for (size_t i = 0; i < n; i++) {
    uint64_t u = next_random(&seed) >> 44; /* 20 bits */
    uint64_t k = (((u * u) >> 20) * u >> 20) * vocabulary >> 20;
    char *w = invented_word(k);
    count_word(t, w, strlen(w));
  }
}

/* More frequent first; equal counts in alphabetical order. */
static int by_count(const void *a, const void *b) {
  const struct entry *x = *(struct entry *const *)a;
  const struct entry *y = *(struct entry *const *)b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return strcmp(x->word, y->word);
}

/* Walk the whole table and check that it is intact. */
static int table_ok(const struct table *t) {
  size_t entries = 0, total = 0;
  for (size_t i = 0; i < t->nbuckets; i++)
    for (const struct entry *e = t->buckets[i]; e != NULL; e = e->next) {
      if (strlen(e->word) != e->len || hash(e->word, e->len) != e->hash ||
          (e->hash & (t->nbuckets - 1)) != i || e->count == 0)
        return 0;
      entries++;
      total += e->count;
    }
  return entries == t->nentries && total == t->total;
}

int main(int argc, char **argv) {
  struct table t;
  table_init(&t);

  if (argc == 4 && strcmp(argv[1], "--generate") == 0)
    count_generated(&t, strtoul(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
  else if (argc == 1)
    count_stream(&t, stdin);
  else {
    fprintf(stderr, "usage: %s [--generate N SEED] < text\n", argv[0]);
    return EXIT_FAILURE;
  }

  /* Not needed for correctness: collect now so that the check below runs
   * over a heap from which all the garbage has just been swept. */
  gc_collect();
  if (!table_ok(&t)) {
    fprintf(stderr, "wordfreq: self-check failed: the table is damaged\n");
    return EXIT_FAILURE;
  }

  struct entry **all = need(gc_malloc(t.nentries * sizeof *all));
  size_t n = 0;
  for (size_t i = 0; i < t.nbuckets; i++)
    for (struct entry *e = t.buckets[i]; e != NULL; e = e->next) all[n++] = e;
  qsort(all, n, sizeof *all, by_count);

  printf("%zu words, %zu distinct\n", t.total, t.nentries);
  for (size_t i = 0; i < n && i < 10; i++) printf("%8zu  %s\n", all[i]->count, all[i]->word);

  gc_stats_t s = {.size = sizeof s};
  gc_get_stats(&s);
  fprintf(stderr, "cgc: %zu collections, heap %zu bytes (peak %zu), live %zu bytes\n", s.collections,
          s.heap_bytes, s.heap_bytes_peak, s.live_bytes);
  return EXIT_SUCCESS;
}
