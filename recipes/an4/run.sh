#!/usr/bin/env bash
# AN4 (CMU): 1 h of spoken census data (names, addresses, digits, letters spelt out), 16 kHz SPHERE;
# the corpus's train (948 utterances; 10 % of its speakers held out as dev) and test (130).
#
#   ./run.sh                                download (64 MB), prepare, train, evaluate, LM, decoders
#   ./run.sh --data-dir /corpora/an4        use an existing copy: stage 0 downloads nothing
#   ./run.sh --stage 3 --stop-stage 3       only evaluate
#
# Stages: 0 download + unpack into $DOWNLOAD_DIR (default data/an4; resumable; CMU publishes
#           no checksum)  1 prepare data/ (manifests, vocab)  2 train exp/  3 WER on test
#         4 a 3-gram word LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test WER greedy / beam / +lexicon / +LM
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="${DATA_DIR:-$DOWNLOAD_DIR/an4}"
standard_stages download prepare train evaluate lm decoders
