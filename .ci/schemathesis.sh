#!/usr/bin/env bash
# Property-based tests of the running API against its own OpenAPI document
# (schemathesis, from PyPI, in its own venv): no server errors, and every status code,
# content type and response body as the document says. Bounded: a fixed number of
# examples per operation, a fixed seed.
# Usage: bash .ci/schemathesis.sh [KLARTEXT_BINARY]   Knobs: EXAMPLES (30).
set -euo pipefail
cd "$(dirname "$0")/.."
KT=${1:-target/debug/klartext}
EXAMPLES=${EXAMPLES:-30}
VENV=${SCHEMATHESIS_VENV:-.ci/.venv}
if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis==4.32.5'
fi
WORK=$(mktemp -d)
PORT=18190
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export KLARTEXT_PROJECT=$WORK/proj KLARTEXT_ACTOR=ci
"$KT" quickstart "$WORK/proj" --rows 2000 --no-serve > "$WORK/quickstart.log"
KEY=$("$KT" keys create --role admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$KT" serve --addr 127.0.0.1:$PORT > "$WORK/serve.out" 2> "$WORK/serve.log" & PID=$!
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
"$VENV/bin/st" run "http://127.0.0.1:$PORT/openapi.json" \
  --header "Authorization: Bearer $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" --seed 1 --phases examples,coverage,fuzzing \
  --workers 1 --request-timeout 10 --no-shrink --warnings off
