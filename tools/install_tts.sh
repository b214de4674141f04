#!/usr/bin/env bash
# Text-to-speech voices and texts for recipes/synth_english (Debian packages, installed from apt when
# run as root): Flite with its voices (kal, kal16, awb, rms, slt), Festival with three voices (kal and
# ked diphones, SLT HTS), WordNet 3.0 (its usage examples are sentences of the corpus), and ffmpeg
# (decodes the G.722 prompts of recipes/asterisk_prompts). eSpeak NG comes from PyPI (espeakng-loader).
# Without these the synth_english and asterisk_prompts tests skip.
set -euo pipefail

PACKAGES=(flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts wordnet-base ffmpeg)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} from apt (for recipes/synth_english, recipes/asterisk_prompts)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         "${missing[@]}" >/dev/null; }
else
  echo "missing ${missing[*]}: install them (e.g. sudo apt-get install ${missing[*]}) for recipes/synth_english" >&2
  exit 1
fi
