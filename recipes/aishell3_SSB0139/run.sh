#!/usr/bin/env bash
# AISHELL-3 speaker SSB0139: one Mandarin speaker, 490 utterances (0.39 h); the corpus's train / test
# (476 / 14), dev a 5 % hash slice of train. Tonal pinyin tokens: WER is the syllable error rate.
#
#   ./run.sh                          prepare, fine-tune, evaluate on test, transcribe three test files
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#   BASE=none ./run.sh                conf.yaml trained from scratch instead (RESULTS.md: 80 epochs)
#
# Stages: 0 prepare data/ (manifests, pinyin vocab)
#         1 exp/: the shipped mandarin model (BASE: another shipped name, training folder or checkpoint of
#           a pinyin model) fine-tuned on train, its missing syllables added (dfcnn finetune --new-tokens);
#           a stopped run resumes
#         2 syllable error rate (WER) on test
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
BASE="${BASE:-mandarin}"
# 30 epochs at a third of the base run's peak rate: dev SER 46.9 after finetune's default 6 epochs at a
# tenth, 29.5 at epoch 27 of these (RESULTS.md)
FINETUNE=(train.epochs=30 train.lr=1.0e-3 train.warmup_steps=100)

stage_train() {
  if [ "$BASE" = none ]; then
    train_run "$EXP"
  else
    dfcnn finetune --model "$BASE" --train "$DATA/train.jsonl" --dev "$DATA/dev.jsonl" --out "$EXP" --new-tokens \
      --resume "${FINETUNE[@]}" "${TRAIN_OVERRIDES[@]}"
  fi
}

standard_stages prepare train evaluate transcribe lm decoders hanzi
