#!/usr/bin/env bash
# A/B of two klartext binaries on copies of the project `run.sh` left in bench/out/serve:
# alternating runs, same load, with each server's CPU time per request (from
# /proc/PID/stat and the log writer thread's /proc/PID/task/TID/stat over the run, divided
# by the rows the log committed in it, read from /metrics).
# Runs alternate so that the machine's other load hits both sides; medians at the end.
# Usage: bash bench/serve/ab.sh BIN_A BIN_B   Knobs: ROUNDS (2), DURATION (5), CONNS (16).
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1; B=$2
ROUNDS=${ROUNDS:-2}; DURATION=${DURATION:-5}; CONNS=${CONNS:-16}
OUT=bench/out/serve; AB=bench/out/ab
LOADGEN=$PWD/target/release/examples/loadgen
mkdir -p "$AB"
[ -s "$AB/key" ] || KLARTEXT_PROJECT=$PWD/$OUT/proj KLARTEXT_ACTOR=bench "$A" keys create --role scorer --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' > "$AB/key"
KEY=$(cat "$AB/key")
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "$1"; }
rows() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^klartext_log_rows_total/ {print $2}'; }
one() { # name binary port
  local name=$1 bin=$2 port=$3 proj=$AB/proj-$1
  rm -rf "$proj"; cp -r "$OUT/proj" "$proj"
  KLARTEXT_PROJECT=$PWD/$proj "$bin" serve --addr 127.0.0.1:$port > "$AB/$name.out" 2> "$AB/$name.log" &
  local pid=$!
  for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  "$LOADGEN" "http://127.0.0.1:$port/v1/usecases/churn/predict" --method POST --body "$OUT/body.json" \
    --header 'Content-Type: application/json' --header "Authorization: Bearer $KEY" \
    --connections "$CONNS" --duration 1 --warmup 0 --threads 1 --name warm > /dev/null
  local tid
  tid=$(grep -l '^klartext-log$' /proc/$pid/task/*/comm | head -1 | cut -d/ -f5)
  local c0 l0 r0 c1 l1 r1
  c0=$(cpu /proc/$pid/stat); l0=$(cpu /proc/$pid/task/$tid/stat); r0=$(rows $port)
  local res
  res=$("$LOADGEN" "http://127.0.0.1:$port/v1/usecases/churn/predict" --method POST --body "$OUT/body.json" \
    --header 'Content-Type: application/json' --header "Authorization: Bearer $KEY" \
    --connections "$CONNS" --duration "$DURATION" --warmup 0 --threads 1 --name "$name")
  c1=$(cpu /proc/$pid/stat); l1=$(cpu /proc/$pid/task/$tid/stat); r1=$(rows $port)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 - "$res" "$c0" "$c1" "$l0" "$l1" "$r0" "$r1" "$TCK" "$(cut -d' ' -f1-3 /proc/loadavg)" "$AB/runs.jsonl" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); c0, c1, l0, l1, r0, r1, tck = map(float, sys.argv[2:9])
n = r1 - r0
print(f"{d['name']:8} {d['rps']:>8.0f} req/s  p50 {d['p50_ms']:.3f}  p99 {d['p99_ms']:.3f}  p99.9 {d['p999_ms']:.3f} ms  "
      f"cpu/req {1e6*(c1-c0)/tck/n:5.1f} us (log thread {1e6*(l1-l0)/tck/n:4.1f})  load {sys.argv[9]}")
print(json.dumps({"side": d["name"], "rps": d["rps"], "p50": d["p50_ms"], "p99": d["p99_ms"],
                  "cpu_us": 1e6*(c1-c0)/tck/n, "log_us": 1e6*(l1-l0)/tck/n}), file=open(sys.argv[10], "a"))
PY
}
: > "$AB/runs.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  one A "$A" 18090
  one B "$B" 18091
done
python3 - "$AB/runs.jsonl" <<'PY'
import json, statistics, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print("median     req/s   p50 ms   p99 ms   cpu/req us   log thread us")
for side in ("A", "B"):
    m = lambda k: statistics.median(d[k] for d in r if d["side"] == side)
    print(f"{side:6} {m('rps'):>9.0f} {m('p50'):>8.3f} {m('p99'):>8.3f} {m('cpu_us'):>12.1f} {m('log_us'):>15.1f}")
PY
