# bench fragment (owned by the bench work).  Included by the top-level
# Makefile.am; paths are relative to the top directory.
#
# Every workload bench/NAME.c is written once against bench/mode.h and
# built once per allocation mode, as bench/NAME-cgc, bench/NAME-bdwgc (only
# when configure found bdw-gc) and bench/NAME-malloc.  They are ordinary
# noinst programs (three small files, so `make` stays fast, and a warning
# in them shows up in every build); `make bench` / `make bench-quick`
# build them if needed and run bench/run.sh on them.
#
# To add a workload NAME: copy the three gcbench blocks below, add the
# programs to BENCH_PROGS_*, and add NAME to the table at the top of
# bench/run.sh.

BENCH_CGC_FLAGS = $(AM_CPPFLAGS) -DBENCH_MODE_CGC
BENCH_BDWGC_FLAGS = $(AM_CPPFLAGS) $(BDWGC_CFLAGS) -DBENCH_MODE_BDWGC
BENCH_MALLOC_FLAGS = $(AM_CPPFLAGS) -DBENCH_MODE_MALLOC

BENCH_PROGS_CGC = bench/gcbench-cgc
BENCH_PROGS_MALLOC = bench/gcbench-malloc
BENCH_PROGS_BDWGC = bench/gcbench-bdwgc

# ---- gcbench ---------------------------------------------------------------
bench_gcbench_cgc_SOURCES = bench/gcbench.c bench/mode.h
bench_gcbench_cgc_CPPFLAGS = $(BENCH_CGC_FLAGS)
bench_gcbench_cgc_LDADD = libcgc.la
# Link the uninstalled libtool library statically, so that the program
# runs straight from the build tree (no libtool wrapper script).
bench_gcbench_cgc_LDFLAGS = -static

bench_gcbench_malloc_SOURCES = bench/gcbench.c bench/mode.h
bench_gcbench_malloc_CPPFLAGS = $(BENCH_MALLOC_FLAGS)

bench_gcbench_bdwgc_SOURCES = bench/gcbench.c bench/mode.h
bench_gcbench_bdwgc_CPPFLAGS = $(BENCH_BDWGC_FLAGS)
bench_gcbench_bdwgc_LDADD = $(BDWGC_LIBS)

# ---- binarytrees -----------------------------------------------------------
bench_binarytrees_cgc_SOURCES = bench/binarytrees.c bench/mode.h
bench_binarytrees_cgc_CPPFLAGS = $(BENCH_CGC_FLAGS)
bench_binarytrees_cgc_LDADD = libcgc.la
bench_binarytrees_cgc_LDFLAGS = -static
bench_binarytrees_malloc_SOURCES = bench/binarytrees.c bench/mode.h
bench_binarytrees_malloc_CPPFLAGS = $(BENCH_MALLOC_FLAGS)
bench_binarytrees_bdwgc_SOURCES = bench/binarytrees.c bench/mode.h
bench_binarytrees_bdwgc_CPPFLAGS = $(BENCH_BDWGC_FLAGS)
bench_binarytrees_bdwgc_LDADD = $(BDWGC_LIBS)
BENCH_PROGS_CGC += bench/binarytrees-cgc
BENCH_PROGS_MALLOC += bench/binarytrees-malloc
BENCH_PROGS_BDWGC += bench/binarytrees-bdwgc

# ---- mixed -----------------------------------------------------------------
bench_mixed_cgc_SOURCES = bench/mixed.c bench/mode.h
bench_mixed_cgc_CPPFLAGS = $(BENCH_CGC_FLAGS)
bench_mixed_cgc_LDADD = libcgc.la
bench_mixed_cgc_LDFLAGS = -static
bench_mixed_malloc_SOURCES = bench/mixed.c bench/mode.h
bench_mixed_malloc_CPPFLAGS = $(BENCH_MALLOC_FLAGS)
bench_mixed_bdwgc_SOURCES = bench/mixed.c bench/mode.h
bench_mixed_bdwgc_CPPFLAGS = $(BENCH_BDWGC_FLAGS)
bench_mixed_bdwgc_LDADD = $(BDWGC_LIBS)
BENCH_PROGS_CGC += bench/mixed-cgc
BENCH_PROGS_MALLOC += bench/mixed-malloc
BENCH_PROGS_BDWGC += bench/mixed-bdwgc

# ---- mt-binarytrees --------------------------------------------------------
bench_mt_binarytrees_cgc_SOURCES = bench/mt-binarytrees.c bench/mode.h
bench_mt_binarytrees_cgc_CPPFLAGS = $(BENCH_CGC_FLAGS)
bench_mt_binarytrees_cgc_LDADD = libcgc.la
bench_mt_binarytrees_cgc_LDFLAGS = -static -pthread
bench_mt_binarytrees_malloc_SOURCES = bench/mt-binarytrees.c bench/mode.h
bench_mt_binarytrees_malloc_CPPFLAGS = $(BENCH_MALLOC_FLAGS)
bench_mt_binarytrees_malloc_LDFLAGS = -pthread
bench_mt_binarytrees_bdwgc_SOURCES = bench/mt-binarytrees.c bench/mode.h
bench_mt_binarytrees_bdwgc_CPPFLAGS = $(BENCH_BDWGC_FLAGS)
bench_mt_binarytrees_bdwgc_LDADD = $(BDWGC_LIBS)
bench_mt_binarytrees_bdwgc_LDFLAGS = -pthread
BENCH_PROGS_CGC += bench/mt-binarytrees-cgc
BENCH_PROGS_MALLOC += bench/mt-binarytrees-malloc
BENCH_PROGS_BDWGC += bench/mt-binarytrees-bdwgc

# ---- pause -----------------------------------------------------------------
bench_pause_cgc_SOURCES = bench/pause.c bench/mode.h
bench_pause_cgc_CPPFLAGS = $(BENCH_CGC_FLAGS)
bench_pause_cgc_LDADD = libcgc.la
bench_pause_cgc_LDFLAGS = -static
bench_pause_malloc_SOURCES = bench/pause.c bench/mode.h
bench_pause_malloc_CPPFLAGS = $(BENCH_MALLOC_FLAGS)
bench_pause_bdwgc_SOURCES = bench/pause.c bench/mode.h
bench_pause_bdwgc_CPPFLAGS = $(BENCH_BDWGC_FLAGS)
bench_pause_bdwgc_LDADD = $(BDWGC_LIBS)
BENCH_PROGS_CGC += bench/pause-cgc
BENCH_PROGS_MALLOC += bench/pause-malloc
BENCH_PROGS_BDWGC += bench/pause-bdwgc

# ---- json ------------------------------------------------------------------
bench_json_cgc_SOURCES = bench/json.c bench/mode.h
bench_json_cgc_CPPFLAGS = $(BENCH_CGC_FLAGS)
bench_json_cgc_LDADD = libcgc.la
bench_json_cgc_LDFLAGS = -static
bench_json_malloc_SOURCES = bench/json.c bench/mode.h
bench_json_malloc_CPPFLAGS = $(BENCH_MALLOC_FLAGS)
bench_json_bdwgc_SOURCES = bench/json.c bench/mode.h
bench_json_bdwgc_CPPFLAGS = $(BENCH_BDWGC_FLAGS)
bench_json_bdwgc_LDADD = $(BDWGC_LIBS)
BENCH_PROGS_CGC += bench/json-cgc
BENCH_PROGS_MALLOC += bench/json-malloc
BENCH_PROGS_BDWGC += bench/json-bdwgc

# ---- programs and targets ----------------------------------------------------
noinst_PROGRAMS += $(BENCH_PROGS_CGC) $(BENCH_PROGS_MALLOC)
BENCH_PROGS = $(BENCH_PROGS_CGC) $(BENCH_PROGS_MALLOC)
if HAVE_BDWGC
noinst_PROGRAMS += $(BENCH_PROGS_BDWGC)
BENCH_PROGS += $(BENCH_PROGS_BDWGC)
endif

EXTRA_DIST += bench/run.sh bench/README.md

# Extra arguments for run.sh, e.g. make bench BENCH_ARGS='--runs 20'.
BENCH_ARGS =

# run.sh writes bench/results/*.json and summary.{json,md} under the build
# directory (never into the source tree of a VPATH build).
bench: $(BENCH_PROGS)
	bash $(top_srcdir)/bench/run.sh $(BENCH_ARGS) $(top_builddir)/bench

bench-quick: $(BENCH_PROGS)
	bash $(top_srcdir)/bench/run.sh --quick $(BENCH_ARGS) $(top_builddir)/bench

.PHONY: bench bench-quick

# ---- fast-path instruction count ------------------------------------------------
# `make bench-callgrind`: instructions per gc_malloc and gc_malloc_atomic
# call, counted by callgrind (deterministic, unlike time); fails when one
# is over its budget in gc/alloc/alloc_inline.h (read by
# tests/check-fastpath.sh --budgets, which holds the disassembly to the
# same numbers in `make check`).  The Ir of the public name and of its
# hidden alias target (gc__malloc) are summed, whichever callgrind shows.
noinst_PROGRAMS += bench/fastpath
bench_fastpath_SOURCES = bench/fastpath.c
bench_fastpath_LDADD = libcgc.la
bench_fastpath_LDFLAGS = -static

bench-callgrind: bench/fastpath
	valgrind --tool=callgrind --callgrind-out-file=bench/fastpath.callgrind bench/fastpath >bench/fastpath.out 2>&1
	@srcdir=$(srcdir) $(SHELL) $(top_srcdir)/tests/check-fastpath.sh --budgets >bench/fastpath.budgets
	@calls=$$(sed -n 's/^fastpath: \([0-9]*\) calls.*/\1/p' bench/fastpath.out); \
	callgrind_annotate --auto=no bench/fastpath.callgrind | awk -v calls="$$calls" ' \
	  NR == FNR { fn[++nfn] = $$1; budget[$$1] = $$2; next } \
	  /^ *[0-9,]+ / { f = $$0; sub(/ \[.*/, "", f); sub(/.*:/, "", f); sub(/^gc__/, "gc_", f); \
	    if (f in budget) { n = $$1; gsub(",", "", n); ir[f] += n } } \
	  END { if (calls + 0 == 0) { print "bench-callgrind: no call count in bench/fastpath.out"; exit 1 } \
	    for (i = 1; i <= nfn; i++) { f = fn[i]; per = ir[f] / calls; over = per > budget[f]; bad += over; \
	      printf "%s: %.2f instructions per call, budget %d%s (fast path incl. ret; refills are in gc__alloc_slow)\n", \
	        f, per, budget[f], over ? ": OVER BUDGET" : "" } \
	    exit bad != 0 }' bench/fastpath.budgets -
CLEANFILES += bench/fastpath.callgrind bench/fastpath.out bench/fastpath.budgets
.PHONY: bench-callgrind

# ---- charts ------------------------------------------------------------------
# run.sh draws bench/results/charts/*.{png,svg} with bench/charts.py and
# bench/charts.gp (gnuplot) at the end of every run.  `make bench-charts`
# redraws them from the last run's bench/results/summary.json;
# `make bench-publish` also copies them, summary.md and summary.json into
# the source tree's docs/bench/ (for the README; commit them by hand).
EXTRA_DIST += bench/charts.py bench/charts.gp

bench-charts:
	python3 $(top_srcdir)/bench/charts.py $(top_builddir)/bench/results

bench-publish:
	python3 $(top_srcdir)/bench/charts.py --publish $(abs_top_srcdir)/docs/bench $(top_builddir)/bench/results

.PHONY: bench-charts bench-publish
