#!/usr/bin/env bash
# The cgc demo, from a fresh Debian machine: build cgc (optimised), run
# the examples, then benchmark cgc against glibc malloc, bdwgc, jemalloc
# and mimalloc (bench/run.sh --quick: hyperfine medians, peak RSS, ratios).
# Pass --full for the full benchmark run instead of the quick one.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
. tools/deps.sh
cgc_need_packages $CGC_BUILD_PACKAGES $CGC_BENCH_PACKAGES

[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || autoreconf -fi >/dev/null
dir="$top/build/demo"
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" -q CFLAGS="-O2 -g" >/dev/null
make -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

echo "== examples (programs that never free)"
echo "-- wordfreq: the 10 most frequent words of generated text"
./examples/wordfreq --generate 200000 42
echo "-- ptree: a persistent search tree, old versions kept and checked"
./examples/ptree
echo "-- strbuild: a string builder on gc_realloc"
./examples/strbuild
echo
echo "== benchmarks: cgc against malloc (glibc, jemalloc, mimalloc) and bdwgc"
if [ "${1:-}" = "--full" ]; then make bench; else make bench-quick; fi
