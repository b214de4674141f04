#!/usr/bin/env bash
# speechocean762 (OpenSLR 101): read English by Mandarin L1 speakers, half of them children.
# Kaldi's train (125 speakers; 8 % of them held out as a speaker-disjoint dev) and test (63 speakers).
# A phone model (ARPAbet, | between words) pre-trained on 17.75 h of synthetic and real English,
# fine-tuned here, and shipped with its lexicon + word-LM decoder (exp/decoder.json).
#
#   ./run.sh                          everything: data, pre-training, fine-tuning, LM, tuning, test WER
#   ./run.sh --stage 5                only tune the decoder again and evaluate
#   EXP=exp-char ./run.sh --stage 2 data.unit=char data.vocab=data/vocab.txt   a character model, same schedule
#                                     (RESULTS.md's equal-compute pair, 1 pre-training epoch: commands there)
#
# Stages: 0 prepare data/ (manifests, vocab.txt of characters, vocab_phone.txt)
#         1 pre-training data: the synthetic corpus (recipes/synth_english, needs tools/install_tts.sh),
#           cathy_arctic, ljspeech_subset and FSDD prepared, all train sets -> data/pretrain.jsonl
#         2 pre-train conf_pretrain.yaml -> $EXP-pretrain/   3 fine-tune conf.yaml from it -> $EXP/
#         4 a 3-gram word LM (KenLM) on the training transcripts + LJSpeech and ARCTIC text -> $EXP/lm
#         5 LM weight and word score tuned on dev and shipped with the model; test decoded four ways
#         6 test WER greedy and as shipped   7 transcribe three test files as shipped
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/speechocean762"
# references: "mark is going to see elephant", "kate loves china", "two six four eight"
EXAMPLES=(WAVE/SPEAKER0003/000030012.opus WAVE/SPEAKER0003/000030024.opus WAVE/SPEAKER0003/000030040.opus)
TUNE_ARGS=(--ship)  # exp/decoder.json: the model decodes with the tuned lexicon + LM wherever it is loaded

stage_pretrain_data() {
  # the other English corpora's data/ (their own stage 0), the synthetic corpus, then one manifest
  local recipe
  for recipe in cathy_arctic ljspeech_subset fsdd; do
    DATA= EXP= ../$recipe/run.sh --stop-stage 0
  done
  "$PYTHON" ../synth_english/prepare.py --jobs "${JOBS:-2}" --out "$REPO/data/synth_english"
  "$PYTHON" english_corpora.py --out "$DATA/pretrain.jsonl" \
    --extra "$REPO/data/synth_english/train.jsonl" ../fsdd/data/train.jsonl
}

data_overrides() {
  # conf*.yaml name data/: another DATA folder is passed as overrides
  if [ "$DATA" != data ]; then
    echo "data.dev_manifest=$DATA/dev.jsonl data.vocab=$DATA/vocab_phone.txt"
  fi
}

stage_pretrain() {
  # --resume continues an interrupted run exactly, or starts a fresh one
  # shellcheck disable=SC2046
  dfcnn train conf_pretrain.yaml --resume $(data_overrides) \
    "data.train_manifest=$DATA/pretrain.jsonl" "exp_dir=$EXP-pretrain" "${TRAIN_OVERRIDES[@]}"
}

stage_finetune() {
  # shellcheck disable=SC2046
  dfcnn train conf.yaml --resume $(data_overrides) \
    "data.train_manifest=$DATA/train.jsonl" "exp_dir=$EXP" "train.init_from=$EXP-pretrain/best.pt" \
    "${TRAIN_OVERRIDES[@]}"
}

stage_lm_extra_text() {
  # the LM of stage_lm on the training transcripts plus LJSpeech and ARCTIC text
  "$PYTHON" lm_text.py --data "$DFCNN_DATA" --out "$DATA/lm_extra.txt"
  stage_lm "$DATA/lm_extra.txt"
}

standard_stages prepare pretrain_data pretrain finetune lm_extra_text decoders evaluate transcribe
