/*
 * geometry.h -- the sizes of cgc's heap layout (see heap/layout.h for what
 * they mean): granules, pages, segments, size classes, object kinds.
 * Constants only, apart from layout.h so that thread caches
 * (alloc/tctx.h) can size their arrays without seeing a span field.
 */
#ifndef CGC_GEOMETRY_H
#define CGC_GEOMETRY_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/compiler.h"

#define CGC_WORD_SIZE 8
#define CGC_GRANULE_SHIFT 4
#define CGC_GRANULE_SIZE ((size_t)1 << CGC_GRANULE_SHIFT)
#define CGC_PAGE_SHIFT 16
#define CGC_PAGE_SIZE ((size_t)1 << CGC_PAGE_SHIFT)
#define CGC_SEGMENT_SHIFT 22
#define CGC_SEGMENT_SIZE ((size_t)1 << CGC_SEGMENT_SHIFT)
#define CGC_SEGMENT_MASK (CGC_SEGMENT_SIZE - 1)
#define CGC_PAGES_PER_SEGMENT (CGC_SEGMENT_SIZE / CGC_PAGE_SIZE)
#define CGC_META_PAGES 2
#define CGC_DATA_PAGES (CGC_PAGES_PER_SEGMENT - CGC_META_PAGES)
#define CGC_GRANULES_PER_SEGMENT (CGC_SEGMENT_SIZE >> CGC_GRANULE_SHIFT)
#define CGC_BITMAP_WORDS (CGC_GRANULES_PER_SEGMENT / 64)
#define CGC_BITMAP_WORDS_PER_PAGE (CGC_PAGE_SIZE / CGC_GRANULE_SIZE / 64)

/* Size classes: 16 granule steps to 256 B, then 8 per power of two up to
 * 512 KiB.  Requests up to CGC_DIRECT_MAX use a table indexed directly by
 * granule count; larger small requests compute the class arithmetically. */
#define CGC_CLASS_LINEAR 16
#define CGC_CLASS_LINEAR_MAX 256
#define CGC_SMALL_MAX ((size_t)512 * 1024)
#define CGC_NCLASSES (CGC_CLASS_LINEAR + 8 * 11)
#define CGC_DIRECT_MAX 1024
#define CGC_MAX_SPAN_PAGES 32
/* A thread takes the free slots of a span at most this many bytes at a
 * time (at least one object), so the bytes counted as allocated track the
 * bytes really handed out even for spans of a few big objects. */
#define CGC_BATCH_BYTES ((size_t)64 * 1024)
/* When every slot of a one-page span is free and needs no zeroing --
 * mostly a page fresh from the OS -- its owner links (so first touches)
 * at most this many bytes of slots at a time; the rest stays an unlinked
 * tail (gc_span.unbuilt) that the owner extends from its slow path,
 * without the heap lock.  Why: first-touch page faults then come one OS
 * page per refill instead of 16 inside one allocation call, and a class
 * used for a few objects keeps only the OS pages it touched resident.
 * Heuristic, 4 KiB: one OS page of first touches per refill (measured:
 * docs/design/allocation.md). */
#define CGC_EXTEND_BYTES ((size_t)4096)
static_assert(CGC_PAGE_SIZE <= CGC_BATCH_BYTES && CGC_EXTEND_BYTES < CGC_PAGE_SIZE,
              "a one-page span is counted as allocated whole when taken, unlinked tail included");

/* Radix map: 47-bit user addresses, one leaf entry per 4 MiB chunk. */
#define CGC_ADDRESS_BITS 47
#define CGC_RADIX_LEAF_BITS 13
#define CGC_RADIX_TOP_BITS (CGC_ADDRESS_BITS - CGC_SEGMENT_SHIFT - CGC_RADIX_LEAF_BITS)

static_assert(CGC_PAGES_PER_SEGMENT == 64, "free/dirty page masks are one 64-bit word");
static_assert(CGC_BITMAP_WORDS_PER_PAGE == 64, "a page's bits are 64 bitmap words");
static_assert(CGC_SEGMENT_SIZE == CGC_PAGES_PER_SEGMENT * CGC_PAGE_SIZE, "segment = pages");
static_assert(CGC_GRANULES_PER_SEGMENT % 64 == 0, "bitmaps are whole words");
static_assert(CGC_RADIX_TOP_BITS == 12, "radix map covers 2^47 bytes in 4 MiB chunks");
static_assert(CGC_SMALL_MAX <= CGC_MAX_SPAN_PAGES * CGC_PAGE_SIZE, "a class fits its span");
static_assert(CGC_MAX_SPAN_PAGES <= CGC_DATA_PAGES, "a span fits a segment");
static_assert(CGC_NCLASSES <= 255, "class index fits a byte");

/* ---- object kinds ----------------------------------------------------- */
typedef enum gc_kind {
  CGC_KIND_NORMAL = 0, /* zeroed, scanned conservatively */
  CGC_KIND_ATOMIC = 1, /* never scanned, not zeroed */
  CGC_NKINDS
} gc_kind_t;
CGC_INLINE bool gc__kind_scanned(unsigned kind) { return kind == CGC_KIND_NORMAL; }

#endif /* CGC_GEOMETRY_H */
