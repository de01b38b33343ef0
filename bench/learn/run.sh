#!/usr/bin/env bash
# GBDT benchmark: klartext-learn vs LightGBM on the same 1,000,000 x 30 data,
# 2 threads, 100 trees, num_leaves 31, lr 0.1, max_bin 255.
# Usage: bash bench/learn/run.sh   (from the repo root; needs PyPI for the venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q lightgbm numpy pandas scikit-learn fairlearn
fi
mkdir -p bench/out
if [ ! -f bench/out/gbdt_data.bin ]; then
  "$VENV/bin/python" bench/learn/gen_data.py bench/out
fi
cargo build --release -q -p klartext-learn --example gbdt_bench
# The machine may be shared: report the load and each side's whole-process CPU
# time (user+sys, includes data loading, predict and TreeSHAP) next to wall time.
TIMEFMT="process: wall %e s, user %U s, sys %S s"
echo "== load: $(uptime)"
echo "== LightGBM"
/usr/bin/time -f "$TIMEFMT" "$VENV/bin/python" bench/learn/lgb_bench.py bench/out | tee bench/out/lgb_bench.json
echo "== klartext-learn"
RAYON_NUM_THREADS=2 /usr/bin/time -f "$TIMEFMT" "${CARGO_TARGET_DIR:-target}/release/examples/gbdt_bench" bench/out | tee bench/out/klartext_bench.json
echo "== load: $(uptime)"
