#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary (used by `dfcnn lm`) into tools/kenlm/bin.
#
# They are in no Debian or PyPI binary package: this builds them from the `kenlm` source
# distribution on PyPI (hash-checked) with cmake and Boost from apt (installed when run as root).
# Only kenlm itself is fetched as source: `--no-binary kenlm`, not `:all:`, which would also compile
# its build requirements (CMake among them) from source, for twenty minutes and more.
#   bash tools/install_kenlm.sh            # -> tools/kenlm/bin/{lmplz,build_binary}
#   KENLM_PREFIX=/opt/kenlm bash tools/install_kenlm.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${KENLM_PREFIX:-$here/kenlm}"
python="${PYTHON:-python3}"
kenlm_version="0.2.0"
kenlm_sha256="c2dc1dc09d3c150e6a1777ef0fd5cac3688e1dc1cc13e41472d0284e5e88ac7f"  # PyPI's kenlm-0.2.0.tar.gz

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
echo "kenlm==$kenlm_version --hash=sha256:$kenlm_sha256" >"$work/requirements.txt"
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary kenlm --require-hashes \
  -r "$work/requirements.txt" --dest "$work"
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
source_dir="$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -n1)"
cmake -S "$source_dir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 >"$work/cmake.log" 2>&1 \
  || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" --target lmplz build_binary -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; exit 1; }
mkdir -p "$prefix/bin"
cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$prefix/bin/"
echo "KenLM built: $prefix/bin/lmplz, $prefix/bin/build_binary"
