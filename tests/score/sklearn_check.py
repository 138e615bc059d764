#!/usr/bin/python3
"""Compare personakit's scores with scikit-learn's on generated data (issue 6).

usage: sklearn_check.py SCORE_SKLEARN_CHECK_EXE WORKDIR
Writes float32 data and int32 labels under WORKDIR, runs the executable (which prints
"case metric value"), and checks every value against scikit-learn to 1e-6 relative
(+1e-12 absolute, for exact zeros). Exits 77 (CTest: skipped) when scikit-learn or
numpy cannot be imported.

scikit-learn receives the same float32 values widened to float64, so it computes in
float64 on identical inputs; personakit's silhouette uses fp32 canonical squared
distances (see docs/scoring.md), whose rounding averages out far below 1e-6 here.
"""
import os
import subprocess
import sys

try:
    import numpy as np
    from sklearn import metrics
except Exception as e:  # noqa: BLE001 - any import failure means "cannot compare"
    print(f"skipped: cannot import scikit-learn ({e})")
    sys.exit(77)

REL, ABS = 1e-6, 1e-12


def main():
    exe, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(20261123)
    manifest, expected = [], {}

    def internal(name, x, y, c):
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.ascontiguousarray(y, dtype=np.int32)
        c = np.ascontiguousarray(c, dtype=np.float32)
        n, d = x.shape
        x.tofile(f"{work}/{name}_x.f32"); y.tofile(f"{work}/{name}_y.i32"); c.tofile(f"{work}/{name}_c.f32")
        manifest.append(f"internal {name} {n} {d} {c.shape[0]}")
        x64 = x.astype(np.float64)
        for metric, fn in (("silhouette", metrics.silhouette_score),
                           ("davies_bouldin", metrics.davies_bouldin_score),
                           ("calinski_harabasz", metrics.calinski_harabasz_score)):
            try:
                with np.errstate(all="ignore"):
                    expected[(name, metric)] = float(fn(x64, y))
            except ValueError:
                expected[(name, metric)] = "error"
        if y.min() >= 0 and y.max() < c.shape[0]:
            # No scikit-learn function: KMeans.inertia_'s definition, in numpy.
            expected[(name, "inertia")] = float(((x64 - c.astype(np.float64)[y]) ** 2).sum())

    def external(name, a, b):
        a = np.ascontiguousarray(a, dtype=np.int32); b = np.ascontiguousarray(b, dtype=np.int32)
        a.tofile(f"{work}/{name}_a.i32"); b.tofile(f"{work}/{name}_b.i32")
        manifest.append(f"external {name} {a.size}")
        expected[(name, "ari")] = float(metrics.adjusted_rand_score(a, b))
        expected[(name, "nmi")] = float(metrics.normalized_mutual_info_score(a, b))
        expected[(name, "ami")] = float(metrics.adjusted_mutual_info_score(a, b))
        h, c, v = metrics.homogeneity_completeness_v_measure(a, b)
        expected[(name, "homogeneity")] = float(h)
        expected[(name, "completeness")] = float(c)
        expected[(name, "v_measure")] = float(v)

    def blobs(n, d, k, spread=4.0):
        centers = rng.normal(0, spread, (k, d))
        truth = rng.integers(0, k, n)
        x = (centers[truth] + rng.normal(0, 1, (n, d))).astype(np.float32)
        return x, truth

    def means(x, y, k):
        return np.stack([x[y == c].astype(np.float64).mean(0) if (y == c).any() else np.zeros(x.shape[1])
                         for c in range(k)]).astype(np.float32)

    # Internal scores.
    x, t = blobs(3000, 8, 5)
    y = t.copy(); y[::23] = (y[::23] + 1) % 5
    internal("blobs", x, y, means(x, y, 5))
    names = np.array([1000, 3, 17, 250000, 42])
    internal("renamed", x, names[y], means(x, y, 5))
    y2 = y.copy(); y2[7] = 5
    internal("singleton", x, y2, means(x, y2, 6))
    x1, t1 = blobs(400, 1, 3)
    internal("d1", x1, t1, means(x1, t1, 3))
    x3, t3 = blobs(2500, 33, 7, spread=2.0)
    internal("d33", x3, t3, means(x3, t3, 7))
    same = np.full((20, 3), 1.5, np.float32)
    internal("identical", same, np.arange(20) % 2, np.full((2, 3), 1.5, np.float32))
    internal("one_cluster", x[:50], np.zeros(50), means(x[:50], np.zeros(50, int), 1))

    # External scores.
    n = 20000
    tr = rng.integers(0, 8, n); pr = tr.copy(); flip = rng.random(n) < 0.3; pr[flip] = rng.integers(0, 10, flip.sum())
    external("related", tr, pr)
    external("independent", rng.integers(0, 6, n), rng.integers(0, 9, n))
    external("many", rng.integers(0, 300, 50000), rng.integers(0, 500, 50000))
    external("values", np.array([-5, 7, 1 << 30])[rng.integers(0, 3, 5000)], rng.integers(-3, 3, 5000))
    external("identical", tr, tr)
    external("single_both", np.zeros(100), np.full(100, 4))
    external("single_vs_split", np.zeros(100), np.arange(100))
    external("split_vs_single", np.arange(100), np.zeros(100))
    external("n1", np.array([3]), np.array([9]))
    external("n2", np.array([0, 1]), np.array([0, 0]))

    with open(f"{work}/manifest.txt", "w") as f:
        f.write("\n".join(manifest) + "\n")
    out = subprocess.run([exe, work], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
        return 1
    got = {}
    for line in out.stdout.splitlines():
        name, metric, value = line.split()
        got[(name, metric)] = value
    failures = 0
    for key, want in sorted(expected.items()):
        have = got.get(key)
        if want == "error":
            ok = have == "error"
        else:
            ok = have not in (None, "error") and abs(float(have) - want) <= REL * abs(want) + ABS
        status = "ok  " if ok else "FAIL"
        print(f"{status} {key[0]:16s} {key[1]:18s} personakit={have} sklearn={want}")
        failures += not ok
    print(f"{len(expected) - failures}/{len(expected)} agree to {REL:g} relative")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
