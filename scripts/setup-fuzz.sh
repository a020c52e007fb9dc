#!/usr/bin/env bash
# Creates .tools/fuzz-venv with schemathesis (PyPI), the schema-driven fuzzer the OpenAPI test
# runs against a real server. Its own venv: its dependencies stay out of the grpcio venv.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
VENV=.tools/fuzz-venv
if [ -x "$VENV/bin/schemathesis" ] && "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
  exit 0
fi
mkdir -p .tools
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${VERSION}"
