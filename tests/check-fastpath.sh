#!/bin/sh
# check-fastpath.sh -- gc_malloc and gc_malloc_atomic stay within the
# fast-path budget of gc/alloc/alloc_inline.h (CGC_FAST_PATH_BUDGET and
# CGC_FAST_PATH_BUDGET_ATOMIC, read from there).  Run from the top build
# directory (as `make check` does); $srcdir comes from the test harness.
#
# What is counted: in `objdump -d` of .libs/libcgc.so, the instructions of
# the function from its entry to its first `ret`, both included.  That is
# the path a hit takes only if it is a straight line, so the check also
# fails when, within it, there is an unconditional jump or a call, a
# conditional branch back into it, a conditional branch whose target does
# not lead to gc__alloc_slow (the slow path) before any `ret`, or more than
# two conditional branches (the size check and the empty-list check).
#
# The budget holds for optimised release builds on x86-64 only, so the
# check is skipped (exit 77) in sanitizer builds, debug builds
# (--enable-debug: asserts), when the configured CFLAGS' last -O is not
# -O2, and without a shared library.  Those are read from the build tree
# (Makefile, config.h) and the library itself (sanitizer runtime symbols).
#
# `check-fastpath.sh --budgets` prints "function budget" lines and exits:
# `make bench-callgrind` holds callgrind's count to the same numbers.

srcdir=${srcdir:-$(dirname "$0")/..}
hdr=$srcdir/gc/alloc/alloc_inline.h
lib=${CGC_SHARED_LIB:-.libs/libcgc.so}

# ---- the budgets ------------------------------------------------------------------

budget=$(sed -n 's/^#define CGC_FAST_PATH_BUDGET \([0-9][0-9]*\)$/\1/p' "$hdr")
expr=$(sed -n 's/^#define CGC_FAST_PATH_BUDGET_ATOMIC \(.*\)$/\1/p' "$hdr")
expr=$(printf '%s\n' "$expr" | sed "s/CGC_FAST_PATH_BUDGET/$budget/g")
if ! printf '%s\n' "$budget" | grep -Eq '^[0-9]+$' || ! printf '%s\n' "$expr" | grep -Eq '^[0-9 +()]+$'; then
  echo "ERROR: cannot read CGC_FAST_PATH_BUDGET (a number) and CGC_FAST_PATH_BUDGET_ATOMIC (a sum) from $hdr"
  exit 99
fi
budget_atomic=$(($expr))
if [ "$1" = --budgets ]; then
  echo "gc_malloc $budget"
  echo "gc_malloc_atomic $budget_atomic"
  exit 0
fi

# ---- when the budget applies -----------------------------------------------------

skip() {
  echo "SKIP: $*: the budget holds for optimised (-O2) release builds on x86-64"
  exit 77
}
command -v objdump >/dev/null 2>&1 || skip "objdump not found"
[ -f "$lib" ] || skip "$lib not built (--disable-shared?)"
[ -f Makefile ] && [ -f config.h ] || skip "not run from the top build directory"
cflags=$(sed -n 's/^CFLAGS = //p' Makefile)
ldflags=$(sed -n 's/^LDFLAGS = //p' Makefile)
case " $cflags $ldflags " in *-fsanitize=*) skip "a sanitizer build (CFLAGS or LDFLAGS: -fsanitize=)" ;; esac
if nm -D "$lib" 2>/dev/null | grep -Eq ' U __(asan|ubsan|tsan|msan)_'; then skip "$lib calls a sanitizer runtime"; fi
debug=$(sed -n 's/^#define CGC_DEBUG \([0-9]*\).*/\1/p' config.h)
[ "${debug:-0}" = 0 ] || skip "a debug build (CGC_DEBUG $debug)"
opt=
for flag in $cflags; do case $flag in -O*) opt=$flag ;; esac; done
[ "$opt" = -O2 ] || skip "the last -O of CFLAGS '$cflags' is not -O2"
objdump -f "$lib" | grep -q 'x86-64' || skip "$lib is not x86-64"

# ---- the count ---------------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgc-fastpath.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
objdump -d --no-show-raw-insn "$lib" >"$tmp/dis" || exit 99

# count FUNCTION: prints the counted instructions, then "COUNT n" or
# "ERROR why" lines.
count() {
  awk -v fn="$1" -v slow=gc__alloc_slow '
    function op(s) { # the mnemonic, prefixes dropped
      sub(/^[ \t]+/, "", s)
      while (s ~ /^(rep|repz|repnz|bnd|notrack|data16|cs|ds|lock) /) sub(/^[a-z0-9]+ +/, "", s)
      sub(/[ \t].*/, "", s)
      return s
    }
    function target(s,  w, m, j) { # the address a jump goes to: its first hex word
      m = split(s, w, /[ \t]+/)
      for (j = 1; j <= m; j++) if (w[j] ~ /^[0-9a-f]+$/) return w[j]
      return ""
    }
    /^[0-9a-f]+ <.*>:$/ { cur = $2; next }
    /^ *[0-9a-f]+:\t/ {
      split($0, f, "\t"); a = f[1]; gsub(/[ :]/, "", a)
      n++; ins[n] = f[2]; at[a] = n; fun[n] = cur
    }
    END {
      for (s = 1; s <= n && fun[s] != "<" fn ">:"; s++) {}
      if (s > n) { print "ERROR " fn " not found in the disassembly"; exit }
      for (r = s; r <= n && fun[r] == fun[s] && op(ins[r]) !~ /^ret/; r++) {}
      if (r > n || fun[r] != fun[s]) { print "ERROR no ret in " fn; exit }
      branches = 0
      for (i = s; i <= r; i++) {
        o = op(ins[i]); print "  " ins[i]
        if (o ~ /^(jmp|call)/) err = err "ERROR an unconditional " o " on the path: " ins[i] "\n"
        else if (o ~ /^j/) {
          branches++; t = at[target(ins[i])]
          if (t == "") { err = err "ERROR branch to an unknown address: " ins[i] "\n"; continue }
          if (t >= s && t <= r) { err = err "ERROR a branch within the path: " ins[i] "\n"; continue }
          for (k = t; k <= n && k < t + 8 && op(ins[k]) !~ /^(jmp|call|ret)/; k++) {}
          if (k > n || ins[k] !~ ("<" slow ">")) err = err "ERROR a branch that does not reach " slow ": " ins[i] "\n"
        }
      }
      if (branches > 2) err = err "ERROR " branches " conditional branches (at most the size and empty-list checks)\n"
      printf "%s", err
      print "COUNT " (r - s + 1) " " branches
    }' "$tmp/dis"
}

status=0
for fn in gc_malloc gc_malloc_atomic; do
  b=$budget
  [ $fn = gc_malloc_atomic ] && b=$budget_atomic
  count $fn >"$tmp/$fn"
  if grep -q '^ERROR' "$tmp/$fn"; then
    echo "FAIL: $fn: its fast path is not the straight line this check counts:"
    sed -n 's/^ERROR /  /p' "$tmp/$fn"
    grep '^  ' "$tmp/$fn"
    status=1
    continue
  fi
  n=$(sed -n 's/^COUNT \([0-9]*\) .*/\1/p' "$tmp/$fn")
  branches=$(sed -n 's/^COUNT [0-9]* //p' "$tmp/$fn")
  if [ "$n" -gt "$b" ]; then
    echo "FAIL: $fn: $n instructions from its entry to its first ret, over the budget of $b (gc/alloc/alloc_inline.h):"
    status=1
  else
    echo "PASS: $fn: $n instructions from its entry to its first ret (budget $b; $branches branches, to gc__alloc_slow):"
  fi
  grep '^  ' "$tmp/$fn"
done
echo "checked $lib (objdump -d; $cflags)"
exit $status
