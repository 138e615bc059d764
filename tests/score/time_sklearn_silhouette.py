#!/usr/bin/python3
"""Time scikit-learn's exact silhouette_score (no sampling), the peer of bench_score's
BM_silhouette: uniform float32 data in [-4, 4), labelled by the nearest of K random
rows (same distribution as bench_score; scikit-learn's cost does not depend on values).

usage: time_sklearn_silhouette.py N D K [REPEATS]
Prints wall and process CPU seconds (all threads) per call.
"""
import sys
import time

import numpy as np
from sklearn.metrics import silhouette_score

n, d, k = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
rng = np.random.default_rng(1)
x = rng.uniform(-4, 4, (n, d)).astype(np.float32)
c = x[rng.choice(n, k, replace=False)]
y = np.empty(n, dtype=np.int64)
for i in range(0, n, 10000):
    y[i:i + 10000] = ((x[i:i + 10000, None, :] - c[None]) ** 2).sum(-1).argmin(1)
for _ in range(reps):
    w0, c0 = time.perf_counter(), time.process_time()
    s = silhouette_score(x, y)
    w1, c1 = time.perf_counter(), time.process_time()
    print(f"sklearn silhouette_score n={n} d={d} k={k}: {s:.6f} wall={w1 - w0:.2f}s cpu={c1 - c0:.2f}s", flush=True)
