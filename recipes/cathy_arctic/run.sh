#!/usr/bin/env bash
# cathy_arctic: one native US English speaker reading the CMU ARCTIC prompts, 1620 files (1.37 h),
# many prompts read 2-7 times. Split by prompt (never by file): ~90/5/5 % of the prompts by hash.
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, vocab)  1 train exp/  2 WER on test  3 transcribe examples
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/cathy_arctic"
# references: "a combination of canadian capital quickly organized and petitioned for the same privileges" /
# "to my surprise he began to show actual enthusiasm in my favor" / "the ship should be in within a week or ten days"
EXAMPLES=(data_16k/arctic_a0023_1592748016.opus data_16k/arctic_a0027_1592747914.opus
          data_16k/arctic_a0039_1592747670.opus)
standard_stages prepare train evaluate transcribe lm decoders
