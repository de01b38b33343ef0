#!/usr/bin/env bash
# Serving benchmark (issue 4): single-row predict + explanation over HTTP on loopback,
# side by side in one run:
#   klartext  `klartext serve` (release), durable prediction log on (group commit)
#   python    FastAPI + uvicorn (uvloop, httptools, 2 workers) + LightGBM with pred_contrib
#   hello     an axum hello-world (the HTTP limit of this machine and stack)
# Same generated churn data for both models, same request, same closed-loop load
# generator (crates/klartext-server/examples/loadgen.rs: keep-alive connections,
# one request in flight each), then a 1,000,000-row NDJSON stream through klartext.
# Usage: bash bench/serve/run.sh   (from anywhere; needs PyPI for the venv)
# Then (issue 5) predict under load while audit events are produced (an API key created
# every 200 ms through the CLI), without webhooks and with two webhooks subscribed to
# every event whose receivers fail: one refuses connections (closed port), one accepts
# and never answers (each attempt waits out its timeout), in alternating rounds. A
# failing receiver must not change predict latency.
# Knobs: ROWS (training rows, 20000), DURATION (s per side, 10), CONNS (16),
#        STREAM_ROWS (1000000; 0 skips the stream), WEBHOOKS (1; 0 skips that part),
#        WEBHOOK_ROUNDS (3: alternating runs without and with the failing webhooks).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-20000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
STREAM_ROWS=${STREAM_ROWS:-1000000}
WEBHOOKS=${WEBHOOKS:-1}
WEBHOOK_ROUNDS=${WEBHOOK_ROUNDS:-3}
VENV=bench/serve/.venv
OUT=bench/out/serve
K_PORT=18080; P_PORT=18081; H_PORT=18082; HANG_PORT=18083; DOWN_PORT=18084

if [ ! -x "$VENV/bin/uvicorn" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q fastapi 'uvicorn[standard]' lightgbm pandas
fi
cargo build --release -q -p klartext
cargo build --release -q -p klartext-server --example hello --example loadgen
KT=$PWD/target/release/klartext
LOADGEN=$PWD/target/release/examples/loadgen
HELLO=$PWD/target/release/examples/hello

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

rm -rf "$OUT"; mkdir -p "$OUT"
export KLARTEXT_PROJECT=$PWD/$OUT/proj KLARTEXT_ACTOR=bench
"$KT" init "$OUT/proj" > /dev/null
cat > "$OUT/proj/usecases/churn.toml" <<'TOML'
id = "churn"
title = "Churn risk for subscription customers"
goal = "Find customers likely to cancel in the next 90 days so that retention calls them first."
kpi = "retention rate of contacted customers"
kind = "classification"
owner = "crm-team@example.com"
risk = "limited"
legal_basis = "legitimate interest, GDPR Art. 6(1)(f)"
significant_effect = false
[data]
target = "churn"
positive = "Yes"
id = "customer_id"
protected = ["female", "senior_citizen"]
[gates]
min_auc = 0.5
max_overfit_gap = 1.0
min_demographic_parity_ratio = 0.0
[fallback]
score = 0.0
TOML
echo "== data: $ROWS rows (klartext data generate)"
"$KT" data generate --rows "$ROWS" --seed 42 --output "$OUT/churn.csv" > /dev/null
"$KT" data add "$OUT/churn.csv" --usecase churn > /dev/null
echo "== training: klartext, then LightGBM on the same file"
"$KT" train churn --json | "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print("  klartext", d["version"], "auc", d["metrics"].get("auc"))'
"$VENV/bin/python" bench/serve/peer.py train "$OUT/churn.csv" "$OUT/peer_model" | sed 's/^/  lightgbm /'
KEY=$("$KT" keys create --role scorer --json | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["key"])')

# One request body for everyone: the first customer's features as the model reads them.
"$VENV/bin/python" - "$OUT/churn.csv" > "$OUT/body.json" <<'PY'
import csv, json, sys
r = next(csv.DictReader(open(sys.argv[1])))
drop = {"customer_id", "churn", "female", "senior_citizen", "email", "phone"}
f = {}
for k, v in r.items():
    if k in drop or v == "":
        continue
    try:
        f[k] = float(v) if "." in v else int(v)
    except ValueError:
        f[k] = v
print(json.dumps({"subject_id": r["customer_id"], "features": f}))
PY
echo "  body: $(cat "$OUT/body.json")"

echo "== starting the three servers (127.0.0.1 only)"
"$KT" serve --addr 127.0.0.1:$K_PORT > "$OUT/klartext.out" 2> "$OUT/klartext.log" & PIDS+=($!); K_PID=$!
( cd bench/serve && PEER_MODEL=$PWD/../../$OUT/peer_model exec "../../$VENV/bin/uvicorn" peer:app \
    --host 127.0.0.1 --port $P_PORT --workers 2 --no-access-log --log-level warning ) > "$OUT/peer.log" 2>&1 & PIDS+=($!)
"$HELLO" 127.0.0.1:$H_PORT > /dev/null & PIDS+=($!)
wait_port $K_PORT; wait_port $P_PORT; wait_port $H_PORT
sleep 1
# Correctness first: each side answers the body with a score.
curl -sf -X POST "http://127.0.0.1:$K_PORT/v1/usecases/churn/predict" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' --data-binary @"$OUT/body.json" | head -c 300; echo
curl -sf -X POST "http://127.0.0.1:$P_PORT/v1/usecases/churn/predict" \
  -H 'Content-Type: application/json' --data-binary @"$OUT/body.json" | head -c 300; echo

load() { # name port path extra-headers...
  local name=$1 port=$2 path=$3; shift 3
  "$LOADGEN" "http://127.0.0.1:$port$path" --method POST --body "$OUT/body.json" \
    --header 'Content-Type: application/json' "$@" \
    --connections "$CONNS" --duration "$DURATION" --warmup 2 --threads 1 --name "$name" | tee -a "$OUT/results.jsonl"
}
: > "$OUT/results.jsonl"
echo "== load: $(uptime)"
load klartext $K_PORT /v1/usecases/churn/predict --header "Authorization: Bearer $KEY"
load python $P_PORT /v1/usecases/churn/predict
load hello $H_PORT /
echo "== load: $(uptime)"
LOGGED=$("$VENV/bin/python" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from predictions').fetchone()[0])" "$OUT/proj/store/klartext.db" 2>/dev/null || echo "?")
echo "  klartext prediction log rows so far: $LOGGED"

"$VENV/bin/python" - "$OUT/results.jsonl" <<'PY'
import json, sys
r = {d["name"]: d for d in map(json.loads, open(sys.argv[1]))}
print(f"\n{'side':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7}")
for n in ("klartext", "python", "hello"):
    d = r[n]
    print(f"{n:10} {d['rps']:>9.0f} {d['p50_ms']:>8.3f} {d['p99_ms']:>8.3f} {d['p999_ms']:>9.3f} {d['errors']:>7}")
k, p, h = r["klartext"], r["python"], r["hello"]
print(f"\nklartext / python req/s: {k['rps']/p['rps']:.1f}x (goal >= 10x)")
print(f"klartext p99: {k['p99_ms']:.3f} ms (goal <= 2 ms)")
print(f"klartext / hello req/s: {100*k['rps']/h['rps']:.0f}% (goal >= 50%)")
PY

if [ "$STREAM_ROWS" -gt 0 ]; then
  echo "== NDJSON stream: $STREAM_ROWS rows with explanations through klartext"
  rss() { awk '/VmRSS/ {print $2}' /proc/$K_PID/status; }
  echo "  klartext RSS before: $(rss) kB"
  "$LOADGEN" "http://127.0.0.1:$K_PORT/v1/usecases/churn/predict:batch" --stream-rows "$STREAM_ROWS" \
    --body "$OUT/body.json" --header "Authorization: Bearer $KEY" --name stream & LG=$!
  PEAK=0
  while kill -0 $LG 2>/dev/null; do r=$(rss); [ "$r" -gt "$PEAK" ] && PEAK=$r; sleep 0.5; done
  wait $LG
  echo "  klartext RSS after: $(rss) kB, peak while streaming: $PEAK kB"
fi
if [ "$WEBHOOKS" -gt 0 ]; then
  echo "== webhooks: predict while audit events are produced, without and with failing receivers"
  # A receiver that accepts connections and never answers, and a port nobody listens on.
  "$VENV/bin/python" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # read nothing, answer nothing
' $HANG_PORT & PIDS+=($!)
  wait_port $HANG_PORT
  if (echo > /dev/tcp/127.0.0.1/$DOWN_PORT) 2>/dev/null; then echo "port $DOWN_PORT is in use" >&2; exit 1; fi
  events() { # create a key every 200 ms (a key.created audit event each) while $1 runs
    local n=0
    while kill -0 "$1" 2>/dev/null; do "$KT" keys create --role scorer --json > /dev/null; n=$((n+1)); sleep 0.2; done
    echo "  audit events produced during the run: $n"
  }
  loadbg() { # like load, in the background, so that events run beside it
    "$LOADGEN" "http://127.0.0.1:$K_PORT/v1/usecases/churn/predict" --method POST --body "$OUT/body.json" \
      --header 'Content-Type: application/json' --header "Authorization: Bearer $KEY" \
      --connections "$CONNS" --duration "$DURATION" --warmup 2 --threads 1 --name "$1" >> "$OUT/webhooks.jsonl" &
  }
  : > "$OUT/webhooks.jsonl"
  echo "  load: $(uptime)"
  # Alternating rounds, so that a change in the machine's other load hits both sides.
  for round in $(seq 1 "$WEBHOOK_ROUNDS"); do
    loadbg no-webhooks; LG=$!; events $LG; wait $LG
    HOOKS=()
    for port in $DOWN_PORT $HANG_PORT; do
      HOOKS+=("$("$KT" webhooks add "http://127.0.0.1:$port/hook" --events '*' --json \
        | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
    done
    sleep 1  # the server's delivery thread picks the subscriptions up on its next pass
    loadbg failing-webhooks; LG=$!; events $LG; wait $LG
    for h in "${HOOKS[@]}"; do
      "$KT" webhooks deliveries --webhook "$h" --json > "$OUT/deliveries-$round-$h.json"
      "$KT" webhooks remove "$h" > /dev/null
    done
    sleep 5  # an attempt hanging on the silent receiver runs out (timeout 5 s) before the next round
  done
  echo "  load: $(uptime)"
  "$VENV/bin/python" - "$OUT/webhooks.jsonl" "$OUT"/deliveries-*.json <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(f"\n{'run (audit events during each)':32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7}")
for d in r:
    print(f"{d['name']:32} {d['rps']:>9.0f} {d['p50_ms']:>8.3f} {d['p99_ms']:>8.3f} {d['p999_ms']:>9.3f} {d['errors']:>7}")
def med(name, k):
    v = sorted(d[k] for d in r if d["name"] == name)
    return v[len(v) // 2]
print("\nmedian over rounds   req/s   p50 ms   p99 ms")
for n in ("no-webhooks", "failing-webhooks"):
    print(f"{n:18} {med(n, 'rps'):>7.0f} {med(n, 'p50_ms'):>8.3f} {med(n, 'p99_ms'):>8.3f}")
print(f"failing / none: req/s {med('failing-webhooks', 'rps') / med('no-webhooks', 'rps'):.2f}x, "
      f"p50 {med('failing-webhooks', 'p50_ms') / med('no-webhooks', 'p50_ms'):.2f}x, "
      f"p99 {med('failing-webhooks', 'p99_ms') / med('no-webhooks', 'p99_ms'):.2f}x")
rows = [a for f in sys.argv[2:] for a in json.load(open(f))["attempts"]]
failed = sum(1 for a in rows if not a.get("delivered"))
print(f"webhook delivery attempts during the failing rounds: {len(rows)}, failed: {failed} "
      "(receivers down or silent, as intended)")
PY
fi
echo "== done: $(uptime)"
