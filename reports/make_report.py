#!/usr/bin/python3
"""personakit benchmark report: result JSON files (`personakit bench run`) -> Markdown + PNG.

    /usr/bin/python3 reports/make_report.py bench-results/*.json --out reports/reference
    /usr/bin/python3 reports/make_report.py RESULT.json --sweep sweep.csv --out reports/mine

Writes OUT/report.md and OUT/*.png (matplotlib, Agg backend, no display needed):
  time_<suite>.png        fit time per algorithm and K (median, min-max whiskers)
  per_iter_<suite>.png    seconds per iteration (the fair metric against FAISS's fixed niter)
  speedup_<suite>.png     peer time / personakit time (> 1: personakit faster)
  distances_<suite>.png   distance evaluations as a fraction of Lloyd's N*K per iteration
  threads_<suite>.png     speed-up over the smallest thread count (only with several)
  roofline.png            the assignment passes on this machine's measured roofline
  ksweep.png              inertia / silhouette / CH / DB against K (from `personakit sweep` CSV)
When several files hold the same suite, the newest (by date) is used.
"""
import argparse
import csv
import json
import math
import os
import sys
from collections import OrderedDict, defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PEERS = ("sklearn-lloyd", "sklearn-elkan", "sklearn-minibatch", "faiss")
COLORS = {
    "lloyd": "#1f77b4", "hamerly": "#2ca02c", "elkan": "#17becf", "yinyang": "#9467bd",
    "exponion": "#8c564b", "screened": "#17becf", "minibatch": "#bcbd22", "auto": "#7f7f7f",
    "sklearn-lloyd": "#ff7f0e", "sklearn-elkan": "#d62728", "sklearn-minibatch": "#e377c2",
    "faiss": "#555555",
}
DPI = 90


def color(a):
    return COLORS.get(a, "#999999")


def load(paths):
    """suite name -> newest result document."""
    by_suite = {}
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        if "cases" not in d:
            print(f"{p}: not a personakit bench result, skipped", file=sys.stderr)
            continue
        d["_path"] = p
        name = d.get("suite_name", os.path.basename(p)) + ("-quick" if d.get("quick") else "")
        date = d.get("environment", {}).get("date_utc", "")
        if name not in by_suite or by_suite[name]["environment"].get("date_utc", "") < date:
            by_suite[name] = d
    order = ["default", "peers-lloyd", "peers-converged", "large", "smoke"]
    return OrderedDict(sorted(by_suite.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                                   else len(order), kv[0])))


def groups_of(doc):
    g = OrderedDict()
    for c in doc["cases"]:
        g.setdefault(c["group"], []).append(c)
    return g


def ok(cases):
    return [c for c in cases if c.get("status") == "ok"]


def fmt(v, p=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{p}g}"


def grid(n):
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    return rows, cols


def short_group(g):
    # "customers-200000x16/k=8/t=2" -> "customers-200000x16\nK=8, 2 threads"
    parts = g.split("/")
    ds = parts[0]
    k = parts[1].replace("k=", "K=") if len(parts) > 1 else ""
    t = parts[2].replace("t=", "") if len(parts) > 2 else ""
    return f"{ds}\n{k}, {t} thread{'s' if t != '1' else ''}"


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return name


def bar_panel(ax, cases, metric, ylabel, title):
    cases = ok(cases)
    names = [c["algorithm"] for c in cases]
    med = [c[metric]["median"] for c in cases]
    lo = [c[metric]["median"] - c[metric]["min"] for c in cases]
    hi = [c[metric]["max"] - c[metric]["median"] for c in cases]
    x = range(len(cases))
    ax.bar(x, med, color=[color(n) for n in names], yerr=[lo, hi], capsize=3,
           edgecolor=["black" if c["runner"] == "peer" else "none" for c in cases], linewidth=0.6)
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if med and min(med) > 0 and max(med) / min(med) > 20:
        ax.set_yscale("log")
    for i, v in enumerate(med):  # the median's value, written above the whisker
        ax.annotate(fmt(v, 2), (i, v + hi[i]), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.margins(y=0.12)


def plot_bars(doc, out, metric, fname, ylabel, suptitle):
    gs = [(g, cs) for g, cs in groups_of(doc).items() if ok(cs)]
    if not gs:
        return None
    r, c = grid(len(gs))
    fig, axes = plt.subplots(r, c, figsize=(4.2 * c, 3.6 * r), squeeze=False)
    for ax, (g, cs) in zip(axes.flat, gs):
        bar_panel(ax, cs, metric, ylabel, short_group(g))
    for ax in list(axes.flat)[len(gs):]:
        ax.axis("off")
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return save(fig, out, fname)


def speedup_rows(doc):
    """(group, algorithm, peer, metric, ratio) for every personakit case x peer case."""
    tol = doc.get("suite", {}).get("tol", 1e-4)
    rows = []
    for g, cs in groups_of(doc).items():
        cs = ok(cs)
        peers = [c for c in cs if c["runner"] == "peer"]
        for m in (c for c in cs if c["runner"] == "personakit"):
            for p in peers:
                # FAISS runs a fixed niter and minibatch counts steps: per-iteration time is
                # the only fair ratio for them, and for every peer when tol = 0.
                metric = "seconds_per_iteration" if (tol == 0 or p["algorithm"] == "faiss") else "seconds"
                if p["algorithm"] == "sklearn-minibatch":
                    metric = "seconds"
                rows.append((g, m["algorithm"], p["algorithm"], metric,
                             p[metric]["median"] / m[metric]["median"]))
    return rows


def plot_speedup(doc, out, suite):
    rows = speedup_rows(doc)
    if not rows:
        return None
    groups = list(OrderedDict.fromkeys(r[0] for r in rows))
    r, c = grid(len(groups))
    fig, axes = plt.subplots(r, c, figsize=(4.4 * c, 3.6 * r), squeeze=False)
    for ax, g in zip(axes.flat, groups):
        rs = [x for x in rows if x[0] == g]
        algos = list(OrderedDict.fromkeys(x[1] for x in rs))
        peers = list(OrderedDict.fromkeys(x[2] for x in rs))
        w = 0.8 / max(1, len(peers))
        for j, p in enumerate(peers):
            vals = [next((x[4] for x in rs if x[1] == a and x[2] == p), float("nan")) for a in algos]
            metric = next(x[3] for x in rs if x[2] == p)
            lab = f"over {p}" + (" (per iteration)" if metric == "seconds_per_iteration" else "")
            xs = [i + (j - (len(peers) - 1) / 2) * w for i in range(len(algos))]
            ax.bar(xs, vals, width=w, color=color(p), label=lab)
            for xx, v in zip(xs, vals):
                if math.isfinite(v):
                    ax.annotate(f"{v:.2g}x", (xx, v), ha="center", va="bottom", fontsize=6.5,
                                xytext=(0, 1), textcoords="offset points")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(algos)))
        ax.set_xticklabels(algos, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("speed-up (peer time / personakit time)")
        ax.set_title(short_group(g), fontsize=9)
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=1, frameon=False)
        top = max([x[4] for x in rs if math.isfinite(x[4])] + [1.0])
        ax.set_ylim(top=top * 2.5)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"{suite}: speed-up of each personakit algorithm over the peers (> 1: personakit faster)",
                 fontsize=10)
    fig.tight_layout()
    return save(fig, out, f"speedup_{suite}.png")


def plot_distances(doc, out, suite):
    gs = []
    for g, cs in groups_of(doc).items():
        m = [c for c in ok(cs) if c["runner"] == "personakit" and c.get("distance_fraction") is not None]
        if m:
            gs.append((g, m))
    if not gs or all(len(m) < 2 for _, m in gs):
        return None
    algos = list(OrderedDict.fromkeys(c["algorithm"] for _, m in gs for c in m))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(gs) + 2), 3.8))
    w = 0.8 / len(algos)
    for j, a in enumerate(algos):
        vals = [next((c["distance_fraction"] for c in m if c["algorithm"] == a), float("nan")) for _, m in gs]
        xs = [i + (j - (len(algos) - 1) / 2) * w for i in range(len(gs))]
        ax.bar(xs, vals, width=w, color=color(a), label=a)
        for xx, v in zip(xs, vals):
            if math.isfinite(v):
                ax.annotate(f"{v:.2g}", (xx, v), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 1), textcoords="offset points")
    allv = [c["distance_fraction"] for _, m in gs for c in m if c["distance_fraction"] > 0]
    if allv and max(allv) / min(allv) > 20:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, max(allv + [1.0]) * 1.15)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(gs)))
    ax.set_xticklabels([short_group(g) for g, _ in gs], fontsize=8)
    ax.set_ylabel("distance evaluations / Lloyd's N·K·iterations")
    ax.set_title(f"{suite}: distance evaluations relative to Lloyd (1 = N·K per iteration)",
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.margins(y=0.12)
    fig.tight_layout()
    return save(fig, out, f"distances_{suite}.png")


def plot_threads(doc, out, suite):
    series = defaultdict(dict)  # (dataset/k, algorithm) -> threads -> median
    for c in ok(doc["cases"]):
        series[(c["dataset"] + f" K={c['k']}", c["algorithm"])][c["threads"]] = c["seconds"]["median"]
    multi = {k: v for k, v in series.items() if len(v) > 1}
    if not multi:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    allt = sorted({t for v in multi.values() for t in v})
    for (ds, a), v in multi.items():
        ts = sorted(v)
        ax.plot(ts, [v[ts[0]] / v[t] for t in ts], marker="o", color=color(a), label=f"{a} ({ds})")
    ax.plot(allt, [t / allt[0] for t in allt], ls="--", color="black", lw=0.8, label="linear")
    ax.set_xlabel("OpenMP threads")
    ax.set_ylabel(f"speed-up over {allt[0]} thread(s)")
    ax.set_xticks(allt)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{suite}: thread scaling (fit time)", fontsize=10)
    fig.tight_layout()
    return save(fig, out, f"threads_{suite}.png")


def plot_roofline(docs, out):
    passes = [(s, a) for s, d in docs.items() for a in d.get("assign_passes", []) if a.get("gflops")]
    # Each run measured its own roofline (the load may differ between runs): one roof per run.
    roofs = [(s, int(t), r) for s, d in docs.items() for t, r in d.get("roofline", {}).items()]
    if not passes or not roofs:
        return None
    fig, ax = plt.subplots(figsize=(11.5, 4.8))
    ais = [a["arithmetic_intensity"] for _, a in passes]
    xmin, xmax = min(ais + [1.0]) / 2, max(ais + [64.0]) * 2
    xs = [xmin * (xmax / xmin) ** (i / 200) for i in range(201)]
    styles = ["-", "--", ":", "-."]
    roof_colors = ["black", "#1f77b4", "#d62728", "#2ca02c"]
    for i, (s, t, r) in enumerate(roofs):
        ys = [min(r["fma_gflops"], r["read_gbps"] * x) for x in xs]
        ax.plot(xs, ys, color=roof_colors[i % 4], ls=styles[(i // 4) % 4], lw=1.2,
                label=f"roof of run '{s}', {t} thr.: {r['fma_gflops']:.0f} GFLOP/s, {r['read_gbps']:.1f} GB/s")
    markers = "os^Dv<>"
    for j, (s, a) in enumerate(passes):
        lab = (f"[{s}] {a['dataset']} K={a['k']} t={a['threads']}: "
               f"{100 * a.get('roofline_fraction', float('nan')):.0f} % of its run's roof")
        ax.scatter([a["arithmetic_intensity"]], [a["gflops"]], marker=markers[j % len(markers)], s=40,
                   zorder=3, label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (flop per byte of rows read = K/2)")
    ax.set_ylabel("GFLOP/s (2·N·K·D per pass)")
    ax.set_title("assignment pass (fp32) on this machine's measured roofline", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return save(fig, out, "roofline.png")


def plot_sweep(paths, out):
    rows = []
    for p in paths:
        with open(p) as f:
            rows += list(csv.DictReader(f))
    if not rows:
        return None, []
    cols = {c.lower(): c for c in rows[0].keys()}

    def find(*names):
        for n in names:
            for lc, c in cols.items():
                if lc == n or lc.startswith(n):
                    return c
        return None

    kc = find("k")
    metrics = [(find("inertia"), "inertia (sum of squared distances)", False),
               (find("silhouette"), "silhouette (higher is better)", False),
               (find("calinski_harabasz", "calinski", "ch"), "Calinski–Harabasz (higher is better)", False),
               (find("davies_bouldin", "davies", "db"), "Davies–Bouldin (lower is better)", False)]
    metrics = [m for m in metrics if m[0]]
    if not kc or not metrics:
        return None, []
    ks = [float(r[kc]) for r in rows]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    for ax, (col, label, _) in zip(axes.flat, metrics):
        vals = [float(r[col]) if r[col] not in ("", "nan", "null", None) else float("nan") for r in rows]
        ax.plot(ks, vals, marker="o")
        ax.set_xlabel("K (clusters)")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("K sweep (personakit sweep)", fontsize=10)
    fig.tight_layout()
    return save(fig, out, "ksweep.png"), [c for c, _, _ in metrics]


def md_env(docs):
    d = next(iter(docs.values()))
    e = d["environment"]
    comp = e.get("compiler", {})
    libs = e.get("libraries", {})
    pv = e.get("peers", {}).get("versions", {}) or {}
    lines = ["| | |", "|---|---|",
             f"| CPU | {e.get('cpu_model')} ({e.get('logical_cores')} logical cores) |",
             f"| OS | {e.get('os', '?')} |",
             f"| personakit | {e.get('personakit_version')} @ `{e.get('git_commit')}` |",
             f"| kernel ISA taken | {e.get('isa')} (available: {', '.join(e.get('isas_available', []))}) |",
             f"| compiler | {comp.get('cmake_compiler', comp.get('version', '?'))}; flags `{comp.get('flags', ' '.join(comp.get('defines', [])))}` |",
             f"| libraries | " + ", ".join(f"{k} {v}" for k, v in libs.items()) + " |",
             f"| peers | " + ", ".join(f"{k} {v}" for k, v in pv.items() if v) + " |"]
    def la(dd, key):
        v = dd["environment"].get(key)
        return f"{v[0]:.1f}" if v else "not recorded"
    loads = [f"{n}: {la(dd, 'loadavg_start')} → {la(dd, 'loadavg_end')}" for n, dd in docs.items()]
    lines.append("| 1-min load average (start → end) | " + "; ".join(loads) +
                 " (on 2 cores: above ~2 means other work shared the CPU during the run) |")
    commits = {dd["environment"].get("git_commit") for dd in docs.values()}
    if len(commits) > 1:
        lines.append(f"| note | the result files come from different commits: {', '.join(sorted(commits))} |")
    return "\n".join(lines)


def md_cases(doc):
    lines = ["| case | iters | median s | min–max s | s/iter | dist/Lloyd | rel. Δinertia | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in doc["cases"]:
        if c.get("status") != "ok":
            lines.append(f"| {c['id']} | | {c.get('status')}: {c.get('note', '')} | | | | | |")
            continue
        s = c["seconds"]
        lines.append(f"| {c['id']} | {c.get('iterations', '')} | {fmt(s['median'], 4)} | "
                     f"{fmt(s['min'], 3)}–{fmt(s['max'], 3)} | {fmt(c['seconds_per_iteration']['median'], 3)} | "
                     f"{fmt(c.get('distance_fraction'), 3)} | {fmt(c.get('inertia_rel_diff'), 2)} | "
                     f"{fmt(c.get('peak_rss_mb'), 4)} |")
    return "\n".join(lines)


def md_checks(doc):
    ch = doc.get("checks") or []
    if not ch:
        return ""
    lines = ["| status | case | check | value | target |", "|---|---|---|---:|---:|"]
    for r in ch:
        if r["check"] == "speedup":
            val = f"{r['ratio']:.3g}x" if "ratio" in r else r.get("note", "")
            lines.append(f"| {r['status']} | {r['group']} | {r['algorithm']} vs {r['over']} ({r['metric']}) | "
                         f"{val} | ≥ {r['target']:g}x |")
        elif r["check"] == "no_worse":
            val = f"{r['ratio']:.6f}" if "ratio" in r else r.get("note", "")
            lines.append(f"| {r['status']} | {r['group']} | {r['algorithm']} {r['metric']} / {r['than']}'s | "
                         f"{val} | ≤ {r['target']:g} |")
        else:
            lines.append(f"| {r['status']} | {r['group']} | {r['algorithm']} inertia vs personakit lloyd | "
                         f"{r['rel_diff']:.2g} | ≤ {r['target']:g} |")
    return "\n".join(lines)


def md_time_to_target(doc):
    """Mini-batch suites: final inertia relative to converged lloyd, time to within the target."""
    cs = [c for c in doc["cases"] if c.get("status") == "ok" and ("time_to_target" in c or "steps" in c)]
    if not cs:
        return ""
    lloyd = {c["group"]: c.get("time_to_target_seconds", {}).get("median")
             for c in doc["cases"] if c.get("algorithm") == "lloyd" and c.get("status") == "ok"}
    lines = ["| case | steps / iterations | s (median) | final inertia / lloyd's − 1 | reached target at | "
             "time to target s (median) | lloyd's time / this |", "|---|---:|---:|---:|---|---:|---:|"]
    for c in cs:
        t = c.get("time_to_target", {})
        at, tt, vs = "—", "—", "—"
        if t.get("reached"):
            if "iteration" in t:
                at = f"iteration {t['iteration']}"
            else:
                at = f"{t.get('steps')} steps" + (f" + {t['refine']} Lloyd passes" if t.get("refine") else "")
            tt = fmt(c["time_to_target_seconds"]["median"], 4)
            lt = lloyd.get(c["group"])
            if lt and c["algorithm"] != "lloyd":
                vs = f"{lt / c['time_to_target_seconds']['median']:.3g}x"
        elif t:
            at = "not reached"
        lines.append(f"| {c['id']} | {c.get('iterations')} | {fmt(c['seconds']['median'], 4)} | "
                     f"{fmt(c.get('inertia_rel_lloyd'), 3)} | {at} | {tt} | {vs} |")
    return "\n".join(lines)


def md_assign(docs):
    rows = [a for d in docs.values() for a in d.get("assign_passes", [])]
    if not rows:
        return ""
    lines = ["| shape (N×D, K, threads) | s/pass (median) | GFLOP/s | GB/s | bound | % of roofline | % FMA peak | % read BW |",
             "|---|---:|---:|---:|---|---:|---:|---:|"]
    seen = set()
    for a in rows:
        key = (a["n"], a["d"], a["k"], a["threads"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"| {a['n']}×{a['d']}, K={a['k']}, t={a['threads']} | {fmt(a['seconds'], 3)} | "
                     f"{fmt(a['gflops'], 4)} | {fmt(a['gbps'], 3)} | {a.get('bound', '?')} | "
                     f"{fmt(100 * a.get('roofline_fraction', float('nan')), 3)} | "
                     f"{fmt(100 * a.get('fraction_of_fma_peak', float('nan')), 3)} | "
                     f"{fmt(100 * a.get('fraction_of_read_bw', float('nan')), 3)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="personakit bench results -> Markdown + PNG report")
    ap.add_argument("results", nargs="+", help="result JSON files from `personakit bench run`")
    ap.add_argument("--out", required=True, help="output directory (report.md + PNGs)")
    ap.add_argument("--sweep", nargs="*", default=[], help="CSV files from `personakit sweep --csv`")
    ap.add_argument("--title", default="personakit benchmark report")
    a = ap.parse_args()
    docs = load(a.results)
    if not docs:
        print("no result files", file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    plt.rcParams.update({"font.size": 9})

    md = [f"# {a.title}", "",
          "Generated by `reports/make_report.py` from " +
          ", ".join(f"`{os.path.basename(d['_path'])}`" for d in docs.values()) + ".",
          "Regenerate (reference report): `/usr/bin/python3 reports/make_report.py bench-results/*.json "
          "--out reports/reference`; produce the results with "
          "`personakit bench run bench/suites/SUITE.json` (docs/benchmarks.md). The committed reference keeps "
          "its inputs in `reports/reference/results/`: "
          "`/usr/bin/python3 reports/make_report.py reports/reference/results/*.json --out reports/reference`.", "",
          "## Machine", "", md_env(docs), ""]
    loaded = [n for n, dd in docs.items()
              if max((dd["environment"].get(k) or [0])[0] for k in ("loadavg_start", "loadavg_end"))
              > 1.5 * max(1, dd["environment"].get("logical_cores", 1))]
    if loaded:
        md += [f"**Warning:** the machine was loaded during {', '.join(loaded)} (load average above 1.5× the "
               "core count): absolute times are inflated and spreads wide; ratios measured in the same run are "
               "the meaningful part, and a roofline measured at the start of a run may not match the load when "
               "a pass ran (fractions above 100 %).", ""]
    roofs = [(n, int(t), r) for n, d in docs.items() for t, r in d.get("roofline", {}).items()]
    if roofs:
        md += ["## Measured roofline", "",
               "Measured at the start of each run, with the run's thread count (a loaded machine lowers it).", "",
               "| run | threads | FP32 FMA peak GFLOP/s | read bandwidth GB/s | source |",
               "|---|---:|---:|---:|---|"]
        for n, t, r in roofs:
            md.append(f"| {n} | {t} | {r['fma_gflops']:.1f} | {r['read_gbps']:.1f} | {r.get('source', '')} |")
        md.append("")
    rl = plot_roofline(docs, a.out)
    ma = md_assign(docs)
    if ma:
        md += ["## Assignment pass vs the roofline", "",
               "One fused nearest-centroid pass (fp32, norms precomputed) over all rows at the final centroids "
               "of each case; GFLOP/s counts 2·N·K·D, GB/s counts the 4·N·D bytes of rows read.", "", ma, ""]
    if rl:
        md += [f"![roofline]({rl})", ""]

    for suite, d in docs.items():
        s = d.get("suite", {})
        md += [f"## Suite `{suite}`" + (" (quick)" if d.get("quick") else "") +
               (" — INCOMPLETE run (interrupted; the cases below are those measured)"
                if d.get("complete") is False else ""), "",
               s.get("description", ""), "",
               f"File `{os.path.basename(d['_path'])}`, run {d['environment'].get('date_utc')}, wall time "
               f"{d.get('wall_seconds', float('nan')):.1f} s; {s.get('repetitions', '?')} repetitions after "
               f"{s.get('warmup', '?')} warm-up; max_iter {s.get('max_iter')}, tol {s.get('tol')}; "
               f"init {s.get('init', 'kmeans++')} seed {s.get('seed')} (shared by every algorithm and peer).", "",
               md_cases(d), ""]
        tt = md_time_to_target(d)
        if tt:
            md += ["Full-data inertia (fp64) relative to converged personakit lloyd, and time to within "
                   "the target (docs/benchmarks.md, \"The minibatch suite\"):", "", tt, ""]
        ch = md_checks(d)
        if ch:
            md += ["Checks (targets from the suite file):", "", ch, ""]
        figs = [
            plot_bars(d, a.out, "seconds", f"time_{suite}.png", "fit time, s (median; whiskers min–max)",
                      f"{suite}: wall time of the fit per algorithm (peers outlined)"),
            plot_bars(d, a.out, "seconds_per_iteration", f"per_iter_{suite}.png", "seconds per iteration",
                      f"{suite}: seconds per iteration (fit time / iterations run)"),
            plot_speedup(d, a.out, suite),
            plot_distances(d, a.out, suite),
            plot_threads(d, a.out, suite),
        ]
        for f in figs:
            if f:
                md += [f"![{f}]({f})", ""]

    if a.sweep:
        f, cols = plot_sweep(a.sweep, a.out)
        if f:
            md += ["## K sweep", "", f"From {', '.join(a.sweep)} (columns {', '.join(cols)}).", "",
                   f"![K sweep]({f})", ""]

    md += ["## How to read this", "",
           "- Times are wall-clock medians of the repetitions, data already in memory; whiskers and "
           "the min–max column are the observed spread. Peers time only their `fit`.",
           "- Every algorithm and peer of a case starts from the same k-means++ centroids. scikit-learn stops on "
           "tol × mean feature variance (or unchanged labels); FAISS runs its fixed niter, so compare it per "
           "iteration. `rel. Δinertia` is relative to personakit lloyd's final inertia in the same case.",
           "- dist/Lloyd: point–centroid distances computed (init included when the algorithm counts it) over "
           "N·K per iteration run.", ""]
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write("\n".join(md))
    print(os.path.join(a.out, "report.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
