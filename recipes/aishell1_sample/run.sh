#!/usr/bin/env bash
# AISHELL-1 sample: 1000 Mandarin utterances (1.21 h) of speakers S0150 and S0252; the 71 with Latin
# words are left out. Tonal pinyin tokens: WER is the syllable error rate. Two splits:
#   SPLIT=sentence (default): held-out sentences, both speakers in every split -> data/, exp/
#   SPLIT=speaker: train on S0150 (dev a slice of it), test on S0252      -> data-speaker/, exp-speaker/
#
#   ./run.sh                          prepare, train, evaluate on test, transcribe three test files
#   SPLIT=speaker ./run.sh            the same for the held-out-speaker split
#   ./run.sh --stage 2 --stop-stage 3 only evaluate and transcribe
#
# Stages: 0 prepare $DATA (manifests, pinyin vocab)  1 train $EXP  2 syllable error rate (WER) on test
#         3 transcribe examples  4 a 3-gram syllable LM (KenLM) on the training transcripts -> $EXP/lm
#         5 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
#         6 pinyin -> characters, as DFCNN's reference pipeline does: a 3-gram character LM on the training
#           transcripts whose lexicon spells each character by its readings (dfcnn lm --hanzi) -> $EXP/lm-hanzi;
#           LM weight tuned on dev and shipped with the model ($EXP/decoder.json: `dfcnn transcribe --model exp`
#           writes characters); test CER greedy and as shipped -> $EXP/eval-test-hanzi
#         7 dfcnn ship: the model as the shipped `mandarin` (dfcnn/shipped/mandarin), its card (card.yaml plus
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
# S0252 files in the test set of both splits: 大成市场 / 二二二四零三二零 / 幺二九五八四九七
EXAMPLES=(AISHELL_Sample_data/BAC009S0252W0028.opus AISHELL_Sample_data/BAC009S0252W0101.opus
          AISHELL_Sample_data/BAC009S0252W0110.opus)

stage_ship() {
  if [ "${SPLIT:-sentence}" != sentence ]; then
    echo "the shipped mandarin model is the held-out-sentence split's: SPLIT=sentence ./run.sh --stage 7"
    return
  fi
  dfcnn ship "$EXP" --name mandarin --card-info card.yaml --results RESULTS.md --quiet --test "test=$DATA/test.jsonl"
}

standard_stages prepare train evaluate transcribe lm decoders hanzi ship
