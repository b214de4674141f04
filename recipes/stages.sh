# Sourced by every recipes/<corpus>/run.sh: stage selection, the Python to use, and where the shared
# corpora live. A recipe defines its stages as `if stage_runs N; then ...; fi`.
#
#   ./run.sh                          all stages
#   ./run.sh --stage 2 --stop-stage 3 only stages 2..3
#   ./run.sh --data-dir /corpora/LibriSpeech   recipes with a download stage: use this copy, download nothing
#
# Environment: DFCNN_DATA (corpora; default ../shared/data beside the repository),
#              DATA_DIR (same as --data-dir), PYTHON (interpreter; default the repository's .venv).
set -euo pipefail

stage=0
stop_stage=100
DATA_DIR="${DATA_DIR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    --stage=*) stage="${1#*=}"; shift ;;
    --stop-stage=*) stop_stage="${1#*=}"; shift ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --data-dir=*) DATA_DIR="${1#*=}"; shift ;;
    -h|--help) sed -n '1,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (use --stage N --stop-stage M [--data-dir DIR])" >&2; exit 2 ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DFCNN_DATA="${DFCNN_DATA:-$(cd "$REPO/.." && pwd)/shared/data}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's dfcnn, installed or not
dfcnn() { "$PYTHON" -m dfcnn "$@"; }

stage_runs() {
  # stage_runs N: true when stage N is inside --stage..--stop-stage; prints a banner.
  if [ "$1" -ge "$stage" ] && [ "$1" -le "$stop_stage" ]; then
    echo "==== stage $1 ($(date +%H:%M:%S)) ===="
    return 0
  fi
  return 1
}

# The stages every recipe shares.
download_stage() {
  # download_stage DIR [ARGS...]: fetch.py --out DIR ARGS (resumable, verified, skips what is there),
  # or nothing when --data-dir / DATA_DIR names an existing copy of the corpus
  if [ -n "$DATA_DIR" ]; then
    echo "using the corpus at $DATA_DIR (--data-dir): nothing to download"
  else
    "$PYTHON" fetch.py --out "$@"
  fi
}
prepare_stage() {
  # prepare_stage ARGS...: run prepare.py once; data/.done marks a finished preparation
  if [ -f data/.done ]; then
    echo "data/ already prepared (remove data/.done to redo)"
  else
    "$PYTHON" prepare.py "$@" --out data
    touch data/.done
  fi
}
train_stage() {
  # --resume continues an interrupted run where it stopped, and starts a fresh one when there is none
  dfcnn train conf.yaml --resume "$@"
}
evaluate_stage() {
  dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl --out exp/eval-test "$@"
}
lm_stage() {
  # lm_stage [TEXT...]: a word n-gram LM (KenLM) on the training transcripts plus any extra text,
  # and its lexicon spelt in the model's vocabulary -> exp/lm/{lm.arpa,lm.bin,lexicon.txt}
  dfcnn lm --text data/train.jsonl "$@" --model exp/best.pt --out exp/lm --order "${LM_ORDER:-3}"
}
compare_decoders_stage() {
  # LM weight and word score tuned on dev, then the test set decoded four ways from one network pass:
  # greedy, beam, beam+lexicon, beam+lexicon+LM -> exp/eval-test-decoders/results.md
  dfcnn tune --model exp/best.pt --manifest data/dev.jsonl --lm exp/lm/lm.bin --out exp/tune --quiet "$@"
  echo "tuned on dev: $(tuned_lm_options)"
  # shellcheck disable=SC2046
  dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl $(tuned_lm_options) --compare \
    --out exp/eval-test-decoders --quiet
}
tuned_lm_options() {
  # the decoding options compare_decoders_stage chose: --lm exp/lm/lm.bin --lm-weight W --word-score S
  "$PYTHON" -c "import json; b = json.load(open('exp/tune/best.json'))
print('--lm exp/lm/lm.bin --lm-weight', b['lm_weight'], '--word-score', b['word_score'])"
}
