#!/usr/bin/env bash
# Entry point of the README's two commands (`npm start`, `npm test`) on a fresh machine:
# installs Bun when missing (from the npm registry), installs dependencies from the lockfile,
# and for tests the Python venv, nats-server and Chromium; then runs the server or the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=1.4.5

if ! command -v bun >/dev/null 2>&1; then
  if [ ! -x .tools/bin/bun ]; then
    echo "installing bun ${BUN_VERSION} into .tools/ (npm registry)" >&2
    npm install --silent --no-audit --no-fund --global --prefix .tools "bun@${BUN_VERSION}" >&2
  fi
  export PATH="$PWD/.tools/bin:$PATH"
fi

if [ ! -d node_modules ] || [ bun.lock -nt node_modules/.bun-installed ]; then
  bun install --frozen-lockfile >&2
  touch node_modules/.bun-installed
fi

what="${1:-start}"
shift || true
case "$what" in
  setup)
    bash scripts/setup-python.sh >&2
    bash scripts/setup-embeddings.sh >&2
    bash scripts/setup-sdk.sh >&2
    bash scripts/ensure-nats-server.sh >&2
    bash scripts/ensure-postgres.sh >&2
    bash scripts/ensure-chromium.sh >&2 || echo "warning: chromium could not be installed; browser tests will fail" >&2
    bash scripts/build-web.sh
    # The OpenAPI fuzz test's schemathesis and the Go worker test's protoc plugins (the tests
    # also run these themselves; both are cached).
    bash scripts/setup-fuzz.sh >&2
    bash scripts/gen-stubs.sh go test/go/gen/go >&2
    ;;
  start)
    bash scripts/build-web.sh || echo "warning: the dashboard could not be built; /ui will say so" >&2
    exec bun src/main.ts "$@"
    ;;
  test)
    bash scripts/setup-python.sh >&2
    bash scripts/setup-embeddings.sh >&2
    bash scripts/setup-sdk.sh >&2 || echo "warning: the SDK test environments could not be installed; SDK tests will fail" >&2
    bash scripts/ensure-nats-server.sh >&2 || echo "warning: nats-server could not be installed; NATS tests will fail" >&2
    bash scripts/ensure-postgres.sh >&2 || echo "warning: PostgreSQL could not be installed; PostgreSQL tests will fail" >&2
    bash scripts/ensure-chromium.sh >&2 || echo "warning: chromium could not be installed; browser tests will fail" >&2
    bash scripts/build-web.sh
    # bunfig.toml's [test] timeout is not applied by Bun 1.4.5 (measured: 5 s); the flag is.
    exec bun test --timeout 30000 "$@"
    ;;
  *)
    echo "usage: scripts/run.sh setup|start|test [args]" >&2
    exit 64
    ;;
esac
