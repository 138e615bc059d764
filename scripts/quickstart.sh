#!/usr/bin/env bash
# The main job: install dependencies, build, generate a default customer data set,
# fit personas, score them, and run the default benchmark suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
pk=build/drivers/personakit
# Idle OpenMP threads sleep instead of spinning: fairer to everyone on a shared machine
# (personakit and the peers alike).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=${OUT_DIR:-out}
mkdir -p "$out"
echo "== generate: 200,000 synthetic customers, 12 features, 6 latent personas"
"$pk" generate --kind customers --rows 200000 --features 12 --segments 6 --seed 42 --output "$out/customers.h5" --quiet
"$pk" info "$out/customers.h5"
echo "== fit: k = 6, standardised features, log1p on the money columns"
"$pk" fit "$out/customers.h5" -k 6 --scale standard --log1p monetary_value,avg_basket --seed 42 -o "$out/model.h5"
echo "== score: internal quality and agreement with the generator's true personas"
"$pk" score "$out/customers.h5" --model "$out/model.h5" --truth --sample-size 20000
echo "== bench: default suite (personakit vs scikit-learn / FAISS where installed)"
"$pk" bench run bench/suites/default.json --out "$out/bench"
if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 reports/make_report.py "$out"/bench/*.json --out "$out/report" >/dev/null
  echo "report: $out/report/report.md"
fi
