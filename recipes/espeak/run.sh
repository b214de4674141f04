#!/usr/bin/env bash
# The demo: English digit strings and short sentences spoken by eSpeak NG voices (synthesised
# offline), a DFCNN trained on them on CPU, scored on voices never heard in training.
#
#   ./run.sh                          synthesise, train, LM, evaluate on test, transcribe examples
#   ./run.sh --stage 2                only the LM, the evaluation and the transcripts
#
# Stages: 0 synthesise data/ (audio, manifests, vocab)  1 train exp/
#         2 a 3-gram word LM (KenLM) on the training sentences -> exp/lm
#         3 LM weight tuned on dev; test WER (unseen voices) greedy / beam / +lexicon / +LM
#         4 transcribe three test files with the LM
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

if stage_runs 0; then
  "$PYTHON" prepare.py --out data   # skips itself when data/ is up to date
fi

if stage_runs 1; then
  train_stage
fi

if stage_runs 2; then
  lm_stage
fi

if stage_runs 3; then
  compare_decoders_stage --lm-weights 0.5,1,2,3 --word-scores=-1,0,1,2   # 16 points: ~20 s here
fi

if stage_runs 4; then
  files=$("$PYTHON" -c "
import json
lines = open('data/test.jsonl').read().splitlines()
for line in lines[:3]:
    print(json.loads(line)['audio_filepath'])")
  echo "references:"
  head -n 3 data/test.jsonl | "$PYTHON" -c "import json, sys; [print('  ' + json.loads(l)['text']) for l in sys.stdin]"
  echo "dfcnn transcribe:"
  # shellcheck disable=SC2046,SC2086
  dfcnn transcribe --model exp/best.pt $(tuned_lm_options) --quiet $files
fi
