/*
 * test_roots.c -- every kind of root keeps objects alive through many
 * collections: the stack, callee-saved registers, globals (.bss and .data)
 * of the executable, globals of a dlopen()ed library, interior pointers,
 * and a 10,000-frame recursion.  Also checks the static-root enumeration
 * (the plugin's data is included, cgc's own state is not).
 */
#include "common.h"

#include <dlfcn.h>
#include <link.h>

#ifndef TEST_LIBDIR
#error "TEST_LIBDIR must name the directory that holds libroot.so"
#endif
#define LIBROOT_PATH TEST_LIBDIR "/libroot.so"

/* Collect `rounds` times, allocating garbage in between so that any
 * reclaimed slot gets reused and stomped. */
static T_NOINLINE void collect_with_churn(int rounds, uint64_t seed) {
  for (int r = 0; r < rounds; r++) {
    t_churn(2 * T_MiB, seed * 131 + (uint64_t)r);
    t_collect();
  }
}

/* ======================================================================
 * (a) the stack
 * ====================================================================== */

Test(roots_stack, array_of_pointers_on_the_stack) {
  enum { N = 300 };
  t_node *volatile arr[N];
  for (size_t i = 0; i < N; i++) arr[i] = t_node_new(i, t_node_size(i));
  for (int r = 0; r < 10; r++) {
    collect_with_churn(1, (uint64_t)r);
    for (size_t i = 0; i < N; i++) t_node_check(arr[i], i);
  }
  T_ASSERT_HEAP_VALID();
}

Test(roots_stack, list_held_by_one_local) {
  t_node *volatile head = t_list_new(20000, 1000, 0);
  for (int r = 0; r < 6; r++) {
    collect_with_churn(1, 50 + (uint64_t)r);
    t_list_check(head, 20000, 1000);
  }
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * (b) registers: many live pointer variables across gc_collect
 * ====================================================================== */

#define REG_VARS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

static T_NOINLINE uint64_t checksum_node(const t_node *n) {
  t_node_check(n, n->id);
  return n->id;
}

static T_NOINLINE void register_loop(void) {
#define DECL(k) t_node *p##k = t_node_new(k, 32 + k * 8);
  REG_VARS(DECL)
#undef DECL
  uint64_t next_id = 100;
  for (int it = 0; it < 60; it++) {
    gc_collect();
    if (it % 4 == 0) t_churn_small(512 * T_KiB, (uint64_t)it);
    uint64_t sum = 0, want = 0;
#define CHECK(k)                                                             \
  cr_assert_eq(gc_base(p##k), p##k, "register-held object %d reclaimed", k); \
  want += p##k->id;                                                          \
  sum += checksum_node(p##k);
    REG_VARS(CHECK)
#undef CHECK
    cr_assert_eq(sum, want);
    /* replace one of them, so each gets fresh objects over the run */
    switch (it % 14) {
#define REPLACE(k) \
  case k: p##k = t_node_new(next_id++, 48 + it * 16); break;
      REG_VARS(REPLACE)
#undef REPLACE
    }
  }
}

Test(roots_registers, many_live_pointers_across_collections) {
  register_loop();
  T_ASSERT_HEAP_VALID();
}

/* Pointers that live only in callee-saved registers of a leaf-ish loop:
 * nothing is ever stored to memory (the asm keeps them in registers). */
static T_NOINLINE void register_only_loop(void) {
  t_node *a = t_node_new(1, 64), *b = t_node_new(2, 80), *c = t_node_new(3, 96);
  t_node *d = t_node_new(4, 112), *e = t_node_new(5, 128);
  for (int it = 0; it < 30; it++) {
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    gc_collect();
    t_churn_small(256 * T_KiB, (uint64_t)it);
    __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e));
    t_node_check(a, 1);
    t_node_check(b, 2);
    t_node_check(c, 3);
    t_node_check(d, 4);
    t_node_check(e, 5);
  }
}

Test(roots_registers, callee_saved_registers) {
  register_only_loop();
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * (c) globals of the executable
 * ====================================================================== */

/* volatile: the stores must happen (see test_collect.c) */
static t_node *volatile g_bss_head;                /* .bss */
static t_node *volatile g_data_head = (t_node *)1; /* .data (non-zero initialiser) */
static t_node *volatile g_bss_array[500];          /* .bss */
t_node *volatile g_exported_head;                  /* external linkage */

static T_NOINLINE void build_globals(void) {
  g_bss_head = t_list_new(5000, 10000, 0);
  g_data_head = t_list_new(5000, 20000, 0);
  g_exported_head = t_list_new(5000, 30000, 0);
  for (size_t i = 0; i < 500; i++) g_bss_array[i] = t_node_new(40000 + i, t_node_size(40000 + i));
}

Test(roots_globals, bss_data_and_exported) {
  build_globals();
  for (int r = 0; r < 8; r++) {
    collect_with_churn(1, 200 + (uint64_t)r);
    t_list_check(g_bss_head, 5000, 10000);
    t_list_check(g_data_head, 5000, 20000);
    t_list_check(g_exported_head, 5000, 30000);
    for (size_t i = 0; i < 500; i++) t_node_check(g_bss_array[i], 40000 + i);
  }
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * (d) globals of a dlopen()ed library
 * ====================================================================== */

typedef struct {
  void *handle;
  void **slots;
  size_t nslots;
  void **data_slot;
  void (*set)(void *);
  void *(*get)(void);
} plugin_t;

static plugin_t plugin_open(void) {
  plugin_t pl;
  pl.handle = dlopen(LIBROOT_PATH, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(pl.handle, "dlopen(%s): %s", LIBROOT_PATH, dlerror());
  void **(*slots_fn)(void) = (void **(*)(void))dlsym(pl.handle, "libroot_slots");
  size_t (*nslots_fn)(void) = (size_t(*)(void))dlsym(pl.handle, "libroot_nslots");
  pl.set = (void (*)(void *))dlsym(pl.handle, "libroot_set");
  pl.get = (void *(*)(void))dlsym(pl.handle, "libroot_get");
  pl.data_slot = (void **)dlsym(pl.handle, "libroot_data_slot");
  cr_assert(slots_fn && nslots_fn && pl.set && pl.get && pl.data_slot, "libroot symbols missing");
  pl.slots = slots_fn();
  pl.nslots = nslots_fn();
  cr_assert_eq((void *)pl.slots, dlsym(pl.handle, "libroot_bss_slots"));
  return pl;
}

static T_NOINLINE void plugin_fill(plugin_t *pl) {
  for (size_t i = 0; i < pl->nslots; i++) pl->slots[i] = t_node_new(50000 + i, t_node_size(50000 + i));
  *pl->data_slot = t_list_new(3000, 60000, 0);
  pl->set(t_list_new(3000, 70000, 0));
}

static T_NOINLINE void plugin_check(plugin_t *pl) {
  for (size_t i = 0; i < pl->nslots; i++) t_node_check(pl->slots[i], 50000 + i);
  t_list_check(*pl->data_slot, 3000, 60000);
  t_list_check(pl->get(), 3000, 70000);
}

Test(roots_dlopen, plugin_loaded_before_first_cgc_call) {
  plugin_t pl = plugin_open();
  plugin_fill(&pl);
  for (int r = 0; r < 8; r++) {
    collect_with_churn(1, 300 + (uint64_t)r);
    plugin_check(&pl);
  }
  T_ASSERT_HEAP_VALID();
}

Test(roots_dlopen, plugin_loaded_after_collections) {
  gc_init();
  t_node *volatile mine = t_list_new(1000, 1, 0);
  collect_with_churn(3, 1);
  plugin_t pl = plugin_open();
  plugin_fill(&pl);
  for (int r = 0; r < 8; r++) {
    collect_with_churn(1, 400 + (uint64_t)r);
    plugin_check(&pl);
  }
  t_list_check(mine, 1000, 1);
  T_ASSERT_HEAP_VALID();
}

Test(roots_dlopen, plugin_unloaded_is_not_scanned) {
  gc_init();
  plugin_t pl = plugin_open();
  plugin_fill(&pl);
  collect_with_churn(2, 5);
  plugin_check(&pl);
  void *h = pl.handle;
  memset(&pl, 0, sizeof pl);
  cr_assert_eq(dlclose(h), 0);
  /* if the library is really gone, scanning its old data would fault */
  cr_assert_null(dlopen(LIBROOT_PATH, RTLD_NOW | RTLD_NOLOAD), "libroot.so still loaded after dlclose");
  collect_with_churn(3, 6);
  T_ASSERT_HEAP_VALID();
}

/* ======================================================================
 * static roots enumeration
 * ====================================================================== */

typedef struct {
  uintptr_t addr[8];
  int found[8];
  size_t naddr;
  size_t nranges;
  int bad_range;
  int overlaps_heap_state;
  uintptr_t relro_lo, relro_hi; /* one RELRO range of the executable */
  int overlaps_relro;
} roots_probe_t;

static void probe_range(uintptr_t lo, uintptr_t hi, void *arg) {
  roots_probe_t *pr = arg;
  pr->nranges++;
  if (hi <= lo) pr->bad_range = 1;
  for (size_t i = 0; i < pr->naddr; i++)
    if (pr->addr[i] >= lo && pr->addr[i] < hi) pr->found[i]++;
  uintptr_t hs = (uintptr_t)&gc__heap, he = hs + sizeof gc__heap;
  if (lo < he && hs < hi) pr->overlaps_heap_state = 1;
  if (pr->relro_hi > pr->relro_lo && lo < pr->relro_hi && pr->relro_lo < hi) pr->overlaps_relro = 1;
}

static int find_relro(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  roots_probe_t *pr = arg;
  if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0') return 0; /* the executable only */
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
      pr->relro_lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
      pr->relro_hi = pr->relro_lo + info->dlpi_phdr[i].p_memsz;
    }
  }
  return 1;
}

Test(roots_static, enumeration_includes_data_excludes_cgc_state) {
  plugin_t pl = plugin_open();
  gc_init();
  roots_probe_t pr;
  memset(&pr, 0, sizeof pr);
  pr.addr[0] = (uintptr_t)&g_bss_head;
  pr.addr[1] = (uintptr_t)&g_data_head;
  pr.addr[2] = (uintptr_t)&g_bss_array[499];
  pr.addr[3] = (uintptr_t)&g_exported_head;
  pr.addr[4] = (uintptr_t)&pl.slots[0];
  pr.addr[5] = (uintptr_t)&pl.slots[pl.nslots - 1];
  pr.addr[6] = (uintptr_t)pl.data_slot;
  pr.naddr = 7;
  dl_iterate_phdr(find_relro, &pr);
  gc__static_roots_for_each(probe_range, &pr);
  cr_assert_gt(pr.nranges, 0);
  cr_assert_eq(pr.bad_range, 0, "an empty or inverted range was reported");
  static const char *what[] = {"executable .bss",
                               "executable .data",
                               "executable .bss array end",
                               "executable exported global",
                               "plugin .bss start",
                               "plugin .bss end",
                               "plugin .data"};
  for (size_t i = 0; i < pr.naddr; i++)
    cr_assert_gt(pr.found[i], 0, "%s (%p) is not in any static root range", what[i], (void *)pr.addr[i]);
  cr_assert_eq(pr.overlaps_heap_state, 0, "a static root range covers gc__heap (cgc's own state)");
  cr_assert_eq(pr.overlaps_relro, 0, "a static root range covers the executable's RELRO segment");
}

/* ======================================================================
 * (e) interior pointers only
 * ====================================================================== */

enum { NINT = 600 };
static unsigned char *volatile g_interior[NINT]; /* the only references: interior */
static size_t g_interior_off[NINT];
static size_t g_interior_size[NINT];

static T_NOINLINE void build_interior(void) {
  uint64_t rs = 77;
  for (size_t i = 0; i < NINT; i++) {
    size_t n;
    if (i == 0 || i == 1)
      n = 16 * T_MiB + i * 5000; /* huge */
    else if (i % 50 == 0)
      n = T_MiB + i; /* large */
    else
      n = t_range(&rs, 2, 3000);
    unsigned char *p = (i & 1) ? gc_malloc(n) : gc_malloc_atomic(n);
    cr_assert_not_null(p);
    t_fill(p, n, 90000 + i);
    size_t off;
    if (i % 7 == 0)
      off = n - 1; /* last byte */
    else if (i % 7 == 1)
      off = 1;
    else
      off = t_range(&rs, 1, n - 1);
    g_interior[i] = p + off;
    g_interior_off[i] = off;
    g_interior_size[i] = n;
  }
}

Test(roots_interior, only_interior_pointers_keep_objects_alive) {
  build_interior();
  for (int r = 0; r < 8; r++) {
    collect_with_churn(1, 500 + (uint64_t)r);
    for (size_t i = 0; i < NINT; i++) {
      unsigned char *base = g_interior[i] - g_interior_off[i];
      cr_assert_eq(gc_base(g_interior[i]), base, "object %zu (%zu bytes) held by p+%zu was reclaimed", i,
                   g_interior_size[i], g_interior_off[i]);
      T_ASSERT_PATTERN(base, g_interior_size[i], 90000 + i);
    }
  }
  T_ASSERT_HEAP_VALID();
}

/* A list whose links all point into the middle of the next node. */
typedef struct inode {
  unsigned char pad[40];
  unsigned char *next_mid; /* points at next->pad + 20 */
  uint64_t id;
} inode;

static inode *volatile g_inode_mid_head;

static T_NOINLINE void build_interior_list(size_t n) {
  unsigned char *prev_mid = NULL;
  for (size_t i = n; i-- > 0;) {
    inode *x = gc_malloc(sizeof *x);
    cr_assert_not_null(x);
    memset(x->pad, (int)(i & 0xFF), sizeof x->pad);
    x->next_mid = prev_mid;
    x->id = i;
    prev_mid = x->pad + 20;
  }
  g_inode_mid_head = (inode *)(void *)prev_mid; /* interior, too */
}

Test(roots_interior, chain_of_interior_links) {
  build_interior_list(100000);
  for (int r = 0; r < 4; r++) {
    collect_with_churn(1, 600 + (uint64_t)r);
    unsigned char *mid = (unsigned char *)g_inode_mid_head;
    for (size_t i = 0; i < 100000; i++) {
      inode *x = (inode *)(void *)(mid - 20);
      cr_assert_eq(gc_base(mid), x, "node %zu of an interior-linked chain was reclaimed", i);
      cr_assert_eq(x->id, i);
      cr_assert_eq(x->pad[39], (unsigned char)(i & 0xFF));
      mid = x->next_mid;
    }
    cr_assert_null(mid);
  }
}

/* ======================================================================
 * (f) deep recursion: 10,000 frames, each holding one object
 * ====================================================================== */

static T_NOINLINE size_t recurse(int depth, uint64_t id) {
  size_t n = 24 + (size_t)(depth % 200) * 8;
  unsigned char *p = gc_malloc(n);
  cr_assert_not_null(p);
  t_fill(p, n, id);
  size_t bad = 0;
  if (depth > 0) {
    bad += recurse(depth - 1, id + 1);
  } else {
    for (int r = 0; r < 4; r++) {
      t_churn(2 * T_MiB, (uint64_t)r);
      gc_collect();
    }
  }
  if (gc_base(p) != p || t_bad(p, n, id) >= 0) bad++;
  return bad;
}

Test(roots_stack, deep_recursion_10000_frames) {
  size_t bad = recurse(10000, 1);
  cr_assert_eq(bad, 0, "%zu objects held by recursion frames were reclaimed or corrupted", bad);
  T_ASSERT_HEAP_VALID();
}
