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
TUNE_ARGS=(--lm-weights 0.5,1,2,3 --word-scores=-1,0,1,2)   # 16 points: ~20 s here

stage_synthesise() {
  "$PYTHON" -m "$PACKAGE.prepare" --out "$DATA"   # skips itself when $DATA is up to date
}

first_tests() {
  # first_tests FIELD: that field of the first three lines of the test manifest
  head -n 3 "$DATA/test.jsonl" | "$PYTHON" -c "import json, sys; [print(json.loads(l)[sys.argv[1]]) for l in sys.stdin]" "$1"
}

stage_transcribe_tuned() {
  # three test files (voices never heard in training) under their references, decoded as tuned on dev
  local files
  mapfile -t files < <(first_tests audio_filepath)
  echo "references:"
  first_tests text | sed 's/^/  /'
  echo "dfcnn transcribe:"
  dfcnn transcribe --model "$EXP/best.pt" --decoder-config "$EXP/tune/best.json" --quiet "${files[@]}"
}

standard_stages synthesise train lm decoders transcribe_tuned
