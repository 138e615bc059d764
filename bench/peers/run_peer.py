#!/usr/bin/python3
"""Run one peer k-means implementation on a personakit HDF5 file, time only the fit.

Called by `personakit bench run` once per (case, peer); usable by hand too:

    /usr/bin/python3 bench/peers/run_peer.py --peer sklearn-lloyd \
        --data cache/customers.h5 --init cache/init_k64.npy \
        --max-iter 20 --tol 0 --threads 2 --repetitions 3

Prints ONE JSON object on stdout (nothing else goes to stdout):
  status     "ok" | "skipped" (module absent: the note says which) | "error"
  times      wall seconds of each timed fit (warm-up excluded), data already in memory
  iterations iterations each timed fit ran (FAISS: always niter)
  inertia    sum of squared distances of every row to its nearest FINAL centroid,
             recomputed here in float64 the same way for every peer (so peers whose own
             "inertia" is measured at a different point of the loop compare fairly)
  inertia_reported  what the peer itself reports (sklearn: inertia_, FAISS: obj[-1],
             which is measured BEFORE the last centroid update)
  versions   numpy, h5py, scikit-learn, faiss, threadpoolctl versions present
  peak_rss_mb  this process's peak resident set (data + peer), from getrusage
  settings   every parameter handed to the peer, defaults included

Peers and their stopping rules (docs/benchmarks.md has the long form):
  sklearn-lloyd / sklearn-elkan  KMeans(init=array, n_init=1, max_iter, tol, algorithm)
      tol is scaled by the mean per-feature variance of the data; also stops when an
      iteration changes no label ("strict convergence"). tol=0 => runs max_iter unless
      labels stop changing.
  sklearn-minibatch  MiniBatchKMeans(init=array, n_init=1, batch_size, max_iter=epochs, tol,
      max_no_improvement=10, reassignment_ratio=0.01): stops on EWA-smoothed centre shift
      or lack of inertia improvement; iterations reported = steps (n_steps_).
      --max-steps S runs exactly S steps (batches): max_iter counts epochs in scikit-learn
      (n_steps = max_iter * n // batch_size), so max_iter = ceil(S * batch / n) + 1 and a
      subclass ends the loop after step S through _mini_batch_convergence (the hook the
      loop calls after every step; no other code changes). --max-no-improvement -1 = None
      and --tol 0 disable scikit-learn's early stopping. compute_labels=True: fit ends with
      one full-data pass (labels_, inertia_), like personakit's exact finishing pass.

Mini-batch time to a target (--target-inertia T): a ladder of fits with S = start,
start*ratio, ... steps, each timed once with its full-data inertia recomputed here (outside
the timing); the first S whose inertia <= T is timed --repetitions times in all. Reported
under "time_to_target": {reached, steps, times, ladder: [{steps, seconds, inertia}]}.
--centroids-out FILE.npy writes the final centroids (float32) of the timed fits, so the
caller can recompute the inertia with its own formula.
  faiss  faiss.Kmeans(d, k, niter=max_iter, max_points_per_centroid=n (no subsampling),
      nredo=1, seed) .train(x, init_centroids=...): runs exactly niter iterations, no tol.
"""
import argparse
import json
import os
import resource
import sys
import time

# Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE to keep old OpenBLAS builds
# from crashing; they force a slower kernel (Haswell instead of the AVX-512 one) on a
# current OpenBLAS. The peers deserve their best BLAS: drop both, in this process only,
# before numpy loads OpenBLAS. `versions()` records the kernel actually taken.
_BLAS_ENV_DROPPED = {k: os.environ.pop(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def versions():
    out = {"python": sys.version.split()[0]}
    for mod in ("numpy", "h5py", "sklearn", "faiss", "threadpoolctl"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "unknown")
        except Exception:  # absent or broken: recorded as absent
            out[mod] = None
    try:  # which BLAS (and which of its kernels) numpy, scikit-learn and FAISS run on
        from threadpoolctl import threadpool_info
        out["blas"] = ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                                for i in threadpool_info() if i.get("user_api") == "blas") or None
    except Exception:
        out["blas"] = None
    out["blas_env_dropped"] = sorted(_BLAS_ENV_DROPPED)
    return out


def load(path, dataset):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        if dataset not in f:
            raise SystemExit(f"{path}: no dataset {dataset}")
        x = f[dataset][...]
    return np.ascontiguousarray(x, dtype=np.float32)


def load_init(path):
    import numpy as np
    if path.endswith(".npy"):
        c = np.load(path)
    else:
        import h5py
        with h5py.File(path, "r") as f:
            c = f["/centroids"][...]
    return np.ascontiguousarray(c, dtype=np.float32)


def inertia_f64(x, c, block=65536):
    """sum_i min_j ||x_i - c_j||^2 in float64, blockwise (never n×k at once)."""
    import numpy as np
    c64 = c.astype(np.float64)
    cn = (c64 * c64).sum(axis=1)
    total = 0.0
    for s in range(0, x.shape[0], block):
        xb = x[s:s + block].astype(np.float64)
        d2 = (xb * xb).sum(axis=1)[:, None] - 2.0 * (xb @ c64.T) + cn[None, :]
        total += float(np.maximum(d2.min(axis=1), 0.0).sum())
    return total


def make_runner(args, n, k, d):
    """Returns (settings, fit(x, init) -> (centroids, iterations, reported_inertia))."""
    peer = args.peer
    if peer in ("sklearn-lloyd", "sklearn-elkan", "sklearn-minibatch"):
        import sklearn.cluster  # raises ImportError when absent
        if peer == "sklearn-minibatch":
            mni = None if args.max_no_improvement < 0 else args.max_no_improvement
            settings = dict(n_clusters=k, init="array", n_init=1, max_iter=args.max_iter,
                            tol=args.tol, batch_size=args.batch_size,
                            max_no_improvement=mni, reassignment_ratio=args.reassignment_ratio,
                            random_state=args.seed, compute_labels=True)

            class StepCapped(sklearn.cluster.MiniBatchKMeans):
                """MiniBatchKMeans that ends after exactly `step_cap` steps (0: no cap)."""
                step_cap = 0

                def _mini_batch_convergence(self, step, n_steps, n_samples, centers_squared_diff,
                                            batch_inertia):
                    stop = super()._mini_batch_convergence(step, n_steps, n_samples,
                                                           centers_squared_diff, batch_inertia)
                    return stop or (self.step_cap > 0 and step + 1 >= self.step_cap)

            def fit(x, init, steps=args.max_steps):
                s = dict(settings)
                s.pop("max_steps", None)
                s["init"] = init
                if steps > 0:
                    s["max_iter"] = -(-steps * args.batch_size // n) + 1
                km = StepCapped(**s)
                km.step_cap = steps
                km.fit(x)
                return km.cluster_centers_, int(km.n_steps_), float(km.inertia_)
            if args.max_steps > 0:
                settings["max_iter"] = f"ceil(max_steps * batch_size / n) + 1 epochs (capped at {args.max_steps} steps)"
                settings["max_steps"] = args.max_steps
            return settings, fit
        algo = "lloyd" if peer == "sklearn-lloyd" else "elkan"
        settings = dict(n_clusters=k, init="array", n_init=1, max_iter=args.max_iter,
                        tol=args.tol, algorithm=algo, random_state=args.seed,
                        copy_x=True)

        def fit(x, init):
            s = dict(settings)
            s["init"] = init
            km = sklearn.cluster.KMeans(**s).fit(x)
            return km.cluster_centers_, int(km.n_iter_), float(km.inertia_)
        return settings, fit
    if peer == "faiss":
        import faiss  # raises ImportError when absent
        settings = dict(d=d, k=k, niter=args.max_iter, nredo=1, seed=args.seed,
                        max_points_per_centroid=max(n, 256), min_points_per_centroid=1,
                        spherical=False, verbose=False, tol="none (fixed niter)")

        def fit(x, init):
            km = faiss.Kmeans(d, k, niter=args.max_iter, nredo=1, seed=args.seed,
                              max_points_per_centroid=max(n, 256),
                              min_points_per_centroid=1, verbose=False)
            km.train(x, init_centroids=init)
            obj = float(km.obj[-1]) if len(km.obj) else float("nan")
            return km.centroids, len(km.obj), obj
        return settings, fit
    raise SystemExit(f"unknown peer {peer!r} (sklearn-lloyd, sklearn-elkan, "
                     "sklearn-minibatch, faiss)")


def time_to_target(args, fit, x, init):
    """Ladder of step counts; the first whose full-data inertia <= target is re-timed."""
    ladder, times, hit = [], [], None
    steps = args.ladder_start
    while steps <= args.ladder_max_steps:
        t0 = time.perf_counter()
        c, ran, _ = fit(x, init.copy(), steps)
        sec = time.perf_counter() - t0
        inertia = inertia_f64(x, c)  # outside the timing
        ladder.append(dict(steps=steps, steps_run=ran, seconds=sec, inertia=inertia,
                           rel_to_target=inertia / args.target_inertia - 1))
        if inertia <= args.target_inertia:
            hit = steps
            times.append(sec)
            break
        if ran < steps:  # stopped early: more steps change nothing
            break
        steps = max(steps + 1, int(-(-steps * args.ladder_ratio // 1)))
    if hit is not None:
        for _ in range(args.repetitions - 1):
            t0 = time.perf_counter()
            fit(x, init.copy(), hit)
            times.append(time.perf_counter() - t0)
    return dict(target_inertia=args.target_inertia, reached=hit is not None, steps=hit,
                times=times, ladder=ladder,
                note="inertia of each rung recomputed in float64 outside the timing")


def set_threads(peer, threads):
    if peer == "faiss":
        import faiss
        faiss.omp_set_num_threads(threads)
        return None
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=threads)
    except ImportError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer")
    ap.add_argument("--data")
    ap.add_argument("--dataset", default="/features")
    ap.add_argument("--init", help=".npy (k×d float32) or .h5 with /centroids")
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="sklearn-minibatch: exactly this many steps")
    ap.add_argument("--max-no-improvement", type=int, default=10, help="sklearn-minibatch; -1 = None")
    ap.add_argument("--reassignment-ratio", type=float, default=0.01)
    ap.add_argument("--centroids-out", help="write the final centroids here (.npy, float32)")
    ap.add_argument("--target-inertia", type=float, help="sklearn-minibatch: time to reach this inertia")
    ap.add_argument("--ladder-start", type=int, default=16)
    ap.add_argument("--ladder-ratio", type=float, default=1.5)
    ap.add_argument("--ladder-max-steps", type=int, default=1000000)
    ap.add_argument("--versions", action="store_true", help="print module versions and exit")
    args = ap.parse_args()

    if args.versions:
        emit({"status": "ok", "versions": versions()})
        return 0
    if not (args.peer and args.data and args.init):
        ap.error("--peer, --data and --init are required")

    base = {"peer": args.peer, "versions": versions(), "threads": args.threads}
    try:
        import numpy  # noqa: F401
        import h5py  # noqa: F401
    except ImportError as e:
        emit(dict(base, status="skipped", note=f"{e.name} not importable by {sys.executable}"))
        return 0
    x = load(args.data, args.dataset)
    init = load_init(args.init)
    n, d = x.shape
    k = init.shape[0]
    if init.shape[1] != d:
        emit(dict(base, status="error", note=f"init has {init.shape[1]} columns, data {d}"))
        return 1
    try:
        settings, fit = make_runner(args, n, k, d)
    except ImportError as e:
        emit(dict(base, status="skipped",
                  note=f"module {e.name} not importable by {sys.executable}"))
        return 0

    limiter = set_threads(args.peer, args.threads)
    import warnings
    warnings.simplefilter("ignore")
    try:
        for _ in range(args.warmup):
            fit(x, init.copy())
        times, iters = [], []
        centroids, reported = None, None
        for _ in range(args.repetitions):
            c0 = init.copy()
            t0 = time.perf_counter()
            centroids, it, reported = fit(x, c0)
            times.append(time.perf_counter() - t0)
            iters.append(it)
        ttt = None
        if args.target_inertia is not None and args.peer == "sklearn-minibatch":
            ttt = time_to_target(args, fit, x, init)
    finally:
        if limiter is not None:
            limiter.unregister() if hasattr(limiter, "unregister") else None
    inertia = inertia_f64(x, centroids)
    if args.centroids_out:
        import numpy as np
        np.save(args.centroids_out, np.ascontiguousarray(centroids, dtype=np.float32))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB -> MiB
    out = dict(base, status="ok", n=n, d=d, k=k, times=times, iterations=iters,
               inertia=inertia, inertia_reported=reported, peak_rss_mb=peak,
               settings=settings, max_iter=args.max_iter, tol=args.tol)
    if ttt is not None:
        out["time_to_target"] = ttt
    emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
