# Sourced by every recipes/<corpus>/run.sh: the command line, the paths, and the stages recipes share.
# A run.sh sets its corpus paths and options (the variables below), then calls
# `standard_stages NAME...`, which runs stage_NAME for each NAME, numbered 0, 1, ... in that order.
# A stage only one recipe has is a stage_NAME function in its run.sh.
#
#   CORPUS        the corpus folder the recipe's prepare reads (--corpus-dir)
#   EXAMPLES      files the transcribe stage transcribes, relative to $CORPUS
#   PREPARE_ARGS, FETCH_ARGS, TUNE_ARGS   more options for prepare.py, fetch.py and dfcnn tune
#   HANZI_TUNE_ARGS  the LM weight / word score grid of the hanzi stage (default: 0.5, 1, 2 and 0)
#   TEST_SETS     manifests the evaluate stage scores, $DATA/<set>.jsonl (default: test; a set after
#                 the first whose manifest is missing is skipped)
#   TRAIN_OVERRIDES  key=value overrides of conf.yaml (the command line's come after the recipe's)
#
# Every run.sh:
#   ./run.sh                          all stages
#   ./run.sh --stage 2 --stop-stage 3 only stages 2..3
#   ./run.sh train.epochs=5           key=value: overrides of conf.yaml, for the train stage
#   ./run.sh --data-dir /corpora/LibriSpeech   recipes with a download stage: use this copy, download nothing
#
# Environment (a path given here is relative to where run.sh is started):
#   DATA          prepared manifests and vocabulary (default: data in the recipe folder)
#   EXP           checkpoints, evaluations, LM, tuning (default: exp in the recipe folder)
#   DFCNN_DATA    the shared corpora (default: ../shared/data beside the repository)
#   DOWNLOAD_DIR  where the download stage puts the corpus (default: data/<recipe> at the repository root)
#   DATA_DIR      same as --data-dir
#   PYTHON        the interpreter (default: the repository's .venv, else python3)
#   LM_ORDER      n-gram order of the LM stage (default: 3)
#   DECODER_LM    the folder under $EXP whose lm.bin the decoders stage tunes and ships (default: lm)
set -euo pipefail

usage() {
  # run.sh's header comment, then the part of this one that holds for every run.sh
  awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"
  echo
  awk '!/^#/ {exit} /^# Every run.sh:/ {show = 1} show {sub(/^# ?/, ""); print}' "${BASH_SOURCE[0]}"
}

stage=0
stop_stage=100
DATA_DIR="${DATA_DIR:-}"
TRAIN_OVERRIDES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    --stage=*) stage="${1#*=}"; shift ;;
    --stop-stage=*) stop_stage="${1#*=}"; shift ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --data-dir=*) DATA_DIR="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    [!-]*=*) TRAIN_OVERRIDES+=("$1"); shift ;;
    *) echo "error: unknown option $1 (use --stage N --stop-stage M [--data-dir DIR] [key=value ...])" >&2; exit 2 ;;
  esac
done

# paths from the environment or the command line are relative to the caller; the stages run in the recipe folder
for name in DATA EXP DATA_DIR DOWNLOAD_DIR DFCNN_DATA; do
  case "${!name:-}" in
    ""|/*) ;;
    *) if [ -d "${!name}" ]; then printf -v "$name" '%s' "$(cd "${!name}" && pwd)"
       else printf -v "$name" '%s' "$PWD/${!name}"; fi ;;
  esac
done
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECIPE="$(cd "$(dirname "$0")" && pwd)"
cd "$RECIPE"
DFCNN_DATA="${DFCNN_DATA:-$(cd "$REPO/.." && pwd)/shared/data}"
DOWNLOAD_DIR="${DOWNLOAD_DIR:-$REPO/data/$(basename "$RECIPE")}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
export DFCNN_DATA
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's dfcnn and recipes, installed or not
dfcnn() { "$PYTHON" -m dfcnn "$@"; }
PACKAGE="recipes.$(basename "$RECIPE")"  # the recipe's Python modules: $PACKAGE.prepare, $PACKAGE.fetch

CORPUS=""
EXAMPLES=()
PREPARE_ARGS=()
FETCH_ARGS=()
TUNE_ARGS=()
HANZI_TUNE_ARGS=(--lm-weights 0.5,1,2 --word-scores 0)
TEST_SETS=(test)

stage_runs() {
  # stage_runs N: true when stage N is inside --stage..--stop-stage; prints a banner.
  if [ "$1" -ge "$stage" ] && [ "$1" -le "$stop_stage" ]; then
    echo "==== stage $1 ($(date +%H:%M:%S)) ===="
    return 0
  fi
  return 1
}

standard_stages() {
  # standard_stages NAME...: stage_NAME for each NAME, numbered from 0, those inside --stage..--stop-stage
  DATA="${DATA:-data}"
  EXP="${EXP:-exp}"
  if [ "$DATA" = "$RECIPE/data" ]; then DATA=data; fi  # the default, named as conf.yaml names it
  if [ "$EXP" = "$RECIPE/exp" ]; then EXP=exp; fi
  local name number=0
  for name in "$@"; do
    if ! declare -F "stage_$name" > /dev/null; then
      echo "error: $0 names a stage '$name', but neither it nor stages.sh defines stage_$name" >&2
      exit 2
    fi
  done
  for name in "$@"; do
    if stage_runs "$number"; then "stage_$name"; fi
    number=$((number + 1))
  done
}

needs() {
  # needs NAME...: stop with a message naming run.sh when it left one of these variables empty
  local name
  for name in "$@"; do
    if [ -z "${!name:-}" ]; then  # an empty string or array
      echo "error: $0 sets no $name, which stage ${FUNCNAME[1]#stage_} needs" >&2
      exit 2
    fi
  done
}

# The stages recipes share.
stage_download() {
  # the recipe's fetch --out $DOWNLOAD_DIR (resumable, verified, skips what is there), or nothing when
  # --data-dir / DATA_DIR names an existing copy of the corpus
  if [ -n "$DATA_DIR" ]; then
    echo "using the corpus at $DATA_DIR (--data-dir): nothing to download"
  else
    "$PYTHON" -m "$PACKAGE.fetch" --out "$DOWNLOAD_DIR" "${FETCH_ARGS[@]}"
  fi
}
stage_prepare() {
  # the recipe's prepare: $CORPUS -> $DATA (manifests, vocabulary), once; $DATA/.done marks a finished preparation
  if [ -f "$DATA/.done" ]; then
    echo "$DATA/ already prepared (remove $DATA/.done to redo)"
  else
    needs CORPUS
    "$PYTHON" -m "$PACKAGE.prepare" --corpus-dir "$CORPUS" "${PREPARE_ARGS[@]}" --out "$DATA"
    touch "$DATA/.done"
  fi
}
train_run() {
  # train_run EXP_DIR [OVERRIDE...]: conf.yaml trained into EXP_DIR. conf.yaml names data/: another
  # DATA folder is passed as overrides. --resume continues an interrupted run where it stopped, and
  # starts a fresh one when there is none.
  local exp_dir=$1 paths=()
  shift
  if [ "$DATA" != data ]; then
    paths+=("data.train_manifest=$DATA/train.jsonl" "data.dev_manifest=$DATA/dev.jsonl" "data.vocab=$DATA/vocab.txt")
  fi
  dfcnn train conf.yaml --resume "${paths[@]}" "exp_dir=$exp_dir" "$@" "${TRAIN_OVERRIDES[@]}"
}
stage_train() {
  train_run "$EXP"
}
stage_evaluate() {
  # WER/CER of best.pt on each of TEST_SETS -> $EXP/eval-<set>/
  local set
  for set in "${TEST_SETS[@]}"; do
    if [ "$set" != "${TEST_SETS[0]}" ] && [ ! -f "$DATA/$set.jsonl" ]; then
      echo "no $DATA/$set.jsonl: $set not evaluated"
      continue
    fi
    dfcnn evaluate --model "$EXP/best.pt" --manifest "$DATA/$set.jsonl" --out "$EXP/eval-$set"
  done
}
stage_transcribe() {
  # the recipe's EXAMPLES (each prefixed with $CORPUS/), decoded as the model ships (greedy unless tuned with --ship)
  needs CORPUS EXAMPLES
  dfcnn transcribe --model "$EXP/best.pt" "${EXAMPLES[@]/#/$CORPUS/}"
}
stage_lm() {
  # stage_lm [TEXT...]: a word n-gram LM (KenLM) on the training transcripts plus any extra text,
  # and its lexicon spelt in the model's vocabulary -> $EXP/lm/{lm.arpa,lm.bin,lexicon.txt}
  dfcnn lm --text "$DATA/train.jsonl" "$@" --model "$EXP/best.pt" --out "$EXP/lm" --order "${LM_ORDER:-3}"
}
stage_decoders() {
  # LM weight and word score tuned on dev -> $EXP/tune/best.json, shipped with the model ($EXP/decoder.json:
  # transcribe, serve and load_model decode with it), then the test set decoded four ways from one network
  # pass: greedy, beam, beam+lexicon, beam+lexicon+LM -> $EXP/eval-test-decoders/
  dfcnn tune --model "$EXP/best.pt" --manifest "$DATA/dev.jsonl" --lm "$EXP/${DECODER_LM:-lm}/lm.bin" --out "$EXP/tune" \
    --ship --quiet "${TUNE_ARGS[@]}"
  dfcnn evaluate --model "$EXP/best.pt" --manifest "$DATA/test.jsonl" --decoder-config "$EXP/tune/best.json" \
    --compare --out "$EXP/eval-test-decoders" --quiet
}
stage_hanzi() {
  # pinyin models: syllables -> characters, as DFCNN's reference pipeline does. A character n-gram LM on
  # the training transcripts whose lexicon spells each character by its readings (dfcnn lm --hanzi) ->
  # $EXP/lm-hanzi; its weight tuned on dev and shipped ($EXP/decoder.json: the model writes characters
  # wherever it is loaded); test CER greedy and as shipped -> $EXP/eval-test-hanzi. A syllable spells up
  # to 6 characters: the small default grid keeps the single-core search short.
  dfcnn lm --text "$DATA/train.jsonl" --model "$EXP/best.pt" --hanzi --out "$EXP/lm-hanzi" --order "${LM_ORDER:-3}"
  dfcnn tune --model "$EXP/best.pt" --manifest "$DATA/dev.jsonl" --lm "$EXP/lm-hanzi/lm.bin" --out "$EXP/tune-hanzi" \
    "${HANZI_TUNE_ARGS[@]}" --ship --quiet
  dfcnn evaluate --model "$EXP" --manifest "$DATA/test.jsonl" --out "$EXP/eval-test-hanzi" --quiet  # greedy and as shipped
}
