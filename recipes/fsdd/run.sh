#!/usr/bin/env bash
# Free Spoken Digit Dataset: 3000 isolated English digits, 6 speakers, 8 kHz. FSDD's split: takes
# 0-4 of each digit and speaker are test (300), 5-49 train; takes 5-9 are held out as dev (300).
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, vocab)  1 train exp/  2 WER on test  3 transcribe examples
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

corpus="$DFCNN_DATA/fsdd"

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
  # references: "seven", "three", "nine"
  dfcnn transcribe --model exp/best.pt \
    "$corpus/recordings/7_jackson_0.wav" \
    "$corpus/recordings/3_theo_2.wav" \
    "$corpus/recordings/9_yweweler_4.wav"
fi

if stage_runs 4; then
  lm_stage
fi

if stage_runs 5; then
  compare_decoders_stage
fi
