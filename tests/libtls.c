/*
 * libtls.c -- a plugin that tests/threads/roots dlopen()s after its threads
 * started.  Its __thread variables use the general-dynamic TLS model, so
 * each thread's block is allocated lazily by __tls_get_addr on first use
 * (system malloc, outside the static TLS area) and found only through the
 * thread's DTV; pointers to cgc objects stored there must be roots
 * (cgc.h: "__thread variables of ... every shared library, dlopen'ed
 * ones included").  It does not link cgc.
 */
#include <stddef.h>

#define LIBTLS_SLOTS 64
#define LIBTLS_GD __attribute__((tls_model("global-dynamic")))

/* .tdata (non-zero initialiser) and .tbss; exported, so the accesses
 * below stay general-dynamic. */
__thread void *libtls_marker LIBTLS_GD = (void *)0x7;
__thread void *libtls_slots[LIBTLS_SLOTS] LIBTLS_GD;

void libtls_set(size_t i, void *p) { libtls_slots[i] = p; }
void *libtls_get(size_t i) { return libtls_slots[i]; }
size_t libtls_nslots(void) { return LIBTLS_SLOTS; }
/* Where the calling thread's block lies. */
void *libtls_block(void) { return (void *)&libtls_slots[0]; }
void *libtls_get_marker(void) { return libtls_marker; }
