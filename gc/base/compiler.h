/*
 * compiler.h -- compiler helpers every module uses: branch hints, inlining,
 * symbol visibility, and the sanitizer exemption of the conservative scanner.
 * Includes config.h, so it comes first in every file of gc/.
 */
#ifndef CGC_COMPILER_H
#define CGC_COMPILER_H

#include "config.h"

#define CGC_LIKELY(x) __builtin_expect(!!(x), 1)
#define CGC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CGC_NOINLINE __attribute__((noinline))
#define CGC_INLINE static inline __attribute__((always_inline))
#define CGC_INTERNAL __attribute__((visibility("hidden")))
#define CGC_NORETURN __attribute__((noreturn))
#define CGC_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* Define a public name as an alias of a hidden definition (see alloc.c). */
#define CGC_ALIAS(target) __attribute__((alias(#target)))
/* The conservative scanner reads every word of stacks and data, including
 * sanitizer redzones and never-written slots: only it is exempt. */
#if defined(__clang__) || defined(__GNUC__)
#define CGC_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))
#else
#define CGC_NO_SANITIZE_ADDRESS
#endif

/* CGC_TSAN: built for ThreadSanitizer (also set by hand for the files left
 * uninstrumented in such a build: tools/tsan.sh). */
#if defined(CGC_TSAN)
#elif defined(__SANITIZE_THREAD__)
#define CGC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CGC_TSAN 1
#endif
#endif

/* CGC_ASAN: built for AddressSanitizer (1) or not (0); base/track.h
 * poisons free heap memory in such a build. */
#if defined(__SANITIZE_ADDRESS__)
#define CGC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CGC_ASAN 1
#endif
#endif
#ifndef CGC_ASAN
#define CGC_ASAN 0
#endif

#endif /* CGC_COMPILER_H */
