/*
 * strbuild.c -- a growable string builder on the garbage-collected heap.
 *
 * The builder is a small scanned object (gc_malloc) pointing at a character
 * buffer that is atomic (gc_malloc_atomic: it holds no pointers, so the
 * collector never scans it) and grows with gc_realloc, which keeps it
 * atomic.  Every field is first formatted into a temporary string that is
 * simply dropped after use; there is no free() anywhere.
 *
 * The program builds a 100000-row table as CSV and then as JSON, each piece
 * by piece.  While appending it keeps its own running length and checksum
 * of the pieces; the finished texts must match them.  Prints the first
 * lines of each text, their sizes and checksums, then OK.
 */
#include <cgc.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NROWS 100000u

static void *need(void *p) {
  if (p == NULL) {
    perror("strbuild");
    exit(EXIT_FAILURE);
  }
  return p;
}

/* ---- The builder ---- */

struct sb {
  char *buf; /* atomic; buf[len] == '\0' */
  size_t len, cap;
};

static struct sb *sb_new(void) {
  struct sb *b = need(gc_malloc(sizeof *b));
  b->cap = 16;
  b->buf = need(gc_malloc_atomic(b->cap));
  b->buf[0] = '\0';
  return b;
}

static void sb_add(struct sb *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    while (b->len + n + 1 > b->cap) b->cap *= 2;
    b->buf = need(gc_realloc(b->buf, b->cap));
  }
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = '\0';
}

static void sb_addc(struct sb *b, char c) { sb_add(b, &c, 1); }

/* The string built so far, with the spare room trimmed off. */
static char *sb_str(struct sb *b) {
  b->cap = b->len + 1;
  b->buf = need(gc_realloc(b->buf, b->cap));
  return b->buf;
}

/* ---- Temporary strings ---- */

/* printf into a new atomic string. */
static char *fmt(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(NULL, 0, format, ap);
  va_end(ap);
  char *s = need(gc_malloc_atomic((size_t)n + 1));
  va_start(ap, format);
  vsnprintf(s, (size_t)n + 1, format, ap);
  va_end(ap);
  return s;
}

/* A CSV field: quoted, with quotes doubled, if it needs to be. */
static char *csv_field(const char *s) {
  if (strpbrk(s, ",\"\n") == NULL) return gc_strdup(s);
  struct sb *b = sb_new();
  sb_addc(b, '"');
  for (; *s != '\0'; s++) {
    if (*s == '"') sb_addc(b, '"');
    sb_addc(b, *s);
  }
  sb_addc(b, '"');
  return sb_str(b);
}

/* A JSON string literal. */
static char *json_string(const char *s) {
  struct sb *b = sb_new();
  sb_addc(b, '"');
  for (; *s != '\0'; s++) {
    if (*s == '"' || *s == '\\') sb_addc(b, '\\');
    sb_addc(b, *s);
  }
  sb_addc(b, '"');
  return sb_str(b);
}

/* ---- The data and the check ---- */

static const char *const names[] = {
    "Ada Lovelace", "Alan Turing",    "Grace Hopper",   "Hopper, Grace", "Edsger \"EWD\" Dijkstra",
    "Ken Thompson", "Barbara Liskov", "C:\\Users\\dmr", "Niklaus Wirth",
};

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}
#define FNV_START 14695981039346656037u

/* A builder plus the length and checksum its pieces should add up to. */
struct text {
  struct sb *b;
  size_t len;
  uint64_t sum;
};

static void put(struct text *t, const char *piece) {
  size_t n = strlen(piece);
  sb_add(t->b, piece, n);
  t->len += n;
  t->sum = fnv1a(t->sum, piece, n);
}

/* The amount of row i in cents: a hash of i, below 1000.00. */
static unsigned cents(uint32_t i) {
  i *= 2654435761u;
  i = (i ^ (i >> 13)) * 0x5bd1e995u;
  return (i ^ (i >> 15)) % 100000u;
}

static char *build_csv(struct text *t) {
  put(t, "id,name,amount\n");
  for (uint32_t i = 1; i <= NROWS; i++) {
    put(t, fmt("%" PRIu32 ",", i));
    put(t, csv_field(names[i % (sizeof names / sizeof *names)]));
    put(t, fmt(",%u.%02u\n", cents(i) / 100, cents(i) % 100));
  }
  return sb_str(t->b);
}

static char *build_json(struct text *t) {
  put(t, "[");
  for (uint32_t i = 1; i <= NROWS; i++) {
    put(t, fmt("%s\n  {\"id\": %" PRIu32 ", \"name\": ", i > 1 ? "," : "", i));
    put(t, json_string(names[i % (sizeof names / sizeof *names)]));
    put(t, fmt(", \"amount\": %u.%02u}", cents(i) / 100, cents(i) % 100));
  }
  put(t, "\n]\n");
  return sb_str(t->b);
}

/* Checks s against t, prints its first `lines` lines and a summary. */
static int report(const char *what, const char *s, const struct text *t, int lines) {
  size_t len = strlen(s);
  uint64_t sum = fnv1a(FNV_START, s, len);
  size_t head = 0;
  for (int i = 0; i < lines; i++) head += strcspn(s + head, "\n") + 1;
  printf("%s: %zu bytes, fnv1a %016" PRIx64 "\n%.*s", what, len, sum, (int)head, s);
  if (len != t->len || sum != t->sum || gc_size(s) < len + 1) {
    fprintf(stderr, "strbuild: %s text does not match its pieces\n", what);
    return 0;
  }
  return 1;
}

int main(void) {
  struct text csv = {sb_new(), 0, FNV_START};
  struct text json = {sb_new(), 0, FNV_START};
  char *c = build_csv(&csv);
  char *j = build_json(&json);

  gc_collect(); /* only c and j (and the builders) are still reachable */

  int ok = report("csv", c, &csv, 5);
  ok &= report("json", j, &json, 6);

  gc_stats_t s = {.size = sizeof s};
  gc_get_stats(&s);
  fprintf(stderr, "cgc: %zu collections, heap %zu bytes (peak %zu), live %zu bytes\n", s.collections,
          s.heap_bytes, s.heap_bytes_peak, s.live_bytes);

  if (!ok) return EXIT_FAILURE;
  printf("OK\n");
  return EXIT_SUCCESS;
}
