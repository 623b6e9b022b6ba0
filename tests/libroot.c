/*
 * libroot.c -- a plugin that test_roots dlopen()s.  It holds pointers to
 * cgc objects in its own global data, which the collector must scan as a
 * root (cgc.h: "global data of ... every loaded shared library").  It does
 * not link cgc.
 */
#include <stddef.h>

#define LIBROOT_SLOTS 512

void *libroot_bss_slots[LIBROOT_SLOTS]; /* .bss */
void *libroot_data_slot = (void *)1;    /* .data */
static void *libroot_hidden_slot;       /* file-local .bss */

void libroot_set(void *p) { libroot_hidden_slot = p; }
void *libroot_get(void) { return libroot_hidden_slot; }
void **libroot_slots(void) { return libroot_bss_slots; }
size_t libroot_nslots(void) { return LIBROOT_SLOTS; }
