/*
 * libhook.c -- LD_PRELOADed into a re-executed tests/threads/registration
 * child to make a start-up race deterministic.  cgc (linked into the
 * executable) calls the "real" pthread_setspecific it finds with
 * dlsym(RTLD_NEXT, ...), which is this one: once armed, the next call
 * for cgc's key (hook_key) from a thread other than the armer does the
 * store and then parks until the test releases it.  That is cgc
 * registering a new thread (threads/registry.c attach()), so the test can
 * collect while the thread sits right after its registration, before its
 * start routine runs.  (Other keys are let through: ASan's runtime sets
 * one of its own first, in the new thread.)  It does not link cgc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>

atomic_int hook_armed;
pthread_t hook_armer;
pthread_key_t hook_key;
sem_t hook_parked, hook_release;

int pthread_setspecific(pthread_key_t key, const void *value) {
  static int (*next)(pthread_key_t, const void *);
  if (next == NULL) next = (int (*)(pthread_key_t, const void *))dlsym(RTLD_NEXT, "pthread_setspecific");
  if (next == NULL) abort();
  int r = next(key, value);
  int one = 1;
  if (key == hook_key && atomic_load(&hook_armed) && !pthread_equal(pthread_self(), hook_armer) &&
      atomic_compare_exchange_strong(&hook_armed, &one, 0)) {
    sem_post(&hook_parked);
    while (sem_wait(&hook_release) != 0) {}
  }
  return r;
}
