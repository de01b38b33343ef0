#!/usr/bin/env bash
# GBDT benchmark: klartext-learn vs LightGBM side by side, 2 threads each.
#   dense : 1,000,000 x 30 (gen_data.py), 100 trees, num_leaves 31, lr 0.1, max_bin 255
#   wide  : 500,000 x 200, one-hot-heavy (gen_wide.py), same settings
#   cv    : caravan (DATA_DIR/caravan.csv), 5-fold CV of the default GBDT candidates
#           with early stopping + refit (the `klartext train` path) vs lightgbm.cv
# Usage: bash bench/learn/run.sh [dense|wide|cv|all] [DATA_DIR]   (from the repo root;
#        default all, DATA_DIR /work/shared/data; needs PyPI once for the venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT="${1:-all}"
DATA="${2:-/work/shared/data}"
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q lightgbm numpy pandas scikit-learn fairlearn
fi
mkdir -p bench/out
cargo build --release -q -p klartext-learn --example gbdt_bench --example cv_bench
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
# The machine may be shared: report the load and each side's whole-process CPU
# time (user+sys, includes data loading, predict and TreeSHAP) next to wall time.
TIMEFMT="process: wall %e s, user %U s, sys %S s"

pair() { # name
  echo "== $1: load: $(uptime)"
  echo "== $1: LightGBM"
  /usr/bin/time -f "$TIMEFMT" "$VENV/bin/python" bench/learn/lgb_bench.py bench/out "$1" | tee "bench/out/lgb_$1.json"
  echo "== $1: klartext-learn"
  RAYON_NUM_THREADS=2 /usr/bin/time -f "$TIMEFMT" "$BIN/gbdt_bench" bench/out --data="$1" | tee "bench/out/klartext_$1.json"
}

if [ "$WHAT" = dense ] || [ "$WHAT" = all ]; then
  [ -f bench/out/gbdt_data.bin ] || "$VENV/bin/python" bench/learn/gen_data.py bench/out
  pair gbdt
fi
if [ "$WHAT" = wide ] || [ "$WHAT" = all ]; then
  [ -f bench/out/wide_data.bin ] || "$VENV/bin/python" bench/learn/gen_wide.py bench/out
  pair wide
fi
if [ "$WHAT" = cv ] || [ "$WHAT" = all ]; then
  echo "== cv: load: $(uptime)"
  echo "== cv: klartext-learn (writes the split to bench/out)"
  RAYON_NUM_THREADS=2 /usr/bin/time -f "$TIMEFMT" "$BIN/cv_bench" "$DATA" bench/out | tee bench/out/klartext_cv.json
  echo "== cv: LightGBM"
  /usr/bin/time -f "$TIMEFMT" "$VENV/bin/python" bench/learn/cv_lgb.py "$DATA" bench/out | tee bench/out/lgb_cv.json
fi
echo "== load: $(uptime)"
