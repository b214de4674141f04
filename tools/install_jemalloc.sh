#!/usr/bin/env bash
# jemalloc for training (Debian package libjemalloc2, installed from apt when run as root): `dfcnn train`
# reruns itself under it when libjemalloc.so.2 is found, and holds less memory than with glibc's
# malloc (bench/training_memory.md). Optional: without it training runs as before, so this never
# fails; it says what to install instead.
set -euo pipefail

if [[ $(uname -s) != Linux ]]; then
  exit 0  # LD_PRELOAD, and so dfcnn's use of jemalloc, is Linux only
fi
if ldconfig -p 2>/dev/null | grep -q 'libjemalloc\.so\.2'; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing libjemalloc2 from apt (for dfcnn train)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libjemalloc2 >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         libjemalloc2 >/dev/null; } \
    || echo "could not install libjemalloc2: dfcnn train will use the C library's malloc (more memory)" >&2
else
  echo "libjemalloc.so.2 not found: dfcnn train uses the C library's malloc, which holds more memory;" \
       "install it (Debian/Ubuntu: sudo apt-get install libjemalloc2) or set DFCNN_JEMALLOC" >&2
fi
