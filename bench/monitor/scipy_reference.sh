#!/usr/bin/env bash
# Regenerates the scipy values recorded in crates/klartext-monitor/tests/scipy_reference.rs.
# Usage: bash bench/monitor/scipy_reference.sh   (from anywhere; needs PyPI for the venv)
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=bench/monitor/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q scipy numpy
fi
"$VENV/bin/python" bench/monitor/scipy_reference.py
