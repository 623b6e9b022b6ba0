/*
 * json.c -- a small JSON program (generate, serialize, parse, transform,
 * report), written once against bench/mode.h and built as json-cgc,
 * json-bdwgc and json-malloc.
 *
 * What it measures, and why: the other workloads are allocation kernels.
 * This is the kind of code a user of a collector actually writes -- a DOM
 * of small tagged values, strings in atomic memory, arrays and hash-indexed
 * objects that grow with realloc, a string builder, a recursive-descent
 * parser -- with the mixed lifetimes such a program has: a document lives
 * for one round, its text only until it is parsed, a report for a few
 * rounds.  It shows what collection costs (and what freeing costs in
 * malloc mode: a recursive walk over every DOM) in a realistic mix.
 *
 * Each of R rounds (argument 2, default 12):
 *   1. generate a deterministic document: an array of N orders (argument
 *      1, default 2000) from a web shop, each with a nested customer
 *      (name with quotes, backslashes and non-ASCII letters, address, geo
 *      coordinates, tags), 1..6 line items, integers (some beyond 2^53),
 *      doubles (some needing 17 digits, some with exponents), booleans,
 *      nulls, and a free-text note with control characters;
 *   2. serialize it compactly, non-ASCII escaped as \uXXXX (surrogate pairs
 *      above U+FFFF), into a string builder grown with bm_realloc (atomic);
 *   3. parse the text back into a new DOM and check that it equals the
 *      original, then drop the original and the text;
 *   4. transform: keep the paid and shipped orders, group them by country
 *      (a JSON object used as a hash map; per group a map of customers),
 *      total quantities and revenue per SKU (another map), and build a new
 *      report DOM: countries sorted by revenue, the top SKUs, the cancelled
 *      orders, and a figure read from the report of 4 rounds earlier;
 *   5. serialize the report pretty-printed (UTF-8 kept as is), hash it,
 *      parse it again and check that it re-serializes to the same text.
 * The last 4 reports stay alive; each is re-serialized and checked
 * against its hash when it is dropped.  In malloc mode every DOM and
 * buffer is freed as soon as it becomes garbage (a recursive walk, under
 * `if (BM_MANUAL_FREE)`); the collectors just drop it.
 *
 * Arguments: full run `json` (2000 orders, 12 rounds: about 1 s with
 * glibc on the reference 2-core VM), quick run `json 800 6` (about 0.3 s).
 *
 * Output: stdout gets one line, "json: ok checksum=0x... orders=N
 * rounds=R text_bytes=B", the checksum being a hash of every report's
 * text, identical in every mode; or "json: FAILED ..." and exit status 1
 * when a round trip, a comparison or a kept report is wrong.  stderr gets
 * the bm_report() line.
 */
#include "mode.h"

#include <string.h>

static int failed;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...) {
  if (failed) return; /* the first problem only */
  va_list ap;
  va_start(ap, fmt);
  printf("json: FAILED ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  failed = 1;
}

/* ==== string builder ===================================================== */

typedef struct Buf {
  char *s; /* atomic, NUL-terminated */
  size_t len, cap;
} Buf;

static void buf_init(Buf *b) {
  b->cap = 256;
  b->len = 0;
  b->s = bm_alloc_atomic(b->cap);
  b->s[0] = '\0';
}

static void buf_grow(Buf *b, size_t extra) {
  size_t cap = b->cap;
  while (b->len + extra + 1 > cap) cap *= 2;
  b->s = bm_realloc(b->s, cap);
  b->cap = cap;
}

static inline void buf_put(Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) buf_grow(b, n);
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static inline void buf_putc(Buf *b, char c) {
  if (b->len + 2 > b->cap) buf_grow(b, 1);
  b->s[b->len++] = c;
  b->s[b->len] = '\0';
}

static void buf_drop(Buf *b) {
  if (BM_MANUAL_FREE) bm_free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

/* ==== DOM ================================================================= */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_DBL, J_STR, J_ARR, J_OBJ } JType;

typedef struct JValue JValue;

typedef struct JMember {
  char *key; /* atomic, NUL-terminated */
  JValue *val;
  uint32_t klen, hash;
} JMember;

/* Objects keep their members in insertion order; above kIndexMin members
 * an open-addressing index (atomic, slot = member number + 1) finds them. */
enum { kIndexMin = 8 };

struct JValue {
  JType type;
  union {
    int64_t i;
    double d;
    struct {
      char *s; /* atomic, NUL-terminated (may contain NULs) */
      size_t len;
    } str;
    struct {
      JValue **v;
      uint32_t len, cap;
    } arr;
    struct {
      JMember *m;
      uint32_t *index; /* NULL, or icap slots */
      uint32_t len, cap, icap;
    } obj;
  } u;
};

static JValue *j_new(JType t) {
  JValue *v = bm_alloc(sizeof *v); /* zeroed */
  v->type = t;
  return v;
}

static JValue *j_null(void) { return j_new(J_NULL); }
static JValue *j_bool(int b) { return j_new(b ? J_TRUE : J_FALSE); }

static JValue *j_int(int64_t i) {
  JValue *v = j_new(J_INT);
  v->u.i = i;
  return v;
}

static JValue *j_dbl(double d) {
  JValue *v = j_new(J_DBL);
  v->u.d = d;
  return v;
}

/* A string value that takes s (atomic, len + 1 bytes, NUL-terminated). */
static JValue *j_str_take(char *s, size_t len) {
  JValue *v = j_new(J_STR);
  v->u.str.s = s;
  v->u.str.len = len;
  return v;
}

static char *str_dup(const char *s, size_t len) {
  char *c = bm_alloc_atomic(len + 1);
  memcpy(c, s, len);
  c[len] = '\0';
  return c;
}

static JValue *j_strn(const char *s, size_t len) { return j_str_take(str_dup(s, len), len); }
static JValue *j_str(const char *s) { return j_strn(s, strlen(s)); }
static JValue *j_arr(void) { return j_new(J_ARR); }
static JValue *j_obj(void) { return j_new(J_OBJ); }

static void arr_push(JValue *a, JValue *v) {
  if (a->u.arr.len == a->u.arr.cap) {
    a->u.arr.cap = a->u.arr.cap ? 2 * a->u.arr.cap : 4;
    a->u.arr.v = bm_realloc(a->u.arr.v, a->u.arr.cap * sizeof *a->u.arr.v);
  }
  a->u.arr.v[a->u.arr.len++] = v;
}

static uint32_t key_hash(const char *k, size_t n) { /* FNV-1a, 32 bits */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)k[i];
    h *= 16777619u;
  }
  return h;
}

static void obj_reindex(JValue *o) {
  uint32_t icap = 16;
  while (icap < 2 * o->u.obj.cap) icap *= 2;
  if (BM_MANUAL_FREE) bm_free(o->u.obj.index);
  uint32_t *ix = bm_alloc_atomic(icap * sizeof *ix);
  memset(ix, 0, icap * sizeof *ix);
  for (uint32_t i = 0; i < o->u.obj.len; i++) {
    uint32_t s = o->u.obj.m[i].hash & (icap - 1);
    while (ix[s] != 0) s = (s + 1) & (icap - 1);
    ix[s] = i + 1;
  }
  o->u.obj.index = ix;
  o->u.obj.icap = icap;
}

static JMember *obj_find(const JValue *o, const char *k, size_t n, uint32_t h) {
  const JMember *m = o->u.obj.m;
  if (o->u.obj.index == NULL) {
    for (uint32_t i = 0; i < o->u.obj.len; i++)
      if (m[i].hash == h && m[i].klen == n && memcmp(m[i].key, k, n) == 0) return (JMember *)&m[i];
    return NULL;
  }
  uint32_t mask = o->u.obj.icap - 1;
  for (uint32_t s = h & mask; o->u.obj.index[s] != 0; s = (s + 1) & mask) {
    const JMember *c = &m[o->u.obj.index[s] - 1];
    if (c->hash == h && c->klen == n && memcmp(c->key, k, n) == 0) return (JMember *)c;
  }
  return NULL;
}

static JValue *obj_getn(const JValue *o, const char *k, size_t n) {
  if (o == NULL || o->type != J_OBJ) return NULL;
  JMember *m = obj_find(o, k, n, key_hash(k, n));
  return m ? m->val : NULL;
}

static JValue *obj_get(const JValue *o, const char *k) { return obj_getn(o, k, strlen(k)); }

static void json_free(JValue *v);

/* Add a member, taking the key (atomic, klen + 1 bytes); a duplicate key
 * replaces the old value, as most parsers do. */
static void obj_put_take(JValue *o, char *key, size_t klen, JValue *v) {
  uint32_t h = key_hash(key, klen);
  JMember *old = obj_find(o, key, klen, h);
  if (old != NULL) {
    if (BM_MANUAL_FREE) {
      json_free(old->val);
      bm_free(key);
    }
    old->val = v;
    return;
  }
  if (o->u.obj.len == o->u.obj.cap) {
    o->u.obj.cap = o->u.obj.cap ? 2 * o->u.obj.cap : 4;
    o->u.obj.m = bm_realloc(o->u.obj.m, o->u.obj.cap * sizeof *o->u.obj.m);
    if (o->u.obj.cap > kIndexMin) obj_reindex(o); /* the members so far */
  }
  uint32_t i = o->u.obj.len++;
  o->u.obj.m[i] = (JMember){key, v, (uint32_t)klen, h};
  if (o->u.obj.index != NULL) {
    uint32_t mask = o->u.obj.icap - 1, s = h & mask;
    while (o->u.obj.index[s] != 0) s = (s + 1) & mask;
    o->u.obj.index[s] = i + 1;
  }
}

static void obj_put(JValue *o, const char *key, JValue *v) {
  size_t n = strlen(key);
  obj_put_take(o, str_dup(key, n), n, v);
}

/* Free a dropped DOM (malloc mode only). */
static void json_free(JValue *v) {
  if (v == NULL) return;
  switch (v->type) {
  case J_STR: bm_free(v->u.str.s); break;
  case J_ARR:
    for (uint32_t i = 0; i < v->u.arr.len; i++) json_free(v->u.arr.v[i]);
    bm_free(v->u.arr.v);
    break;
  case J_OBJ:
    for (uint32_t i = 0; i < v->u.obj.len; i++) {
      bm_free(v->u.obj.m[i].key);
      json_free(v->u.obj.m[i].val);
    }
    bm_free(v->u.obj.m);
    bm_free(v->u.obj.index);
    break;
  default: break;
  }
  bm_free(v);
}

static void json_drop(JValue *v) {
  if (BM_MANUAL_FREE) json_free(v);
}

static int json_equal(const JValue *a, const JValue *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case J_INT: return a->u.i == b->u.i;
  case J_DBL: return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0; /* bit for bit */
  case J_STR: return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
  case J_ARR:
    if (a->u.arr.len != b->u.arr.len) return 0;
    for (uint32_t i = 0; i < a->u.arr.len; i++)
      if (!json_equal(a->u.arr.v[i], b->u.arr.v[i])) return 0;
    return 1;
  case J_OBJ:
    if (a->u.obj.len != b->u.obj.len) return 0;
    for (uint32_t i = 0; i < a->u.obj.len; i++) {
      const JMember *m = &a->u.obj.m[i];
      const JMember *o = obj_find(b, m->key, m->klen, m->hash);
      if (o == NULL || !json_equal(m->val, o->val)) return 0;
    }
    return 1;
  default: return 1;
  }
}

/* ==== serializer ========================================================== */

typedef struct Writer {
  Buf out;
  int pretty; /* newlines and two-space indentation */
  int ascii;  /* escape everything above U+007F as \uXXXX */
} Writer;

static const char hexdig[] = "0123456789abcdef";

static void put_u16_escape(Buf *b, unsigned u) {
  char e[6] = "\\u";
  for (int i = 0; i < 4; i++) e[2 + i] = hexdig[(u >> (12 - 4 * i)) & 15];
  buf_put(b, e, 6);
}

/* Decode one UTF-8 sequence at s (n > 0 bytes left); *len gets its length.
 * Malformed bytes decode as themselves (Latin-1), one byte each. */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len) {
  unsigned c = s[0];
  size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  if (need == 1 || need > n) {
    *len = 1;
    return c;
  }
  uint32_t cp = c & (0x7f >> need);
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xc0) != 0x80) {
      *len = 1;
      return c;
    }
    cp = cp << 6 | (s[i] & 0x3f);
  }
  *len = need;
  return cp;
}

/* The letter of c's two-character escape (\n for newline...), or 0. */
static char short_escape(unsigned c) {
  switch (c) {
  case '"': return '"';
  case '\\': return '\\';
  case '\n': return 'n';
  case '\t': return 't';
  case '\r': return 'r';
  case '\b': return 'b';
  case '\f': return 'f';
  default: return 0;
  }
}

static void write_string(Writer *w, const char *s, size_t n) {
  Buf *b = &w->out;
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  buf_putc(b, '"');
  while (p < end) {
    /* copy the longest run that needs no escaping in one go */
    const unsigned char *run = p;
    while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' && !(w->ascii && *p >= 0x80)) p++;
    if (p > run) buf_put(b, (const char *)run, (size_t)(p - run));
    if (p == end) break;
    unsigned c = *p;
    char e = short_escape(c);
    if (e != 0) {
      char two[2] = {'\\', e};
      buf_put(b, two, 2);
      p++;
      continue;
    }
    if (c < 0x20) {
      put_u16_escape(b, c);
      p++;
    } else { /* non-ASCII in ASCII mode */
      size_t len;
      uint32_t cp = utf8_decode(p, (size_t)(end - p), &len);
      p += len;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        put_u16_escape(b, 0xd800 + (cp >> 10));
        put_u16_escape(b, 0xdc00 + (cp & 0x3ff));
      } else {
        put_u16_escape(b, cp);
      }
    }
  }
  buf_putc(b, '"');
}

static void write_int(Buf *b, int64_t i) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (i < 0) *--p = '-';
  buf_put(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* The shortest of %.15g and %.17g that reads back exactly, with ".0" added
 * when it would otherwise read back as an integer (cJSON's approach). */
static void write_double(Buf *b, double d) {
  char tmp[40];
  int n = snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d) n = snprintf(tmp, sizeof tmp, "%.17g", d);
  if (strpbrk(tmp, ".eE") == NULL) {
    memcpy(tmp + n, ".0", 3);
    n += 2;
  }
  buf_put(b, tmp, (size_t)n);
}

static void write_newline(Writer *w, int depth) {
  if (!w->pretty) return;
  buf_putc(&w->out, '\n');
  for (int i = 0; i < depth; i++) buf_put(&w->out, "  ", 2);
}

static void write_value(Writer *w, const JValue *v, int depth) {
  Buf *b = &w->out;
  switch (v->type) {
  case J_NULL: buf_put(b, "null", 4); break;
  case J_FALSE: buf_put(b, "false", 5); break;
  case J_TRUE: buf_put(b, "true", 4); break;
  case J_INT: write_int(b, v->u.i); break;
  case J_DBL: write_double(b, v->u.d); break;
  case J_STR: write_string(w, v->u.str.s, v->u.str.len); break;
  case J_ARR:
    buf_putc(b, '[');
    for (uint32_t i = 0; i < v->u.arr.len; i++) {
      if (i > 0) buf_putc(b, ',');
      write_newline(w, depth + 1);
      write_value(w, v->u.arr.v[i], depth + 1);
    }
    if (v->u.arr.len > 0) write_newline(w, depth);
    buf_putc(b, ']');
    break;
  case J_OBJ:
    buf_putc(b, '{');
    for (uint32_t i = 0; i < v->u.obj.len; i++) {
      const JMember *m = &v->u.obj.m[i];
      if (i > 0) buf_putc(b, ',');
      write_newline(w, depth + 1);
      write_string(w, m->key, m->klen);
      buf_put(b, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
      write_value(w, m->val, depth + 1);
    }
    if (v->u.obj.len > 0) write_newline(w, depth);
    buf_putc(b, '}');
    break;
  }
}

/* Serialize v into a new buffer (the caller drops it). */
static Buf json_write(const JValue *v, int pretty, int ascii) {
  Writer w = {.pretty = pretty, .ascii = ascii};
  buf_init(&w.out);
  write_value(&w, v, 0);
  if (pretty) buf_putc(&w.out, '\n');
  return w.out;
}

/* ==== parser ============================================================== */

typedef struct Parser {
  const char *p, *end, *start;
  const char *err; /* the first error, or NULL */
  const char *err_at;
} Parser;

enum { kMaxDepth = 256 };

static JValue *parse_value(Parser *ps, int depth);

static JValue *parse_error(Parser *ps, const char *what) {
  if (ps->err == NULL) {
    ps->err = what;
    ps->err_at = ps->p;
  }
  return NULL;
}

static inline void skip_ws(Parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r')) ps->p++;
}

static int hex4(const char *s, unsigned *out) {
  unsigned u = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    u <<= 4;
    if (c >= '0' && c <= '9')
      u |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      u |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      u |= (unsigned)(c - 'A' + 10);
    else
      return 0;
  }
  *out = u;
  return 1;
}

static size_t utf8_encode(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string at ps->p (just past the opening quote) into a new atomic
 * buffer; *len gets its length.  Escapes only shrink, so the raw length
 * up to the closing quote is enough room. */
static char *parse_string(Parser *ps, size_t *len) {
  const char *s = ps->p;
  int escaped = 0;
  while (s < ps->end && *s != '"') {
    if ((unsigned char)*s < 0x20) {
      ps->p = s;
      parse_error(ps, "control character in string");
      return NULL;
    }
    if (*s == '\\') {
      escaped = 1;
      s++;
    }
    s++;
  }
  if (s >= ps->end) {
    parse_error(ps, "unterminated string");
    return NULL;
  }
  size_t raw = (size_t)(s - ps->p);
  char *out = bm_alloc_atomic(raw + 1);
  if (!escaped) {
    memcpy(out, ps->p, raw);
    out[raw] = '\0';
    *len = raw;
    ps->p = s + 1;
    return out;
  }
  size_t n = 0;
  const char *p = ps->p;
  while (p < s) {
    if (*p != '\\') {
      out[n++] = *p++;
      continue;
    }
    p++;
    switch (*p++) {
    case '"': out[n++] = '"'; break;
    case '\\': out[n++] = '\\'; break;
    case '/': out[n++] = '/'; break;
    case 'b': out[n++] = '\b'; break;
    case 'f': out[n++] = '\f'; break;
    case 'n': out[n++] = '\n'; break;
    case 'r': out[n++] = '\r'; break;
    case 't': out[n++] = '\t'; break;
    case 'u': {
      unsigned u, lo;
      if (s - p < 4 || !hex4(p, &u)) goto bad;
      p += 4;
      uint32_t cp = u;
      if (u >= 0xd800 && u < 0xdc00) { /* a high surrogate: its pair must follow */
        if (s - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) || lo < 0xdc00 || lo >= 0xe000)
          goto bad;
        p += 6;
        cp = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
      } else if (u >= 0xdc00 && u < 0xe000) {
        goto bad;
      }
      n += utf8_encode(cp, out + n);
      break;
    }
    default: goto bad;
    }
  }
  out[n] = '\0';
  *len = n;
  ps->p = s + 1;
  return out;
bad:
  if (BM_MANUAL_FREE) bm_free(out);
  ps->p = p;
  parse_error(ps, "bad escape in string");
  return NULL;
}

static JValue *parse_number(Parser *ps) {
  const char *s = ps->p, *p = s;
  int is_int = 1;
  if (p < ps->end && *p == '-') p++;
  if (p < ps->end && *p == '0') {
    p++;
  } else if (p < ps->end && *p >= '1' && *p <= '9') {
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  } else {
    ps->p = p;
    return parse_error(ps, "bad number");
  }
  if (p < ps->end && *p == '.') {
    is_int = 0;
    p++;
    if (p >= ps->end || *p < '0' || *p > '9') {
      ps->p = p;
      return parse_error(ps, "bad fraction");
    }
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < ps->end && (*p == 'e' || *p == 'E')) {
    is_int = 0;
    p++;
    if (p < ps->end && (*p == '+' || *p == '-')) p++;
    if (p >= ps->end || *p < '0' || *p > '9') {
      ps->p = p;
      return parse_error(ps, "bad exponent");
    }
    while (p < ps->end && *p >= '0' && *p <= '9') p++;
  }
  ps->p = p;
  if (is_int) { /* exact 64-bit integers; beyond that, a double */
    const char *d = s + (*s == '-');
    uint64_t u = 0;
    int overflow = 0;
    for (; d < p; d++) {
      unsigned dig = (unsigned)(*d - '0');
      if (u > (UINT64_MAX - dig) / 10) overflow = 1;
      u = u * 10 + dig;
    }
    uint64_t lim = *s == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (!overflow && u <= lim) return j_int(*s == '-' ? (int64_t)(0 - u) : (int64_t)u);
  }
  char tmp[64];
  size_t n = (size_t)(p - s);
  if (n >= sizeof tmp) return parse_error(ps, "number too long");
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  return j_dbl(strtod(tmp, NULL));
}

static JValue *parse_array(Parser *ps, int depth) {
  JValue *a = j_arr();
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
    return a;
  }
  for (;;) {
    JValue *v = parse_value(ps, depth + 1);
    if (v == NULL) goto bad;
    arr_push(a, v);
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == ']') {
      ps->p++;
      return a;
    }
    parse_error(ps, "expected ',' or ']'");
    goto bad;
  }
bad:
  json_drop(a);
  return NULL;
}

static JValue *parse_object(Parser *ps, int depth) {
  JValue *o = j_obj();
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
    return o;
  }
  for (;;) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') {
      parse_error(ps, "expected a key");
      goto bad;
    }
    ps->p++;
    size_t klen;
    char *key = parse_string(ps, &klen);
    if (key == NULL) goto bad;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      if (BM_MANUAL_FREE) bm_free(key);
      parse_error(ps, "expected ':'");
      goto bad;
    }
    ps->p++;
    JValue *v = parse_value(ps, depth + 1);
    if (v == NULL) {
      if (BM_MANUAL_FREE) bm_free(key);
      goto bad;
    }
    obj_put_take(o, key, klen, v);
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == '}') {
      ps->p++;
      return o;
    }
    parse_error(ps, "expected ',' or '}'");
    goto bad;
  }
bad:
  json_drop(o);
  return NULL;
}

static int literal(Parser *ps, const char *word, size_t n) {
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return 0;
  ps->p += n;
  return 1;
}

static JValue *parse_value(Parser *ps, int depth) {
  if (depth > kMaxDepth) return parse_error(ps, "nested too deeply");
  skip_ws(ps);
  if (ps->p >= ps->end) return parse_error(ps, "unexpected end of text");
  switch (*ps->p) {
  case '{': ps->p++; return parse_object(ps, depth);
  case '[': ps->p++; return parse_array(ps, depth);
  case '"': {
    ps->p++;
    size_t len;
    char *s = parse_string(ps, &len);
    return s ? j_str_take(s, len) : NULL;
  }
  case 't': return literal(ps, "true", 4) ? j_bool(1) : parse_error(ps, "bad literal");
  case 'f': return literal(ps, "false", 5) ? j_bool(0) : parse_error(ps, "bad literal");
  case 'n': return literal(ps, "null", 4) ? j_null() : parse_error(ps, "bad literal");
  default: return parse_number(ps);
  }
}

/* Parse a whole text; on error, report it (FAILED) and return NULL. */
static JValue *json_parse(const char *text, size_t len, const char *what) {
  Parser ps = {.p = text, .end = text + len, .start = text};
  JValue *v = parse_value(&ps, 0);
  if (v != NULL) {
    skip_ws(&ps);
    if (ps.p != ps.end) {
      json_drop(v);
      v = NULL;
      parse_error(&ps, "text after the value");
    }
  }
  if (v == NULL) fail("parsing %s: %s at offset %zu", what, ps.err, (size_t)(ps.err_at - ps.start));
  return v;
}

/* ==== the document generator ============================================== */

static uint64_t rng_state;

static uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static unsigned rnd(unsigned n) { return (unsigned)(rng_next() % n); }

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Text with quotes, backslashes, control characters and non-ASCII letters
 * (C11 \u escapes: UTF-8 in the program, gcc's and clang's default). */

/* clang-format off */
static const char *const first_names[] = {
    "Anna", "Ben", "Zo\u00eb", "Jos\u00e9", "\u0141ukasz", "S\u00f8ren", "Ali", "Mei",
    "\u0414\u043c\u0438\u0442\u0440\u0438\u0439", "\u674e\u5a1c",
    "Fran\u00e7oise", "Kai", "Ngozi", "Priya", "Sven", "Ana\u00efs", "Tom", "Yuki",
    "\"Doc\"", "Ren\u00e9"};
static const char *const last_names[] = {
    "M\u00fcller", "O'Brien", "Smith", "Garc\u00eda", "Nakamura", "Kowalski",
    "\u00d8stergaard", "Nguyen", "Rossi", "Back\\Slash", "Dubois", "Okafor", "Iyer",
    "Lindqvist", "Silva", "Tanaka"};
static const char *const cities[] = {"Berlin", "K\u00f6ln", "Paris", "Montr\u00e9al",
                                     "S\u00e3o Paulo", "Z\u00fcrich", "Krak\u00f3w",
                                     "Lagos", "Pune", "Osaka", "Austin", "Malm\u00f6"};
static const char *const countries[] = {"DE", "FR", "CA", "BR", "CH", "PL", "NG", "IN",
                                        "JP", "US", "SE", "IT", "ES", "NL", "GB", "AU"};
static const char *const statuses[] = {"paid", "paid", "paid", "shipped", "shipped",
                                       "pending", "cancelled"};
static const char *const adjectives[] = {"Deluxe", "Compact", "\"Pro\"", "Eco", "Mini",
                                         "Ultra", "Classic", "Smart", "R\u00e9tro"};
static const char *const nouns[] = {"Widget", "Mug \u2013 350 ml", "Cable\t(USB-C)",
                                    "Lamp", "Backpack", "Kettle", "Notebook",
                                    "Headphones \U0001f3a7", "Chair", "Umbrella"};
static const char *const tag_words[] = {"new", "returning", "b2b", "gift \U0001f381",
                                        "newsletter", "mobile", "coupon", "\u2605vip"};
static const char *const notes[] = {
    "Leave at the door", "Call before delivery:\n  +49 30 1234567",
    "Gift wrap, please \u2014 it's a \"surprise\"", "Path: C:\\orders\\new",
    "tab\tseparated\tnote", "bell\x07 and escape\x1b characters",
    "\u8bf7\u5728\u5468\u672b\u9001\u8d27"};
/* clang-format on */

static JValue *gen_customer(unsigned who) {
  char name[96], email[96];
  const char *f = first_names[who % COUNT(first_names)];
  const char *l = last_names[(who / COUNT(first_names)) % COUNT(last_names)];
  snprintf(name, sizeof name, "%s %s", f, l);
  snprintf(email, sizeof email, "customer%u@example.com", who);

  JValue *c = j_obj();
  obj_put(c, "name", j_str(name));
  obj_put(c, "email", j_str(email));
  obj_put(c, "vip", j_bool(who % 7 == 0));
  JValue *tags = j_arr();
  for (unsigned t = 0, nt = rnd(4); t < nt; t++) arr_push(tags, j_str(tag_words[rnd(COUNT(tag_words))]));
  obj_put(c, "tags", tags);
  JValue *addr = j_obj();
  char zip[16];
  snprintf(zip, sizeof zip, "%05u", rnd(100000)); /* leading zeros: a string, not a number */
  obj_put(addr, "city", j_str(cities[rnd(COUNT(cities))]));
  obj_put(addr, "zip", j_str(zip));
  JValue *geo = j_arr();
  arr_push(geo, j_dbl(-90.0 + (double)rnd(180000000) / 1e6));
  arr_push(geo, j_dbl(-180.0 + (double)rnd(360000000) / 1e6));
  obj_put(addr, "geo", geo);
  obj_put(c, "address", addr);
  obj_put(c, "balance_cents", j_int((int64_t)rnd(2000000) - 1000000));
  return c;
}

static JValue *gen_order(unsigned round, unsigned i) {
  JValue *o = j_obj();
  obj_put(o, "id", j_int(100000 + (int64_t)round * 1000000 + i));
  obj_put(o, "trace", j_int((int64_t)(rng_next() >> 2))); /* beyond 2^53: needs int64 */
  unsigned who = rnd(1200);
  obj_put(o, "customer", gen_customer(who));
  obj_put(o, "country", j_str(countries[(who + rnd(3)) % COUNT(countries)]));
  obj_put(o, "status", j_str(statuses[rnd(COUNT(statuses))]));
  JValue *items = j_arr();
  double total = 0.0;
  for (unsigned k = 0, nk = 1 + rnd(6); k < nk; k++) {
    /* SKU popularity falls off: a few bestsellers, a long tail */
    unsigned sku = rnd(1 + rnd(500));
    char code[16], title[96];
    snprintf(code, sizeof code, "SKU-%04u", sku);
    snprintf(title, sizeof title, "%s %s", adjectives[sku % COUNT(adjectives)],
             nouns[(sku / COUNT(adjectives)) % COUNT(nouns)]);
    int64_t qty = 1 + rnd(5);
    double price = (double)(99 + (sku * 7919u) % 19900) / 100.0;
    JValue *it = j_obj();
    obj_put(it, "sku", j_str(code));
    obj_put(it, "title", j_str(title));
    obj_put(it, "qty", j_int(qty));
    obj_put(it, "unit_price", j_dbl(price));
    double discount = 0.0;
    if (rnd(4) == 0) {
      discount = 0.05 * (1 + rnd(4));
      obj_put(it, "discount", j_dbl(discount));
    } else {
      obj_put(it, "discount", j_null());
    }
    obj_put(it, "weight_kg", j_dbl((double)(50 + rnd(20000)) * 1e-3));
    arr_push(items, it);
    total += (double)qty * price * (1.0 - discount);
  }
  obj_put(o, "items", items);
  obj_put(o, "total", j_dbl(total));
  obj_put(o, "currency", j_str("EUR"));
  obj_put(o, "created", j_int(1700000000 + (int64_t)i * 37 + rnd(37)));
  obj_put(o, "gift", j_bool(rnd(10) == 0));
  obj_put(o, "note", rnd(3) == 0 ? j_str(notes[rnd(COUNT(notes))]) : j_null());
  obj_put(o, "rating", rnd(2) ? j_dbl(1.0 + (double)rnd(41) / 10.0) : j_null());
  obj_put(o, "impressions", j_dbl((double)(1 + rnd(999)) * 1e20)); /* an exponent */
  return o;
}

static JValue *gen_document(unsigned round, unsigned norders) {
  rng_state = 0x5eed0000ull + round;
  JValue *doc = j_obj();
  obj_put(doc, "shop", j_str("Caf\u00e9 & Co. \u2014 \"Online\""));
  obj_put(doc, "round", j_int(round));
  JValue *orders = j_arr();
  for (unsigned i = 0; i < norders; i++) arr_push(orders, gen_order(round, i));
  obj_put(doc, "orders", orders);
  return doc;
}

/* ==== the transformation ================================================== */

static const char *get_str(const JValue *o, const char *k, size_t *len) {
  const JValue *v = obj_get(o, k);
  if (v == NULL || v->type != J_STR) return NULL;
  if (len) *len = v->u.str.len;
  return v->u.str.s;
}

static double get_num(const JValue *o, const char *k) {
  const JValue *v = obj_get(o, k);
  if (v == NULL) return 0.0;
  return v->type == J_INT ? (double)v->u.i : v->type == J_DBL ? v->u.d : 0.0;
}

static int64_t get_int(const JValue *o, const char *k) {
  const JValue *v = obj_get(o, k);
  return v != NULL && v->type == J_INT ? v->u.i : 0;
}

/* The member `k` of map `m`, created by make() when absent. */
static JValue *map_slot(JValue *m, const char *k, size_t n, JValue *(*make)(void)) {
  JValue *v = obj_getn(m, k, n);
  if (v == NULL) {
    v = make();
    obj_put_take(m, str_dup(k, n), n, v);
  }
  return v;
}

static JValue *new_zero(void) { return j_int(0); }
static JValue *new_group(void) {
  JValue *g = j_obj();
  obj_put(g, "orders", j_int(0));
  obj_put(g, "revenue", j_dbl(0.0));
  obj_put(g, "items", j_int(0));
  obj_put(g, "vip_orders", j_int(0));
  obj_put(g, "customers", j_obj());
  return g;
}
static JValue *new_sku(void) {
  JValue *s = j_obj();
  obj_put(s, "qty", j_int(0));
  obj_put(s, "revenue", j_dbl(0.0));
  return s;
}

static void add_int(JValue *o, const char *k, int64_t d) { obj_get(o, k)->u.i += d; }
static void add_dbl(JValue *o, const char *k, double d) { obj_get(o, k)->u.d += d; }

/* qsort helpers: members of a map, by a numeric field (descending), ties
 * by key. */
static const char *sort_field;

static int key_cmp(const JMember *a, const JMember *b) {
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c = memcmp(a->key, b->key, n);
  return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

static int cmp_members(const void *pa, const void *pb) {
  const JMember *a = pa, *b = pb;
  double x = get_num(a->val, sort_field), y = get_num(b->val, sort_field);
  if (x != y) return x > y ? -1 : 1;
  return key_cmp(a, b);
}

/* A sorted copy of a map's member array (the caller frees it). */
static JMember *sorted_members(const JValue *map, const char *field) {
  size_t n = map->u.obj.len;
  JMember *m = bm_alloc((n ? n : 1) * sizeof *m);
  if (n) memcpy(m, map->u.obj.m, n * sizeof *m);
  sort_field = field;
  qsort(m, n, sizeof *m, cmp_members);
  return m;
}

static JValue *transform(const JValue *doc, const JValue *old_report) {
  const JValue *orders = obj_get(doc, "orders");
  JValue *groups = j_obj(), *skus = j_obj(), *cancelled = j_arr();
  int64_t kept = 0;
  double revenue = 0.0;

  for (uint32_t i = 0; orders != NULL && i < orders->u.arr.len; i++) {
    const JValue *o = orders->u.arr.v[i];
    const char *status = get_str(o, "status", NULL);
    if (status == NULL) continue;
    if (strcmp(status, "cancelled") == 0) {
      arr_push(cancelled, j_int(get_int(o, "id")));
      continue;
    }
    if (strcmp(status, "paid") != 0 && strcmp(status, "shipped") != 0) continue;
    kept++;

    size_t clen = 0, nlen = 0;
    const char *country = get_str(o, "country", &clen);
    const JValue *cust = obj_get(o, "customer");
    const char *name = get_str(cust, "name", &nlen);
    double total = get_num(o, "total");
    revenue += total;

    JValue *g = map_slot(groups, country, clen, new_group);
    add_int(g, "orders", 1);
    add_dbl(g, "revenue", total);
    if (obj_get(cust, "vip")->type == J_TRUE) add_int(g, "vip_orders", 1);
    map_slot(obj_get(g, "customers"), name, nlen, new_zero)->u.i++;

    const JValue *items = obj_get(o, "items");
    for (uint32_t k = 0; k < items->u.arr.len; k++) {
      const JValue *it = items->u.arr.v[k];
      size_t slen = 0;
      const char *sku = get_str(it, "sku", &slen);
      int64_t qty = get_int(it, "qty");
      const JValue *disc = obj_get(it, "discount");
      double d = disc->type == J_DBL ? disc->u.d : 0.0;
      JValue *s = map_slot(skus, sku, slen, new_sku);
      if (obj_get(s, "title") == NULL) obj_put(s, "title", j_str(get_str(it, "title", NULL)));
      add_int(s, "qty", qty);
      add_dbl(s, "revenue", (double)qty * get_num(it, "unit_price") * (1.0 - d));
      add_int(g, "items", qty);
    }
  }

  /* The report: a new DOM. */
  JValue *rep = j_obj();
  obj_put(rep, "round", j_int(get_int(doc, "round")));
  obj_put(rep, "shop", j_str(get_str(doc, "shop", NULL)));
  obj_put(rep, "orders", j_int(orders ? orders->u.arr.len : 0));
  obj_put(rep, "kept", j_int(kept));
  obj_put(rep, "revenue", j_dbl(revenue));

  JValue *by_country = j_arr();
  JMember *gs = sorted_members(groups, "revenue");
  for (uint32_t i = 0; i < groups->u.obj.len; i++) {
    const JValue *g = gs[i].val;
    const JValue *cs = obj_get(g, "customers");
    const JMember *top = NULL; /* the most orders; ties: the smallest name */
    for (uint32_t k = 0; k < cs->u.obj.len; k++) {
      const JMember *c = &cs->u.obj.m[k];
      if (top == NULL || c->val->u.i > top->val->u.i || (c->val->u.i == top->val->u.i && key_cmp(c, top) < 0))
        top = c;
    }
    int64_t n = get_int(g, "orders");
    JValue *e = j_obj();
    obj_put(e, "country", j_strn(gs[i].key, gs[i].klen));
    obj_put(e, "orders", j_int(n));
    obj_put(e, "revenue", j_dbl(get_num(g, "revenue")));
    obj_put(e, "avg_order", j_dbl(n ? get_num(g, "revenue") / (double)n : 0.0));
    obj_put(e, "items", j_int(get_int(g, "items")));
    obj_put(e, "vip_share", j_dbl(n ? (double)get_int(g, "vip_orders") / (double)n : 0.0));
    obj_put(e, "customers", j_int(cs->u.obj.len));
    if (top != NULL) {
      JValue *tc = j_obj();
      obj_put(tc, "name", j_strn(top->key, top->klen));
      obj_put(tc, "orders", j_int(top->val->u.i));
      obj_put(e, "top_customer", tc);
    }
    arr_push(by_country, e);
  }
  if (BM_MANUAL_FREE) bm_free(gs);
  obj_put(rep, "countries", by_country);

  JValue *top_skus = j_arr();
  JMember *ss = sorted_members(skus, "qty");
  for (uint32_t i = 0; i < skus->u.obj.len && i < 10; i++) {
    JValue *e = j_obj();
    obj_put(e, "sku", j_strn(ss[i].key, ss[i].klen));
    obj_put(e, "title", j_str(get_str(ss[i].val, "title", NULL)));
    obj_put(e, "qty", j_int(get_int(ss[i].val, "qty")));
    obj_put(e, "revenue", j_dbl(get_num(ss[i].val, "revenue")));
    arr_push(top_skus, e);
  }
  if (BM_MANUAL_FREE) bm_free(ss);
  obj_put(rep, "distinct_skus", j_int(skus->u.obj.len));
  obj_put(rep, "top_skus", top_skus);

  JValue *cinfo = j_obj();
  obj_put(cinfo, "count", j_int(cancelled->u.arr.len));
  JValue *first = j_arr();
  for (uint32_t i = 0; i < cancelled->u.arr.len && i < 12; i++)
    arr_push(first, j_int(cancelled->u.arr.v[i]->u.i));
  obj_put(cinfo, "first_ids", first);
  obj_put(rep, "cancelled", cinfo);

  if (old_report != NULL) { /* reaches into a report kept for 4 rounds */
    JValue *h = j_obj();
    obj_put(h, "round", j_int(get_int(old_report, "round")));
    obj_put(h, "revenue", j_dbl(get_num(old_report, "revenue")));
    const JValue *oc = obj_get(old_report, "countries");
    if (oc->u.arr.len > 0) obj_put(h, "leader", j_str(get_str(oc->u.arr.v[0], "country", NULL)));
    double before = get_num(old_report, "revenue");
    obj_put(h, "growth", before > 0.0 ? j_dbl(revenue / before - 1.0) : j_null());
    obj_put(rep, "four_rounds_ago", h);
  } else {
    obj_put(rep, "four_rounds_ago", j_null());
  }

  json_drop(groups);
  json_drop(skus);
  json_drop(cancelled);
  return rep;
}

/* ==== main ================================================================ */

static uint64_t hash_text(const char *s, size_t n) { /* FNV-1a, 64 bits */
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

enum { kKeep = 4 }; /* reports kept alive */

typedef struct Kept {
  JValue *report;
  uint64_t hash; /* of its pretty text */
} Kept;

static Kept kept[kKeep]; /* a root */

static void check_kept(const Kept *k) {
  Buf t = json_write(k->report, 1, 0);
  if (hash_text(t.s, t.len) != k->hash)
    fail("report of round %lld changed while kept", (long long)get_int(k->report, "round"));
  buf_drop(&t);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: json [ORDERS [ROUNDS]]\n"
          "  generate, serialize, parse, transform and report a JSON document of\n"
          "  ORDERS orders (default 2000), ROUNDS times (default 12) (%s mode).\n"
          "  Quick setting: json 800 6.\n",
          bm_name());
}

static int parse_count(const char *s, long max, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 1 || v > max) return 0;
  *out = v;
  return 1;
}

int main(int argc, char **argv) {
  long norders = 2000, rounds = 12;
  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc > 3 || (argc > 1 && !parse_count(argv[1], 10000000, &norders)) ||
      (argc > 2 && !parse_count(argv[2], 1000000, &rounds))) {
    usage(stderr);
    return 2;
  }

  bm_init();

  uint64_t checksum = 0xcbf29ce484222325ull, text_bytes = 0;
  for (long r = 0; r < rounds && !failed; r++) {
    JValue *doc = gen_document((unsigned)r, (unsigned)norders);
    Buf text = json_write(doc, 0, 1);
    text_bytes += text.len;
    JValue *parsed = json_parse(text.s, text.len, "the document");
    buf_drop(&text);
    if (parsed == NULL) break;
    if (!json_equal(doc, parsed)) fail("round %ld: the parsed document differs", r);
    json_drop(doc);

    Kept *slot = &kept[r % kKeep];
    JValue *rep = transform(parsed, slot->report);
    json_drop(parsed);

    Buf out = json_write(rep, 1, 0);
    text_bytes += out.len;
    uint64_t h = hash_text(out.s, out.len);
    checksum = (checksum ^ h) * 0x100000001b3ull;
    JValue *again = json_parse(out.s, out.len, "the report");
    if (again != NULL) {
      Buf out2 = json_write(again, 1, 0);
      if (out2.len != out.len || memcmp(out2.s, out.s, out.len) != 0)
        fail("round %ld: the report does not survive a round trip", r);
      buf_drop(&out2);
      json_drop(again);
    }
    if (r == rounds - 1 && getenv("JSON_PRINT_REPORT")) fputs(out.s, stderr);
    buf_drop(&out);

    if (slot->report != NULL) {
      check_kept(slot);
      json_drop(slot->report);
    }
    slot->report = rep;
    slot->hash = h;
  }
  for (int i = 0; i < kKeep; i++) {
    if (kept[i].report == NULL) continue;
    check_kept(&kept[i]);
    json_drop(kept[i].report);
    kept[i].report = NULL;
  }

  if (!failed)
    printf("json: ok checksum=0x%016llx orders=%ld rounds=%ld text_bytes=%llu\n",
           (unsigned long long)checksum, norders, rounds, (unsigned long long)text_bytes);
  fflush(stdout);
  bm_report("json");
  return failed ? 1 : 0;
}
