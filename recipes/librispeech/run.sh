#!/usr/bin/env bash
# LibriSpeech (OpenSLR 12): read English audiobooks. Trains on train-clean-100 by default (the 100 h
# single-GPU setup); dev-clean picks best.pt; WER on test-clean and test-other.
#
#   ./run.sh                                   download (~7.6 GB), prepare, train, evaluate, LM, decoders
#   ./run.sh --data-dir /corpora/LibriSpeech   use an existing copy: stage 0 downloads nothing
#   ./run.sh --stage 3 --stop-stage 3          only evaluate
#
# Stages: 0 download + unpack into $DOWNLOAD_DIR (default data/librispeech; resumable, MD5-checked)
#         1 prepare data/ (manifests, vocab)  2 train exp/  3 WER on test-clean and test-other
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
# The 960 h setup: FETCH_PARTS="train-clean-100 train-clean-360 train-other-500 dev-clean dev-other
# test-clean test-other" TRAIN_SUBSETS="train-clean-100 train-clean-360 train-other-500" ./run.sh
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="${DATA_DIR:-$DOWNLOAD_DIR/LibriSpeech}"
# FETCH_PARTS and TRAIN_SUBSETS are space-separated lists
# shellcheck disable=SC2206
FETCH_ARGS=(${FETCH_PARTS:+--parts $FETCH_PARTS})
# shellcheck disable=SC2206
PREPARE_ARGS=(--train-subsets ${TRAIN_SUBSETS:-train-clean-100})
TEST_SETS=(test test-other)
standard_stages download prepare train evaluate lm decoders
