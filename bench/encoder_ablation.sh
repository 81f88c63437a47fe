#!/usr/bin/env bash
# Encoder ablation (issue #2): the same short budget for each objective, all trained with the
# cross-validation holdout A (never sees LFW folds 1-5 nor CelebA half A), then scored on what
# they never saw:  gatekeeper eval ablation runs/abl-*
#
#   bash bench/encoder_ablation.sh [EPOCHS] [STEPS]     # default 4 x 170 steps per arm
#
# Two arms train at a time, one thread each (a 2-core machine); on a GPU box they use CUDA.
set -euo pipefail
EPOCHS=${1:-4}
STEPS=${2:-170}
arms=(
  "abl-bh-distill --loss triplet --miner batch-hard --distill 1"
  "abl-bh         --loss triplet --miner batch-hard --distill 0"
  "abl-sh-distill --loss triplet --miner semi-hard  --distill 1"
  "abl-sh         --loss triplet --miner semi-hard  --distill 0"
  "abl-ntxent-distill --loss ntxent --distill 1"
)
printf '%s\n' "${arms[@]}" | xargs -P 2 -I{} sh -c \
  'set -- {}; name=$1; shift; gatekeeper train run --name "$name" --holdout A --epochs '"$EPOCHS"' --steps '"$STEPS"' --threads 1 "$@" > "runs-$name.log" 2>&1 && echo "done $name"'
