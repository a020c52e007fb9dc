#!/usr/bin/env bash
# Regenerates sdk/go/gen from proto/ (protoc-gen-go + protoc-gen-connect-go, installed into
# .tools/go-bin with `go install` at pinned versions when missing). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOBIN="$PWD/.tools/go-bin"
[ -x "$GOBIN/protoc-gen-go" ] || go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
[ -x "$GOBIN/protoc-gen-connect-go" ] || go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
# With an argument, writes under that folder instead (the freshness test compares the two).
if [ -n "${1:-}" ]; then
  node_modules/.bin/buf generate --template sdk/go/buf.gen.yaml -o "$1"
else
  rm -rf sdk/go/gen
  node_modules/.bin/buf generate --template sdk/go/buf.gen.yaml
fi
