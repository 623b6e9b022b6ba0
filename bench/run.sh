#!/usr/bin/env bash
# run.sh -- run the cgc benchmarks in every allocation mode, tabulate, chart.
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
# the malloc mode's, else the mode is FAILED and not timed; exit status 77
# means "not applicable", e.g. cgc with several threads: the mode shows as
# n/a and is not timed).  Then the timed runs with hyperfine, every run
# wrapped in GNU time -f %M for its peak RSS (the table shows the median
# over the timed runs; time's exec adds well under a millisecond to each
# run, the same in every mode), interleaved: in each of BENCH_ROUNDS (3)
# rounds every mode gets its share of the runs, the order of the modes
# reversed every other round, so that a slow spell of a shared machine
# does not land on one mode only; the rounds' hyperfine JSON is merged
# into RESULTS/NAME-MODE.json.  The program's "bench-stats:" line is kept
# from every timed run.  At the end
# markdown tables go to stdout and RESULTS/summary.md, everything to
# RESULTS/summary.json, and bench/charts.py draws RESULTS/charts/*.png and
# *.svg with gnuplot (when installed).
#
# Options:
#   --quick          quick arguments and fewer runs (about a minute in all)
#   --runs N         timed runs per mode for every workload (default: the
#                    per-workload counts in the BENCHMARKS table)
#   --warmup N       hyperfine warmup runs (default 0: the validation run
#                    just before the timed runs warms up)
#   --results DIR    where results go (default BINDIR/results)
#   --bench LIST     comma-separated workloads (default: all in the table)
#   --modes LIST     comma-separated modes (default: all five)
#   --no-load-wait   do not wait for the machine to go quiet
#   --no-charts      do not draw the charts
#   --publish DIR    afterwards copy summary.md, summary.json and the charts
#                    to DIR (e.g. SRCDIR/docs/bench; see bench/charts.py)
#
# Environment: BENCH_LOAD_MAX (0.5) and BENCH_LOAD_WAIT (30 s): wait up to
# that long for the 1-minute load average to drop below that, then carry
# on with a warning.  BENCH_ROUNDS (3): rounds the timed runs are
# interleaved in.  BENCH_JEMALLOC, BENCH_MIMALLOC, BENCH_TIME override the
# library and GNU time paths.
#
# Needs bash, hyperfine, GNU time and python3 (for the JSON and the
# tables); gnuplot for the charts.
set -euo pipefail

# ---- the workloads ---------------------------------------------------------
# name|full-run arguments|--quick arguments|full-run runs|--quick runs
# (an empty argument field runs the program without arguments; --runs N
# overrides both run counts).  json gets 11 runs: its cgc/bdwgc margin is
# smaller than what 5 runs' medians swing by on a shared 2-CPU machine.
#   gcbench         REPEATS (default 1, ~0.5 s with glibc malloc per repeat)
#   binarytrees     MAX depth (default 16)
#   mixed           SLOTS ROUNDS (default 50000 8)
#   mt-binarytrees  THREADS MAX (default 2 16); cgc with THREADS > 1 exits
#                   77 (n/a)
#   pause           LIVE_MB GARBAGE_MB (default 200 2048; 2-5 s a run)
#   json            ORDERS ROUNDS (default 2000 12)
# (a full run stays under 10 minutes on a 2-core machine, a quick run
# takes about a minute)
BENCHMARKS=(
  "gcbench|3|1|5|2"
  "binarytrees|17|15|5|2"
  "mixed|50000 8|20000 5|5|2"
  "mt-binarytrees|2 17|2 15|5|2"
  "pause||50 300|3|1"
  "json||800 6|11|1"
)
ALL_MODES=(malloc cgc bdwgc jemalloc mimalloc) # malloc first: the reference
ROUNDS=${BENCH_ROUNDS:-3} # timed runs are interleaved across modes in this many rounds

JEMALLOC=${BENCH_JEMALLOC:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
MIMALLOC=${BENCH_MIMALLOC:-/usr/lib/x86_64-linux-gnu/libmimalloc.so.2}
GNU_TIME=${BENCH_TIME:-/usr/bin/time}
LOAD_MAX=${BENCH_LOAD_MAX:-0.5}
LOAD_WAIT=${BENCH_LOAD_WAIT:-30}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "run.sh: $*" >&2; exit 2; }
warn() { echo "run.sh: warning: $*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

quick=0 runs='' warmup=0 results='' bench_list='' mode_list='' load_wait=1 bindir=''
charts=1 publish=''
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --warmup) warmup=${2:?--warmup needs a number}; shift ;;
    --results) results=${2:?--results needs a directory}; shift ;;
    --bench) bench_list=${2:?--bench needs a list}; shift ;;
    --modes) mode_list=${2:?--modes needs a list}; shift ;;
    --no-load-wait) load_wait=0 ;;
    --no-charts) charts=0 ;;
    --publish) publish=${2:?--publish needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z $bindir ]] || die "only one BINDIR, please"; bindir=$1 ;;
  esac
  shift
done
[[ -n $bindir ]] || { usage >&2; exit 2; }
[[ -d $bindir ]] || die "$bindir: not a directory"
bindir=$(cd "$bindir" && pwd)
[[ -z $runs || $runs =~ ^[1-9][0-9]*$ ]] || die "--runs: $runs is not a positive number"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup: $warmup is not a number"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS: $ROUNDS is not a positive number"
results=${results:-$bindir/results}
mkdir -p "$results"
results=$(cd "$results" && pwd)
if [[ -n $publish ]]; then
  mkdir -p "$publish"
  publish=$(cd "$publish" && pwd)
fi

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
started=$SECONDS

# record BENCH MODE STATUS REASON ARGS RUNS CMD OKLINE STATSLINE RSSFILE JSONFILE STATSFILE
# (STATUS: ok, FAILED, n/a or skipped)
record() {
  local f out=
  for f; do out+="${f//[$'\t\n']/ }"$'\t'; done
  printf '%s\n' "${out%$'\t'}" >>"$index"
}

nbench=0
for entry in "${BENCHMARKS[@]}"; do
  IFS='|' read -r name full_args quick_args full_runs quick_runs <<<"$entry"
  in_list "$name" "${want_benches[@]}" || continue
  nbench=$((nbench + 1))
  if ((quick)); then
    args=$quick_args nruns=${quick_runs:-3}
  else
    args=$full_args nruns=${full_runs:-10}
  fi
  [[ -z $runs ]] || nruns=$runs
  ref_line='' ref_mode=''
  timed=()
  declare -A timed_cmd=() timed_ok=() timed_stats=() timed_failed=()
  echo
  echo "run.sh: == $name${args:+ $args}  ($nruns timed runs, $warmup warmup) =="
  for mode in "${ALL_MODES[@]}"; do
    in_list "$mode" "${want_modes[@]}" || continue
    preload=
    case $mode in
      jemalloc) bin=$bindir/$name-malloc preload=$JEMALLOC ;;
      mimalloc) bin=$bindir/$name-malloc preload=$MIMALLOC ;;
      *) bin=$bindir/$name-$mode ;;
    esac
    json=$results/$name-$mode.json
    rm -f "$json" "$results/$name-$mode.rss" "$results/$name-$mode.stats"
    if [[ ! -x $bin ]]; then
      record "$name" "$mode" skipped "$(basename "$bin") not built" "$args" "$nruns" "" "" "" "" "" ""
      echo "run.sh: $name/$mode: skipped ($bin not built)"
      continue
    fi
    if [[ -n $preload && ! -r $preload ]]; then
      record "$name" "$mode" skipped "$preload not installed" "$args" "$nruns" "" "" "" "" "" ""
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
    { echo "\$ ${cmd[*]}"; cat "$out" "$err"; echo "(exit status $rc)"; } >"$log"
    okline=$(grep -m1 "^$name: ok " "$out" || true)
    stats=$(grep -m1 '^bench-stats: ' "$err" || true)
    if ((rc == 77)); then # not applicable to this mode
      reason=$(cat "$out" "$err" | grep -v -e '^bench-stats: ' -e '^[[:space:]]*$' | tail -n 1 || true)
      reason=${reason:-not applicable (exit status 77)}
      echo "run.sh: $name/$mode: n/a: $reason"
      record "$name" "$mode" n/a "$reason" "$args" "$nruns" "${cmd[*]}" "" "$stats" "" "" ""
      continue
    fi
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
      record "$name" "$mode" FAILED "$reason" "$args" "$nruns" "${cmd[*]}" "$okline" "$stats" "" "" ""
      continue
    fi
    echo "run.sh: $name/$mode: $okline"

    timed+=("$mode")
    timed_cmd[$mode]=$(printf '%q ' "$GNU_TIME" -a -o "$rss" -f %M "${cmd[@]}")
    timed_ok[$mode]=$okline timed_stats[$mode]=$stats
    : >"$work/$name-$mode.hfout"
    : >"$work/$name-$mode.hferr"
  done

  # Timed runs, interleaved: ROUNDS rounds, each giving every mode its
  # share of the runs, the order of the modes reversed every other round.
  # On a shared machine the speed drifts over minutes; runs of one mode
  # back to back would let a slow spell land on one mode only.  Each
  # hyperfine run appends its peak RSS (KiB) to $rss; the programs'
  # stdout goes, with hyperfine's, to $hfout (only hyperfine's lines are
  # shown), their stderr (the bench-stats lines) to $hferr, with
  # hyperfine's warnings and errors, which are shown.
  rounds=$((nruns < ROUNDS ? nruns : ROUNDS))
  for ((round = 0; round < rounds; round++)); do
    share=$(((nruns * (round + 1)) / rounds - (nruns * round) / rounds))
    order=("${timed[@]}")
    if ((round % 2)); then
      order=()
      for ((i = ${#timed[@]} - 1; i >= 0; i--)); do order+=("${timed[i]}"); done
    fi
    for mode in "${order[@]}"; do
      [[ -z ${timed_failed[$mode]:-} ]] || continue
      hfout=$work/$name-$mode.hfout hferr=$work/$name-$mode.hferr
      hf_rc=0
      hyperfine -N --style basic --output=inherit --warmup "$((round == 0 ? warmup : 0))" --runs "$share" \
        --command-name "$name/$mode" --export-json "$work/$name-$mode.r$round.json" "${timed_cmd[$mode]}" \
        >>"$hfout" 2>>"$hferr" || hf_rc=$?
      if ((hf_rc != 0)); then
        timed_failed[$mode]=1
        grep -v '^bench-stats: ' "$hferr" >&2 || true
      fi
    done
  done
  for mode in "${timed[@]}"; do
    json=$results/$name-$mode.json rss=$work/$name-$mode.rss
    hfout=$work/$name-$mode.hfout hferr=$work/$name-$mode.hferr
    if [[ -n ${timed_failed[$mode]:-} ]]; then
      reason="a timed run failed (crash or non-zero exit)"
      echo "run.sh: $name/$mode: FAILED: $reason" >&2
      record "$name" "$mode" FAILED "$reason" "$args" "$nruns" "${timed_cmd[$mode]}" "${timed_ok[$mode]}" \
        "${timed_stats[$mode]}" "" "" ""
      continue
    fi
    # One hyperfine-format JSON of all rounds' runs; prints a summary line.
    echo -n "run.sh: $name/$mode: "
    python3 - "$json" "$work/$name-$mode".r*.json <<'PY'
import json, statistics, sys
out, parts = sys.argv[1], sys.argv[2:]
res = [json.load(open(p))["results"][0] for p in sorted(parts, key=lambda p: int(p.rsplit(".r", 1)[1][:-5]))]
t = [x for r in res for x in r["times"]]
merged = dict(res[0])
merged.update(times=t, mean=statistics.mean(t), median=statistics.median(t), min=min(t), max=max(t),
              stddev=statistics.stdev(t) if len(t) > 1 else None,
              user=statistics.mean(r["user"] for r in res), system=statistics.mean(r["system"] for r in res),
              rounds=len(res), exit_codes=[c for r in res for c in r.get("exit_codes", [])])
json.dump({"results": [merged]}, open(out, "w"), indent=1)
print("time %.3f s median (%.3f-%.3f), %d runs in %d rounds" % (merged["median"], min(t), max(t), len(t), len(res)))
PY
    grep -v '^bench-stats: ' "$hferr" >&2 || true
    # Keep the timed runs' samples only (warmup runs came first).
    tail -n "$nruns" <(grep -E '^[0-9]+$' "$rss") >"$results/$name-$mode.rss"
    tail -n "$nruns" <(grep '^bench-stats: ' "$hferr" || true) >"$results/$name-$mode.stats"
    record "$name" "$mode" ok "" "$args" "$nruns" "${timed_cmd[$mode]}" "${timed_ok[$mode]}" "${timed_stats[$mode]}" \
      "$results/$name-$mode.rss" "$json" "$results/$name-$mode.stats"
  done
done
((nbench > 0)) || die "no benchmark selected"
status=0

# ---- tabulate ----------------------------------------------------------------
BM_QUICK=$quick BM_WARMUP=$warmup BM_ROUNDS=$ROUNDS BM_LOAD_BEFORE=$load_before BM_BINDIR=$bindir \
BM_ELAPSED=$((SECONDS - started)) \
BM_HYPERFINE=$(hyperfine --version | awk '{ print $2 }') \
BM_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true) \
BM_SRCREV=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown) \
  python3 - "$index" "$results" <<'PY' || status=$?
import json, os, statistics, sys, datetime, platform

env = os.environ
index, results = sys.argv[1], sys.argv[2]
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "quick": env["BM_QUICK"] == "1", "warmup": int(env["BM_WARMUP"]),
    "rounds": int(env["BM_ROUNDS"]),
    "cpu": env["BM_CPU"], "cpus": os.cpu_count(), "kernel": platform.release(),
    "hyperfine": env["BM_HYPERFINE"], "source_rev": env["BM_SRCREV"],
    "load_before": env["BM_LOAD_BEFORE"],
    "load_after": " ".join(open("/proc/loadavg").read().split()[:3])
        if os.path.exists("/proc/loadavg") else None,
    "elapsed_s": int(env["BM_ELAPSED"]),
    "bindir": env["BM_BINDIR"],
    "benchmarks": {},
}
MALLOCS = ("malloc", "jemalloc", "mimalloc")

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

def median_stats(runs):
    """Per key, the median over the runs of a numeric key."""
    out = {}
    for k in dict.fromkeys(k for s in runs for k in s):
        v = [s[k] for s in runs if isinstance(s.get(k), (int, float))]
        if v and len(v) == len(runs):
            out[k] = statistics.median(v)
        elif runs and k in runs[0]:
            out[k] = runs[0][k]
    return out

rows = []
with open(index) as f:
    for line in f:
        (b, m, status, reason, args, nruns, cmd, okline, stats, rssf, jsonf,
         statsf) = line.rstrip("\n").split("\t")
        meta["benchmarks"].setdefault(b, {"args": args, "runs": int(nruns)})
        r = {"benchmark": b, "mode": m, "status": status, "args": args,
             "command": cmd or None}
        if reason: r["reason"] = reason
        if okline: r["check"] = okline
        if stats: r["stats"] = parse_stats(stats)
        if status == "ok":
            h = json.load(open(jsonf))["results"][0]
            t = h["times"]
            r["time_s"] = {"median": statistics.median(t), "min": min(t), "max": max(t),
                           "mean": h["mean"], "stddev": h.get("stddev"), "runs": len(t)}
            r["times_s"] = t
            kib = [int(x) for x in open(rssf).read().split()]
            r["rss_kib"] = kib
            r["rss_mib_median"] = statistics.median(kib) / 1024 if kib else None
            r["stats_runs"] = [parse_stats(l) for l in open(statsf) if l.strip()]
            r["stats_median"] = median_stats(r["stats_runs"])
            r["hyperfine_json"] = os.path.basename(jsonf)
        rows.append(r)

def get(b, m):
    for r in rows:
        if r["benchmark"] == b and r["mode"] == m:
            return r
    return None

def ok(b, m):
    r = get(b, m)
    return r if r and r["status"] == "ok" else None

def rss(r):
    return r["rss_mib_median"] if r else None

def tmed(r):
    return r["time_s"]["median"] if r else None

def ratio(a, b):
    return a / b if a is not None and b else None

benches = list(dict.fromkeys(r["benchmark"] for r in rows))
present = [m for m in ("bdwgc",) + MALLOCS if any(r["mode"] == m for r in rows)]
ratios = []
for b in benches:
    c = ok(b, "cgc")
    for base in present:
        if not get(b, base):
            continue
        o = ok(b, base)
        ratios.append({"benchmark": b, "ratio": "cgc/" + base,
                       "time": ratio(tmed(c), tmed(o)), "rss": ratio(rss(c), rss(o))})
    ms = [ok(b, m) for m in MALLOCS if ok(b, m)]
    if any(get(b, m) for m in MALLOCS):
        bt = min(ms, key=tmed) if ms else None
        br = min((m for m in ms if rss(m)), key=rss, default=None)
        ratios.append({"benchmark": b, "ratio": "cgc/best-malloc",
                       "time": ratio(tmed(c), tmed(bt)), "time_vs": bt and bt["mode"],
                       "rss": ratio(rss(c), rss(br)), "rss_vs": br and br["mode"]})

order = {m: i for i, m in enumerate(("cgc", "bdwgc") + MALLOCS)}
bench_order = {b: i for i, b in enumerate(benches)}
rows.sort(key=lambda r: (bench_order[r["benchmark"]], order.get(r["mode"], 99)))

def cell(s):
    return s.replace("|", "\\|")

def num(v, fmt="{:.1f}"):
    return "-" if v is None else fmt.format(v)

md = []
md.append("| benchmark | mode | time s: median (min–max) | peak RSS MiB | GCs | GC heap MiB: peak"
          " | GC pause ms: total / max |")
md.append("|---|---|---|---|---|---|---|")
for r in rows:
    if r["status"] != "ok":
        what = {"FAILED": "**FAILED**", "n/a": "n/a"}.get(r["status"], "skipped")
        md.append(f"| {r['benchmark']} | {r['mode']} | {what}: {cell(r.get('reason', ''))} | | | | |")
        continue
    t, s = r["time_s"], r.get("stats_median") or r.get("stats", {})
    gcs = s.get("gc_count")
    pauses = "-" if gcs is None else f"{num(s.get('gc_pause_total_ms'))} / {num(s.get('gc_pause_max_ms'))}"
    heap = s.get("heap_peak_bytes")
    md.append(f"| {r['benchmark']} | {r['mode']} | {t['median']:.3f} ({t['min']:.3f}–{t['max']:.3f})"
              f" | {r['rss_mib_median']:.1f} | {num(gcs, '{:.0f}')}"
              f" | {num(None if heap is None else heap / 2**20)} | {pauses} |")

def ratio_table(key, title):
    cols = present + (["best-malloc"] if any(m in present for m in MALLOCS) else [])
    if not cols:
        return
    md.append("")
    md.append(title)
    md.append("")
    md.append("| benchmark | " + " | ".join("vs " + ("best malloc" if c == "best-malloc" else c)
                                         for c in cols) + " |")
    md.append("|---" * (len(cols) + 1) + "|")
    for b in benches:
        cells = []
        for c in cols:
            x = next((x for x in ratios if x["benchmark"] == b and x["ratio"] == "cgc/" + c), None)
            v = x and x[key]
            s = "n/a" if v is None else f"{v:.2f}"
            if v is not None and c == "best-malloc":
                s += f" ({x[key + '_vs']})"
            cells.append(s)
        md.append(f"| {b} | " + " | ".join(cells) + " |")

ratio_table("time", "cgc / other, median wall time (< 1: cgc faster):")
ratio_table("rss", "cgc / other, median peak RSS (< 1: cgc smaller):")

# Latency: any workload whose bench-stats line has lat_*_us keys (pause).
LAT = [("lat_p50_us", "p50 µs"), ("lat_p99_us", "p99 µs"), ("lat_p999_us", "p99.9 µs"),
       ("lat_p9999_us", "p99.99 µs"), ("lat_max_us", "max µs")]

def us(v):
    if not isinstance(v, (int, float)):
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"

for b in benches:
    lrows = [r for r in rows if r["benchmark"] == b]
    keys = [(k, t) for k, t in LAT
            if any(k in (r.get("stats") or {}) for r in lrows)]
    if not keys:
        continue
    over = [k for k in ("lat_over_1ms", "lat_over_10ms")
            if any(k in (r.get("stats") or {}) for r in lrows)]
    md.append("")
    md.append(f"{b}: allocation latency and collector pauses (medians over the timed runs;"
              " also the worst run's maximum):")
    md.append("")
    md.append("| mode | allocations | " + " | ".join(t for _, t in keys) + " | max µs, worst run | "
              + "".join(f"allocations > {k[9:-2]} ms | " for k in over)
              + "GCs | GC pause ms: total | GC pause ms: max |")
    md.append("|---" * (len(keys) + len(over) + 6) + "|")
    for r in lrows:
        if r["status"] != "ok":
            md.append(f"| {r['mode']} | {r['status']} |" + " |" * (len(keys) + len(over) + 4))
            continue
        s = r.get("stats_median") or r.get("stats", {})
        worst = max((x.get("lat_max_us", 0) for x in r["stats_runs"]), default=None)
        gcs = s.get("gc_count")
        md.append(f"| {r['mode']} | {num(s.get('allocs'), '{:.0f}')} | "
                  + " | ".join(us(s.get(k)) for k, _ in keys)
                  + f" | {us(worst)} | "
                  + "".join(f"{num(s.get(k), '{:.0f}')} | " for k in over)
                  + f"{num(gcs, '{:.0f}')}"
                  + (" | - | -" if gcs is None else
                     f" | {num(s.get('gc_pause_total_ms'))} | {num(s.get('gc_pause_max_ms'))}")
                  + " |")
table = "\n".join(md) + "\n"

args = ", ".join(f"{b} {v['args'] or '(no args)'} ×{v['runs']}" for b, v in meta["benchmarks"].items())
head = (f"cgc benchmarks, {meta['date']}{' (quick)' if meta['quick'] else ''}, source {meta['source_rev']}: "
        f"{meta['cpu'] or 'unknown CPU'}, {meta['cpus']} CPUs, load before {meta['load_before']}, "
        f"after {meta['load_after']}; {meta['elapsed_s']} s in all.\n"
        f"Arguments × timed runs per mode ({meta['warmup']} warmup; the runs of all modes interleaved "
        f"in up to {meta['rounds']} rounds): {args}.\n"
        "Time and peak RSS: medians over the timed runs; GCs, the collector's peak heap (bytes it"
        " held from the OS) and pauses: medians of the runs' bench-stats lines.\n\n")
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

# ---- charts ------------------------------------------------------------------
if ((charts)) || [[ -n $publish ]]; then
  copt=()
  ((charts)) || copt+=(--no-charts)
  [[ -z $publish ]] || copt+=(--publish "$publish")
  python3 "$here/charts.py" "${copt[@]}" "$results" || {
    warn "charts.py failed"
    status=1
  }
fi
echo "run.sh: done in $((SECONDS - started)) s"
exit $status
