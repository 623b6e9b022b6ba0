# tools/deps.sh -- sourced by the quick-start scripts: install the Debian
# packages a step needs, only those missing, as root (or through sudo).
# Usage: cgc_need_packages pkg...
cgc_need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "cgc: installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# What building and testing cgc needs.
CGC_BUILD_PACKAGES="build-essential autoconf automake libtool pkg-config libatomic-ops-dev libcriterion-dev clang clang-format groff-base man-db"
# What the demo adds: the benchmark peers and tools.
CGC_BENCH_PACKAGES="hyperfine libgc-dev time libjemalloc2 libmimalloc2.0 gnuplot-nox python3"
