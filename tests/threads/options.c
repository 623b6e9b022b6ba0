/*
 * options.c -- the options suite of the thread tests: CGC_SIGNAL, the
 * signal that stops the world (each value in a child of its own, whose
 * threads are stopped with it).
 *
 * Helpers shared by the thread suites: common_threads.h.
 */
#include "common_threads.h"

#include <signal.h>
#include <stdio.h>

/* ======================================================================
 * Child processes: each CGC_SIGNAL value needs an environment of its own.
 * The program re-executes itself with CGC_TEST_CHILD naming the scenario;
 * a constructor runs it before Criterion starts (t_run_child, common.h).
 * Plain checks, exit codes.
 * ====================================================================== */

/* ---- CGC_SIGNAL ---- */

static int child_signal(void) {
  sem_init(&s_ready, 0, 0);
  sem_init(&s_go, 0, 0);
  gc_init();
  int sig = gc__world_signal();
  struct sigaction sa;
  sigaction(sig, NULL, &sa);
  printf("signal=%d installed=%d restart=%d", sig,
         (sa.sa_flags & SA_SIGINFO) != 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN,
         (sa.sa_flags & SA_RESTART) != 0);
  sigaction(SIGPWR, NULL, &sa);
  printf(" pwr_default=%d", sa.sa_handler == SIG_DFL);
  enum { N = 3 };
  pthread_t th[N];
  for (int i = 0; i < N; i++)
    if (pthread_create(&th[i], NULL, stack_holder, (void *)(uintptr_t)(24000000 + 100000 * i)) != 0) return 3;
  for (int i = 0; i < N; i++) sem_wait_nointr(&s_ready);
  size_t c0 = collections();
  churn_collect(15, 23);
  for (int i = 0; i < N; i++) sem_post(&s_go);
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  printf(" collections=%zu\n", collections() - c0);
  return child_report();
}

typedef struct {
  const char *env;
  int expect; /* signal number */
  bool invalid;
} sigcase_t;

Test(options, cgc_signal, .timeout = 60.) {
  char rtmin2[32], num12[32];
  snprintf(rtmin2, sizeof rtmin2, "%d", SIGRTMIN + 2);
  snprintf(num12, sizeof num12, "%d", SIGUSR2);
  const sigcase_t cases[] = {
      {NULL, SIGPWR, false},
      {"CGC_SIGNAL=SIGUSR2", SIGUSR2, false},
      {"CGC_SIGNAL=USR1", SIGUSR1, false},
      {"CGC_SIGNAL=RTMIN+2", SIGRTMIN + 2, false},
      {"CGC_SIGNAL=SIGRTMIN+5", SIGRTMIN + 5, false},
      {"CGC_SIGNAL=12", 12, false},
      {"CGC_SIGNAL=SIGXCPU", SIGXCPU, false},
      {"CGC_SIGNAL=KILL", SIGPWR, true},
      {"CGC_SIGNAL=SIGSEGV", SIGPWR, true},
      {"CGC_SIGNAL=SEGV", SIGPWR, true},
      {"CGC_SIGNAL=STOP", SIGPWR, true},
      {"CGC_SIGNAL=0", SIGPWR, true},
      {"CGC_SIGNAL=9", SIGPWR, true},
      {"CGC_SIGNAL=abc", SIGPWR, true},
      {"CGC_SIGNAL=RTMIN+", SIGPWR, true},
      {"CGC_SIGNAL=200", SIGPWR, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const sigcase_t *c = &cases[i];
    const char *env[] = {c->env, NULL};
    t_child_t *res = t_run_child("signal", env);
    const char *what = c->env ? c->env : "(no CGC_SIGNAL)";
    ASSERT_CHILD_EXIT0(res, what);
    int sig = -1, installed = -1, restart = -1, pwr_default = -1;
    size_t coll = 0;
    cr_assert_eq(sscanf(res->out, "signal=%d installed=%d restart=%d pwr_default=%d collections=%zu", &sig,
                        &installed, &restart, &pwr_default, &coll),
                 5, "%s: bad child output: %s", what, res->out);
    cr_assert_eq(sig, c->expect, "%s: cgc uses signal %d, expected %d", what, sig, c->expect);
    cr_assert_eq(installed, 1, "%s: no SA_SIGINFO handler on signal %d", what, sig);
    cr_assert_eq(restart, 1, "%s: the stop handler lacks SA_RESTART", what);
    if (c->expect != SIGPWR) cr_assert_eq(pwr_default, 1, "%s: SIGPWR was touched", what);
    cr_assert_geq(coll, 15, "%s", what);
    if (c->invalid) {
      cr_assert_not_null(strstr(res->err, "CGC_SIGNAL"), "%s: the invalid value was not reported:\n%s", what,
                         res->err);
    } else {
      cr_assert_eq(res->err_len, 0, "%s: unexpected messages:\n%s", what, res->err);
    }
    free(res);
  }
}

/* ---- the constructor that runs scenarios ---- */

__attribute__((constructor)) static void child_main(void) {
  static const child_scenario_t scenarios[] = {
      {"signal", child_signal},
  };
  run_child_scenario(scenarios, sizeof scenarios / sizeof scenarios[0]);
}
