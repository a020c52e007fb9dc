#!/usr/bin/env bash
# Creates .venv with the Python packages the polyglot tests use (a real grpcio client).
# Idempotent: does nothing when the venv already has them.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import grpc, grpc_tools, grpc_health" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r test/python/requirements.txt
