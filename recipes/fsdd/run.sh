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
CORPUS="$DFCNN_DATA/fsdd"
EXAMPLES=(recordings/7_jackson_0.wav recordings/3_theo_2.wav recordings/9_yweweler_4.wav)  # seven, three, nine
standard_stages prepare train evaluate transcribe lm decoders
