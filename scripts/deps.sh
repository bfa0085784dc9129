#!/usr/bin/env bash
# Installs the Debian packages siambench uses when they are missing and apt is
# usable (root on Debian). Without them bench still builds: pure-Go GEMM.
set -euo pipefail
need=()
[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || ls /usr/include/*/openblas*/cblas.h >/dev/null 2>&1 || need+=(libopenblas-dev)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing ${need[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: ${need[*]} missing and apt-get unavailable as root; building with the pure-Go GEMM fallback" >&2
fi
