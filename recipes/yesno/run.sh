#!/usr/bin/env bash
# yesno (OpenSLR 1): 60 recordings of one speaker saying 8 Hebrew yes/no words each; Kaldi's split,
# 31 train (4 of them held out as dev) / 29 test. A smoke test: trains in a minute or two on a CPU.
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe two test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, vocab)  1 train exp/  2 WER on test  3 transcribe examples
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

corpus="$DFCNN_DATA/yesno"

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
  # references: "yes no no no no no no yes", "yes yes yes yes yes yes yes yes"
  dfcnn transcribe --model exp/best.pt \
    "$corpus/waves_yesno/1_0_0_0_0_0_0_1.wav" \
    "$corpus/waves_yesno/1_1_1_1_1_1_1_1.wav"
fi

if stage_runs 4; then
  lm_stage
fi

if stage_runs 5; then
  compare_decoders_stage
fi
