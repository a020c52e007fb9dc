#!/usr/bin/env bash
# The production server as one file compiled to bytecode: dist/main.js and dist/main.js.jsc.
# A start then neither resolves ~570 modules nor parses 2.8 MB of JavaScript (bench/startup.ts
# measures it). Bun skips the bytecode without a word when a module cannot be compiled to it
# (top-level await, import.meta.resolve), so its absence is an error here.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
# Names are kept (stack traces, error names); whitespace and syntax minified: ~0.7 MB less source
# held in memory.
bun build src/main.ts --target=bun --format=cjs --bytecode --minify-whitespace --minify-syntax --define SWITCHYARD_BUNDLED=true --outdir dist
if [[ ! -s dist/main.js.jsc ]]; then
  echo "build-server: Bun wrote no bytecode (dist/main.js.jsc); a module has top-level await or import.meta.resolve" >&2
  exit 1
fi
