/*
 * options.c -- parse the CGC_* environment variables once, at
 * initialisation, against the table in options.h.  A value that does not
 * parse is reported and the default kept: a typo must not silently change
 * the heap policy.
 */
#include "base/options.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgc.h"

enum { T_SIZE, T_LONG, T_BOOL, T_STATS, T_SIGNAL };

typedef struct {
  const char *name;
  int type;
  long long def;
  const char *desc;
} option_desc_t;

static const option_desc_t descs[CGC_OPT_COUNT] = {
#define CGC_OPTION_DESC(name, type, def, desc) {"CGC_" #name, T_##type, (long long)(def), desc},
    CGC_OPTION_TABLE(CGC_OPTION_DESC)
#undef CGC_OPTION_DESC
};

long long gc__option_values[CGC_OPT_COUNT];

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

/* Parse one value.  Sizes take an optional K, M or G suffix (powers of
 * 1024).  Returns false when the text is not a valid value of the type. */
static bool parse(const char *s, int type, long long *out) {
  if (type == T_SIGNAL) return parse_signal(s, out);
  if (type == T_STATS && strcmp(s, "json") == 0) {
    *out = CGC_PRINT_STATS_JSON;
    return true;
  }
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || errno != 0 || v < 0) return false;
  if (type == T_SIZE) {
    long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
      mul = 1LL << 10;
      end++;
      break;
    case 'm':
    case 'M':
      mul = 1LL << 20;
      end++;
      break;
    case 'g':
    case 'G':
      mul = 1LL << 30;
      end++;
      break;
    default: break;
    }
    if (*end == 'b' || *end == 'B') end++;
    if (v > (1LL << 62) / mul) return false;
    v *= mul;
  } else if ((type == T_BOOL || type == T_STATS) && v > 1) {
    return false;
  }
  if (*end != '\0') return false;
  *out = v;
  return true;
}

static bool parsed[CGC_OPT_COUNT];

/* Read option i from the environment, once: a later call keeps the value,
 * so an option the thread registry needed early (CGC_SIGNAL) does not
 * change under it when the rest are read. */
static void read_one(int i) {
  if (parsed[i]) return;
  parsed[i] = true;
  {
    gc__option_values[i] = descs[i].def;
    const char *s = getenv(descs[i].name);
    if (s == NULL || *s == '\0') return;
    long long v;
    if (parse(s, descs[i].type, &v))
      gc__option_values[i] = v;
    else
      gc__message("ignoring %s=%s (not a valid %s); using %lld", descs[i].name, s,
                  descs[i].type == T_SIZE     ? "size"
                  : descs[i].type == T_BOOL   ? "0/1"
                  : descs[i].type == T_STATS  ? "0/1/json"
                  : descs[i].type == T_SIGNAL ? "signal for stopping threads"
                                              : "number",
                  descs[i].def);
  }
}

void gc__option_read_early(gc_option_id_t id) { read_one((int)id); }

void gc__options_init(void) {
  for (int i = 0; i < CGC_OPT_COUNT; i++) read_one(i);
}

void gc__options_print(void) {
  gc__message("effective configuration (cgc %d.%d.%d, debug level %d):", CGC_VERSION_MAJOR, CGC_VERSION_MINOR,
              CGC_VERSION_PATCH, CGC_DEBUG);
  for (int i = 0; i < CGC_OPT_COUNT; i++)
    gc__message("  %-22s = %-12lld %s%s", descs[i].name, gc__option_values[i], descs[i].desc,
                gc__option_values[i] == descs[i].def ? "" : "  [set]");
}
