#!/usr/bin/env bash
# LJSpeech subset: one native US English speaker reading non-fiction, 385 clips (0.69 h) of LJ001-LJ002.
# No official split: clips by id hash, ~85/7.5/7.5 % (327 / 29 / 29).
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, vocab)  1 train exp/  2 WER on test  3 transcribe examples
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/ljspeech_subset"
# references: "printing in the only sense with which we are at present concerned differs from most if not from
# all the arts and crafts represented in the exhibition" / "in being comparatively modern" / "the middle ages
# brought calligraphy to perfection and it was natural therefore"
EXAMPLES=(LJSpeech-1.1/wavs/LJ001-0001.opus LJSpeech-1.1/wavs/LJ001-0002.opus LJSpeech-1.1/wavs/LJ001-0016.opus)
standard_stages prepare train evaluate transcribe lm decoders
