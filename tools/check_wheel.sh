#!/usr/bin/env bash
# Build dfcnn's sdist and wheel, install the wheel into a new venv outside the checkout (the locked
# dependencies, then the wheel alone), and run it there: --help, --version, import, a tiny model
# trained and used to transcribe, and the shipped models (dfcnn/shipped/) transcribing real recordings
# of ../shared/data with no training: English with no --model, Mandarin with --model mandarin. The
# wheel must stay under MAX_WHEEL_MB. Anything that only works from the checkout fails here.
#   bash tools/check_wheel.sh            # after `make setup`
#   SHIPPED=DIR bash tools/check_wheel.sh   # a build of the checkout with DIR's models (dfcnn ship --into DIR)
#                                           # in dfcnn/shipped/ instead of its own: tries models before they land
# A shipped model missing from the wheel, or the shared data, is a warning here and an error under CI=true.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
data="${DFCNN_DATA:-$repo/../shared/data}"
MAX_WHEEL_MB=30
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

missing() {  # a thing the check needs is absent: CI fails, a checkout warns and goes on
  if [[ "${CI:-}" =~ ^(1|true|yes)$ ]]; then echo "check_wheel: error: $1" >&2; exit 1; fi
  echo "check_wheel: warning: $1 (an error under CI=true)" >&2
}

source_tree="$repo"
if [[ -n "${SHIPPED:-}" ]]; then  # the checkout's files (tracked or not, unless ignored), DIR's models shipped
  source_tree="$work/src"
  mkdir -p "$source_tree"
  git -C "$repo" ls-files -z -co --exclude-standard | (cd "$repo" && tar --null -T - -cf -) | tar -xf - -C "$source_tree"
  find "$source_tree/dfcnn/shipped" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  cp -r "$SHIPPED"/. "$source_tree/dfcnn/shipped/"
fi
"$python" -m build --no-isolation --outdir "$work/dist" "$source_tree" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; exit 1; }
ls "$work/dist"/dfcnn-*.tar.gz "$work/dist"/dfcnn-*-py3-none-any.whl >/dev/null
wheel_bytes=$(stat -c %s "$work/dist"/dfcnn-*-py3-none-any.whl)
echo "wheel size: $((wheel_bytes / 1000)) kB (limit $MAX_WHEEL_MB MB)"
if ((wheel_bytes > MAX_WHEEL_MB * 1000 * 1000)); then
  echo "check_wheel: error: the wheel is $((wheel_bytes / 1000000)) MB, over $MAX_WHEEL_MB MB: prune or quantise" \
    "the shipped LMs" >&2
  exit 1
fi

python3 -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check install --quiet)
"${pip[@]}" --require-hashes -r "$repo/requirements.lock" 2> >(grep -v "is ignored" >&2)
"${pip[@]}" --no-deps "$work/dist"/dfcnn-*-py3-none-any.whl

cd "$work"  # nothing of the checkout is on the path from here
export PATH="$work/venv/bin:$PATH"
dfcnn --help >/dev/null
dfcnn --version
python -c "import dfcnn, sys; assert dfcnn.__file__.startswith(sys.prefix), dfcnn.__file__"
python - <<'PY'
"""A tiny corpus of two tones, a model trained on it for a few steps: checkpoint for the transcription."""
import json
from pathlib import Path

import numpy as np
import soundfile

rows = []
for index, (freq, text) in enumerate([(300, "a"), (900, "b")] * 4):
    t = np.arange(8000) / 16000
    path = Path(f"utt{index}.wav")
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000)
    rows.append({"audio_filepath": str(path.resolve()), "duration": 0.5, "text": text})
Path("train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
Path("vocab.txt").write_text("<blank>\n|\na\nb\n")
PY
cat >conf.yaml <<'YAML'
exp_dir: exp
data: {train_manifest: train.jsonl, dev_manifest: train.jsonl, vocab: vocab.txt, num_workers: 0}
train: {epochs: 2, warmup_steps: 1}
model: {channels: [4, 8], time_pool: [2, 2], freq_pool: [4, 4], hidden_dim: 8, convs_per_block: 1}
YAML
dfcnn train conf.yaml --quiet >train.log || { cat train.log >&2; exit 1; }
dfcnn transcribe --model exp/best.pt utt0.wav utt1.wav --format json >transcripts.jsonl
python -c "
import json
rows = [json.loads(line) for line in open('transcripts.jsonl')]
assert len(rows) == 2 and all('text' in row for row in rows), rows
"

# the shipped models, from the installed wheel, on real recordings: English with no --model, Mandarin by name
unset DFCNN_SHIPPED_DIR
english_audio="$data/ljspeech_subset/LJSpeech-1.1/wavs/LJ001-0001.opus"
mandarin_audio="$data/aishell1_sample/AISHELL_Sample_data/BAC009S0150W0001.opus"
shipped=$(python -c "from dfcnn.shipped import installed; print(' '.join(m.name for m in installed()))")
checked=()
for name in english mandarin; do
  if [[ " $shipped " != *" $name "* ]]; then
    missing "the wheel ships no model $name (dfcnn ship ... --name $name)"
    continue
  fi
  audio="$english_audio"; [[ $name == mandarin ]] && audio="$mandarin_audio"
  if [[ ! -f "$audio" ]]; then
    missing "$audio not found (set DFCNN_DATA to the shared data folder)"
    continue
  fi
  if [[ $name == english ]]; then
    dfcnn transcribe "$audio" --quiet >"$name.txt" 2>"$name.err" || { cat "$name.err" >&2; exit 1; }
    grep -qx "dfcnn: using the shipped model english (--model to choose)" "$name.err" \
      || { echo "check_wheel: error: transcribe without --model did not say it used english:" >&2; cat "$name.err" >&2; exit 1; }
  else
    dfcnn transcribe --model "$name" "$audio" --quiet >"$name.txt"
  fi
  # the text is in the script the model writes (its card): Chinese characters for hanzi, else letters
  python - "$name" <<'PY'
import re
import sys

from dfcnn.shipped import find_shipped

name = sys.argv[1]
writes = find_shipped(name).card["writes"]
text = open(f"{name}.txt", encoding="utf-8").read().strip()
script = r"[\u4e00-\u9fff]" if writes == "hanzi" else r"[A-Za-z]"
assert re.search(script, text), f"{name} ({writes}) wrote no {'characters' if writes == 'hanzi' else 'words'}: {text!r}"
print(f"{name}: {text}")
PY
  checked+=("$name")
done
dfcnn models >/dev/null 2>&1 || [[ -z "$shipped" ]]
echo "wheel $(basename "$work"/dist/*.whl) installed outside the checkout: help, version, import, train, transcribe ok;" \
  "shipped models transcribed: ${checked[*]:-none}"
