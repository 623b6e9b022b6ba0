# tests fragment (owned by the tests work)
#
# Criterion suites, run by `make check`.  Every program links the static
# libcgc so that the hidden gc__* internals are callable.  Each Criterion
# test runs in its own process, so a test may set CGC_* options with
# setenv() before its first cgc call.

EXTRA_DIST += tests/common.h tests/common.c tests/libroot.c tests/libtls.c tests/libhook.c tests/tsan-stress.c \
	tests/threads/common_threads.h tests/threads/common_threads.c

if HAVE_CRITERION

cgc_test_cppflags = $(AM_CPPFLAGS) -I$(top_srcdir)/include -I$(top_srcdir)/gc -I$(top_builddir) \
	$(ATOMIC_OPS_CFLAGS) -DTEST_LIBDIR=\"$(abs_top_builddir)/tests/.libs\"
cgc_test_cflags = $(AM_CFLAGS) $(CRITERION_CFLAGS)
cgc_test_ldadd = libcgc.la $(CRITERION_LIBS)
cgc_test_ldflags = -static
cgc_test_common = tests/common.c tests/common.h
# The thread suites (tests/threads/, one program per Criterion suite)
# also share common_threads.{h,c}.
cgc_threads_common = tests/threads/common_threads.c tests/threads/common_threads.h $(cgc_test_common)

# A plugin that test_roots dlopen()s: its globals are roots.  It does not
# link cgc.
check_LTLIBRARIES += tests/libroot.la
tests_libroot_la_SOURCES = tests/libroot.c
tests_libroot_la_CFLAGS = $(AM_CFLAGS)
tests_libroot_la_LDFLAGS = -module -avoid-version -rpath /nowhere

# A plugin that tests/threads/roots dlopen()s after its threads started:
# its general-dynamic __thread variables are roots (found through each
# thread's DTV).  It does not link cgc.
check_LTLIBRARIES += tests/libtls.la
tests_libtls_la_SOURCES = tests/libtls.c
tests_libtls_la_CFLAGS = $(AM_CFLAGS)
tests_libtls_la_LDFLAGS = -module -avoid-version -rpath /nowhere

# LD_PRELOADed into a tests/threads/registration child: parks a new
# thread right after cgc registered it (see the file).  It does not link
# cgc.
check_LTLIBRARIES += tests/libhook.la
tests_libhook_la_SOURCES = tests/libhook.c
tests_libhook_la_CFLAGS = $(AM_CFLAGS)
tests_libhook_la_LDFLAGS = -module -avoid-version -rpath /nowhere

cgc_tests = \
	tests/test_api \
	tests/test_death \
	tests/test_roots \
	tests/test_collect \
	tests/test_sizes \
	tests/test_options \
	tests/test_stress \
	tests/test_mark \
	tests/test_stats \
	tests/test_osfail \
	tests/threads/stress \
	tests/threads/roots \
	tests/threads/registration \
	tests/threads/coroutines \
	tests/threads/signals \
	tests/threads/free \
	tests/threads/churn \
	tests/threads/fork \
	tests/threads/options

check_PROGRAMS += $(cgc_tests)
TESTS += $(cgc_tests)

tests_test_api_SOURCES = tests/test_api.c $(cgc_test_common)
tests_test_api_CPPFLAGS = $(cgc_test_cppflags)
tests_test_api_CFLAGS = $(cgc_test_cflags)
tests_test_api_LDADD = $(cgc_test_ldadd)
tests_test_api_LDFLAGS = $(cgc_test_ldflags)

tests_test_death_SOURCES = tests/test_death.c $(cgc_test_common)
tests_test_death_CPPFLAGS = $(cgc_test_cppflags)
tests_test_death_CFLAGS = $(cgc_test_cflags)
tests_test_death_LDADD = $(cgc_test_ldadd)
tests_test_death_LDFLAGS = $(cgc_test_ldflags)

# test_roots dlopen()s tests/.libs/libroot.so: build it first.
tests_test_roots_SOURCES = tests/test_roots.c $(cgc_test_common)
tests_test_roots_CPPFLAGS = $(cgc_test_cppflags)
tests_test_roots_CFLAGS = $(cgc_test_cflags)
tests_test_roots_LDADD = $(cgc_test_ldadd)
tests_test_roots_LDFLAGS = $(cgc_test_ldflags)
tests_test_roots_DEPENDENCIES = libcgc.la tests/libroot.la

tests_test_collect_SOURCES = tests/test_collect.c $(cgc_test_common)
tests_test_collect_CPPFLAGS = $(cgc_test_cppflags)
tests_test_collect_CFLAGS = $(cgc_test_cflags)
tests_test_collect_LDADD = $(cgc_test_ldadd)
tests_test_collect_LDFLAGS = $(cgc_test_ldflags)

tests_test_sizes_SOURCES = tests/test_sizes.c $(cgc_test_common)
tests_test_sizes_CPPFLAGS = $(cgc_test_cppflags)
tests_test_sizes_CFLAGS = $(cgc_test_cflags)
tests_test_sizes_LDADD = $(cgc_test_ldadd)
tests_test_sizes_LDFLAGS = $(cgc_test_ldflags)

tests_test_options_SOURCES = tests/test_options.c $(cgc_test_common)
tests_test_options_CPPFLAGS = $(cgc_test_cppflags)
tests_test_options_CFLAGS = $(cgc_test_cflags)
tests_test_options_LDADD = $(cgc_test_ldadd)
tests_test_options_LDFLAGS = $(cgc_test_ldflags)

tests_test_stress_SOURCES = tests/test_stress.c $(cgc_test_common)
tests_test_stress_CPPFLAGS = $(cgc_test_cppflags)
tests_test_stress_CFLAGS = $(cgc_test_cflags)
tests_test_stress_LDADD = $(cgc_test_ldadd)
tests_test_stress_LDFLAGS = $(cgc_test_ldflags)

tests_test_mark_SOURCES = tests/test_mark.c $(cgc_test_common)
tests_test_mark_CPPFLAGS = $(cgc_test_cppflags)
tests_test_mark_CFLAGS = $(cgc_test_cflags)
tests_test_mark_LDADD = $(cgc_test_ldadd)
tests_test_mark_LDFLAGS = $(cgc_test_ldflags)

tests_test_stats_SOURCES = tests/test_stats.c $(cgc_test_common)
tests_test_stats_CPPFLAGS = $(cgc_test_cppflags)
tests_test_stats_CFLAGS = $(cgc_test_cflags)
tests_test_stats_LDADD = $(cgc_test_ldadd)
tests_test_stats_LDFLAGS = $(cgc_test_ldflags)
tests_test_osfail_SOURCES = tests/test_osfail.c $(cgc_test_common)
tests_test_osfail_CPPFLAGS = $(cgc_test_cppflags)
tests_test_osfail_CFLAGS = $(cgc_test_cflags)
tests_test_osfail_LDADD = $(cgc_test_ldadd)
tests_test_osfail_LDFLAGS = $(cgc_test_ldflags)

# The thread suites (see cgc_threads_common).
tests_threads_stress_SOURCES = tests/threads/stress.c $(cgc_threads_common)
tests_threads_stress_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_stress_CFLAGS = $(cgc_test_cflags)
tests_threads_stress_LDADD = $(cgc_test_ldadd)
tests_threads_stress_LDFLAGS = $(cgc_test_ldflags)

# roots dlopen()s tests/.libs/libtls.so: build it first.
tests_threads_roots_SOURCES = tests/threads/roots.c $(cgc_threads_common)
tests_threads_roots_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_roots_CFLAGS = $(cgc_test_cflags)
tests_threads_roots_LDADD = $(cgc_test_ldadd)
tests_threads_roots_LDFLAGS = $(cgc_test_ldflags)
tests_threads_roots_DEPENDENCIES = libcgc.la tests/libtls.la

# registration preloads tests/.libs/libhook.so into a child: build it first.
tests_threads_registration_SOURCES = tests/threads/registration.c $(cgc_threads_common)
tests_threads_registration_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_registration_CFLAGS = $(cgc_test_cflags)
tests_threads_registration_LDADD = $(cgc_test_ldadd)
tests_threads_registration_LDFLAGS = $(cgc_test_ldflags)
tests_threads_registration_DEPENDENCIES = libcgc.la tests/libhook.la

tests_threads_coroutines_SOURCES = tests/threads/coroutines.c $(cgc_threads_common)
tests_threads_coroutines_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_coroutines_CFLAGS = $(cgc_test_cflags)
tests_threads_coroutines_LDADD = $(cgc_test_ldadd)
tests_threads_coroutines_LDFLAGS = $(cgc_test_ldflags)

tests_threads_signals_SOURCES = tests/threads/signals.c $(cgc_threads_common)
tests_threads_signals_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_signals_CFLAGS = $(cgc_test_cflags)
tests_threads_signals_LDADD = $(cgc_test_ldadd)
tests_threads_signals_LDFLAGS = $(cgc_test_ldflags)

tests_threads_free_SOURCES = tests/threads/free.c $(cgc_threads_common)
tests_threads_free_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_free_CFLAGS = $(cgc_test_cflags)
tests_threads_free_LDADD = $(cgc_test_ldadd)
tests_threads_free_LDFLAGS = $(cgc_test_ldflags)

tests_threads_churn_SOURCES = tests/threads/churn.c $(cgc_threads_common)
tests_threads_churn_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_churn_CFLAGS = $(cgc_test_cflags)
tests_threads_churn_LDADD = $(cgc_test_ldadd)
tests_threads_churn_LDFLAGS = $(cgc_test_ldflags)

tests_threads_fork_SOURCES = tests/threads/fork.c $(cgc_threads_common)
tests_threads_fork_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_fork_CFLAGS = $(cgc_test_cflags)
tests_threads_fork_LDADD = $(cgc_test_ldadd)
tests_threads_fork_LDFLAGS = $(cgc_test_ldflags)

tests_threads_options_SOURCES = tests/threads/options.c $(cgc_threads_common)
tests_threads_options_CPPFLAGS = $(cgc_test_cppflags)
tests_threads_options_CFLAGS = $(cgc_test_cflags)
tests_threads_options_LDADD = $(cgc_test_ldadd)
tests_threads_options_LDFLAGS = $(cgc_test_ldflags)

endif HAVE_CRITERION

# A fully static program (not Criterion, which does not link statically):
# threads, sigwait and ppoll without dlsym (see the file).  The -u flags
# are the README's.  Not in sanitizer builds (see configure.ac).
EXTRA_DIST += tests/static-link.c
if !SANITIZED
check_PROGRAMS += tests/static-link
TESTS += tests/static-link
tests_static_link_SOURCES = tests/static-link.c
tests_static_link_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/include
tests_static_link_LDADD = libcgc.la $(ATOMIC_OPS_LIBS) -lpthread
tests_static_link_LDFLAGS = -all-static \
	-Wl,-u,__pthread_create_2_1,-u,__pthread_setspecific,-u,__pthread_key_delete,-u,__pthread_sigmask,-u,__sigprocmask
endif !SANITIZED

# Mechanical checks of the built libcgc.so, run from the top build
# directory: no internal call through an exported name, and only the
# intended symbols exported (check-plt.sh); gc_malloc's fast path within
# its instruction budget of gc/alloc/alloc_inline.h (check-fastpath.sh,
# skipped outside optimised release builds).  Executable scripts, run
# directly, as examples/check-examples.sh is; no Criterion needed.
TESTS += tests/check-plt.sh tests/check-fastpath.sh
EXTRA_DIST += tests/check-plt.sh tests/check-fastpath.sh
