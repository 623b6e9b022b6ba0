/*
 * debug.h -- assertions and messages.
 *
 * Assertion tiers, by the configure option --enable-debug=LEVEL (CGC_DEBUG):
 *   CGC_ASSERT(c)            level >= 1: cheap checks -- preconditions (lock
 *                            held, world stopped), span state transitions.
 *   CGC_ASSERT_EXPENSIVE(c)  level >= 2: checks that walk data (a list, a
 *                            bitmap); the heap walker (debug/verify.c) also
 *                            runs after every collection at this level.
 * Release builds (level 0) compile both to nothing; their arguments are
 * still type-checked.
 *
 * Messages go to stderr with one write(2) each, never through stdio or a
 * libc allocator (base/message.c).
 */
#ifndef CGC_DEBUG_H
#define CGC_DEBUG_H

#include <stddef.h>

#include "base/compiler.h"

#ifndef CGC_DEBUG
#define CGC_DEBUG 0
#endif

/* The condition is quoted where it is written, before its macros (NULL)
 * expand, so that the message names it as the source does. */
#define CGC_ASSERT_IF(level, c, text) \
  ((CGC_DEBUG < (level) || CGC_LIKELY(c)) ? (void)0 : gc__assert_fail(text, __FILE__, __LINE__))
#define CGC_ASSERT(c) CGC_ASSERT_IF(1, c, #c)
#define CGC_ASSERT_EXPENSIVE(c) CGC_ASSERT_IF(2, c, #c)

CGC_INTERNAL CGC_NORETURN void gc__assert_fail(const char *what, const char *file, int line);
CGC_INTERNAL CGC_NORETURN CGC_PRINTF(1, 2) void gc__fatal(const char *fmt, ...);
CGC_INTERNAL CGC_PRINTF(1, 2) void gc__message(const char *fmt, ...);
/* Write len bytes of text, as they are (no "cgc: " prefix; the caller ends
 * it with its newline and a NUL at text[len]), through the output hook or
 * in one write(2), as gc__message does. */
CGC_INTERNAL void gc__message_raw(const char *text, size_t len);

#endif /* CGC_DEBUG_H */
