#!/usr/bin/env bash
# Generates client/worker stubs from proto/ for other languages, with no make and no Buf
# Schema Registry:
#   bash scripts/gen-stubs.sh go <out-dir>       # protoc-gen-go + protoc-gen-go-grpc (go install, cached)
#   bash scripts/gen-stubs.sh python <out-dir>   # grpcio-tools in .venv (scripts/setup-python.sh)
# Go: the plugins are installed once into .tools/go/bin with `go install` (Go module proxy).
set -euo pipefail
cd "$(dirname "$0")/.."
lang="${1:-}"
out="${2:-}"
if [ -z "$lang" ] || [ -z "$out" ]; then
  echo "usage: scripts/gen-stubs.sh go|python <out-dir>" >&2
  exit 64
fi
mkdir -p "$out"
case "$lang" in
  go)
    PROTOC_GEN_GO_VERSION=v1.36.11
    PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
    bin="$PWD/.tools/go/bin"
    mkdir -p "$bin"
    if [ ! -x "$bin/protoc-gen-go" ] || [ ! -x "$bin/protoc-gen-go-grpc" ]; then
      echo "installing protoc-gen-go ${PROTOC_GEN_GO_VERSION} and protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION} into .tools/go/bin" >&2
      GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}" >&2
      GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}" >&2
    fi
    # buf writes under --output/<plugin out> (gen/go): move the packages to <out-dir>.
    tmp="$(mktemp -d)"
    PATH="$bin:$PATH" node_modules/.bin/buf generate --template buf.gen.go.yaml --output "$tmp"
    cp -R "$tmp/gen/go/." "$out/"
    rm -rf "$tmp"
    ;;
  python)
    bash scripts/setup-python.sh >&2
    .venv/bin/python test/python/gen_stubs.py "$out"
    ;;
  *)
    echo "unknown language: $lang (go or python)" >&2
    exit 64
    ;;
esac
