#!/usr/bin/env bash
# Builds the dashboard (web/ → web/dist) when it is missing or older than its sources; the
# server only ever serves the built files. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -d node_modules ] || [ bun.lock -nt node_modules/.bun-installed ]; then
  bun install --frozen-lockfile >&2
  touch node_modules/.bun-installed
fi
newest_source=$(find src index.html vite.config.ts package.json ../gen/switchyard -type f -newer dist/index.html 2>/dev/null | head -1 || true)
if [ -f dist/index.html ] && [ -z "$newest_source" ]; then
  exit 0
fi
echo "building the dashboard (web/dist)" >&2
node_modules/.bin/vite build --logLevel warn >&2
