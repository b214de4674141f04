#!/usr/bin/env bash
# LibriSpeech (OpenSLR 12): read English audiobooks. Trains on train-clean-100 by default (the 100 h
# single-GPU setup); dev-clean picks best.pt; WER on test-clean and test-other.
#
#   ./run.sh                                   download (~7.6 GB), prepare, train, evaluate, LM, decoders
#   ./run.sh --data-dir /corpora/LibriSpeech   use an existing copy: stage 0 downloads nothing
#   ./run.sh --stage 3 --stop-stage 3          only evaluate
#
# Stages: 0 download + unpack into $DOWNLOAD_DIR (default $DFCNN_DATA/librispeech; resumable, MD5-checked)
#         1 prepare data/ (manifests, vocab)  2 train exp/  3 WER on test-clean and test-other
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
# The 960 h setup: FETCH_PARTS="train-clean-100 train-clean-360 train-other-500 dev-clean dev-other
# test-clean test-other" TRAIN_SUBSETS="train-clean-100 train-clean-360 train-other-500" ./run.sh
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

download_dir="${DOWNLOAD_DIR:-$DFCNN_DATA/librispeech}"
corpus="${DATA_DIR:-$download_dir/LibriSpeech}"

if stage_runs 0; then
  # shellcheck disable=SC2086
  download_stage "$download_dir" ${FETCH_PARTS:+--parts $FETCH_PARTS}
fi

if stage_runs 1; then
  # shellcheck disable=SC2086
  prepare_stage --corpus-dir "$corpus" --train-subsets ${TRAIN_SUBSETS:-train-clean-100}
fi

if stage_runs 2; then
  train_stage
fi

if stage_runs 3; then
  evaluate_stage
  if [ -f data/test-other.jsonl ]; then
    dfcnn evaluate --model exp/best.pt --manifest data/test-other.jsonl --out exp/eval-test-other
  fi
fi

if stage_runs 4; then
  lm_stage
fi

if stage_runs 5; then
  compare_decoders_stage
fi
