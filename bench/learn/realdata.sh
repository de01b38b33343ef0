#!/usr/bin/env bash
# Real-data quality check: klartext auto_fit vs hand-tuned LightGBM on mlc_churn and
# caravan, same stratified 75/25 split (seed 42). Skips when the data is missing.
# Usage: bash bench/learn/realdata.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${1:-/work/shared/data}"
VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q lightgbm numpy pandas scikit-learn fairlearn
fi
mkdir -p bench/out
echo "== klartext-learn auto_fit (writes the split to bench/out)"
cargo run --release -q -p klartext-learn --example realdata -- "$DATA" bench/out 2>/dev/null
echo "== LightGBM hand-tuning grid on the same split"
"$VENV/bin/python" bench/learn/realdata_lgb.py "$DATA" bench/out 2>&1 | grep -v -i warning
