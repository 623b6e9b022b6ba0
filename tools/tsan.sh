#!/usr/bin/env bash
# ThreadSanitizer run: build libcgc's sources with clang -fsanitize=thread
# and run tests/tsan-stress.c against them.  Any TSan report, or a failed
# check, fails the run.
#   bash tools/tsan.sh [CONFIG_DIR]
# CONFIG_DIR holds a configured build's config.h (default: configure one
# in build/tsan).  Objects and the program go to build/tsan.
#
# gc/threads/registry.c (the pthread_create/pthread_setspecific/... interposers) is
# compiled without instrumentation but with -DCGC_TSAN: TSan calls the
# interposed pthread_setspecific while it sets a new thread up, before its
# own per-thread state exists, and instrumented code there crashes.  So
# TSan checks everything but the thread registry's own code.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build/tsan
mkdir -p "$out"
config=${1:-}
if [ -z "$config" ]; then
  (cd "$out" && "$top/configure" -q CC=clang >/dev/null)
  config=$out
fi
cflags=(-std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -DHAVE_CONFIG_H -D_GNU_SOURCE -DCGC_BUILDING
  -fvisibility=hidden -I"$config" -I"$top/include" -I"$top/gc")
objs=()
for f in $(find "$top/gc" -name '*.c' | sort); do
  rel=${f#"$top/gc/"}
  o=$out/${rel//\//_}
  o=${o%.c}.o
  case $f in
    */threads/registry.c | */threads/sigwait.c) clang "${cflags[@]}" -DCGC_TSAN=1 -c "$f" -o "$o" ;;
    *) clang "${cflags[@]}" -fsanitize=thread -c "$f" -o "$o" ;;
  esac
  objs+=("$o")
done
clang -std=c11 -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fsanitize=thread -I"$top/include" "$top/tests/tsan-stress.c" "${objs[@]}" \
  -o "$out/tsan-stress" -latomic_ops -ldl -lpthread
echo "== tsan: $out/tsan-stress"
timeout 600 "$out/tsan-stress"
