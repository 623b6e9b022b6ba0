/*
 * format.c -- gc__format and gc__vformat (format.h): a printf subset that
 * uses no libc formatting, no allocation and no locale.
 *
 * %f converts exactly: a finite double is m * 2^e with m < 2^53, so
 * round(v * 10^p) is computed on a big integer (m * 10^p, shifted by e and
 * rounded half to even on the bits shifted out), then printed in decimal
 * with the point p digits from the right.  Bounds: p <= 40 and |e| <= 1074
 * keep the integer under BIG_WORDS words.
 */
#include "base/format.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Widths (and integer or string precisions) beyond this are taken as this:
 * a message line is 512 bytes anyway, and a huge width must not spin. */
#define WIDTH_MAX 4096

typedef struct {
  char *buf;
  size_t size, len; /* len counts what did not fit too */
} sink_t;

static void put(sink_t *o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void put_n(sink_t *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) put(o, s[i]);
}

static void pad(sink_t *o, char c, size_t n) {
  while (n-- > 0) put(o, c);
}

typedef struct {
  bool left, zero; /* '-', '0' */
  int width;       /* 0: none */
  int prec;        /* -1: none */
} spec_t;

/* What comes before a field's body of n bytes: the padding to the width
 * (spaces, or zeros after the sign when zero_pad), and the sign.  Returns
 * the padding that goes after the body (left-justified). */
static size_t field_open(sink_t *o, const spec_t *sp, const char *sign, size_t n, bool zero_pad) {
  size_t slen = strlen(sign), total = slen + n;
  size_t fill = (size_t)sp->width > total ? (size_t)sp->width - total : 0;
  if (sp->left) {
    put_n(o, sign, slen);
    return fill;
  }
  if (!zero_pad) pad(o, ' ', fill);
  put_n(o, sign, slen);
  if (zero_pad) pad(o, '0', fill);
  return 0;
}

static void field(sink_t *o, const spec_t *sp, const char *sign, const char *body, size_t n, bool zero_pad) {
  size_t after = field_open(o, sp, sign, n, zero_pad);
  put_n(o, body, n);
  pad(o, ' ', after);
}

/* An integer's digits in base 10 or 16; the precision is the least number
 * of digits (0 prints nothing for 0), and turns the '0' flag off. */
static void put_int(sink_t *o, const spec_t *sp, const char *sign, unsigned long long v, unsigned base) {
  char d[24], *end = d + sizeof d, *p = end;
  for (; v != 0; v /= base) *--p = "0123456789abcdef"[v % base];
  if (p == end && sp->prec != 0) *--p = '0';
  size_t n = (size_t)(end - p);
  size_t zeros = sp->prec > 0 && (size_t)sp->prec > n ? (size_t)sp->prec - n : 0;
  size_t after = field_open(o, sp, sign, zeros + n, sp->zero && sp->prec < 0);
  pad(o, '0', zeros);
  put_n(o, p, n);
  pad(o, ' ', after);
}

static void put_signed(sink_t *o, const spec_t *sp, long long v) {
  unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  put_int(o, sp, v < 0 ? "-" : "", mag, 10);
}

/* ---- %f on a big integer ------------------------------------------------ */

/* m < 2^53, times 10^p < 2^(4p), shifted left by at most 971. */
#define BIG_WORDS ((53 + 4 * CGC_FORMAT_PREC_MAX + 1024) / 32 + 2)

typedef struct {
  uint32_t w[BIG_WORDS]; /* little-endian */
  unsigned n;            /* words in use; w[n - 1] != 0, or n == 0 */
} big_t;

static void big_trim(big_t *b) {
  while (b->n > 0 && b->w[b->n - 1] == 0) b->n--;
}

static void big_mul(big_t *b, uint32_t m) {
  uint64_t carry = 0;
  for (unsigned i = 0; i < b->n; i++) {
    uint64_t t = (uint64_t)b->w[i] * m + carry;
    b->w[i] = (uint32_t)t;
    carry = t >> 32;
  }
  if (carry != 0) b->w[b->n++] = (uint32_t)carry;
}

static void big_shl(big_t *b, unsigned s) {
  if (b->n == 0) return;
  unsigned words = s / 32, bits = s % 32;
  b->w[b->n] = 0;
  for (unsigned i = b->n + 1; i-- > 0;) {
    uint32_t hi = b->w[i] << bits, lo = bits != 0 && i > 0 ? b->w[i - 1] >> (32 - bits) : 0;
    b->w[i + words] = hi | lo;
  }
  for (unsigned i = 0; i < words; i++) b->w[i] = 0;
  b->n += words + 1;
  big_trim(b);
}

static bool big_bit(const big_t *b, unsigned i) { return i / 32 < b->n && ((b->w[i / 32] >> (i % 32)) & 1); }

/* b >>= s, rounded to nearest with ties to even. */
static void big_shr_round(big_t *b, unsigned s) {
  bool half = s > 0 && big_bit(b, s - 1), sticky = false;
  for (unsigned i = 0; i + 1 < s && i / 32 < b->n && !sticky; i++) sticky = big_bit(b, i);
  unsigned words = s / 32, bits = s % 32;
  if (words >= b->n) {
    b->n = 0;
  } else {
    for (unsigned i = 0; i + words < b->n; i++) {
      uint32_t lo = b->w[i + words] >> bits;
      uint32_t hi = bits != 0 && i + words + 1 < b->n ? b->w[i + words + 1] << (32 - bits) : 0;
      b->w[i] = lo | hi;
    }
    b->n -= words;
    big_trim(b);
  }
  if (half && (sticky || (b->n > 0 && (b->w[0] & 1)))) {
    unsigned i = 0;
    for (; i < b->n && ++b->w[i] == 0; i++) {}
    if (i == b->n) b->w[b->n++] = 1;
  }
}

/* b /= d; returns the remainder. */
static uint32_t big_div(big_t *b, uint32_t d) {
  uint64_t r = 0;
  for (unsigned i = b->n; i-- > 0;) {
    uint64_t t = (r << 32) | b->w[i];
    b->w[i] = (uint32_t)(t / d);
    r = t % d;
  }
  big_trim(b);
  return (uint32_t)r;
}

static void put_double(sink_t *o, const spec_t *sp, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  const char *sign = bits >> 63 ? "-" : "";
  unsigned bexp = (unsigned)(bits >> 52) & 0x7ff;
  uint64_t frac = bits & (((uint64_t)1 << 52) - 1);
  if (bexp == 0x7ff) { /* glibc: no zero padding for these */
    field(o, sp, sign, frac != 0 ? "nan" : "inf", 3, false);
    return;
  }
  unsigned prec = sp->prec < 0                     ? 6
                  : sp->prec > CGC_FORMAT_PREC_MAX ? CGC_FORMAT_PREC_MAX
                                                   : (unsigned)sp->prec;
  uint64_t m = bexp != 0 ? frac | (uint64_t)1 << 52 : frac;
  int e = bexp != 0 ? (int)bexp - 1075 : -1074;

  big_t b = {.w = {(uint32_t)m, (uint32_t)(m >> 32)}, .n = 2};
  big_trim(&b);
  for (unsigned i = 0; i < prec; i++) big_mul(&b, 10);
  if (e >= 0)
    big_shl(&b, (unsigned)e);
  else
    big_shr_round(&b, (unsigned)-e);

  /* decimal digits, most significant first, ending at dig_end */
  char dig[BIG_WORDS * 10], *dig_end = dig + sizeof dig, *p = dig_end;
  while (b.n > 0) {
    uint32_t chunk = big_div(&b, 1000000000u);
    for (int i = 0; i < 9 && (b.n > 0 || chunk != 0); i++, chunk /= 10) *--p = (char)('0' + chunk % 10);
  }
  size_t nd = (size_t)(dig_end - p);
  size_t lead = nd < prec + 1 ? prec + 1 - nd : 0; /* zeros before the digits: "0.00" */
  size_t whole = nd + lead - prec;
  size_t after = field_open(o, sp, sign, nd + lead + (prec > 0), sp->zero);
  for (size_t i = 0; i < nd + lead; i++) {
    if (i == whole) put(o, '.');
    put(o, i < lead ? '0' : p[i - lead]);
  }
  pad(o, ' ', after);
}

/* ---- the format loop ----------------------------------------------------- */

static int read_number(const char **f) {
  int v = 0;
  for (; **f >= '0' && **f <= '9'; (*f)++)
    if (v <= WIDTH_MAX) v = v * 10 + (**f - '0');
  return v > WIDTH_MAX ? WIDTH_MAX : v;
}

size_t gc__vformat(char *buf, size_t size, const char *fmt, va_list ap) {
  sink_t o = {buf, size, 0};
  const char *f = fmt;
  while (*f != '\0') {
    if (*f != '%') {
      put(&o, *f++);
      continue;
    }
    const char *start = f++;
    spec_t sp = {false, false, 0, -1};
    for (;; f++) {
      if (*f == '-')
        sp.left = true;
      else if (*f == '0')
        sp.zero = true;
      else
        break;
    }
    if (*f == '*') {
      f++;
      int w = va_arg(ap, int);
      if (w < 0) sp.left = true;
      sp.width = w < -WIDTH_MAX || w > WIDTH_MAX ? WIDTH_MAX : w < 0 ? -w : w;
    } else {
      sp.width = read_number(&f);
    }
    if (*f == '.') {
      f++;
      if (*f == '*') {
        f++;
        int p = va_arg(ap, int);
        sp.prec = p < 0 ? -1 : p > WIDTH_MAX ? WIDTH_MAX : p;
      } else {
        sp.prec = read_number(&f);
      }
    }
    enum { LEN_NONE, LEN_L, LEN_LL, LEN_Z } len = LEN_NONE;
    if (f[0] == 'l' && f[1] == 'l') {
      len = LEN_LL;
      f += 2;
    } else if (*f == 'l' || *f == 'z') {
      len = *f++ == 'l' ? LEN_L : LEN_Z;
    }
    char c = *f++;
    switch (c) {
    case 'd':
    case 'i':
      put_signed(&o, &sp,
                 len == LEN_LL  ? va_arg(ap, long long)
                 : len == LEN_L ? va_arg(ap, long)
                 : len == LEN_Z ? va_arg(ap, long) /* ssize_t */
                                : va_arg(ap, int));
      continue;
    case 'u':
    case 'x':
      put_int(&o, &sp, "",
              len == LEN_LL  ? va_arg(ap, unsigned long long)
              : len == LEN_L ? va_arg(ap, unsigned long)
              : len == LEN_Z ? va_arg(ap, size_t)
                             : va_arg(ap, unsigned),
              c == 'x' ? 16 : 10);
      continue;
    case 'f':
      if (len == LEN_LL || len == LEN_Z) break;
      put_double(&o, &sp, va_arg(ap, double));
      continue;
    case 'c':
      if (len != LEN_NONE) break;
      {
        char ch = (char)va_arg(ap, int);
        field(&o, &sp, "", &ch, 1, false);
      }
      continue;
    case 's':
      if (len != LEN_NONE) break;
      {
        const char *s = va_arg(ap, const char *);
        size_t n = 0;
        if (s == NULL) /* glibc's rendering */
          s = sp.prec < 0 || sp.prec >= 6 ? "(null)" : "";
        for (; s[n] != '\0' && (sp.prec < 0 || n < (size_t)sp.prec); n++) {}
        field(&o, &sp, "", s, n, false);
      }
      continue;
    case 'p':
      if (len != LEN_NONE) break;
      {
        void *p = va_arg(ap, void *);
        if (p == NULL)
          field(&o, &sp, "", "(nil)", 5, false);
        else
          put_int(&o, &sp, "0x", (unsigned long long)(uintptr_t)p, 16);
      }
      continue;
    case '%':
      if (len != LEN_NONE) break;
      put(&o, '%');
      continue;
    default: break;
    }
    /* not supported: the rest as it is (no argument can be read safely) */
    put_n(&o, start, strlen(start));
    break;
  }
  if (size > 0) o.buf[o.len < size ? o.len : size - 1] = '\0';
  return o.len;
}

size_t gc__format(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = gc__vformat(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
