#!/usr/bin/env bash
# speechocean762 (OpenSLR 101): read English by Mandarin L1 speakers, half of them children.
# Kaldi's train (125 speakers; 8 % of them held out as a speaker-disjoint dev) and test (63 speakers).
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, vocab)  1 train exp/  2 WER on test  3 transcribe examples
#         4 a 3-gram word LM (KenLM) on the training transcripts + LJSpeech and ARCTIC text -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/speechocean762"
# references: "mark is going to see elephant", "kate loves china", "two six four eight"
EXAMPLES=(WAVE/SPEAKER0003/000030012.opus WAVE/SPEAKER0003/000030024.opus WAVE/SPEAKER0003/000030040.opus)

stage_lm_extra_text() {
  # the LM of stage_lm on the training transcripts plus LJSpeech and ARCTIC text
  "$PYTHON" lm_text.py --data "$DFCNN_DATA" --out "$DATA/lm_extra.txt"
  stage_lm "$DATA/lm_extra.txt"
}

standard_stages prepare train evaluate transcribe lm_extra_text decoders
