#!/bin/sh
# Run each example program with fixed input and compare its standard output
# with examples/expected/NAME.out.  Run from the top build directory (as
# `make check` does); expected files and input come from $srcdir, which the
# automake test harness exports.

srcdir=${srcdir:-$(dirname "$0")/..}
bin=./examples
expected=$srcdir/examples/expected
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgc-examples.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
status=0

# check NAME COMMAND...: run COMMAND, compare its stdout with NAME.out.
check() {
  name=$1
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: $name: '$*' exited with status $rc; its stderr:"
    cat "$tmp/$name.err"
    status=1
  elif ! cmp -s "$expected/$name.out" "$tmp/$name.out"; then
    echo "FAIL: $name: '$*' printed something else; diff expected actual:"
    diff -u "$expected/$name.out" "$tmp/$name.out"
    status=1
  else
    echo "PASS: $name ($(cat "$tmp/$name.err"))"
  fi
}

check wordfreq-sample $bin/wordfreq <"$srcdir/examples/sample.txt"
check wordfreq-generate $bin/wordfreq --generate 500000 42
check ptree $bin/ptree
check strbuild $bin/strbuild
exit $status
