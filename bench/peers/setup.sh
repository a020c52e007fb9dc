#!/usr/bin/env bash
# Installs the peers of bench/peers: Debian's redis-server (apt) and BullMQ (npm, run on Node
# 20, in this folder's own package.json/lockfile so it never enters the main lockfile).
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v redis-server >/dev/null; then
  if command -v apt-get >/dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
    $SUDO apt-get install -y -q redis-server || { $SUDO apt-get update -q && $SUDO apt-get install -y -q redis-server; }
  else
    echo "redis-server is missing and apt-get is not available" >&2
    exit 1
  fi
fi
# h2load (nghttp2-client) drives bench/per-call.ts.
if ! command -v h2load >/dev/null && command -v apt-get >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get install -y -q nghttp2-client || true
fi
command -v node >/dev/null || { echo "node (20) is needed for BullMQ" >&2; exit 1; }
if [ ! -d node_modules/bullmq ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
echo "peers ready: $(redis-server --version | cut -d' ' -f3), bullmq $(node -p "require('./node_modules/bullmq/package.json').version"), node $(node --version)"
