/*
 * sizes.h -- the size classes (heap/sizes.c): bytes, pages per span and
 * objects per span of each class, and the request -> class mappings.
 */
#ifndef CGC_SIZES_H
#define CGC_SIZES_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "heap/geometry.h"

typedef struct gc_class_info {
  size_t size;    /* bytes per object */
  uint32_t pages; /* pages per span */
  uint32_t nobjs; /* objects per span */
  uint64_t divmagic;
} gc_class_info_t;
CGC_INTERNAL extern gc_class_info_t gc__classes[CGC_NCLASSES];
CGC_INTERNAL extern const uint8_t gc__direct_class[CGC_DIRECT_MAX / CGC_GRANULE_SIZE + 1];
CGC_INTERNAL void gc__sizes_init(void);
CGC_INTERNAL unsigned gc__size_to_class(size_t n); /* n <= CGC_SMALL_MAX */
/* divmagic for a size in bytes: exact division of a granule offset. */
CGC_INTERNAL uint64_t gc__divmagic(size_t obj_size);

#endif /* CGC_SIZES_H */
