#!/usr/bin/env bash
# Build cgc and run the whole test suite, from a fresh Debian machine:
#   0. gc/'s include rules (tools/check-layers.sh), clang-format
#      (tools/check-format.sh), the man pages (tools/check-man.sh)
#   1. gcc build with -Werror: make check (Criterion tests + examples)
#   1b. gcc --enable-debug=2 build: make check with the lock, world-stopped
#      and span-state assertions, the expensive checks and the heap walker
#      after every collection (about 1.7x the release suite's time)
#   2. clang build with -Werror and -fsanitize=undefined: make check
#   3. clang build with -Werror and -fsanitize=address: make check (free heap
#      memory is poisoned there: gc/base/track.h)
#   4. ThreadSanitizer: the library and tests/tsan-stress.c (tools/tsan.sh)
#   5. make distcheck (the release tarball builds, installs and checks)
# Prints a closing "tests: N passed, N failed" line (and how many were
# skipped: tests/check-fastpath.sh in the sanitizer builds); exits non-zero
# on any failure.  Build trees go to build/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
. tools/deps.sh
cgc_need_packages $CGC_BUILD_PACKAGES

[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || autoreconf -fi >/dev/null
jobs=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0 skipped=0

# Sum the Criterion synthesis lines and the examples script of one build.
count_results() {
  local dir=$1 log t p f c
  for log in "$dir"/tests/*.log "$dir"/tests/*/*.log; do # tests/threads/*.log too
    [ -f "$log" ] || continue
    # "[====] Synthesis: Tested: 12 | Passing: 12 | Failing: 0 | Crashing: 0"
    if line=$(grep -a "Synthesis:" "$log" | tail -n1) && [ -n "$line" ]; then
      p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
      f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
      c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
      passed=$((passed + p)); failed=$((failed + f + c))
    elif [ -f "${log%.log}.trs" ]; then # a plain test program (tests/static-link) or script (tests/check-*.sh)
      if grep -q "^:test-result: PASS" "${log%.log}.trs"; then
        passed=$((passed + 1))
      elif grep -q "^:test-result: SKIP" "${log%.log}.trs"; then
        skipped=$((skipped + 1))
      else
        failed=$((failed + 1))
      fi
    fi
  done
  for log in "$dir"/examples/*.log; do
    [ -f "$log" ] || continue
    if grep -q "^:test-result: PASS" "${log%.log}.trs" 2>/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
}

run_build() { # name, then configure arguments
  local name=$1; shift
  local dir="$top/build/$name"
  echo "== $name: configure $*"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && "$top/configure" -q "$@" >/dev/null)
  echo "== $name: make check"
  local rc=0
  (cd "$dir" && make -j"$jobs" >/dev/null && make -j"$jobs" check) || rc=$?
  count_results "$dir"
  if [ $rc -ne 0 ]; then
    failed=$((failed + 1)) # the build or a test program failed (maybe before any test ran)
    echo "== $name: FAILED; logs:"; for f in "$dir"/tests/*.log "$dir"/tests/*/*.log "$dir"/examples/*.log; do
      [ -f "$f" ] && grep -qaE "FAIL|Crash|crash|Assert|ERROR" "$f" && { echo "--- $f"; tail -n 40 "$f"; }
    done
    return $rc
  fi
}

# libtool compiles each source twice and hides the second (non-PIC) pass's
# output, so the library is also compiled here directly, both ways, with
# both compilers (config.h from the gcc build); and once more by clang with
# the debug build's config.h (gcc compiled that one with -Werror already).
# Beyond -Wall -Wextra, Lua's set, and clang's -Wcomma; gc/ only (tests
# and bench are not held to it).  A false positive gets an explicit cast
# with its reason, not a pragma.
check_warnings() {
  local cc pic f ok cfg cc_pic_cfg extra
  local strict="-Wshadow -Wconversion -Wmissing-prototypes -Wundef -Wstrict-prototypes -Wswitch-enum -Wformat=2 -Wcast-qual"
  echo "== warnings: gcc and clang, PIC and non-PIC, -Wall -Wextra $strict (clang: -Wcomma) -Werror; clang with --enable-debug=2"
  for cc_pic_cfg in "gcc -fno-PIC gcc" "gcc -fPIC gcc" "clang -fno-PIC gcc" "clang -fPIC gcc" "clang -fPIC gcc-debug"; do
    read -r cc pic cfg <<<"$cc_pic_cfg"
    extra=
    if [ "$cc" = clang ]; then extra=-Wcomma; fi
    ok=1
    for f in $(find "$top/gc" -name '*.c' | sort); do
      $cc -std=c11 -O2 -Wall -Wextra $strict $extra -Werror -D_GNU_SOURCE -DCGC_BUILDING -fvisibility=hidden $pic \
        -I"$top/build/$cfg" -I"$top/include" -I"$top/gc" -c "$f" -o /dev/null || ok=0
    done
    if ((ok)); then passed=$((passed + 1)); else echo "warnings: $cc $pic ($cfg) FAILED"; failed=$((failed + 1)); return 1; fi
  done
}

status=0
echo "== layers: gc/ include rules (tools/check-layers.sh)"
if bash tools/check-layers.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
echo "== format: clang-format (tools/check-format.sh)"
if bash tools/check-format.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
echo "== man pages: every public function has one, every option, no groff warning (tools/check-man.sh)"
if bash tools/check-man.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
run_build gcc CC=gcc CFLAGS="-O2 -g -Werror" || status=1
run_build gcc-debug CC=gcc --enable-debug=2 CFLAGS="-O1 -g -Werror" || status=1
check_warnings || status=1
run_build clang-ubsan CC=clang \
  CFLAGS="-O1 -g -Werror -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  LDFLAGS="-fsanitize=undefined" || status=1
# ASan, for this build only (the variable prefixes the call):
#  - detect_leaks=0: LeakSanitizer fails a test program for what Criterion
#    and the tests leave malloc'ed when a test process ends (a test's
#    arrays in a forked child, a failed test's t_run_child result), and it
#    cannot see into the memory cgc maps itself: a malloc'ed block that
#    only gc objects point to would look leaked;
#  - detect_stack_use_after_return=0: locals moved to ASan's fake stacks
#    are out of the conservative scanner's sight (off by default; stated
#    so a newer default cannot get reachable objects reclaimed).
ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0 run_build clang-asan CC=clang \
  CFLAGS="-O1 -g -Werror -fsanitize=address -fno-omit-frame-pointer" \
  LDFLAGS="-fsanitize=address" || status=1

echo "== tsan: the library built with -fsanitize=thread, tests/tsan-stress.c"
if bash tools/tsan.sh "$top/build/gcc"; then
  passed=$((passed + 1))
else
  echo "tsan: FAILED"; failed=$((failed + 1)); status=1
fi

echo "== distcheck"
if (cd "$top/build/gcc" && make -j"$jobs" distcheck >distcheck.log 2>&1); then
  echo "distcheck: ok ($(ls "$top"/build/gcc/cgc-*.tar.gz 2>/dev/null | xargs -n1 basename))"
  passed=$((passed + 1))
else
  tail -n 40 "$top/build/gcc/distcheck.log"; failed=$((failed + 1)); status=1
fi

echo "tests: $passed passed, $failed failed$( ((skipped == 0)) || echo ", $skipped skipped")"
exit $status
