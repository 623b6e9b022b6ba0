/* common.c -- helpers shared by the cgc Criterion suites (see common.h). */
#include "common.h"

#include <spawn.h>
#include <stdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

void t_fill(void *p, size_t n, uint64_t id) {
  unsigned char *b = p;
  size_t off = 0, w = 0;
  for (; off + 8 <= n; off += 8, w++) {
    uint64_t v = t_word(id, w);
    memcpy(b + off, &v, 8);
  }
  if (off < n) {
    uint64_t v = t_word(id, w);
    memcpy(b + off, &v, n - off);
  }
}

long t_bad(const void *p, size_t n, uint64_t id) {
  const unsigned char *b = p;
  size_t off = 0, w = 0;
  for (; off + 8 <= n; off += 8, w++) {
    uint64_t v = t_word(id, w), got;
    memcpy(&got, b + off, 8);
    if (got != v) {
      for (size_t k = 0; k < 8; k++)
        if (((const unsigned char *)&got)[k] != ((const unsigned char *)&v)[k]) return (long)(off + k);
    }
  }
  if (off < n) {
    uint64_t v = t_word(id, w);
    const unsigned char *e = (const unsigned char *)&v;
    for (size_t k = 0; off + k < n; k++)
      if (b[off + k] != e[k]) return (long)(off + k);
  }
  return -1;
}

size_t t_first_nonzero(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t off = 0;
  for (; off + 8 <= n; off += 8) {
    uint64_t w;
    memcpy(&w, b + off, 8);
    if (w != 0) break;
  }
  for (; off < n; off++)
    if (b[off] != 0) return off;
  return n;
}

gc_stats_t t_stats(void) {
  gc_stats_t s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  gc_get_stats(&s);
  return s;
}

T_NOINLINE void t_scrub_stack(void) {
  volatile unsigned char buf[64 * 1024];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
  __asm__ volatile("" : : "r"(buf) : "memory");
}

T_NOINLINE void t_collect(void) {
  t_scrub_stack();
  gc_collect();
}

static T_NOINLINE void churn(size_t bytes, uint64_t seed, int small_only) {
  uint64_t s = seed * 0x2545F4914F6CDD1Du + 1;
  size_t done = 0;
  while (done < bytes) {
    uint64_t r = t_rand(&s);
    size_t n;
    unsigned pick = (unsigned)(r % 32);
    if (small_only) pick %= 28;
    if (pick < 20)
      n = 1 + (size_t)((r >> 8) % 256);
    else if (pick < 28)
      n = 256 + (size_t)((r >> 8) % (4 * T_KiB));
    else if (pick < 31)
      n = 4 * T_KiB + (size_t)((r >> 8) % (120 * T_KiB));
    else
      n = 500 * T_KiB + (size_t)((r >> 8) % (700 * T_KiB));
    int atomic = ((r >> 40) & 3) == 0;
    unsigned char *p = atomic ? gc_malloc_atomic(n) : gc_malloc(n);
    if (p == NULL)
      cr_assert_fail("churn: %s(%zu) returned NULL", atomic ? "gc_malloc_atomic" : "gc_malloc", n);
    if (!atomic) {
      size_t z = t_first_nonzero(p, n);
      if (z != n)
        cr_assert_fail("churn: gc_malloc(%zu) = %p is not zeroed at offset %zu (0x%02x)", n, (void *)p, z,
                       p[z]);
    }
    memset(p, 0xA5, n);
    done += n;
  }
}

void t_churn(size_t bytes, uint64_t seed) { churn(bytes, seed, 0); }
void t_churn_small(size_t bytes, uint64_t seed) { churn(bytes, seed, 1); }

T_NOINLINE size_t t_count_live(void *const *ptrs, size_t n) {
  size_t live = 0;
  for (size_t i = 0; i < n; i++)
    if (ptrs[i] != NULL && gc_base(ptrs[i]) == ptrs[i]) live++;
  return live;
}

T_NOINLINE size_t t_count_live_hidden(const uintptr_t *hidden, size_t n) {
  size_t live = 0;
  for (size_t i = 0; i < n; i++) {
    const void *p = (const void *)~hidden[i];
    if (gc_base(p) == p) live++;
  }
  return live;
}

size_t t_node_size(uint64_t id) {
  uint64_t h = t_mix64(id ^ 0x5555);
  if (h % 1000 == 0) return 520 * T_KiB + (size_t)(h >> 20) % (200 * T_KiB);
  if (h % 50 == 0) return 1 * T_KiB + (size_t)(h >> 20) % (60 * T_KiB);
  return sizeof(t_node) + (size_t)(h >> 20) % 400;
}

t_node *t_node_new(uint64_t id, size_t size) {
  if (size < sizeof(t_node)) size = sizeof(t_node);
  t_node *n = gc_malloc(size);
  if (n == NULL) cr_assert_fail("gc_malloc(%zu) for node %llu failed", size, (unsigned long long)id);
  n->id = id;
  n->size = size;
  t_fill((char *)n + sizeof *n, size - sizeof *n, id);
  return n;
}

void t_node_check(const t_node *n, uint64_t id) {
  if (n == NULL) cr_assert_fail("node %llu is missing", (unsigned long long)id);
  if (gc_base(n) != n)
    cr_assert_fail("node %llu at %p is not a live object (gc_base = %p)", (unsigned long long)id,
                   (const void *)n, gc_base(n));
  if (n->id != id)
    cr_assert_fail("node at %p: id %llu, expected %llu", (const void *)n, (unsigned long long)n->id,
                   (unsigned long long)id);
  if (n->size < sizeof *n || gc_size(n) < n->size)
    cr_assert_fail("node %llu at %p: size %zu, gc_size %zu", (unsigned long long)id, (const void *)n, n->size,
                   gc_size(n));
  long bad = t_bad((const char *)n + sizeof *n, n->size - sizeof *n, id);
  if (bad >= 0)
    cr_assert_fail("node %llu at %p (%zu bytes) corrupted at offset %zu", (unsigned long long)id,
                   (const void *)n, n->size, (size_t)bad + sizeof *n);
}

T_NOINLINE t_node *t_list_new(size_t count, uint64_t idbase, size_t fixed_size) {
  t_node *head = NULL;
  for (size_t i = count; i-- > 0;) {
    uint64_t id = idbase + i;
    t_node *n = t_node_new(id, fixed_size ? fixed_size : t_node_size(id));
    n->next = head;
    head = n;
  }
  return head;
}

T_NOINLINE void t_list_check(const t_node *head, size_t count, uint64_t idbase) {
  const t_node *n = head;
  for (size_t i = 0; i < count; i++, n = n->next) t_node_check(n, idbase + i);
  if (n != NULL) cr_assert_fail("list of %zu nodes is longer than expected", count);
}

/* ---- child processes ------------------------------------------------------ */

/* Read what fd holds from its start into buf (NUL-terminated, truncated to
 * cap - 1); *len, when asked, receives the whole length. */
static void slurp(int fd, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  ssize_t r;
  lseek(fd, 0, SEEK_SET);
  while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
  buf[n] = 0;
  if (len) *len = n;
  char tmp[4096];
  while ((r = read(fd, tmp, sizeof tmp)) > 0)
    if (len) *len += (size_t)r;
  close(fd);
}

const char *t_child_scenario(void) {
  const char *scenario = getenv("CGC_TEST_CHILD");
  if (scenario == NULL) return NULL;
  /* Never outlive the test: die with the parent (a Criterion timeout kills
   * it), and in any case after a minute. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(9);
  alarm(60);
  return scenario;
}

t_child_t *t_run_child(const char *scenario, const char *const *env) {
  t_child_t *res = malloc(sizeof *res);
  cr_assert_not_null(res);
  char outname[] = "/tmp/cgc-test-out-XXXXXX", errname[] = "/tmp/cgc-test-err-XXXXXX";
  int outfd = mkstemp(outname), errfd = mkstemp(errname);
  cr_assert(outfd >= 0 && errfd >= 0);
  unlink(outname);
  unlink(errname);
  char *envp[16];
  char child[64];
  snprintf(child, sizeof child, "CGC_TEST_CHILD=%s", scenario);
  size_t k = 0;
  envp[k++] = child;
  static const char *const sanitizer_vars[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS"};
  char sanitizer_env[2][1024];
  for (size_t i = 0; i < 2; i++) { /* the options of this run's sanitizer build */
    const char *v = getenv(sanitizer_vars[i]);
    if (v == NULL) continue;
    snprintf(sanitizer_env[i], sizeof sanitizer_env[i], "%s=%s", sanitizer_vars[i], v);
    envp[k++] = sanitizer_env[i];
  }
  for (; env && *env && k < 15; env++) envp[k++] = (char *)*env;
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, outfd, 1);
  posix_spawn_file_actions_adddup2(&fa, errfd, 2);
  char *argv[] = {(char *)"cgc-test-child", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
  cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
  posix_spawn_file_actions_destroy(&fa);
  cr_assert_eq(waitpid(pid, &res->status, 0), pid);
  slurp(outfd, res->out, sizeof res->out, NULL);
  slurp(errfd, res->err, sizeof res->err, &res->err_len);
  return res;
}
