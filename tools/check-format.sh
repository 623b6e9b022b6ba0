#!/usr/bin/env bash
# Fail when a C file of the repository differs from what clang-format (the
# .clang-format at the top) makes of it.  Fix with:
#   clang-format -i $(git ls-files '*.c' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .git ] && command -v git >/dev/null; then
  mapfile -t files < <(git ls-files '*.c' '*.h')
else
  mapfile -t files < <(find gc include tests bench examples -name '*.[ch]' | sort)
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then echo "check-format: $f is not formatted"; bad=1; fi
done
if ((bad)); then echo "check-format: run clang-format -i on the files above"; exit 1; fi
echo "check-format: ${#files[@]} files formatted ($(clang-format --version | head -n1))"
