#!/usr/bin/env bash
# Bad input under MPI: one error line, non-zero exit, no output file.
set -uo pipefail
pkmpi=$1; mpirun=$2; work=$3
rm -rf "$work"; mkdir -p "$work"; cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
"$mpirun" --oversubscribe -np 2 "$pkmpi" fit missing.h5 -k 3 -o out.h5 > log 2>&1
rc=$?
cat log
[ $rc -ne 0 ] || { echo "expected failure"; exit 1; }
grep -q "personakit-mpi: error: missing.h5" log || { echo "no error line"; exit 1; }
[ ! -e out.h5 ] || { echo "output left behind"; exit 1; }
echo "bad input ok"
