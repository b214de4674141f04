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
# Stages: 0 prepare $data (manifests, pinyin vocab)  1 train $exp  2 syllable error rate (WER) on test
#         3 transcribe examples  4 a 3-gram syllable LM (KenLM) on the training transcripts -> $exp/lm
#         5 LM weight tuned on dev; test greedy / beam / +lexicon / +LM
#         6 pinyin -> characters, as DFCNN's reference pipeline does: a 3-gram character LM on the training
#           transcripts whose lexicon spells each character by its readings (dfcnn lm --hanzi) -> $exp/lm-hanzi;
#           LM weight tuned on dev; test character error rate -> $exp/eval-test-hanzi
source "$(dirname "$0")/../stages.sh" "$@"
cd "$(dirname "$0")"

corpus="$DFCNN_DATA/aishell1_sample"
case "${SPLIT:-sentence}" in
  sentence) data=data; exp=exp; overrides=() ;;
  # 30 epochs as for the sentence split (2023 training seconds: ~20 min beside other jobs here)
  speaker) data=data-speaker; exp=exp-speaker; overrides=(train.epochs=30) ;;
  *) echo "error: SPLIT must be sentence or speaker, got ${SPLIT}" >&2; exit 2 ;;
esac

if stage_runs 0; then
  if [ -f "$data/.done" ]; then
    echo "$data/ already prepared (remove $data/.done to redo)"
  else
    "$PYTHON" prepare.py --corpus-dir "$corpus" --split "${SPLIT:-sentence}" --out "$data"
    touch "$data/.done"
  fi
fi

if stage_runs 1; then
  dfcnn train conf.yaml --resume exp_dir="$exp" data.train_manifest="$data/train.jsonl" \
    data.dev_manifest="$data/dev.jsonl" data.vocab="$data/vocab.txt" "${overrides[@]}"
fi

if stage_runs 2; then
  dfcnn evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" --out "$exp/eval-test"
fi

if stage_runs 3; then
  # S0252 files in the test set of both splits: 大成市场 / 二二二四零三二零 / 幺二九五八四九七
  dfcnn transcribe --model "$exp/best.pt" \
    "$corpus/AISHELL_Sample_data/BAC009S0252W0028.opus" \
    "$corpus/AISHELL_Sample_data/BAC009S0252W0101.opus" \
    "$corpus/AISHELL_Sample_data/BAC009S0252W0110.opus"
fi

if stage_runs 4; then
  dfcnn lm --text "$data/train.jsonl" --model "$exp/best.pt" --out "$exp/lm" --order "${LM_ORDER:-3}"
fi

if stage_runs 5; then
  dfcnn tune --model "$exp/best.pt" --manifest "$data/dev.jsonl" --lm "$exp/lm/lm.bin" --out "$exp/tune" --quiet
  tuned=$("$PYTHON" -c "import json, sys; b = json.load(open(sys.argv[1]))
print('--lm', sys.argv[2], '--lm-weight', b['lm_weight'], '--word-score', b['word_score'])" \
    "$exp/tune/best.json" "$exp/lm/lm.bin")
  echo "tuned on dev: $tuned"
  # shellcheck disable=SC2086
  dfcnn evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" $tuned --compare \
    --out "$exp/eval-test-decoders" --quiet
fi

if stage_runs 6; then
  dfcnn lm --text "$data/train.jsonl" --model "$exp/best.pt" --hanzi --out "$exp/lm-hanzi" --order "${LM_ORDER:-3}"
  # a pinyin syllable spells up to 6 characters here: a small grid keeps the single-core search short
  dfcnn tune --model "$exp/best.pt" --manifest "$data/dev.jsonl" --lm "$exp/lm-hanzi/lm.bin" --out "$exp/tune-hanzi" \
    --lm-weights 0.5,1,2 --word-scores 0 --quiet
  tuned=$("$PYTHON" -c "import json, sys; b = json.load(open(sys.argv[1]))
print('--lm', sys.argv[2], '--lm-weight', b['lm_weight'], '--word-score', b['word_score'])" \
    "$exp/tune-hanzi/best.json" "$exp/lm-hanzi/lm.bin")
  echo "tuned on dev: $tuned"
  # shellcheck disable=SC2086
  dfcnn evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" $tuned --out "$exp/eval-test-hanzi" --quiet
fi
