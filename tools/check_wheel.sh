#!/usr/bin/env bash
# Build dfcnn's sdist and wheel, install the wheel into a new venv outside the checkout (the locked
# dependencies, then the wheel alone), and run it there: --help, --version, import, and a tiny model
# trained and used to transcribe. Anything that only works from the checkout fails here.
#   bash tools/check_wheel.sh            # after `make setup`
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m build --no-isolation --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; exit 1; }
ls "$work/dist"/dfcnn-*.tar.gz "$work/dist"/dfcnn-*-py3-none-any.whl >/dev/null

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
echo "wheel $(basename "$work"/dist/*.whl) installed outside the checkout: help, version, import, train, transcribe ok"
