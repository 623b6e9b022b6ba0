#!/usr/bin/env python3
"""charts.py -- draw the benchmark charts from run.sh's summary.json.

    python3 bench/charts.py [--no-charts] [--publish DIR] RESULTS

RESULTS is run.sh's results directory (it holds summary.json).  Writes
RESULTS/charts/, each chart as PNG and SVG, drawn by gnuplot with
bench/charts.gp from the data files next to them:

  time.{png,svg}          median wall time per workload and mode, normalised
                          to glibc malloc = 1 (time.dat: ratios and absolute
                          medians, min and max in seconds)
  rss.{png,svg}           median peak RSS, normalised the same way
                          (rss.dat: ratios and MiB)
  NAME-latency.{png,svg}  for a workload whose bench-stats line carries
                          lat_*_us keys (pause): allocation latency p99,
                          p99.9, p99.99 and max per mode, log scale
                          (NAME-latency.dat: microseconds)

Without gnuplot the data files are still written and the charts skipped
with a note.  --publish DIR then copies summary.md, summary.json and the
charts (PNG and SVG) to DIR, e.g. SRCDIR/docs/bench, replacing the charts
of an earlier publish.  --no-charts leaves RESULTS/charts as it is (with
--publish: publishes what is there).
"""
import glob
import json
import math
import os
import shutil
import subprocess
import sys

MODES = ("cgc", "bdwgc", "malloc", "jemalloc", "mimalloc")  # bar order
COLORS = {"cgc": "#1f5fbf", "bdwgc": "#e8871e", "malloc": "#7f7f7f",
          "jemalloc": "#4daf4a", "mimalloc": "#9b59b6"}
LAT = (("lat_p99_us", "p99"), ("lat_p999_us", "p99.9"), ("lat_p9999_us", "p99.99"),
       ("lat_max_us", "max"))
CHART_NAMES = ("time", "rss", "*-latency")
HERE = os.path.dirname(os.path.abspath(__file__))


def gp_str(s):
    """A gnuplot double-quoted string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def bar_x(group, j, n, width=0.8):
    """Centre of bar j of n in the group centred on x = group."""
    w = width / n
    return group + (j - (n - 1) / 2) * w, w


def fmt_s(v):
    return f"{v:.3g} s" if v < 10 else f"{v:.0f} s"


def fmt_us(v):
    if v >= 1000:
        return f"{v / 1000:.3g} ms"
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def fmt_mib(v):
    return f"{v:.3g} MiB" if v < 1000 else f"{v:.0f} MiB"


class Charts:
    def __init__(self, results):
        self.results = results
        self.outdir = os.path.join(results, "charts")
        with open(os.path.join(results, "summary.json")) as f:
            s = json.load(f)
        self.meta, self.rows = s["meta"], s["results"]
        self.benches = list(dict.fromkeys(r["benchmark"] for r in self.rows))
        self.modes = [m for m in MODES if any(r["mode"] == m for r in self.rows)]
        m = self.meta
        runs = sorted({v["runs"] for v in m.get("benchmarks", {}).values()})
        self.subtitle = (f"{m.get('cpu') or 'unknown CPU'}, {m.get('cpus')} CPUs; "
                         f"source {m.get('source_rev')}, {m.get('date', '')[:10]}"
                         f"{', quick run' if m.get('quick') else ''}; medians of "
                         f"{'/'.join(map(str, runs)) or '?'} runs")
        self.made = []

    def row(self, b, m):
        return next((r for r in self.rows if r["benchmark"] == b and r["mode"] == m), None)

    def note(self, r):
        return {"ok": "", "n/a": "n/a", "FAILED": "FAILED"}.get(r["status"], "skipped")

    # ---- data ----------------------------------------------------------------
    def normalised(self, name, value, unit_fmt, what):
        """Write NAME.dat (one row per workload and mode) and return the
        gnuplot variables of a chart normalised to glibc malloc."""
        lines = [f"# {what} per workload and mode, normalised to glibc malloc = 1",
                 f"# ({self.meta.get('date')}, source {self.meta.get('source_rev')})",
                 "# x: bar centre; ratio: value / malloc's; value: the absolute median;"
                 " status: ok, n/a, FAILED or skipped",
                 "# x\tratio\tvalue\tmin\tmax\tmode_index\tstatus\tbenchmark\tmode\tlabel"]
        xtics, group, ymax, nbars = [], 0, 1.0, 0
        for b in self.benches:
            base = self.row(b, "malloc")
            bv = value(base) if base and base["status"] == "ok" else None
            if not bv:
                print(f"charts.py: {name}: {b} left out (no glibc malloc result to normalise to)")
                continue
            xtics.append(f"{gp_str(b + chr(10) + '{/*0.8 malloc ' + unit_fmt(bv) + '}')} {group}")
            for j, m in enumerate(self.modes):
                r = self.row(b, m)
                if r is None:
                    continue
                x, _ = bar_x(group, j, len(self.modes))
                if r["status"] == "ok" and value(r):
                    v = value(r)
                    lo, hi = value(r, "min"), value(r, "max")
                    lines.append(f"{x:.4f}\t{v / bv:.4f}\t{v:.6g}\t{lo:.6g}\t{hi:.6g}"
                                 f"\t{j}\tok\t{b}\t{m}\t{v / bv:.2f}")
                    ymax = max(ymax, v / bv)
                    nbars += 1
                else:
                    lines.append(f"{x:.4f}\tNaN\tNaN\tNaN\tNaN\t{j}\t{self.note(r)}\t{b}\t{m}\t-")
            group += 1
        with open(os.path.join(self.outdir, name + ".dat"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if not nbars:
            return None
        return {"kind": "bars", "logscale": 0, "ngroups": group,
                "xtics": "(" + ", ".join(xtics) + ")", "ymin": 0, "ymax": ymax * 1.18,
                "refline": 1, "modecol": 6, "statuscol": 7, "labelcol": 10}

    def latency(self, b):
        rows = [r for r in self.rows if r["benchmark"] == b and r["mode"] in self.modes]
        if not any(k in (r.get("stats") or {}) for r in rows for k, _ in LAT):
            return None
        lines = [f"# {b}: allocation latency per mode in microseconds (median over the timed"
                 " runs' bench-stats lines)",
                 f"# ({self.meta.get('date')}, source {self.meta.get('source_rev')})",
                 "# x\tus\tworst_run_us\tmode_index\tstatus\tpercentile\tmode\tlabel"]
        vals = []
        for g, (key, label) in enumerate(LAT):
            for j, m in enumerate(self.modes):
                r = self.row(b, m)
                if r is None:
                    continue
                x, _ = bar_x(g, j, len(self.modes))
                s = r.get("stats_median") or {}
                runs = r.get("stats_runs") or []
                v = s.get(key)
                if r["status"] == "ok" and isinstance(v, (int, float)) and v > 0:
                    worst = max((x.get(key, 0) for x in runs), default=v)
                    lines.append(f"{x:.4f}\t{v:.6g}\t{worst:.6g}\t{j}\tok\t{label}\t{m}"
                                 f"\t{fmt_us(v)}")
                    vals.append(v)
                else:
                    lines.append(f"{x:.4f}\tNaN\tNaN\t{j}\t{self.note(r) or 'n/a'}\t{label}\t{m}\t-")
        with open(os.path.join(self.outdir, f"{b}-latency.dat"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if not vals:
            return None
        lo = 10 ** math.floor(math.log10(min(vals) / 2))
        return {"kind": "bars", "logscale": 1, "ngroups": len(LAT),
                "xtics": "(" + ", ".join(f'"{label}" {g}' for g, (_, label) in enumerate(LAT)) + ")",
                "ymin": lo, "ymax": max(vals) * 6, "refline": 0,
                "modecol": 4, "statuscol": 5, "labelcol": 8}

    # ---- drawing ---------------------------------------------------------------
    def draw(self, name, title, ylabel, v):
        out = os.path.join(self.outdir, name)
        w = 0.8 / len(self.modes)
        params = {
            "datafile": os.path.join(self.outdir, name + ".dat"), "out": out,
            "title": title, "subtitle": self.subtitle, "ylabel": ylabel,
            "nmodes": len(self.modes), "modes": " ".join(self.modes),
            "colors": " ".join(COLORS[m] for m in self.modes), "boxw": w * 0.92,
            "width": max(760, 130 * v["ngroups"] * max(1, len(self.modes)) // 4 + 160),
        }
        params.update(v)
        lines = []
        for k, x in params.items():
            if isinstance(x, str) and k != "xtics":
                lines.append(f"{k} = {gp_str(x)}")
            elif k == "xtics":
                lines.append(f"xtics = {gp_str(x)}")
            else:
                lines.append(f"{k} = {x}")
        vars_file = out + ".vars.gp"
        with open(vars_file, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = subprocess.run(["gnuplot", vars_file, os.path.join(HERE, "charts.gp")],
                           capture_output=True, text=True)
        if p.returncode != 0 or not os.path.exists(out + ".png"):
            sys.stderr.write(p.stderr)
            raise SystemExit(f"charts.py: gnuplot failed on {name}")
        if p.stderr.strip():
            sys.stderr.write(p.stderr)
        self.made += [out + ".png", out + ".svg"]

    def run(self):
        os.makedirs(self.outdir, exist_ok=True)
        for pat in CHART_NAMES:  # no stale charts from an earlier run
            for f in glob.glob(os.path.join(self.outdir, pat + ".*")):
                os.remove(f)

        def time_of(r, k="median"):
            return r["time_s"][k]

        def rss_of(r, k="median"):
            if k == "median":
                return r.get("rss_mib_median")
            kib = r.get("rss_kib") or []
            return (min(kib) if k == "min" else max(kib)) / 1024 if kib else None

        charts = [("time", self.normalised("time", time_of, fmt_s, "median wall time (s)"),
                   "Wall time relative to glibc malloc (lower is better)",
                   "median time / glibc malloc's"),
                  ("rss", self.normalised("rss", rss_of, fmt_mib, "median peak RSS (MiB)"),
                   "Peak RSS relative to glibc malloc (lower is better)",
                   "median peak RSS / glibc malloc's")]
        for b in self.benches:
            charts.append((f"{b}-latency", self.latency(b),
                           f"{b}: allocation latency per mode (log scale; lower is better)",
                           "latency, µs"))
        if shutil.which("gnuplot") is None:
            print("charts.py: gnuplot not found (Debian: apt install gnuplot-nox);"
                  f" data files in {self.outdir}, no charts drawn")
            return
        for name, v, title, ylabel in charts:
            if v is not None:
                self.draw(name, title, ylabel, v)
        print(f"charts.py: charts in {self.outdir}: "
              + " ".join(os.path.basename(f) for f in self.made))

    def publish(self, dest):
        os.makedirs(dest, exist_ok=True)
        for pat in CHART_NAMES:
            for ext in ("png", "svg"):
                for f in glob.glob(os.path.join(dest, f"{pat}.{ext}")):
                    os.remove(f)
        files = [os.path.join(self.results, "summary.md"), os.path.join(self.results, "summary.json")]
        for pat in CHART_NAMES:
            for ext in ("png", "svg"):
                files += sorted(glob.glob(os.path.join(self.outdir, f"{pat}.{ext}")))
        for f in files:
            shutil.copy(f, dest)
        print(f"charts.py: published to {dest}: " + " ".join(os.path.basename(f) for f in files))


def main(argv):
    draw, publish, results = True, None, None
    it = iter(argv)
    for a in it:
        if a == "--no-charts":
            draw = False
        elif a == "--publish":
            publish = next(it, None)
            if publish is None:
                raise SystemExit("charts.py: --publish needs a directory")
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-") or results is not None:
            raise SystemExit(f"charts.py: unexpected argument {a} (see --help)")
        else:
            results = a
    if results is None:
        raise SystemExit("usage: charts.py [--no-charts] [--publish DIR] RESULTS")
    if not os.path.exists(os.path.join(results, "summary.json")):
        raise SystemExit(f"charts.py: no {results}/summary.json (run bench/run.sh first)")
    c = Charts(results)
    if draw:
        c.run()
    if publish:
        c.publish(publish)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
