/*
 * format.h -- printf-style formatting into a caller's buffer that never
 * calls libc's printf family: glibc's may call malloc, and cgc is going to
 * be malloc.  Used by every message (base/message.c) and wherever cgc
 * builds a string.
 *
 * Supported, which is what cgc's format strings use:
 *   conversions  %d %i %u %x %c %s %p %f %%
 *   lengths      l, ll and z on d i u x (z: size_t, ssize_t for d i); l on f
 *   flags        '-' (left-justify), '0' (pad a number with zeros)
 *   width        digits or '*'
 *   precision    digits or '*' after '.': the least digits of an integer,
 *                the most bytes of a %s, the digits after the point of a %f
 *                (6 when omitted; at most CGC_FORMAT_PREC_MAX)
 * The output is glibc snprintf's for these (tests/test_options.c compares
 * them); %f is the exact binary value rounded to nearest, ties to even, as
 * glibc rounds in the default rounding mode.  Any other conversion (%o,
 * %e, %hd, '+', ...) ends the formatting: the rest of the format is copied
 * as it is, and no further argument is read.
 */
#ifndef CGC_FORMAT_H
#define CGC_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

#include "base/compiler.h"

/* The largest %f precision; a larger one is taken as this. */
#define CGC_FORMAT_PREC_MAX 40

/* Format into buf[0, size): at most size - 1 bytes and a NUL (nothing when
 * size is 0).  Returns the length of the whole output, which is size or
 * more when it was cut, as snprintf does.  Async-signal-safe: no lock, no
 * allocation, no locale; at most about 600 bytes of stack. */
CGC_INTERNAL CGC_PRINTF(3, 4) size_t gc__format(char *buf, size_t size, const char *fmt, ...);
CGC_INTERNAL CGC_PRINTF(3, 0) size_t gc__vformat(char *buf, size_t size, const char *fmt, va_list ap);

#endif /* CGC_FORMAT_H */
