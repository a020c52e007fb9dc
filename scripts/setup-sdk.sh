#!/usr/bin/env bash
# Installs what the SDK tests need on a fresh machine, idempotently and cached:
#   python  .venv-sdk with `pip install ./sdk/python` (reinstalled when sdk/python changes)
#   go      the Go modules' dependencies (go mod download: the SDK and its test program)
# Usage: scripts/setup-sdk.sh [python|go|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

if [ "$what" = python ] || [ "$what" = all ]; then
  VENV=.venv-sdk
  stamp="$(find sdk/python -type f -not -path '*/build/*' -not -path '*.egg-info*' -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.sdk-stamp" 2>/dev/null)" != "$stamp" ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps ./sdk/python
    "$VENV/bin/pip" install --quiet --disable-pip-version-check ./sdk/python
    rm -rf sdk/python/build sdk/python/src/*.egg-info
    echo "$stamp" > "$VENV/.sdk-stamp"
  fi
fi

if { [ "$what" = go ] || [ "$what" = all ]; } && [ -f sdk/go/go.mod ]; then
  if command -v go >/dev/null 2>&1; then
    (cd sdk/go && go mod download) && (cd test/sdk/go && go mod download)
  else
    echo "warning: go is not installed; the Go SDK tests will fail" >&2
  fi
fi
