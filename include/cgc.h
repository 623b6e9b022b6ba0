/*
 * cgc.h -- public interface of cgc, a conservative mark-sweep garbage
 * collected heap for C.
 *
 * Allocate with gc_malloc() and never call free(): memory that the program
 * can no longer reach from thread stacks, registers, global data of the
 * executable and of every loaded shared library, or explicitly added roots
 * is reclaimed by the collector.  Any address inside an object (an interior
 * pointer) keeps the whole object alive.
 *
 * Every entry point initialises the collector lazily; gc_init() is optional.
 * Errors are reported the way malloc reports them: NULL with errno ENOMEM,
 * unless an out-of-memory handler is installed (gc_set_oom_handler).
 * Passing a pointer that cgc did not return to gc_free() or gc_realloc()
 * prints a diagnostic naming the pointer and aborts (gc_set_error_handler
 * runs a hook first).
 *
 * Threads: every thread created with pthread_create (no macro, no wrapper:
 * cgc interposes the function) is registered from its first instruction
 * to its exit.  A collection stops every registered thread with a signal
 * (CGC_SIGNAL, default SIGPWR) and scans its registers, its stack, its
 * thread-local storage (__thread variables of the executable and of every
 * shared library, dlopen'ed ones included) and the values it stored with
 * pthread_setspecific.  See README.md, "Threads".
 */
#ifndef CGC_H
#define CGC_H

#include <stddef.h>
#include <stdint.h>

#include "cgc/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(CGC_BUILDING)
#define CGC_API __attribute__((visibility("default")))
#else
#define CGC_API
#endif

#if defined(__GNUC__)
#define CGC_ATTR_MALLOC __attribute__((malloc))
#define CGC_ATTR_ALLOC_SIZE(i) __attribute__((alloc_size(i)))
#define CGC_ATTR_ALLOC_SIZE2(i, j) __attribute__((alloc_size(i, j)))
#define CGC_ATTR_NODISCARD __attribute__((warn_unused_result))
#else
#define CGC_ATTR_MALLOC
#define CGC_ATTR_ALLOC_SIZE(i)
#define CGC_ATTR_ALLOC_SIZE2(i, j)
#define CGC_ATTR_NODISCARD
#endif

#define CGC_VERSION_MAJOR 0
#define CGC_VERSION_MINOR 1
#define CGC_VERSION_PATCH 0

/* ---- Initialisation --------------------------------------------------- */

/* Initialise the collector.  Optional (every entry point does it lazily)
 * and idempotent.  Reads the CGC_* environment variables once. */
CGC_API void gc_init(void);

/* ---- Allocation ------------------------------------------------------- */

/* n bytes, zeroed, scanned conservatively for pointers.  n == 0 gives a
 * valid, unique object.  NULL with errno ENOMEM (or the OOM handler's
 * result) when memory cannot be had or the heap cap would be passed. */
CGC_API void *gc_malloc(size_t n) CGC_ATTR_MALLOC CGC_ATTR_ALLOC_SIZE(1);

/* n bytes that are never scanned: the object may hold no pointer that
 * must keep another object alive (strings, numeric arrays).  The contents
 * are unspecified. */
CGC_API void *gc_malloc_atomic(size_t n) CGC_ATTR_MALLOC CGC_ATTR_ALLOC_SIZE(1);

/* count * size bytes, zeroed and scanned.  An overflowing product gives
 * NULL with errno ENOMEM (or the OOM handler's result). */
CGC_API void *gc_calloc(size_t count, size_t size) CGC_ATTR_MALLOC CGC_ATTR_ALLOC_SIZE2(1, 2);

/* Resize p to n bytes, keeping its kind (an atomic object stays atomic).
 * Content is preserved up to min(old, new); bytes past the old size of a
 * scanned object are zero.  p == NULL allocates (scanned kind); n == 0
 * frees p and returns NULL.  On failure NULL is returned and p is
 * untouched.  A p that cgc did not return is a fatal error. */
CGC_API void *gc_realloc(void *p, size_t n) CGC_ATTR_NODISCARD CGC_ATTR_ALLOC_SIZE(2);

/* Atomic (unscanned) copies of a string. */
CGC_API char *gc_strdup(const char *s) CGC_ATTR_MALLOC;
CGC_API char *gc_strndup(const char *s, size_t n) CGC_ATTR_MALLOC;

/* Release p now instead of waiting for a collection.  Optional.  NULL is
 * a no-op.  p must be the start of a live cgc object: anything else (a
 * foreign pointer, an interior pointer, an object already freed) prints a
 * diagnostic naming the pointer and aborts. */
CGC_API void gc_free(void *p);

/* ---- Queries ---------------------------------------------------------- */

/* Usable size of the object containing p (p may point anywhere inside
 * it); 0 if p is not inside a live cgc object. */
CGC_API size_t gc_size(const void *p);

/* Start of the live cgc object containing p (any interior address); NULL
 * if p is not inside one. */
CGC_API void *gc_base(const void *p);

/* ---- Collection control ----------------------------------------------- */

/* Run a full collection now (unless collection is disabled). */
CGC_API void gc_collect(void);

/* Scan [lo, hi) as a root at every collection (for memory from mmap or
 * the system malloc, which are not scanned otherwise).  Ranges may
 * overlap; hi <= lo is ignored. */
CGC_API void gc_add_roots(void *lo, void *hi);

/* Stop scanning every byte of [lo, hi) that was added with gc_add_roots;
 * root ranges that straddle it are cut. */
CGC_API void gc_remove_roots(void *lo, void *hi);

/* Disable and re-enable collection.  Nestable: collection runs again only
 * when every gc_disable() has been matched by a gc_enable().  While
 * disabled the heap grows instead (up to the heap cap) and gc_collect()
 * does nothing. */
CGC_API void gc_disable(void);
CGC_API void gc_enable(void);

/* Cap the bytes the heap may map from the OS (0 = no cap).  Allocation
 * that cannot be satisfied below the cap after a collection fails with
 * NULL/ENOMEM (or the OOM handler).  Also CGC_MAX_HEAP_SIZE. */
CGC_API void gc_set_max_heap_size(size_t bytes);

/* Called, with the requested size, when an allocation cannot be
 * satisfied; its result is what the allocation returns.  NULL restores the
 * default (return NULL with errno ENOMEM).  Returns the previous handler.
 * The handler may allocate from cgc only after freeing memory for it.  It
 * must return NULL or memory that no live pointer refers to (the
 * allocation functions are declared malloc-like, so the compiler assumes
 * their results alias nothing). */
typedef void *(*gc_oom_handler_t)(size_t requested);
CGC_API gc_oom_handler_t gc_set_oom_handler(gc_oom_handler_t handler);

/* ---- Options ---------------------------------------------------------- */

/* The CGC_* options (README.md, "Options") at run time.  `name` is the
 * variable's name with or without the "CGC_" prefix ("CGC_HEAP_GROWTH" or
 * "HEAP_GROWTH"; case-sensitive).  Values are integers: sizes in bytes,
 * booleans 0 or 1, CGC_SIGNAL a signal number.  Both return 0 on success
 * and -1 with errno set on failure:
 *   EINVAL  unknown name (or NULL), value NULL, or a value out of the
 *           option's bounds (CGC_VERBOSE=1 prints them);
 *   EPERM   gc_option_set of an option read at start-up only:
 *           CGC_SIGNAL, CGC_MARKERS, CGC_MARK_STACK_MAX, CGC_VERBOSE.
 * Safe from any thread.  A new value takes effect where cgc next reads it:
 *   CGC_MAX_HEAP_SIZE      at once (the same as gc_set_max_heap_size, which
 *                          gc_option_get reads back, capped at 2^62);
 *   CGC_DISABLE            at once: 1 adds one level to the gc_disable()
 *                          depth and 0 takes it away again (as one
 *                          gc_enable()); setting the value it has does
 *                          nothing.  It reads back as that level, not as
 *                          the depth gc_disable() calls built;
 *   CGC_HEAP_GROWTH,
 *   CGC_INITIAL_HEAP_SIZE  when the next budget is set, at the end of the
 *                          next collection;
 *   CGC_DECOMMIT_DELAY,
 *   CGC_VERIFY             at the next collection;
 *   CGC_PRINT_STATS        from the next collection on, and for the
 *                          summary at exit (printed when it is 1 then).
 * gc_option_get initialises cgc first, so it reads the environment's value
 * before any gc_option_set. */
CGC_API int gc_option_get(const char *name, long long *value);
CGC_API int gc_option_set(const char *name, long long value);

/* ---- Messages and fatal errors ------------------------------------------ */

/* Where cgc's messages go: warnings, reports of ignored options, the
 * CGC_PRINT_STATS and CGC_VERBOSE lines, and fatal errors.  Each is one
 * line, passed whole as msg: "cgc: " and the text, ending in a newline
 * (at most 511 bytes and the NUL).  fn(msg, arg) is called for each
 * instead of writing msg to stderr; NULL restores stderr.
 *
 * The hook may be called from any thread, several at once, and from
 * inside a collection, with every other thread stopped and cgc's heap
 * lock held.  So it must not call cgc (no allocation from cgc: it would
 * deadlock), and should not take a lock that another thread may hold --
 * stdio's and the system malloc's among them; write(2) to a descriptor is
 * safe.  A message printed while the hook changes may still go to the
 * previous one.  Safe to call from any thread, at any time. */
typedef void (*gc_output_fn_t)(const char *msg, void *arg);
CGC_API void gc_set_output(gc_output_fn_t fn, void *arg);

/* Called with the line of a fatal error ("cgc: fatal: ...\n": a gc_free
 * of a pointer cgc did not return, no memory for cgc's own tables, a
 * broken heap invariant, ...) after it was printed (to stderr or the
 * output hook), right before cgc aborts the process.  NULL removes it.
 * It runs in the thread that failed, under the same rules as the output
 * hook (it may be inside a collection, with the heap lock held), and only
 * for the first fatal error of the process: a fatal error while it runs,
 * or after it, aborts at once.  If it returns, cgc calls abort().  It may
 * leave by longjmp at its own risk: cgc's lock and state stay as they were
 * at the error, so calling cgc afterwards may deadlock or crash. */
typedef void (*gc_error_fn_t)(const char *msg, void *arg);
CGC_API void gc_set_error_handler(gc_error_fn_t fn, void *arg);

/* ---- Threads ---------------------------------------------------------- */

/* Register the calling thread: from now on its stack, registers and
 * thread-local storage are roots.  Only threads that cgc did not see
 * created need it (threads of a library's own pool when cgc itself was
 * dlopen'ed, threads made with clone); a thread that allocates without it
 * is registered on its first allocation.  Idempotent.  0 on success, -1
 * with errno ENOMEM when the thread context cannot be allocated. */
CGC_API int gc_register_thread(void);

/* Unregister the calling thread: its caches go back to the heap and its
 * stack stops being a root (pointers it still holds may be reclaimed).
 * Optional before exit -- a registered thread unregisters itself when it
 * ends, however it ends.  Allocating again registers it again. */
CGC_API void gc_unregister_thread(void);

/* 1 when the calling thread is registered, else 0. */
CGC_API int gc_thread_is_registered(void);

/* ---- Coroutine and fiber stacks ----------------------------------------- */

/* A runtime that switches threads between stacks of its own (ucontext,
 * hand-written context switches) tells cgc about every such stack:
 * register its memory once, and call gc_stack_switch() right before each
 * switch.  A collection then scans, for each thread, the stack it is
 * running on from its stack pointer up, and every other registered stack
 * (a suspended coroutine, or a thread's own stack while it runs a
 * coroutine) from the stack pointer it had when it was switched away from
 * (all of it if it never ran).  The saved context of a suspended
 * coroutine (ucontext_t, jmp_buf) must itself be in scanned memory: on a
 * stack, in a gc_malloc'ed object, or in a root range. */
typedef struct gc_stack gc_stack_t;

/* Register [lo, hi) as a stack (it grows down from hi).  NULL with errno
 * EINVAL when hi <= lo or the range overlaps a registered stack, ENOMEM
 * when the handle cannot be allocated. */
CGC_API gc_stack_t *gc_stack_register(void *lo, void *hi);

/* Forget a stack.  It must not be the stack a thread is running on. */
CGC_API void gc_stack_unregister(gc_stack_t *s);

/* The calling thread is about to switch to stack `to` (NULL: back to the
 * thread's own stack).  Records where the stack being left stops. */
CGC_API void gc_stack_switch(gc_stack_t *to);

/* ---- Statistics ------------------------------------------------------- */

/* Fill *s with a snapshot of the statistics (gc_stats_t and every field
 * are defined by the schema in cgc/stats.h), taken under the heap lock so
 * the numbers agree (but freed_bytes, which gc_free adds to without the
 * lock, may include a concurrent gc_free).  Set s->size to sizeof(gc_stats_t) first: cgc writes
 * at most s->size bytes (a program built against an older, shorter struct
 * gets its prefix) and keeps s->size.  Does nothing when s is NULL or
 * s->size < sizeof(size_t). */
CGC_API void gc_get_stats(gc_stats_t *s);

/* Write the statistics as one JSON object on one line, every field of
 * gc_stats_t but `size` as "name":unsigned-integer in the order of the
 * schema, e.g. {"heap_bytes":4194304,...,"version":2}.  Like snprintf:
 * writes at most `size` bytes, NUL-terminated whenever size > 0 (cut short
 * when too small), and returns the length the whole object needs without
 * the NUL, so a return >= size means it was cut.  buf may be NULL when size
 * is 0.  CGC_STATS_JSON_SIZE bytes always suffice.  Allocates nothing. */
CGC_API size_t gc_stats_json(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* CGC_H */
