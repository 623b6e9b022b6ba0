#!/bin/sh
# check-plt.sh -- libcgc.so reaches its own functions directly, and exports
# only what it means to.  Run from the top build directory (as `make check`
# does); $srcdir comes from the automake test harness.
#
# 1. No internal reference through an exported name.  A dynamic relocation
#    that names a symbol libcgc.so itself defines and exports
#    (nm -D --defined-only) lets another object interpose on it: a preloaded
#    malloc replacement would receive gc_calloc's call to gc_malloc.  Every
#    such relocation fails, named, except an address reference (GLOB_DAT,
#    64) to a function cgc interposes (pthread_create, sigprocmask, ...):
#    gc__find_next is handed that address on purpose, to compare with what
#    dlsym finds (threads/registry.c, threads/sigwait.c).  A call to one of
#    them (JUMP_SLOT) still fails.  Bound: a build with -fno-plt calls
#    through GLOB_DAT, where a call to an interposed function would pass.
# 2. The exported symbols.  Each must match the export regex of
#    gc/local.mk, no gc__* name (internal), each gc_* name must be declared
#    CGC_API in include/, and each CGC_API gc_* declaration must be
#    exported (tests link libcgc.a, so a missing export shows up only here
#    and in the examples).
#
# Exit status: 0 pass, 1 fail, 77 skip (no shared library: --disable-shared,
# or no binutils), 99 the check itself could not run.

srcdir=${srcdir:-$(dirname "$0")/..}
lib=${CGC_SHARED_LIB:-.libs/libcgc.so}
status=0

for tool in readelf nm; do
  command -v $tool >/dev/null 2>&1 || {
    echo "SKIP: $tool not found"
    exit 77
  }
done
[ -f "$lib" ] || {
  echo "SKIP: $lib not built (--disable-shared?)"
  exit 77
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cgc-plt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The exported symbols, one name a line (versions stripped).
nm -D --defined-only "$lib" | awk 'NF == 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exports"
[ -s "$tmp/exports" ] || {
  echo "ERROR: nm -D --defined-only $lib listed nothing"
  exit 99
}

# ---- 1. relocations -----------------------------------------------------------

# "offset info R_X86_64_TYPE value name + addend" -> "TYPE name"; the
# relocations without a symbol (RELATIVE, IRELATIVE) are left out.
readelf -rW "$lib" | awk '$3 ~ /^R_/ && NF >= 5 && $5 != "+" { t = $3; n = $5; sub(/@.*/, "", n)
  if (t ~ /JUMP_SLOT$/) t = "JUMP_SLOT"; else if (t ~ /GLOB_DAT$/) t = "GLOB_DAT"; else sub(/^R_X86_64_/, "", t)
  print t, n }' >"$tmp/relocs"
nrel=$(wc -l <"$tmp/relocs")
[ "$nrel" -gt 0 ] || {
  echo "ERROR: readelf -rW $lib listed no relocation with a symbol"
  exit 99
}
awk 'NR == FNR { own[$1] = 1; next }
  own[$2] { print }' "$tmp/exports" "$tmp/relocs" >"$tmp/own"
nown=$(wc -l <"$tmp/own")
allowed="" asan_allowed=""
# An ASan-instrumented library keeps each function's address in its stack
# frame descriptors (for fake stacks): a GLOB_DAT per instrumented export
# that no code calls through.
asan=0
nm -D "$lib" >"$tmp/dynsyms" # a file, not a pipe: grep -q would SIGPIPE nm under pipefail
if grep -q ' U __asan_init' "$tmp/dynsyms"; then asan=1; fi
while read -r type name; do
  if [ "$asan" = 1 ] && [ "$type" = GLOB_DAT ]; then
    asan_allowed="$asan_allowed $name"
    continue
  fi
  case $type:$name in
  JUMP_SLOT:*) why="a call through the PLT" ;;
  *:gc_*) why="an address taken through the GOT" ;;
  GLOB_DAT:* | 64:*)
    allowed="$allowed $name"
    continue
    ;;
  *) why="a reference through the dynamic symbol" ;;
  esac
  echo "FAIL: $type relocation for $name, which libcgc.so exports: $why, so another object may interpose on it;"
  echo "      call or take the hidden definition instead (e.g. gc__malloc, the alias target of gc_malloc)"
  status=1
done <"$tmp/own"
echo "checked $nrel dynamic relocations with a symbol of $lib (readelf -rW): $nown name one of its $(wc -l <"$tmp/exports") exports"
if [ -n "$allowed" ]; then
  # shellcheck disable=SC2086 # one name a word
  echo "  allowed, the addresses of interposed functions (gc__find_next): $(printf '%s\n' $allowed | sort | tr '\n' ' ')"
fi
if [ -n "$asan_allowed" ]; then
  # shellcheck disable=SC2086 # one name a word
  echo "  allowed in this ASan build, addresses in stack frame descriptors: $(printf '%s\n' $asan_allowed | sort -u | tr '\n' ' ')"
fi

# ---- 2. exports -------------------------------------------------------------------

regex=$(sed -n "s/.*-export-symbols-regex '\([^']*\)'.*/\1/p" "$srcdir/gc/local.mk" | sed 's/\$\$/$/')
[ -n "$regex" ] || {
  echo "ERROR: no -export-symbols-regex in $srcdir/gc/local.mk"
  exit 99
}
# The public declarations: "CGC_API type gc_name(" in any header of include/.
find "$srcdir/include" -name '*.h' -exec cat {} + |
  sed -n 's/^CGC_API[^(]*[^a-z0-9_]\(gc_[a-z0-9_]*\) *(.*/\1/p' | sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || {
  echo "ERROR: no CGC_API gc_* declaration found in $srcdir/include"
  exit 99
}
while read -r name; do
  case $name in
  gc__*)
    echo "FAIL: $lib exports $name: gc__* names are internal (CGC_INTERNAL or static)"
    status=1
    continue
    ;;
  esac
  if ! printf '%s\n' "$name" | grep -Eq "$regex"; then
    echo "FAIL: $lib exports $name, which the export regex of gc/local.mk does not allow"
    status=1
  elif [ "${name#gc_}" != "$name" ] && ! grep -qx "$name" "$tmp/declared"; then
    echo "FAIL: $lib exports $name, which no header of include/ declares CGC_API"
    status=1
  fi
done <"$tmp/exports"
while read -r name; do
  grep -qx "$name" "$tmp/exports" || {
    echo "FAIL: include/ declares $name CGC_API but $lib does not export it"
    status=1
  }
done <"$tmp/declared"
echo "checked the exports of $lib (nm -D --defined-only) against gc/local.mk's regex and include/:"
echo "  gc_* (the public API): $(grep '^gc_' "$tmp/exports" | tr '\n' ' ')"
echo "  others (the interposed functions): $(grep -v '^gc_' "$tmp/exports" | tr '\n' ' ')"
[ $status -eq 0 ] && echo "PASS: no internal reference through an exported name; only the intended symbols exported"
exit $status
