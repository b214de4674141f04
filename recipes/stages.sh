# Sourced by every recipes/<corpus>/run.sh: stage selection, the Python to use, and where the shared
# corpora live. A recipe defines its stages as `if stage_runs N; then ...; fi`.
#
#   ./run.sh                          all stages
#   ./run.sh --stage 2 --stop-stage 3 only stages 2..3
#
# Environment: DFCNN_DATA (corpora; default ../shared/data beside the repository),
#              PYTHON (interpreter; default the repository's .venv).
set -euo pipefail

stage=0
stop_stage=100
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    --stage=*) stage="${1#*=}"; shift ;;
    --stop-stage=*) stop_stage="${1#*=}"; shift ;;
    -h|--help) sed -n '1,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (use --stage N --stop-stage M)" >&2; exit 2 ;;
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
