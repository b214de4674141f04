#!/usr/bin/env bash
# Issue 5's ablation on speechocean762: each lever trained under one short, equal protocol (conf_ablation.yaml
# with train.epochs=$EPOCHS, default 4, same seed), then greedy WER/CER of best.pt on dev and of
# the mean of the last 3 epochs (checkpoint averaging) -> exp-ablation/ablation.md.
#
#   ./ablation.sh                      every variant (skips finished ones, resumes interrupted ones)
#   ./ablation.sh baseline speed       only these
#   EPOCHS=8 ./ablation.sh             a longer protocol (use a fresh ABLATION_DIR)
#
# Variants (each is the baseline plus one change):
#   baseline      conf_ablation.yaml as is
#   synthetic     init_from the espeak demo model (recipes/espeak: synthetic speech, many voices)
#   speed         speed perturbation 0.9 / 1.0 / 1.1
#   residual      residual shortcut around each conv block
#   all_english   + cathy_arctic and ljspeech_subset train (4.49 h; EPOCHS/2 epochs: equal compute)
#   dropout3      head dropout 0.3 (from 0.1)
#   nospecaug     SpecAugment off
#   wide          channels 32-64-128-128 (the paper-sized early blocks; ~2x slower an epoch here)
#   deep3         3 convs per block (from 2): deeper, a wider receptive field
#   time2         2x time pooling (from 4x): 20 ms output frames
#   specaug_light SpecAugment at half strength: one frequency and one time mask (from two each)
#   seed1, seed2  the baseline with other seeds: the run-to-run noise every row above is read against
#   synthetic_residual  residual, started from a residual demo model (recipes/espeak: dfcnn train conf.yaml
#                 exp_dir=exp-residual model.residual=true)
variants=("$@")
set --  # stages.sh parses the positional arguments as run.sh options
source "$(dirname "$0")/../stages.sh"  # PYTHON, dfcnn, DFCNN_DATA; cds into this folder

EPOCHS="${EPOCHS:-4}"
ABLATION_DIR="${ABLATION_DIR:-exp-ablation}"
declare -A VARIANTS=(
  [baseline]=""
  [synthetic]="train.init_from=../espeak/exp/best.pt"
  [speed]="data.speed_perturb=[0.9,1.0,1.1]"
  [residual]="model.residual=true"
  [all_english]="data.train_manifest=data/train_english.jsonl train.epochs=$(( (EPOCHS + 1) / 2 ))"
  [dropout3]="model.dropout=0.3"
  [nospecaug]="specaugment.freq_masks=0 specaugment.time_masks=0"
  [wide]="model.channels=[32,64,128,128]"
  [deep3]="model.convs_per_block=3"
  [time2]="model.time_pool=[2,1,1,1]"
  [specaug_light]="specaugment.freq_masks=1 specaugment.time_masks=1"
  [seed1]="train.seed=1"
  [seed2]="train.seed=2"
  [synthetic_residual]="train.init_from=../espeak/exp-residual/best.pt model.residual=true"
)
ORDER=(baseline synthetic speed residual all_english dropout3 nospecaug wide deep3 time2 specaug_light seed1 seed2 synthetic_residual)
[ ${#variants[@]} -gt 0 ] && ORDER=("${variants[@]}")

for name in "${ORDER[@]}"; do
  [ -n "${VARIANTS[$name]+set}" ] || { echo "unknown variant $name (known: ${!VARIANTS[*]})" >&2; exit 2; }
  exp="$ABLATION_DIR/$name"
  if [ -f "$exp/done" ]; then echo "$name: done"; continue; fi
  case "$name" in
    synthetic) [ -f ../espeak/exp/best.pt ] || { echo "run recipes/espeak/run.sh (or make demo) first" >&2; exit 1; } ;;
    synthetic_residual) [ -f ../espeak/exp-residual/best.pt ] || { echo "train recipes/espeak with model.residual=true into exp-residual first" >&2; exit 1; } ;;
    all_english) [ -f data/train_english.jsonl ] || "$PYTHON" -m "$PACKAGE.english_corpora" ;;
  esac
  echo "==== $name: ${VARIANTS[$name]:-conf_ablation.yaml as is} ($(date +%H:%M:%S))"
  # shellcheck disable=SC2086
  dfcnn train conf_ablation.yaml exp_dir="$exp" train.epochs="$EPOCHS" data.num_workers=1 ${VARIANTS[$name]} --resume --quiet
  mapfile -t last < <(ls "$exp"/epoch-*.pt | sort -V | tail -3)
  dfcnn average --out "$exp/avg-last3.pt" "${last[@]}"
  touch "$exp/done"
done
"$PYTHON" -m "$PACKAGE.ablation_table" --dir "$ABLATION_DIR" --epochs "$EPOCHS"
