#!/usr/bin/env bash
# speechocean762 (OpenSLR 101): read English by Mandarin L1 speakers, half of them children.
# Kaldi's train (125 speakers; 8 % of them held out as a speaker-disjoint dev) and test (63 speakers).
# A phone model (ARPAbet, | between words; a 2x2-strided stem, channels 32-64-128-256, 1.56 M parameters):
# the english recipe's model (16.41 h of real and synthetic English) fine-tuned here, and shipped with its
# lexicon + word-LM decoder (exp/decoder.json).
#
#   ./run.sh                          everything: data, pre-training, fine-tuning, LMs, tuning, test WER
#   ./run.sh --stage 5                only tune the decoder again and evaluate
#   ./run.sh --stage 8                the LM table and the PocketSphinx comparison (RESULTS.md)
#
# Stages: 0 prepare data/ (manifests, vocab.txt of characters, vocab_phone.txt)
#         1 pre-training data: ../english/run.sh's stage 0 (its data/train.jsonl: speechocean762, LJSpeech,
#           FSDD and Asterisk prompts, the synthetic corpus of recipes/synth_english, the neural voices;
#           needs tools/install_tts.sh)
#         2 pre-training: ../english/run.sh's stage 1 (its conf.yaml -> ../english/exp; PRETRAINED, relative
#           to this folder: another trained folder of the same shape and vocabulary, used as it is)
#         3 fine-tune conf.yaml from $PRETRAINED/best.pt -> $EXP/
#         4 LMs: a 3-gram (KenLM) on the training transcripts + LJSpeech and ARCTIC text -> $EXP/lm;
#           PocketSphinx's general US English 3-gram, from the installed pocketsphinx package (the
#           `compare` extra; GENERAL_LM: another ARPA or .lm.bin) -> $EXP/lm-general; the two interpolated
#           at the weights that fit dev text best, pruned to ship -> $EXP/lm-mix (general_lm.py)
#         5 blank penalty, LM weight and word score tuned on dev with $EXP/lm-mix and shipped; test decoded
#           four ways
#         6 test WER greedy and as shipped   7 transcribe three test files as shipped
#         8 the LM table (RESULTS.md), only with --stage 8: each LM (corpus, general, interpolated
#           unpruned) tuned on dev (a tuning newer than best.pt is kept); one bench/pocketsphinx_compare.py
#           run on test: this model greedy, as shipped and through each LM, the models of PREVIOUS
#           (NAME=MODEL ...; default previous=english, the shipped model; empty: none), PocketSphinx with
#           its own LM and with lm-mix -> $EXP/lm-table.md (PocketSphinx decodes test at about real time;
#           its hypotheses are kept in $EXP/lm-table.sphinx/ and reused)
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/speechocean762"
# references: "mark is going to see elephant", "kate loves china", "two six four eight"
EXAMPLES=(WAVE/SPEAKER0003/000030012.opus WAVE/SPEAKER0003/000030024.opus WAVE/SPEAKER0003/000030040.opus)
DECODER_LM=lm-mix  # stage 5 tunes the interpolated LM
# the lexicon + LM search at beam 500 (speechocean762 dev WER 57.2 at 50, 51.8 at 500: ../speechocean762/
# RESULTS.md), a point of the grid costing ~80 s of one core: a 3 x 3 grid around beam 50's best weights
TUNE_ARGS=(--beam-size 500 --lm-weights 1.5,2,2.5 --word-scores=-2,-1,0 --blank-penalties 1.5,2)
PRETRAINED="${PRETRAINED:-../english/exp}"  # relative to this folder

stage_pretrain_data() {
  # the english recipe's training corpus (its stage 0 prepares every corpus it names)
  DATA= EXP= ../english/run.sh --stop-stage 0
}

data_overrides() {
  # conf.yaml names data/: another DATA folder is passed as overrides
  if [ "$DATA" != data ]; then
    echo "data.dev_manifest=$DATA/dev.jsonl data.vocab=$DATA/vocab_phone.txt"
  fi
}

stage_pretrain() {
  # the english model; its train stage resumes an interrupted run exactly, or starts a fresh one
  if [ "$PRETRAINED" = ../english/exp ]; then
    DATA= EXP= ../english/run.sh --stage 1 --stop-stage 1
  else
    echo "pre-trained model: $PRETRAINED (PRETRAINED), not trained here"
  fi
}

stage_finetune() {
  # shellcheck disable=SC2046
  dfcnn train conf.yaml --resume $(data_overrides) \
    "data.train_manifest=$DATA/train.jsonl" "exp_dir=$EXP" "train.init_from=$PRETRAINED/best.pt" \
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
  # what is already built for this best.pt is kept: a stopped stage 8 goes on where it was
  [ -f "$EXP/lm-mix-full/lm.bin" ] || general_lm --prune 0 --mix-name lm-mix-full
  local name decoders=()
  for name in lm lm-general lm-mix-full; do
    if [ ! "$EXP/tune-$name/best.json" -nt "$EXP/best.pt" ]; then
      dfcnn tune --model "$EXP/best.pt" --manifest "$DATA/dev.jsonl" --lm "$EXP/$name/lm.bin" \
        --out "$EXP/tune-$name" --quiet "${TUNE_ARGS[@]}"
    fi
    decoders+=(--decoder "$name=$EXP/tune-$name/best.json")
  done
  local item models=(--model "phones=$EXP")
  # NAME=MODEL ...: the models compared with this one (PREVIOUS= compares none)
  for item in ${PREVIOUS-previous=english}; do
    models+=(--model "$item")
  done
  "$PYTHON" "$REPO/bench/pocketsphinx_compare.py" --manifest "$DATA/test.jsonl" "${models[@]}" "${decoders[@]}" \
    --sphinx-lm "lm-mix=$EXP/lm-mix" --out "$EXP/lm-table.md"
}

standard_stages prepare pretrain_data pretrain finetune lms decoders evaluate transcribe lm_table
