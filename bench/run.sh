#!/usr/bin/env bash
# run.sh -- run the cgc benchmarks in every allocation mode and tabulate.
#
#   bash bench/run.sh [--quick] [options] BINDIR
#
# BINDIR holds the built benchmark programs NAME-cgc, NAME-bdwgc and
# NAME-malloc (in a build tree: BUILDDIR/bench; `make bench` and
# `make bench-quick` pass it).  Each workload runs in these modes:
#
#   cgc        NAME-cgc                       cgc, never frees
#   bdwgc      NAME-bdwgc                     Debian libgc (bdwgc)
#   malloc     NAME-malloc                    glibc malloc + explicit free
#   jemalloc   NAME-malloc, LD_PRELOAD=libjemalloc.so.2   (when present)
#   mimalloc   NAME-malloc, LD_PRELOAD=libmimalloc.so.2   (when present)
#
# For each mode: one validation run (its "NAME: ok ..." line must equal
# the malloc mode's, else the mode is FAILED and not timed), then hyperfine
# (--warmup, --runs, --export-json RESULTS/NAME-MODE.json) with every run
# wrapped in GNU time -f %M for its peak RSS (the table shows the median
# over the timed runs; time's exec adds well under a millisecond to each
# run, the same in every mode).  At the end a markdown table goes to stdout
# and RESULTS/summary.md, and everything to RESULTS/summary.json.
#
# Options:
#   --quick          fewer runs and a smaller repeat count (about a minute)
#   --runs N         timed runs per mode (default 10; --quick: 3)
#   --warmup N       hyperfine warmup runs (default 1)
#   --results DIR    where results go (default BINDIR/results)
#   --bench LIST     comma-separated workloads (default: all in the table)
#   --modes LIST     comma-separated modes (default: all five)
#   --no-load-wait   do not wait for the machine to go quiet
#
# Environment: BENCH_LOAD_MAX (0.5) and BENCH_LOAD_WAIT (30 s): wait up to
# that long for the 1-minute load average to drop below that, then carry
# on with a warning.  BENCH_JEMALLOC, BENCH_MIMALLOC, BENCH_TIME override
# the library and GNU time paths.
#
# Needs bash, hyperfine, GNU time and python3 (for the JSON and the table).
set -euo pipefail

# ---- the workloads ---------------------------------------------------------
# name|arguments for a full run|arguments for --quick
# (gcbench: the argument is the repeat count; one repeat is ~0.5 s with glibc)
BENCHMARKS=(
  "gcbench|5|2"
)
ALL_MODES=(malloc cgc bdwgc jemalloc mimalloc) # malloc first: the reference

JEMALLOC=${BENCH_JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
MIMALLOC=${BENCH_MIMALLOC:-/usr/lib/x86_64-linux-gnu/libmimalloc.so.2}
GNU_TIME=${BENCH_TIME:-/usr/bin/time}
LOAD_MAX=${BENCH_LOAD_MAX:-0.5}
LOAD_WAIT=${BENCH_LOAD_WAIT:-30}

die() { echo "run.sh: $*" >&2; exit 2; }
warn() { echo "run.sh: warning: $*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

quick=0 runs='' warmup=1 results='' bench_list='' mode_list='' load_wait=1 bindir=''
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --warmup) warmup=${2:?--warmup needs a number}; shift ;;
    --results) results=${2:?--results needs a directory}; shift ;;
    --bench) bench_list=${2:?--bench needs a list}; shift ;;
    --modes) mode_list=${2:?--modes needs a list}; shift ;;
    --no-load-wait) load_wait=0 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z $bindir ]] || die "only one BINDIR, please"; bindir=$1 ;;
  esac
  shift
done
[[ -n $bindir ]] || { usage >&2; exit 2; }
[[ -d $bindir ]] || die "$bindir: not a directory"
bindir=$(cd "$bindir" && pwd)
[[ -n $runs ]] || runs=$((quick ? 3 : 10))
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs: $runs is not a positive number"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup: $warmup is not a number"
results=${results:-$bindir/results}
mkdir -p "$results"
results=$(cd "$results" && pwd)

command -v hyperfine >/dev/null || die "hyperfine not found (Debian: apt install hyperfine)"
command -v python3 >/dev/null || die "python3 not found"
if ! [[ -x $GNU_TIME ]] || ! "$GNU_TIME" -f %M -o /dev/null true 2>/dev/null; then
  die "$GNU_TIME is not GNU time (Debian: apt install time)"
fi

IFS=, read -r -a want_benches <<<"${bench_list:-}"
IFS=, read -r -a want_modes <<<"${mode_list:-}"
in_list() { # in_list WORD LIST... (an empty list holds everything)
  local w=$1; shift
  (($# == 0)) && return 0
  local x; for x; do [[ $x == "$w" ]] && return 0; done; return 1
}
for m in "${want_modes[@]}"; do in_list "$m" "${ALL_MODES[@]}" || die "unknown mode $m"; done
bench_names=("${BENCHMARKS[@]%%|*}")
for b in "${want_benches[@]}"; do
  in_list "$b" "${bench_names[@]}" || die "unknown benchmark $b (known: ${bench_names[*]})"
done

# ---- a quiet machine ---------------------------------------------------------
load_now() { [[ -r /proc/loadavg ]] && cut -d' ' -f1-3 /proc/loadavg || echo "? ? ?"; }
load_before=$(load_now)
echo "run.sh: load average (1/5/15 min): $load_before on $(nproc) CPUs"
if ((load_wait)) && [[ -r /proc/loadavg ]]; then
  waited=0
  while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$LOAD_MAX" 'BEGIN { exit !(l >= m) }'; do
    if ((waited >= LOAD_WAIT)); then
      warn "1-minute load $(cut -d' ' -f1 /proc/loadavg) is still >= $LOAD_MAX after ${waited}s; timings may be noisy"
      break
    fi
    sleep 5
    waited=$((waited + 5))
  done
  ((waited == 0)) || echo "run.sh: load average now $(load_now)"
fi

# ---- run -------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/cgc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
index=$work/index.tsv
: >"$index"

# record BENCH MODE STATUS REASON CMD OKLINE STATSLINE RSSFILE JSONFILE
record() {
  local f out=
  for f; do out+="${f//[$'\t\n']/ }"$'\t'; done
  printf '%s\n' "${out%$'\t'}" >>"$index"
}

nbench=0
for entry in "${BENCHMARKS[@]}"; do
  IFS='|' read -r name full_args quick_args <<<"$entry"
  in_list "$name" "${want_benches[@]}" || continue
  nbench=$((nbench + 1))
  args=$full_args
  ((quick)) && args=$quick_args
  ref_line='' ref_mode=''
  echo
  echo "run.sh: == $name $args  ($runs runs, $warmup warmup) =="
  for mode in "${ALL_MODES[@]}"; do
    in_list "$mode" "${want_modes[@]}" || continue
    preload=
    case $mode in
      jemalloc) bin=$bindir/$name-malloc preload=$JEMALLOC ;;
      mimalloc) bin=$bindir/$name-malloc preload=$MIMALLOC ;;
      *) bin=$bindir/$name-$mode ;;
    esac
    json=$results/$name-$mode.json
    rm -f "$json"
    if [[ ! -x $bin ]]; then
      record "$name" "$mode" skipped "$(basename "$bin") not built" "" "" "" "" ""
      echo "run.sh: $name/$mode: skipped ($bin not built)"
      continue
    fi
    if [[ -n $preload && ! -r $preload ]]; then
      record "$name" "$mode" skipped "$preload not installed" "" "" "" "" ""
      echo "run.sh: $name/$mode: skipped ($preload not installed)"
      continue
    fi
    # The command: GNU time wrapping (env LD_PRELOAD=...) the program.
    cmd=("$bin")
    [[ -z $preload ]] || cmd=(env "LD_PRELOAD=$preload" "${cmd[@]}")
    read -r -a argv <<<"$args"
    cmd+=("${argv[@]}")
    rss=$work/$name-$mode.rss
    : >"$rss"

    # Validation run (its output is kept in RESULTS/NAME-MODE.log).
    log=$results/$name-$mode.log
    out=$work/$name-$mode.out err=$work/$name-$mode.err valrss=$work/$name-$mode.valrss
    rc=0
    "$GNU_TIME" -f %M -o "$valrss" "${cmd[@]}" >"$out" 2>"$err" || rc=$?
    { echo "\$ ${cmd[*]}"; cat "$out" "$err"; } >"$log"
    okline=$(grep -m1 "^$name: ok " "$out" || true)
    stats=$(grep -m1 '^bench-stats: ' "$err" || true)
    reason=
    if ((rc != 0)); then
      # GNU time notes "Command terminated by signal N" / "... status N".
      reason="$(grep -m1 '^Command ' "$valrss" || echo "exit status $rc"): $(
        cat "$out" "$err" | grep -v '^bench-stats: ' | tail -n 2 | tr '\n' ' ' || true)"
    elif [[ -z $okline ]]; then
      reason="no '$name: ok' line: $(tail -n 2 "$out" | tr '\n' ' ' || true)"
    elif [[ -z $ref_line ]]; then
      ref_line=$okline ref_mode=$mode
      [[ $mode == malloc ]] || warn "$name: malloc mode did not run; checking against $mode instead"
    elif [[ $okline != "$ref_line" ]]; then
      reason="checksum differs from $ref_mode: '$okline' vs '$ref_line'"
    fi
    if [[ -n $reason ]]; then
      echo "run.sh: $name/$mode: FAILED: $reason" >&2
      record "$name" "$mode" FAILED "$reason" "${cmd[*]}" "$okline" "$stats" "" ""
      continue
    fi
    echo "run.sh: $name/$mode: $okline"

    # Timed runs.  Each hyperfine run appends its peak RSS (KiB) to $rss.
    hcmd=$(printf '%q ' "$GNU_TIME" -a -o "$rss" -f %M "${cmd[@]}")
    if ! hyperfine -N --warmup "$warmup" --runs "$runs" --command-name "$name/$mode" \
      --export-json "$json" "$hcmd"; then
      reason="a timed run failed (crash or non-zero exit)"
      echo "run.sh: $name/$mode: FAILED: $reason" >&2
      rm -f "$json"
      record "$name" "$mode" FAILED "$reason" "${cmd[*]}" "$okline" "$stats" "" ""
      continue
    fi
    # Keep the timed runs' samples only (warmup runs came first).
    tail -n "$runs" <(grep -E '^[0-9]+$' "$rss") >"$results/$name-$mode.rss"
    record "$name" "$mode" ok "" "${cmd[*]}" "$okline" "$stats" "$results/$name-$mode.rss" "$json"
  done
done
((nbench > 0)) || die "no benchmark selected"
status=0

# ---- tabulate ----------------------------------------------------------------
BM_QUICK=$quick BM_RUNS=$runs BM_WARMUP=$warmup BM_LOAD_BEFORE=$load_before BM_BINDIR=$bindir \
BM_HYPERFINE=$(hyperfine --version | awk '{ print $2 }') \
BM_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true) \
BM_SRCREV=$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown) \
  python3 - "$index" "$results" <<'PY' || status=$?
import json, os, statistics, sys, datetime, platform

env = os.environ
index, results = sys.argv[1], sys.argv[2]
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "quick": env["BM_QUICK"] == "1", "runs": int(env["BM_RUNS"]), "warmup": int(env["BM_WARMUP"]),
    "cpu": env["BM_CPU"], "cpus": os.cpu_count(), "kernel": platform.release(),
    "hyperfine": env["BM_HYPERFINE"], "source_rev": env["BM_SRCREV"],
    "load_before": env["BM_LOAD_BEFORE"],
    "load_after": " ".join(open("/proc/loadavg").read().split()[:3])
        if os.path.exists("/proc/loadavg") else None,
    "bindir": env["BM_BINDIR"],
}

def parse_stats(line):
    out = {}
    for kv in line.split()[1:]:
        k, _, v = kv.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out

rows = []
with open(index) as f:
    for line in f:
        b, m, status, reason, cmd, okline, stats, rssf, jsonf = line.rstrip("\n").split("\t")
        r = {"benchmark": b, "mode": m, "status": status, "command": cmd or None}
        if reason: r["reason"] = reason
        if okline: r["check"] = okline
        if stats: r["stats"] = parse_stats(stats)
        if status == "ok":
            h = json.load(open(jsonf))["results"][0]
            t = h["times"]
            r["time_s"] = {"median": statistics.median(t), "min": min(t), "max": max(t),
                           "mean": h["mean"], "stddev": h.get("stddev"), "runs": len(t)}
            kib = [int(x) for x in open(rssf).read().split()]
            r["rss_kib"] = kib
            r["rss_mib_median"] = statistics.median(kib) / 1024 if kib else None
            r["hyperfine_json"] = os.path.basename(jsonf)
        rows.append(r)

def ok(b, m):
    for r in rows:
        if r["benchmark"] == b and r["mode"] == m and r["status"] == "ok":
            return r
    return None

ratios = []
for b in dict.fromkeys(r["benchmark"] for r in rows):
    c = ok(b, "cgc")
    for base in ("bdwgc", "malloc", "jemalloc", "mimalloc"):
        o = ok(b, base)
        if not any(r["benchmark"] == b and r["mode"] == base for r in rows):
            continue
        x = {"benchmark": b, "ratio": "cgc/" + base, "time": None, "rss": None}
        if c and o:
            x["time"] = c["time_s"]["median"] / o["time_s"]["median"]
            if c["rss_mib_median"] and o["rss_mib_median"]:
                x["rss"] = c["rss_mib_median"] / o["rss_mib_median"]
        ratios.append(x)

order = {m: i for i, m in enumerate(("cgc", "bdwgc", "malloc", "jemalloc", "mimalloc"))}
bench_order = {b: i for i, b in enumerate(dict.fromkeys(r["benchmark"] for r in rows))}
rows.sort(key=lambda r: (bench_order[r["benchmark"]], order.get(r["mode"], 99)))

def cell(s):
    return s.replace("|", "\\|")

def ms(v):
    return "-" if v is None else f"{v:.1f}"

md = []
md.append("| benchmark | mode | time s: median (min–max) | peak RSS MiB | GCs | GC pause ms: total / max |")
md.append("|---|---|---|---|---|---|")
for r in rows:
    if r["status"] != "ok":
        what = "FAILED" if r["status"] == "FAILED" else "skipped"
        md.append(f"| {r['benchmark']} | {r['mode']} | **{what}**: {cell(r.get('reason', ''))} | | | |")
        continue
    t, s = r["time_s"], r.get("stats", {})
    gcs = s.get("gc_count")
    md.append(f"| {r['benchmark']} | {r['mode']} | {t['median']:.3f} ({t['min']:.3f}–{t['max']:.3f})"
              f" | {r['rss_mib_median']:.1f} | {'-' if gcs is None else gcs}"
              f" | {ms(s.get('gc_pause_total_ms')) if gcs is not None else '-'}"
              f" / {ms(s.get('gc_pause_max_ms')) if gcs is not None else '-'} |")
md.append("")
md.append("| benchmark | ratio (< 1: cgc better) | time | peak RSS |")
md.append("|---|---|---|---|")
for x in ratios:
    f = lambda v: "n/a" if v is None else f"{v:.2f}"
    md.append(f"| {x['benchmark']} | {x['ratio']} | {f(x['time'])} | {f(x['rss'])} |")
table = "\n".join(md) + "\n"

head = (f"cgc benchmarks, {meta['date']}{' (quick)' if meta['quick'] else ''}: "
        f"{meta['runs']} runs + {meta['warmup']} warmup per mode; {meta['cpu'] or 'unknown CPU'}, "
        f"{meta['cpus']} CPUs, load before {meta['load_before']}, after {meta['load_after']}.\n"
        "GCs and pauses are from the validation run (the bench-stats line); time and RSS from the timed runs.\n\n")
open(os.path.join(results, "summary.md"), "w").write(head + table)
json.dump({"meta": meta, "results": rows, "ratios": ratios},
          open(os.path.join(results, "summary.json"), "w"), indent=2)
sys.stdout.write("\n" + head + table)
failed = [f"{r['benchmark']}/{r['mode']}" for r in rows if r["status"] == "FAILED"]
if failed:
    print("\nFAILED: " + ", ".join(failed))
sys.exit(1 if failed else 0)
PY
echo "run.sh: results in $results (summary.json, summary.md, one hyperfine JSON per mode)"
exit $status
