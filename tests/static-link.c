/*
 * static-link.c -- a fully static program (linked with -all-static and
 * the -Wl,-u flags the README gives) uses cgc with threads: threads made
 * with plain pthread_create are registered (their stacks are roots), a
 * signal-handling thread waiting in sigwait on a full set neither
 * swallows the stop signal nor holds collections up, and a thread in
 * ppoll with a full mask is stopped too.  Here dlsym finds nothing, so
 * cgc reaches glibc through its internal names or raw system calls.
 * Not a Criterion program (Criterion does not link statically); exit
 * status 0 = pass.
 */
#include <cgc.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct node {
  struct node *next;
  uint64_t id, pat;
} node;

static atomic_int ready, go, sigwait_got, ppoll_got = -2;
static int wake_pipe[2];

static node *build(uint64_t base, int n) {
  node *h = NULL;
  for (int i = 0; i < n; i++) {
    node *x = gc_malloc(sizeof *x);
    if (x == NULL) exit(3);
    x->id = base + (uint64_t)i;
    x->pat = x->id * 0x9E3779B97F4A7C15ull;
    x->next = h;
    h = x;
  }
  return h;
}

static int intact(const node *h, uint64_t base, int n) {
  for (int i = n - 1; i >= 0; i--, h = h->next)
    if (h == NULL || h->id != base + (uint64_t)i || h->pat != h->id * 0x9E3779B97F4A7C15ull) return 0;
  return h == NULL;
}

static void *holder(void *arg) {
  uint64_t base = (uint64_t)(uintptr_t)arg * 100000;
  node *volatile mine = build(base, 5000); /* only on this stack */
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&go)) usleep(1000);
  return intact(mine, base, 5000) ? (void *)1 : NULL;
}

static void *signal_thread(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  atomic_fetch_add(&ready, 1);
  int sig = -1;
  if (sigwait(&all, &sig) != 0) sig = -1;
  atomic_store(&sigwait_got, sig);
  return NULL;
}

static void *poller(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  struct pollfd pf = {.fd = wake_pipe[0], .events = POLLIN};
  struct timespec tmo = {20, 0};
  atomic_fetch_add(&ready, 1);
  int r;
  while ((r = ppoll(&pf, 1, &tmo, &all)) < 0 && errno == EINTR) {}
  atomic_store(&ppoll_got, r);
  return NULL;
}

int main(void) {
  if (pipe(wake_pipe) != 0) return 2;
  pthread_t h[3], s, p;
  for (uintptr_t i = 0; i < 3; i++) pthread_create(&h[i], NULL, holder, (void *)(i + 1));
  pthread_create(&s, NULL, signal_thread, NULL);
  pthread_create(&p, NULL, poller, NULL);
  while (atomic_load(&ready) < 5) usleep(1000);
  usleep(50000); /* the waiters are in their calls */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 10; i++) {
    for (int k = 0; k < 20000; k++) (void)gc_malloc(48);
    gc_collect();
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  int fails = 0;
  if (secs > 10) fprintf(stderr, "static-link: 10 collections took %.1f s\n", secs), fails++;
  atomic_store(&go, 1);
  for (int i = 0; i < 3; i++) {
    void *ok;
    pthread_join(h[i], &ok);
    if (ok == NULL) fprintf(stderr, "static-link: thread %d's list was not intact\n", i), fails++;
  }
  pthread_kill(s, SIGUSR1);
  pthread_join(s, NULL);
  if (atomic_load(&sigwait_got) != SIGUSR1)
    fprintf(stderr, "static-link: sigwait returned %d, not SIGUSR1\n", atomic_load(&sigwait_got)), fails++;
  if (write(wake_pipe[1], "x", 1) != 1) fails++;
  pthread_join(p, NULL);
  if (atomic_load(&ppoll_got) != 1)
    fprintf(stderr, "static-link: ppoll returned %d\n", atomic_load(&ppoll_got)), fails++;
  gc_stats_t st = {.size = sizeof st};
  gc_get_stats(&st);
  printf("static-link: %s (%zu collections in %.2f s)\n", fails ? "FAILED" : "ok", st.collections, secs);
  return fails ? 1 : 0;
}
