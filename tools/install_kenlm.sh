#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary (used by `dfcnn lm`) into tools/kenlm/bin.
#
# They are in no Debian or PyPI binary package: this builds them from the `kenlm` source
# distribution on PyPI with cmake and Boost (installed from apt when run as root).
#   bash tools/install_kenlm.sh            # -> tools/kenlm/bin/{lmplz,build_binary}
#   KENLM_PREFIX=/opt/kenlm bash tools/install_kenlm.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${KENLM_PREFIX:-$here/kenlm}"
python="${PYTHON:-python3}"
kenlm_version="${KENLM_VERSION:-0.2.0}"

if [[ -x "$prefix/bin/lmplz" && -x "$prefix/bin/build_binary" ]]; then
  echo "KenLM already built: $prefix/bin"
  exit 0
fi

apt_packages=(cmake g++ make libboost-program-options-dev libboost-system-dev libboost-thread-dev
              libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing build dependencies from apt: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  else
    echo "KenLM needs these packages; install them (e.g. sudo apt-get install ${missing[*]}) and rerun" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --no-deps --no-binary :all: --dest "$work" "kenlm==$kenlm_version"
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
source_dir="$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -n1)"
cmake -S "$source_dir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 >"$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" --target lmplz build_binary -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; exit 1; }
mkdir -p "$prefix/bin"
cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$prefix/bin/"
echo "KenLM built: $prefix/bin/lmplz, $prefix/bin/build_binary"
