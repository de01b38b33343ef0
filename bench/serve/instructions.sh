#!/usr/bin/env bash
# Instructions per predict request of two klartext binaries, counted by valgrind
# (callgrind), which counts the same on a busy machine as on a quiet one: each binary
# serves a copy of the project `run.sh` left in bench/out/serve, once answering nothing
# and once answering N requests (one keep-alive connection); the difference over N is
# the cost of one request (handler, governance, the log thread's commit, HTTP).
# Usage: bash bench/serve/instructions.sh BIN_A BIN_B   Knobs: N (2000).
set -euo pipefail
cd "$(dirname "$0")/../.."
A=$1; B=$2; N=${N:-2000}
OUT=bench/out/serve; IN=bench/out/instructions
mkdir -p "$IN"
KEY=$(KLARTEXT_PROJECT=$PWD/$OUT/proj KLARTEXT_ACTOR=bench "$A" keys create --role scorer --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
count() { # name binary requests port
  local proj=$IN/proj-$1-$3
  rm -rf "$proj"; cp -r "$OUT/proj" "$proj"
  KLARTEXT_PROJECT=$PWD/$proj KLARTEXT_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$IN/$1-$3.cg" \
    "$2" serve --addr 127.0.0.1:$4 > "$IN/$1-$3.out" 2> "$IN/$1-$3.log" &
  local pid=$!
  for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$4) 2>/dev/null && break; sleep 0.1; done
  python3 - "$4" "$3" "$KEY" "$OUT/body.json" <<'PY'
import http.client, sys
port, n, key, body = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "rb").read()
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("POST", "/v1/usecases/churn/predict", body, {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk '/^summary:|^totals:/ {print $2; exit}' "$IN/$1-$3.cg"
}
for side in A B; do
  bin=$A; [ $side = B ] && bin=$B
  base=$(count $side "$bin" 0 18095)
  full=$(count $side "$bin" "$N" 18096)
  python3 -c "print(f'$side: {($full - $base) / $N:,.0f} instructions per request ({$N} requests; $bin)')"
done
