#!/usr/bin/env bash
# Check gc/'s include rules: every #include "..." of a file under gc/ must be
# allowed by the table between the layers markers of gc/README.md, and the
# graph of folders the includes draw must have no cycle.
#   bash tools/check-layers.sh      (exit 1 with one line per violation)
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allow
while IFS='|' read -r _ mod deps _; do
  mod=$(echo "$mod" | xargs)
  [[ -z $mod || $mod == module || $mod == ---* ]] && continue
  allow[$mod]=" $(echo "$deps" | tr -d '()' | tr ',' ' ' | xargs) "
done < <(sed -n '/<!-- layers:begin -->/,/<!-- layers:end -->/p' gc/README.md | grep '^|')
[ ${#allow[@]} -gt 0 ] || { echo "check-layers: no rules found in gc/README.md"; exit 1; }

bad=0 edges=()
while IFS= read -r f; do
  rel=${f#gc/} mod=${rel%%/*}
  [[ -n ${allow[$mod]+x} ]] || { echo "$f: folder '$mod' has no row in gc/README.md"; bad=1; continue; }
  while IFS= read -r inc; do
    [[ $inc == cgc.h || $inc == cgc/* ]] && continue
    if [[ $inc == config.h ]]; then
      [[ $rel == base/compiler.h ]] || { echo "$f: includes config.h (only base/compiler.h may)"; bad=1; }
      continue
    fi
    if [[ $inc != */* || ! -f gc/$inc ]]; then echo "$f: includes \"$inc\", not a header of gc/"; bad=1; continue; fi
    to=${inc%%/*}
    [[ $to == "$mod" ]] && continue
    if [[ ${allow[$mod]} == *" $to "* || ${allow[$mod]} == *" $inc "* ]]; then
      edges+=("$mod $to")
    else
      echo "$f: $mod may not include \"$inc\" (gc/README.md, Include rules)"; bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(find gc -name '*.[ch]' | sort)

# tsort reports a cycle on stderr ("input contains a loop").
if ((${#edges[@]})) && ! printf '%s\n' "${edges[@]}" | sort -u | tsort >/dev/null 2>/tmp/check-layers.$$; then
  echo "check-layers: the folders' include graph has a cycle:"; cat /tmp/check-layers.$$; bad=1
fi
rm -f /tmp/check-layers.$$
if ((bad)); then exit 1; fi
echo "check-layers: $(find gc -name '*.[ch]' | wc -l) files, ${#allow[@]} modules, include rules hold, no cycle"
