#!/usr/bin/env bash
# Monitoring benchmark: the full report (read the log window, decode, drift of 30
# features and the score, findings) on 1,000,000 logged predictions. Goal: under 2 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release -q -p klartext-govern --example monitor_bench -- "${1:-1000000}"
