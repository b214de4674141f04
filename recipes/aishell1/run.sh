#!/usr/bin/env bash
# AISHELL-1 (OpenSLR 33): 178 h of read Mandarin, 400 speakers; the corpus's train / dev / test
# (340 / 40 / 20 speakers). Scored by CER (characters); WER equals it only after word segmentation.
#
#   ./run.sh                                     download (15 GB), prepare, train, evaluate, LM, decoders
#   ./run.sh --data-dir /corpora/data_aishell    use an existing (unpacked) copy: stage 0 downloads nothing
#   ./run.sh --stage 3 --stop-stage 3            only evaluate
#
# Stages: 0 download + unpack into $DOWNLOAD_DIR (default data/aishell1; resumable, MD5-checked)
#         1 prepare data/ (manifests, vocab)  2 train exp/  3 CER/WER on test
#         4 a character 3-gram LM (KenLM; each character is a word) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="${DATA_DIR:-$DOWNLOAD_DIR/data_aishell}"
standard_stages download prepare train evaluate lm decoders
