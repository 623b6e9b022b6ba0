/*
 * options.c -- parse the CGC_* environment variables once, at
 * initialisation, against the table in options.h.  A value that does not
 * parse, or is out of the option's bounds, is reported and the default
 * kept (a typo must not silently change the heap policy), or for the
 * options marked CLAMP the nearer bound used.
 */
#include "base/options.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cgc.h"

#include "base/format.h"

enum { T_SIZE, T_LONG, T_BOOL, T_STATS, T_SIGNAL };

static const char *const type_names[] = {[T_SIZE] = "size",
                                         [T_LONG] = "number",
                                         [T_BOOL] = "0/1",
                                         [T_STATS] = "0/1/json",
                                         [T_SIGNAL] = "signal for stopping threads"};

typedef struct {
  const char *name;  /* "CGC_..." */
  const char *alias; /* bdwgc's name, or NULL */
  int type, flags;
  long long def, min, max;
  const char *desc;
} option_desc_t;

static const option_desc_t descs[CGC_OPT_COUNT] = {
#define CGC_OPTION_DESC(name, type, def, min, max, alias, flags, desc) \
  {"CGC_" #name, alias, T_##type, flags, (long long)(def), (long long)(min), (long long)(max), desc},
    CGC_OPTION_TABLE(CGC_OPTION_DESC)
#undef CGC_OPTION_DESC
};

#define CGC_OPTION_CHECK(name, type, def, min, max, alias, flags, desc)                       \
  static_assert((long long)(min) <= (long long)(def) && (long long)(def) <= (long long)(max), \
                "the default of CGC_" #name " is out of its bounds");
CGC_OPTION_TABLE(CGC_OPTION_CHECK)
#undef CGC_OPTION_CHECK

volatile AO_t gc__option_values[CGC_OPT_COUNT];

/* A signal cgc may take for stopping threads: catchable, and not one that
 * reports a fault. */
static bool usable_signal(long long v) {
  return v >= 1 && v <= SIGRTMAX && v != SIGKILL && v != SIGSTOP && v != SIGSEGV && v != SIGBUS &&
         v != SIGILL && v != SIGFPE;
}

/* A signal by number, or by name with or without "SIG" (RTMIN+n too). */
static bool parse_signal(const char *s, long long *out) {
  static const struct {
    const char *name;
    int sig;
  } names[] = {{"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"USR1", SIGUSR1},
               {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},
               {"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
               {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
               {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
               {"PWR", SIGPWR},       {"SYS", SIGSYS}};
  char *end;
  long long v;
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  if (strncmp(s, "RTMIN+", 6) == 0) {
    errno = 0;
    v = strtoll(s + 6, &end, 10);
    if (end == s + 6 || *end != '\0' || errno != 0) return false;
    v += SIGRTMIN;
  } else if (*s >= '0' && *s <= '9') {
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0) return false;
  } else {
    v = -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (strcmp(s, names[i].name) == 0) v = names[i].sig;
  }
  if (!usable_signal(v)) return false;
  *out = v;
  return true;
}

/* An integer, optionally signed (the bounds decide), with the text left
 * after it in *end. */
static bool parse_integer(const char *s, long long *out, char **end) {
  errno = 0;
  *out = strtoll(s, end, 10);
  return *end != s && errno == 0;
}

/* A size: an optional K, M or G suffix (powers of 1024), then an optional
 * B; never negative. */
static bool parse_size(const char *s, long long *out) {
  char *end;
  long long v, mul = 1;
  if (!parse_integer(s, &v, &end) || v < 0) return false;
  switch (*end) {
  case 'k':
  case 'K': mul = 1LL << 10; break;
  case 'm':
  case 'M': mul = 1LL << 20; break;
  case 'g':
  case 'G': mul = 1LL << 30; break;
  default: break;
  }
  if (mul != 1) end++;
  if (*end == 'b' || *end == 'B') end++;
  if (*end != '\0' || v > CGC_OPTION_SIZE_MAX / mul) return false;
  *out = v * mul;
  return true;
}

/* Parse one value of a type.  Returns false when the text is not a valid
 * value of the type; the bounds are checked apart (read_one). */
static bool parse(const char *s, int type, long long *out) {
  char *end;
  long long v;
  switch (type) {
  case T_SIGNAL: return parse_signal(s, out);
  case T_SIZE: return parse_size(s, out);
  case T_STATS: /* "json", else 0 or 1 as for T_BOOL */
    if (strcmp(s, "json") == 0) {
      v = CGC_PRINT_STATS_JSON;
      break;
    }
    /* fall through */
  case T_BOOL:
    if (!parse_integer(s, &v, &end) || *end != '\0' || (v != 0 && v != 1)) return false;
    break;
  case T_LONG:
    if (!parse_integer(s, &v, &end) || *end != '\0') return false;
    break;
  default: return false;
  }
  *out = v;
  return true;
}

/* A value as the table writes it: sizes with the largest K/M/G suffix that
 * is exact.  buf holds 24 bytes. */
static const char *show(char *buf, int type, long long v) {
  static const char suffix[] = "KMG";
  int s = 0;
  if (type == T_SIZE && v != 0)
    for (; s < 3 && v % (1LL << (10 * (s + 1))) == 0; s++) {}
  if (s == 0)
    gc__format(buf, 24, "%lld", v);
  else
    gc__format(buf, 24, "%lld%c", v >> (10 * s), suffix[s - 1]);
  return buf;
}

static bool parsed[CGC_OPT_COUNT];

/* Read option i from the environment, once: a later call keeps the value,
 * so an option the thread registry needed early (CGC_SIGNAL) does not
 * change under it when the rest are read.  CGC_<name> wins over the
 * alias. */
static void read_one(int i) {
  if (parsed[i]) return;
  parsed[i] = true;
  const option_desc_t *d = &descs[i];
  gc__option_store((gc_option_id_t)i, d->def);
  const char *name = d->name, *s = getenv(name);
  if ((s == NULL || *s == '\0') && d->alias != NULL && (s = getenv(d->alias)) != NULL) {
    name = d->alias;
    if (d->type == T_BOOL || d->type == T_STATS) s = "1"; /* bdwgc reads these as set or not */
  }
  if (s == NULL || *s == '\0') return;
  long long v;
  char a[24], b[24], c[24];
  if (!parse(s, d->type, &v)) {
    gc__message("ignoring %s=%s (not a valid %s); using %lld", name, s, type_names[d->type], d->def);
    return;
  }
  if (v < d->min || v > d->max) {
    if (!(d->flags & CGC_OPTF_CLAMP)) {
      gc__message("ignoring %s=%s (out of bounds %s..%s); using %s", name, s, show(a, d->type, d->min),
                  show(b, d->type, d->max), show(c, d->type, d->def));
      return;
    }
    long long bound = v < d->min ? d->min : d->max;
    gc__message("%s=%s is %s than %s; using %s", name, s, v < d->min ? "less" : "more",
                show(a, d->type, bound), show(b, d->type, bound));
    v = bound;
  }
  gc__option_store((gc_option_id_t)i, v);
}

void gc__option_read_early(gc_option_id_t id) { read_one((int)id); }

void gc__options_init(void) {
  for (int i = 0; i < CGC_OPT_COUNT; i++) read_one(i);
}

void gc__options_print(void) {
  gc__message("effective configuration (cgc %d.%d.%d, debug level %d):", CGC_VERSION_MAJOR, CGC_VERSION_MINOR,
              CGC_VERSION_PATCH, CGC_DEBUG);
  for (int i = 0; i < CGC_OPT_COUNT; i++) {
    const option_desc_t *d = &descs[i];
    long long v = gc__option((gc_option_id_t)i);
    char a[24], b[24], bounds[52];
    gc__format(bounds, sizeof bounds, "%s..%s", show(a, d->type, d->min), show(b, d->type, d->max));
    gc__message("  %-22s = %-12lld %-18s %s%s", d->name, v, bounds, d->desc, v == d->def ? "" : "  [set]");
  }
}

int gc__option_find(const char *name) {
  if (name == NULL) return -1;
  if (strncmp(name, "CGC_", 4) == 0) name += 4;
  for (int i = 0; i < CGC_OPT_COUNT; i++)
    if (strcmp(name, descs[i].name + 4) == 0) return i;
  return -1;
}

int gc__option_settable(gc_option_id_t id, long long v) {
  const option_desc_t *d = &descs[id];
  if (d->flags & CGC_OPTF_STARTUP) return EPERM;
  return v < d->min || v > d->max ? EINVAL : 0;
}
