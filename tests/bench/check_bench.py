#!/usr/bin/python3
"""CTest: `personakit bench run` on bench/suites/smoke.json, then `bench compare`, then
reports/make_report.py (skipped when matplotlib is missing). Exit 0 = pass, 77 = skip.

    check_bench.py --personakit BIN --source SRC_DIR --work WORK_DIR
"""
import argparse
import copy
import glob
import json
import os
import shutil
import subprocess
import sys


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p


def check_result(doc):
    for key in ("schema", "environment", "roofline", "cases", "assign_passes", "suite", "wall_seconds",
                "initializations", "checks"):
        if key not in doc:
            fail(f"result has no {key!r}")
    if doc.get("complete") is not True:
        fail("result not marked complete")
    env = doc["environment"]
    for key in ("personakit_version", "git_commit", "cpu_model", "logical_cores", "isa", "compiler",
                "libraries", "peers", "omp_max_threads"):
        if key not in env:
            fail(f"environment has no {key!r}")
    for t, r in doc["roofline"].items():
        if not (r["fma_gflops"] > 0 and r["read_gbps"] > 0):
            fail(f"roofline for {t} threads not positive: {r}")
    ok = [c for c in doc["cases"] if c["status"] == "ok"]
    mine = [c for c in ok if c["runner"] == "personakit"]
    if len(mine) != 2:
        fail(f"expected 2 personakit cases ok, got {[(c['id'], c['status'], c.get('note')) for c in doc['cases']]}")
    for c in ok:
        s = c["seconds"]
        if not (s["min"] <= s["median"] <= s["max"]):
            fail(f"{c['id']}: median outside min..max: {s}")
        if len(c["times"]) != c["repetitions"]:
            fail(f"{c['id']}: {len(c['times'])} times for {c['repetitions']} repetitions")
        p = c["seconds_per_iteration"]
        if not (p["min"] <= p["median"] <= p["max"]):
            fail(f"{c['id']}: per-iteration median outside min..max")
        for key in ("iterations", "inertia", "peak_rss_mb"):
            if key not in c:
                fail(f"{c['id']}: no {key!r}")
    for c in mine:
        for key in ("distance_evaluations", "lloyd_equivalent", "inertia_rel_diff"):
            if key not in c:
                fail(f"{c['id']}: no {key!r}")
        # Exact algorithms from the same initial centroids: Lloyd's inertia.
        if c["inertia_rel_diff"] > 1e-6:
            fail(f"{c['id']}: inertia differs from lloyd's by {c['inertia_rel_diff']}")
    for c in doc["cases"]:
        if c["runner"] == "peer" and c["status"] != "ok":
            print(f"note: peer {c['id']} {c['status']}: {c.get('note')}")
        if c["status"] == "error":
            fail(f"{c['id']}: error: {c.get('note')}")
    for a in doc["assign_passes"]:
        # No upper bound on the fraction: the smoke matrix (96 KB) sits in cache, above the DRAM roof.
        if not (a["seconds"] > 0 and a["gflops"] > 0 and a["roofline_fraction"] > 0):
            fail(f"assign pass implausible: {a}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--personakit", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    out = os.path.join(a.work, "results")
    suite = os.path.join(a.source, "bench", "suites", "smoke.json")

    p = run([a.personakit, "bench", "run", suite, "--out", out, "--roofline-seconds", "0.05",
             "--peers-dir", os.path.join(a.source, "bench", "peers")])
    if p.returncode != 0:
        fail(f"bench run exited {p.returncode}")
    files = glob.glob(os.path.join(out, "smoke-*.json"))
    if len(files) != 1:
        fail(f"expected one result file, found {files}")
    if files[0] not in p.stdout or "wall time" not in p.stdout:
        fail("console output does not name the result file / wall time")
    with open(files[0]) as f:
        doc = json.load(f)
    check_result(doc)

    # compare: A against itself (all "no change"), then against a copy with one case 10x slower.
    b = copy.deepcopy(doc)
    slow = next(c for c in b["cases"] if c["status"] == "ok" and c["algorithm"] == "lloyd")
    # 10x A's max with no spread: the difference (>= 9x max_A) exceeds A's whole spread (<= max_A).
    for key in ("seconds", "seconds_per_iteration"):
        t = 10 * slow[key]["max"]
        slow[key] = {"median": t, "min": t, "max": t}
    bfile = os.path.join(a.work, "b.json")
    with open(bfile, "w") as f:
        json.dump(b, f)
    p = run([a.personakit, "bench", "compare", files[0], files[0], "--json"])
    if p.returncode != 0:
        fail("compare A A failed")
    same = json.loads(p.stdout)
    if any(r["verdict"] not in ("no change", "not ok in B") for r in same["cases"]):
        fail(f"A vs A should be 'no change': {same['cases']}")
    p = run([a.personakit, "bench", "compare", files[0], bfile, "--json"])
    cmp = json.loads(p.stdout)
    verdicts = {r["id"]: r["verdict"] for r in cmp["cases"]}
    if verdicts.get(slow["id"]) != "slower":
        fail(f"10x slower case not reported slower: {verdicts}")
    p = run([a.personakit, "bench", "compare", files[0], bfile, "--fail-on-slower"])
    if p.returncode != 1 or "slower" not in p.stdout:
        fail("--fail-on-slower did not exit 1")

    # report (needs matplotlib)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib missing: report step skipped")
        return 0
    rep = os.path.join(a.work, "report")
    p = run([sys.executable, os.path.join(a.source, "reports", "make_report.py"), files[0], "--out", rep])
    if p.returncode != 0:
        fail("make_report.py failed")
    md = open(os.path.join(rep, "report.md")).read()
    pngs = glob.glob(os.path.join(rep, "*.png"))
    if not pngs:
        fail("no PNG produced")
    for png in pngs:
        if os.path.basename(png) not in md:
            fail(f"{png} not referenced by report.md")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
