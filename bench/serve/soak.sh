#!/usr/bin/env bash
# Soak: predict under load for a while with a slow-connection attacker beside it.
# The honest client is the load generator (keep-alive connections, one request in
# flight each); the attacker keeps opening connections that send half a header, or
# headers that declare a 50 MB body and then nothing, a byte every few seconds (as
# slowloris does). Reported: the honest client's req/s and p99, the server's RSS at the
# start, its peak and at the end, and what the server shed and timed out.
# Usage: bash bench/serve/soak.sh [BINARY]   (after run.sh made bench/out/serve)
# Knobs: DURATION (600 s), CONNS (8), ATTACK (400 slow connections at a time).
set -euo pipefail
cd "$(dirname "$0")/../.."
KT=${1:-target/release/klartext}
DURATION=${DURATION:-600}; CONNS=${CONNS:-8}; ATTACK=${ATTACK:-400}
OUT=bench/out/serve; SOAK=bench/out/soak; PORT=18200
LOADGEN=$PWD/target/release/examples/loadgen
cargo build --release -q -p klartext-server --example loadgen
rm -rf "$SOAK"; mkdir -p "$SOAK"; cp -r "$OUT/proj" "$SOAK/proj"
export KLARTEXT_PROJECT=$PWD/$SOAK/proj KLARTEXT_ACTOR=bench KLARTEXT_LOG=warn
KEY=$("$KT" keys create --role scorer --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$KT" serve --addr 127.0.0.1:$PORT > "$SOAK/serve.out" 2> "$SOAK/serve.log" & PID=$!
PIDS=($PID)
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
START=$(rss)
python3 - "$PORT" "$ATTACK" "$DURATION" > "$SOAK/attacker.log" 2>&1 <<'PY' & PIDS+=($!)
import socket, sys, time, random
port, n, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end = time.time() + duration
conns, opened, refused = [], 0, 0
heads = [b"POST /v1/usecases/churn/predict HTTP/1.1\r\nhost: x\r\n",
         b"POST /v1/usecases/churn/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\n\r\n{"]
while time.time() < end:
    while len(conns) < n:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(random.choice(heads)); conns.append(s); opened += 1
        except OSError:
            refused += 1; break
    alive = []
    for s in conns:
        try:
            s.sendall(b"x"); alive.append(s)   # one byte every few seconds
        except OSError:
            s.close()
    conns = alive
    time.sleep(3)
print(f"attacker: opened {opened} slow connections, {refused} refused at connect")
PY
SAMPLES=$SOAK/rss.txt; : > "$SAMPLES"
( while kill -0 $PID 2>/dev/null; do rss >> "$SAMPLES"; sleep 5; done ) & PIDS+=($!)
"$LOADGEN" "http://127.0.0.1:$PORT/v1/usecases/churn/predict" --method POST --body "$OUT/body.json" \
  --header 'Content-Type: application/json' --header "Authorization: Bearer $KEY" \
  --connections "$CONNS" --duration "$DURATION" --warmup 5 --threads 1 --name soak | tee "$SOAK/loadgen.json"
END=$(rss)
PEAK=$(sort -n "$SAMPLES" | tail -1)
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^klartext_connections' | tee "$SOAK/connections.txt"
echo "rss: start $((START / 1024)) MiB, peak $((PEAK / 1024)) MiB, end $((END / 1024)) MiB"
cat "$SOAK/attacker.log" 2>/dev/null || true
