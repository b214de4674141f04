#!/usr/bin/env bash
# AISHELL-1 sample: 1000 Mandarin utterances (1.21 h) of speakers S0150 and S0252; the 71 with Latin
# words are left out. Tonal pinyin tokens: WER is the syllable error rate. Two splits:
#   SPLIT=sentence (default): held-out sentences, both speakers in every split -> data/, exp/
#   SPLIT=speaker: train on S0150 (dev a slice of it), test on S0252      -> data-speaker/, exp-speaker/
# The model is pre-trained on synthetic Mandarin first (recipes/synth_mandarin: Kokoro's Mandarin voices
# reading news sentences), then fine-tuned here; PRETRAIN=none trains from scratch instead.
#
#   ./run.sh                          prepare, pre-train, train, evaluate on test, transcribe three test files
#   SPLIT=speaker ./run.sh            the same for the held-out-speaker split
#   PRETRAIN=none ./run.sh            no pre-training (stages 1-2 do nothing)
#   ./run.sh --stage 4 --stop-stage 5 only evaluate and transcribe
#
# Stages: 0 prepare $DATA (manifests, pinyin vocab)
#         1 the synthetic corpus: recipes/synth_mandarin's prepare -> $PRETRAIN_DATA (default
#           data/neural_mandarin at the repository root; PRETRAIN_CLIPS train clips, 1300 = 1.49 h; resumable;
#           needs the `voices` extra)
#         2 pre-training on it: conf_pretrain.yaml -> $PRETRAIN_EXP (dev: $DATA/dev.jsonl), and the fine-tuning
#           vocabulary $DATA/vocab_pretrained.txt (its syllables plus those of $DATA/train.jsonl)
#         3 train conf.yaml -> $EXP, from $PRETRAIN_EXP/best.pt   4 syllable error rate (WER) on test
#         5 transcribe examples  6 a 3-gram syllable LM (KenLM) on the training transcripts -> $EXP/lm
#         7 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
#         8 pinyin -> characters, as DFCNN's reference pipeline does: a 3-gram character LM on the training
#           transcripts whose lexicon spells each character by its readings (dfcnn lm --hanzi) -> $EXP/lm-hanzi;
#           LM weight tuned on dev and shipped with the model ($EXP/decoder.json: `dfcnn transcribe --model exp`
#           writes characters); test CER greedy and as shipped -> $EXP/eval-test-hanzi
#         9 dfcnn ship: the model as the shipped `mandarin` (dfcnn/shipped/mandarin), its card (card.yaml plus
#           the test set scored greedy and as shipped) and RESULTS.md's block, regenerated
source "$(dirname "$0")/../stages.sh" "$@"
CORPUS="$DFCNN_DATA/aishell1_sample"
PREPARE_ARGS=(--split "${SPLIT:-sentence}")
case "${SPLIT:-sentence}" in
  sentence) ;;
  speaker)
    DATA="${DATA:-data-speaker}"
    EXP="${EXP:-exp-speaker}"
    # 30 epochs as for the sentence split (2023 training seconds: ~20 min beside other jobs here)
    TRAIN_OVERRIDES=(train.epochs=30 "${TRAIN_OVERRIDES[@]}") ;;
  *) echo "error: SPLIT must be sentence or speaker, got ${SPLIT}" >&2; exit 2 ;;
esac
PRETRAIN="${PRETRAIN:-synth}"
case "$PRETRAIN" in
  synth|none) ;;
  *) echo "error: PRETRAIN must be synth or none, got ${PRETRAIN}" >&2; exit 2 ;;
esac
PRETRAIN_DATA="${PRETRAIN_DATA:-$REPO/data/neural_mandarin}"
PRETRAIN_CLIPS="${PRETRAIN_CLIPS:-1300}"
if [ "${SPLIT:-sentence}" = speaker ]; then PRETRAIN_EXP="${PRETRAIN_EXP:-exp-speaker-pretrain}"; fi
PRETRAIN_EXP="${PRETRAIN_EXP:-exp-pretrain}"
# S0252 files in the test set of both splits: 大成市场 / 二二二四零三二零 / 幺二九五八四九七
EXAMPLES=(AISHELL_Sample_data/BAC009S0252W0028.opus AISHELL_Sample_data/BAC009S0252W0101.opus
          AISHELL_Sample_data/BAC009S0252W0110.opus)

stage_pretrain_data() {
  if [ "$PRETRAIN" = none ]; then echo "PRETRAIN=none: no synthetic corpus"; return; fi
  # resumable: a rerun keeps the clips made; evaluation sentences are never spoken
  "$PYTHON" -m recipes.synth_mandarin.prepare --out "$PRETRAIN_DATA" --num-train "$PRETRAIN_CLIPS" \
    --jobs "${JOBS:-2}" --exclude "$DATA/dev.jsonl" "$DATA/test.jsonl"
}

stage_pretrain() {
  if [ "$PRETRAIN" = none ]; then echo "PRETRAIN=none: no pre-training"; return; fi
  dfcnn train conf_pretrain.yaml --resume "data.train_manifest=$PRETRAIN_DATA/train.jsonl" \
    "data.vocab=$PRETRAIN_DATA/vocab.txt" "data.dev_manifest=$DATA/dev.jsonl" "exp_dir=$PRETRAIN_EXP"
  "$PYTHON" -m recipes.synth_mandarin.vocab --base "$PRETRAIN_DATA/vocab.txt" --out "$DATA/vocab_pretrained.txt" \
    "$DATA/train.jsonl"
}

stage_train() {
  if [ "$PRETRAIN" = none ]; then
    train_run "$EXP"
  else  # the pre-trained weights, every syllable they know kept
    train_run "$EXP" "train.init_from=$PRETRAIN_EXP/best.pt" "data.vocab=$DATA/vocab_pretrained.txt"
  fi
}

stage_ship() {
  if [ "${SPLIT:-sentence}" != sentence ]; then
    echo "the shipped mandarin model is the held-out-sentence split's: SPLIT=sentence ./run.sh --stage 9"
    return
  fi
  dfcnn ship "$EXP" --name mandarin --card-info card.yaml --results RESULTS.md --quiet --test "test=$DATA/test.jsonl"
}

standard_stages prepare pretrain_data pretrain train evaluate transcribe lm decoders hanzi ship
