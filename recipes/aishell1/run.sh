#!/usr/bin/env bash
# AISHELL-1 (OpenSLR 33): 178 h of read Mandarin, 400 speakers; the corpus's train / dev / test
# (340 / 40 / 20 speakers). Scored by CER (characters); WER equals it only after word segmentation.
#
#   ./run.sh                                     download (15 GB), prepare, train, evaluate, LM, decoders
#   ./run.sh --data-dir /corpora/data_aishell    use an existing (unpacked) copy: stage 0 downloads nothing
#   ./run.sh --stage 3 --stop-stage 3            only evaluate
#
# Stages: 0 download + unpack into $DOWNLOAD_DIR (default $DFCNN_DATA/aishell1; resumable, MD5-checked)
#         1 prepare data/ (manifests, vocab)  2 train exp/  3 CER/WER on test
#         4 a character 3-gram LM (KenLM; each character is a word) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

download_dir="${DOWNLOAD_DIR:-$DFCNN_DATA/aishell1}"
corpus="${DATA_DIR:-$download_dir/data_aishell}"

if stage_runs 0; then
  download_stage "$download_dir"
fi

if stage_runs 1; then
  prepare_stage --corpus-dir "$corpus"
fi

if stage_runs 2; then
  train_stage
fi

if stage_runs 3; then
  evaluate_stage
fi

if stage_runs 4; then
  lm_stage
fi

if stage_runs 5; then
  compare_decoders_stage
fi
