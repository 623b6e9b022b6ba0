#!/usr/bin/env bash
# tools/check-man.sh -- check the hand-written man pages under man/.
#
#   1. every public function (declared CGC_API in include/cgc.h) has a man
#      page named after it: man/man3/NAME.3 whose .TH is NAME, or a .so
#      link page to a page that lists NAME in its NAME section;
#   2. every CGC_* option of CGC_OPTION_TABLE (gc/base/options.h) is described
#      in man/man7/cgc.7;
#   3. man/local.mk installs exactly the pages under man/;
#   4. every page renders without a warning, with groff -man -ww and with
#      man --warnings (skipped, with a note, where groff or man-db is not
#      installed).
#
# Usage: bash tools/check-man.sh   (from anywhere; exits non-zero on a
# failure, naming it).
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
bad() { echo "check-man: $*" >&2; fail=1; }

# The title (.TH's first argument) of a page, lowercased.
title_of() { sed -n 's/^\.TH[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$1" | head -n1 | tr '[:upper:]' '[:lower:]'; }
# The target of a one-line .so link page ("man3/x.3"), or nothing.
so_of() { sed -n 's/^\.so[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$1" | head -n1; }
# The names of a page's NAME section (the text before \-), one a line.
names_of() {
  awk '/^\.SH[[:space:]]+"?NAME"?/ { on = 1; next } /^\.S[HS]/ { on = 0 } on { print }' "$1" |
    tr '\n' ' ' | sed 's/\\-.*//' | tr ', ' '\n\n' | sed '/^$/d'
}

# ---- 1. a page for every CGC_API function ----------------------------------
funcs=$(grep -E '^[[:space:]]*CGC_API[[:space:]]' include/cgc.h |
  sed -E 's/\(.*//; s/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*$/\1/' | sort -u)
[ -n "$funcs" ] || bad "no CGC_API function found in include/cgc.h"
nfuncs=0
for f in $funcs; do
  nfuncs=$((nfuncs + 1))
  page=man/man3/$f.3
  if [ ! -f "$page" ]; then
    bad "$f: no man page (expected $page, a page or a .so link page)"
    continue
  fi
  target=$(so_of "$page")
  if [ -n "$target" ]; then
    if [ "$(grep -cv '^\.\\"' "$page")" != 1 ]; then bad "$page: a .so link page must hold only the .so line"; fi
    if [ ! -f "man/$target" ]; then
      bad "$page: .so $target: no such page under man/"
      continue
    fi
    names_of "man/$target" | grep -qx "$f" || bad "$f: man/$target (which $page links to) does not list $f in NAME"
  else
    [ "$(title_of "$page")" = "$f" ] || bad "$page: .TH title is '$(title_of "$page")', not $f"
    names_of "$page" | grep -qx "$f" || bad "$page: NAME section does not list $f"
  fi
done

# ---- 2. every option in cgc(7) ------------------------------------------------
nopts=0
for o in $(sed -n 's/^[[:space:]]*X(\([A-Z_]*\),.*/\1/p' gc/base/options.h); do
  nopts=$((nopts + 1))
  grep -q "CGC_$o\\b" man/man7/cgc.7 || bad "CGC_$o (gc/base/options.h) is not described in man/man7/cgc.7"
done
[ "$nopts" -gt 0 ] || bad "no option found in CGC_OPTION_TABLE (gc/base/options.h)"

# ---- 3. man/local.mk installs every page, and only those ------------------------
pages=$(cd man && ls man[1-9]/*.[1-9] | sort)
listed=$(sed -n 's/^[[:space:]]*man\/\(man[1-9]\/[^[:space:]\\]*\).*/\1/p' man/local.mk | sort)
for p in $(comm -23 <(echo "$pages") <(echo "$listed")); do bad "man/$p is not in dist_man_MANS (man/local.mk)"; done
for p in $(comm -13 <(echo "$pages") <(echo "$listed")); do bad "man/local.mk lists man/$p, which does not exist"; done

# ---- 4. every page renders without a warning --------------------------------------
checked=""
if command -v groff >/dev/null 2>&1; then
  for p in $pages; do
    out=$(cd man && LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$p" 2>&1) || bad "groff failed on man/$p"
    [ -z "$out" ] || bad "groff -man -ww warns on man/$p: $out"
  done
  checked="groff"
else
  echo "check-man: groff not installed: groff rendering not checked" >&2
fi
if command -v man >/dev/null 2>&1 && man --help 2>&1 | grep -q -- '--warnings'; then
  for p in $pages; do
    # From man/, so that a .so link resolves as it does under $(mandir).
    out=$(cd man && LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null) || bad "man -l failed on man/$p"
    [ -z "$out" ] || bad "man --warnings warns on man/$p: $out"
  done
  checked="${checked:+$checked, }man --warnings"
else
  echo "check-man: man-db not installed: man --warnings rendering not checked" >&2
fi

if [ "$fail" -ne 0 ]; then
  echo "check-man: FAILED" >&2
  exit 1
fi
echo "check-man: ok: $nfuncs CGC_API functions, each with a page; $nopts options in cgc(7); $(echo "$pages" | wc -l) pages installed by man/local.mk${checked:+; rendered without warnings ($checked)}"
