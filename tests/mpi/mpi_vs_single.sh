#!/usr/bin/env bash
# From the same initial centroids and a fixed number of Lloyd iterations, the
# 2-rank MPI fit and the single-process fit must reach the same inertia. They
# differ only in the order fp64 sums are combined, so the centroids agree to
# ~1e-12 relative before their fp32 rounding; an fp32 rounding step can move a
# coordinate by 2^-24 relative, so we allow 1e-6 relative on the inertia.
set -euo pipefail
pk=$1; pkmpi=$2; mpirun=$3; work=$4
rm -rf "$work"; mkdir -p "$work"; cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$pk" generate --kind blobs --rows 20000 --features 8 --segments 5 --seed 3 --output data.h5 --quiet
"$pk" fit data.h5 -k 5 --max-iter 1 --seed 1 -o init.h5 --quiet
"$pk" fit data.h5 -k 5 --init init.h5 --max-iter 15 --tol 0 --json --quiet -o single.h5 > single.json
"$mpirun" --oversubscribe -np 2 "$pkmpi" fit data.h5 -k 5 --init init.h5 --max-iter 15 --tol 0 --json --threads 1 -o mpi.h5 > mpi.json
test -f mpi.h5
/usr/bin/python3 - <<'PY'
import json
a = json.load(open("single.json")); b = json.load(open("mpi.json"))
rel = abs(a["inertia"] - b["inertia"]) / a["inertia"]
print("single", a["inertia"], a["iterations"], "mpi", b["inertia"], b["iterations"], "rel", rel)
assert rel < 1e-6, rel
assert b["ranks"] == 2
print("mpi agrees")
PY
