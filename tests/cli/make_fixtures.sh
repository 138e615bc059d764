#!/bin/bash
# Builds the small files the CLI command-line tests use (CTest fixture "cli_data").
#   make_fixtures.sh PERSONAKIT_BINARY DIR
set -eu
bin=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir"
"$bin" --quiet generate --rows 600 --features 6 --segments 3 --seed 5 -o "$dir/good.h5" >/dev/null
"$bin" --quiet fit "$dir/good.h5" -k 3 --seed 1 -o "$dir/model.h5" >/dev/null
echo "this is not an HDF5 file" > "$dir/not_hdf5.h5"
: > "$dir/empty.h5"
/usr/bin/python3 - "$dir" <<'PY'
import sys, numpy as np, h5py
d = sys.argv[1]
rng = np.random.default_rng(0)
def mk(name, **sets):
    with h5py.File(f"{d}/{name}", "w") as f:
        for k, v in sets.items():
            f[k] = v
mk("rank1.h5", features=rng.random(50).astype(np.float32))
mk("rank3.h5", features=rng.random((4, 5, 3)).astype(np.float32))
mk("zero_rows.h5", features=np.zeros((0, 4), np.float32))
mk("zero_cols.h5", features=np.zeros((10, 0), np.float32))
mk("strings.h5", features=np.array([[b"a", b"b"], [b"c", b"d"]]))
mk("other.h5", train=rng.random((40, 6)).astype(np.float32))
x = rng.random((40, 6)).astype(np.float32)
x[3, 1] = np.nan; x[10, 2] = np.inf; x[20, 0] = np.nan
mk("nan.h5", features=x)
base = rng.random((3, 6)).astype(np.float32)
mk("dup.h5", features=np.repeat(base, 10, axis=0))
mk("d4.h5", features=rng.random((30, 4)).astype(np.float32))
mk("wshort.h5", features=rng.random((30, 4)).astype(np.float32), w=np.ones(10, np.float32),
   wneg=-np.ones(30, np.float32))
mk("labels_short.h5", labels=np.zeros(7, np.int32))
mk("labels30.h5", labels=np.arange(30, dtype=np.int32) % 3)
PY
# a data file cut in half: HDF5 notices the missing bytes
size=$(stat -c %s "$dir/good.h5")
head -c $((size / 2)) "$dir/good.h5" > "$dir/truncated.h5"
echo "fixtures ready in $dir"
