/*
 * options.c -- parse the CGC_* environment variables once, at
 * initialisation, against the table in options.h.  A value that does not
 * parse is reported and the default kept: a typo must not silently change
 * the heap policy.
 */
#include "internal.h"
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_SIZE, T_LONG, T_BOOL };

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

/* Parse one value.  Sizes take an optional K, M or G suffix (powers of
 * 1024).  Returns false when the text is not a valid value of the type. */
static bool parse(const char *s, int type, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || errno != 0 || v < 0) return false;
  if (type == T_SIZE) {
    long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1LL << 10; end++; break;
    case 'm': case 'M': mul = 1LL << 20; end++; break;
    case 'g': case 'G': mul = 1LL << 30; end++; break;
    default: break;
    }
    if (*end == 'b' || *end == 'B') end++;
    if (v > (1LL << 62) / mul) return false;
    v *= mul;
  } else if (type == T_BOOL && v > 1) {
    return false;
  }
  if (*end != '\0') return false;
  *out = v;
  return true;
}

void gc__options_init(void) {
  for (int i = 0; i < CGC_OPT_COUNT; i++) {
    gc__option_values[i] = descs[i].def;
    const char *s = getenv(descs[i].name);
    if (s == NULL || *s == '\0') continue;
    long long v;
    if (parse(s, descs[i].type, &v))
      gc__option_values[i] = v;
    else
      gc__message("ignoring %s=%s (not a valid %s); using %lld", descs[i].name, s,
                  descs[i].type == T_SIZE ? "size" : descs[i].type == T_BOOL ? "0/1" : "number",
                  descs[i].def);
  }
}

void gc__options_print(void) {
  gc__message("effective configuration (cgc %d.%d.%d, debug level %d):", CGC_VERSION_MAJOR,
              CGC_VERSION_MINOR, CGC_VERSION_PATCH, CGC_DEBUG);
  for (int i = 0; i < CGC_OPT_COUNT; i++)
    gc__message("  %-22s = %-12lld %s%s", descs[i].name, gc__option_values[i], descs[i].desc,
                gc__option_values[i] == descs[i].def ? "" : "  [set]");
}
