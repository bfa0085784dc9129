#!/usr/bin/env bash
# Regenerates proto/methodpb from proto/method.proto (what `make proto` runs).
# Installs the pinned Go code generators with `go install` and protoc from
# Debian's protobuf-compiler when missing and apt-get is usable.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0

if ! command -v protoc >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing protobuf-compiler (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq protobuf-compiler >/dev/null
  else
    echo "error: protoc not found; install Debian's protobuf-compiler (or protoc from your OS) and re-run make proto" >&2
    exit 1
  fi
fi

GOBIN="$(pwd)/bin/protoc-plugins"
export GOBIN
mkdir -p "$GOBIN"
go install "$PROTOC_GEN_GO"
go install "$PROTOC_GEN_GO_GRPC"

PATH="$GOBIN:$PATH" protoc \
  --proto_path=proto \
  --go_out=. --go_opt=module=github.com/siambench/siambench \
  --go-grpc_out=. --go-grpc_opt=module=github.com/siambench/siambench \
  proto/method.proto
echo "regenerated proto/methodpb ($(protoc --version))" >&2
