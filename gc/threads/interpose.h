/*
 * interpose.h -- finding the function cgc's interposers wrap.
 */
#ifndef CGC_INTERPOSE_H
#define CGC_INTERPOSE_H

#include "base/compiler.h"

/* The next definition of `name` after cgc's own `ours` (the system's, or a
 * sanitizer's interceptor), else static_fallback; fatal when there is none
 * (threads/registry.c).  For the interposers (registry.c, sigwait.c). */
CGC_INTERNAL void *gc__find_next(const char *name, void *ours, void *static_fallback);

#endif /* CGC_INTERPOSE_H */
