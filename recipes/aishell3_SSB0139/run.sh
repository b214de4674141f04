#!/usr/bin/env bash
# AISHELL-3 speaker SSB0139: one Mandarin speaker, 490 utterances (0.39 h); the corpus's train / test
# (476 / 14), dev a 5 % hash slice of train. Tonal pinyin tokens: WER is the syllable error rate.
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare data/ (manifests, pinyin vocab)  1 train exp/  2 syllable error rate (WER) on test
#         3 transcribe examples  4 a 3-gram syllable LM (KenLM) on the training transcripts -> exp/lm
#         5 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
#         6 pinyin -> characters (stages.sh stage_hanzi): a 3-gram character LM on the training transcripts
#           whose lexicon spells each character by its readings -> exp/lm-hanzi; LM weight tuned on dev and
#           shipped with the model (exp/decoder.json: `dfcnn transcribe --model exp` writes characters);
#           test CER greedy and as shipped -> exp/eval-test-hanzi
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/aishell3_SSB0139"
# references: "黑色婚姻" / "渔家傲" / "居庸关"
EXAMPLES=(test_sample/SSB0139/SSB01390019.opus test_sample/SSB0139/SSB01390118.opus
          test_sample/SSB0139/SSB01390134.opus)
standard_stages prepare train evaluate transcribe lm decoders hanzi
