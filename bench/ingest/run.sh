#!/usr/bin/env bash
# Ingest benchmark: `klartext data add` (read, infer, PII scan, hash, snapshot, profile,
# register) against pandas `read_csv` + `describe()` on the same generated 1,000,000 x 30
# CSV, side by side in one run. Reports median wall time of RUNS (5) alternating runs
# and peak memory (RSS); this shared VM's speed moves by 10 to 20% between runs.
# Usage: bash bench/ingest/run.sh [ROWS]   (from anywhere; needs PyPI for the venv once)
# KLARTEXT_BIN=path skips the build and measures that binary instead (to compare builds).
# CPU time (user+sys) is printed too: on a shared machine it is steadier than wall time.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-1000000}
RUNS=${RUNS:-5}
VENV=bench/.venv
OUT=bench/out/ingest
mkdir -p "$OUT"
if ! "$VENV/bin/python" -c 'import pandas' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q pandas numpy
fi
if [ -n "${KLARTEXT_BIN:-}" ]; then
  BIN=$KLARTEXT_BIN
else
  cargo build --release -q -p klartext
  BIN=target/release/klartext
fi
CSV="$OUT/churn_${ROWS}.csv"
if [ ! -f "$CSV" ]; then
  "$BIN" data generate --rows "$ROWS" --extra-features 13 --seed 7 -o "$CSV" >/dev/null
fi
echo "file: $CSV ($(du -h "$CSV" | cut -f1), $ROWS rows x 30 columns)"

measure() { # label, command...: prints "label seconds peak_kb cpu_seconds" for one run
  local label=$1; shift
  /usr/bin/time -f "$label %e %M %U %S" "$@" 2>&1 >/dev/null | tail -n 1 |
    awk '{ printf "%s %s %s %.2f\n", $1, $2, $3, $4 + $5 }'
}

results=()
for i in $(seq 1 "$RUNS"); do
  rm -rf "$OUT/project"
  "$BIN" init "$OUT/project" >/dev/null
  cat > "$OUT/project/usecases/churn.toml" <<'TOML'
id = "churn"
title = "Churn risk"
goal = "Benchmark ingest"
kind = "classification"
owner = "bench@example.com"
risk = "limited"
[data]
target = "churn"
positive = "Yes"
id = "customer_id"
protected = ["female", "senior_citizen"]
TOML
  results+=("$(measure klartext "$BIN" --project "$OUT/project" data add "$CSV" --usecase churn)")
  results+=("$(measure pandas "$VENV/bin/python" bench/ingest/pandas_peer.py "$CSV")")
done
printf '%s\n' "${results[@]}" | "$VENV/bin/python" -c '
import sys, statistics
rows = [l.split() for l in sys.stdin if l.strip()]
by = {}
for label, sec, kb, cpu in rows:
    by.setdefault(label, []).append((float(sec), int(kb), float(cpu)))
for label, runs in by.items():
    secs = sorted(r[0] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    listed = ", ".join("%.2f" % s for s in secs)
    print(f"{label:9s} median {statistics.median(secs):6.2f} s  (runs: {listed})  CPU {cpu:5.2f} s  peak RSS {max(r[1] for r in runs)/1024:7.0f} MiB")
med = lambda l, i: statistics.median(r[i] for r in by[l])
k, p = med("klartext", 0), med("pandas", 0)
km = max(r[1] for r in by["klartext"]); pm = max(r[1] for r in by["pandas"])
cpu_ratio = med("pandas", 2) / med("klartext", 2)
print(f"speed-up: {p / k:.1f}x faster than pandas (CPU time: {cpu_ratio:.1f}x less); memory: {km / pm:.2f}x of pandas peak")
'
