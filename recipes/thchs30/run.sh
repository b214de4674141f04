#!/usr/bin/env bash
# THCHS-30 (OpenSLR 18): 30 h of read Mandarin (news sentences); the corpus's train / dev / test
# (10,000 / 893 / 2,495 utterances). Scored by CER (characters).
#
#   ./run.sh                                     download (6.4 GB), prepare, train, evaluate, LM, decoders
#   ./run.sh --data-dir /corpora/data_thchs30    use an existing copy: stage 0 downloads nothing
#   ./run.sh --stage 3 --stop-stage 3            only evaluate
#
# Stages: 0 download + unpack into $DOWNLOAD_DIR (default data/thchs30; resumable, MD5-checked)
#         1 prepare data/ (manifests, vocab)  2 train exp/  3 CER/WER on test
#         4 a character 3-gram LM (KenLM; each character is a word) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="${DATA_DIR:-$DOWNLOAD_DIR/data_thchs30}"
standard_stages download prepare train evaluate lm decoders
