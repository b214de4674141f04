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
CORPUS="$DFCNN_DATA/yesno"
# references: "yes no no no no no no yes", "yes yes yes yes yes yes yes yes"
EXAMPLES=(waves_yesno/1_0_0_0_0_0_0_1.wav waves_yesno/1_1_1_1_1_1_1_1.wav)
standard_stages prepare train evaluate transcribe lm decoders
