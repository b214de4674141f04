#!/usr/bin/env bash
# speechocean762 (OpenSLR 101): read English by Mandarin L1 speakers, half of them children.
# Kaldi's train (125 speakers; 8 % of them held out as a speaker-disjoint dev) and test (63 speakers).
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, vocab)  1 train exp/  2 WER on test  3 transcribe examples
#         4 a 3-gram word LM (KenLM) on the training transcripts + LJSpeech and ARCTIC text -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

corpus="$DFCNN_DATA/speechocean762"

if stage_runs 0; then
  prepare_stage --corpus-dir "$corpus"
fi

if stage_runs 1; then
  train_stage
fi

if stage_runs 2; then
  evaluate_stage
fi

if stage_runs 3; then
  # references: "mark is going to see elephant", "kate loves china", "two six four eight"
  dfcnn transcribe --model exp/best.pt \
    "$corpus/WAVE/SPEAKER0003/000030012.opus" \
    "$corpus/WAVE/SPEAKER0003/000030024.opus" \
    "$corpus/WAVE/SPEAKER0003/000030040.opus"
fi

if stage_runs 4; then
  "$PYTHON" lm_text.py --data "$DFCNN_DATA" --out data/lm_extra.txt
  lm_stage data/lm_extra.txt
fi

if stage_runs 5; then
  compare_decoders_stage
fi
