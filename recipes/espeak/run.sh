#!/usr/bin/env bash
# The demo: English digit strings and short sentences spoken by eSpeak NG voices (synthesised
# offline), a DFCNN trained on them on CPU, scored on voices never heard in training.
#
#   ./run.sh                          synthesise, train, evaluate on test, transcribe examples
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 synthesise data/ (audio, manifests, vocab)  1 train exp/  2 WER on test (unseen voices)
#         3 transcribe three test files
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

if stage_runs 0; then
  "$PYTHON" prepare.py --out data   # skips itself when data/ is up to date
fi

if stage_runs 1; then
  train_stage
fi

if stage_runs 2; then
  evaluate_stage
fi

if stage_runs 3; then
  files=$("$PYTHON" -c "
import json
lines = open('data/test.jsonl').read().splitlines()
for line in lines[:3]:
    print(json.loads(line)['audio_filepath'])")
  echo "references:"
  head -n 3 data/test.jsonl | "$PYTHON" -c "import json, sys; [print('  ' + json.loads(l)['text']) for l in sys.stdin]"
  echo "dfcnn transcribe:"
  # shellcheck disable=SC2086
  dfcnn transcribe --model exp/best.pt $files
fi
