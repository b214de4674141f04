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
#         4 LMs: a 3-gram (KenLM) on the training transcripts + LJSpeech and ARCTIC text -> $EXP/lm;
#           PocketSphinx's general US English 3-gram, from the installed pocketsphinx package (the
#           `compare` extra; GENERAL_LM: another ARPA or .lm.bin) -> $EXP/lm-general; the two interpolated
#           at the weights that fit dev text best, pruned to ship -> $EXP/lm-mix (general_lm.py)
#         5 LM weight and word score tuned on dev with $EXP/lm-mix and shipped; test decoded four ways
#         6 test WER greedy and as shipped   7 transcribe three test files as shipped
#         8 the LM table (RESULTS.md), only with --stage 8 (hours; PocketSphinx decodes test twice): each
#           LM (corpus, general, interpolated unpruned) tuned on dev, test decoded through each, greedy and
#           as shipped; PocketSphinx with its own LM and with lm-mix -> $EXP/lm-table.md
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/speechocean762"
# references: "mark is going to see elephant", "kate loves china", "two six four eight"
EXAMPLES=(WAVE/SPEAKER0003/000030012.opus WAVE/SPEAKER0003/000030024.opus WAVE/SPEAKER0003/000030040.opus)
DECODER_LM=lm-mix  # stage 5 tunes the interpolated LM

stage_pretrain_data() {
  # the other English corpora's data/ (their own stage 0), the synthetic corpus, then one manifest
  local recipe
  for recipe in cathy_arctic ljspeech_subset fsdd; do
    DATA= EXP= ../$recipe/run.sh --stop-stage 0
  done
  "$PYTHON" -m recipes.synth_english.prepare --jobs "${JOBS:-2}" --out "$REPO/data/synth_english"
  "$PYTHON" -m "$PACKAGE.english_corpora" --out "$DATA/pretrain.jsonl" \
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

general_lm() {
  # general_lm.py OPTIONS...: the general LM converted -> $EXP/lm-general, interpolated with $EXP/lm
  "$PYTHON" -m "$PACKAGE.general_lm" --corpus-lm "$EXP/lm/lm.arpa" --dev "$DATA/dev.jsonl" --model "$EXP/best.pt" \
    --exp "$EXP" --general "${GENERAL_LM:-pocketsphinx}" "$@"
}

stage_lms() {
  # the LM of stage_lm on the training transcripts plus LJSpeech and ARCTIC text; the general LM and
  # the interpolated one, pruned (what the model ships)
  "$PYTHON" -m "$PACKAGE.lm_text" --data "$DFCNN_DATA" --out "$DATA/lm_extra.txt"
  stage_lm "$DATA/lm_extra.txt"
  general_lm
}

stage_lm_table() {
  # the interpolated LM unpruned; the corpus, general and unpruned LMs each tuned on dev (not shipped);
  # one bench/pocketsphinx_compare.py run on test: greedy, as shipped, each tuned LM, PocketSphinx's own
  # LM and lm-mix in PocketSphinx (its dictionary from lm-mix/lexicon.txt). Hours: only when asked for.
  if [ "$stage" -ne 8 ]; then
    echo "the LM table takes hours and builds nothing the model needs: ./run.sh --stage 8 runs it"
    return
  fi
  general_lm --prune 0 --mix-name lm-mix-full
  local name decoders=()
  for name in lm lm-general lm-mix-full; do
    dfcnn tune --model "$EXP/best.pt" --manifest "$DATA/dev.jsonl" --lm "$EXP/$name/lm.bin" --out "$EXP/tune-$name" \
      --quiet
    decoders+=(--decoder "$name=$EXP/tune-$name/best.json")
  done
  "$PYTHON" "$REPO/bench/pocketsphinx_compare.py" --manifest "$DATA/test.jsonl" --model "phones=$EXP" \
    "${decoders[@]}" --sphinx-lm "lm-mix=$EXP/lm-mix" --out "$EXP/lm-table.md"
}

standard_stages prepare pretrain_data pretrain finetune lms decoders evaluate transcribe lm_table
