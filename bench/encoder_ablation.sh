#!/usr/bin/env bash
# DoorNet v2 ablation (issue #10): the port as-is against fine-tuning arms with the same budget,
# all trained with the cross-validation holdout A (never sees LFW folds 1-5 nor CelebA half A),
# then scored on what they never saw:  gatekeeper eval ablation runs/v2-abl-*
#
#   bash bench/encoder_ablation.sh [STEPS]      # default 600 steps of 32 identities x 4 photos
#
# Needs the face caches (`gatekeeper train cache`) and the port (`gatekeeper train port`). Two arms
# train at a time, one thread each (a 2-core machine).
set -euo pipefail
STEPS=${1:-600}
arms=(
  "v2-abl-bh-keep --miner batch-hard --keep-close 1"
  "v2-abl-bh      --miner batch-hard --keep-close 0"
  "v2-abl-sh-keep --miner semi-hard  --keep-close 1"
  "v2-abl-sh      --miner semi-hard  --keep-close 0"
  "v2-abl-bh-keep10-slow --miner batch-hard --keep-close 10 --lr 1e-5"
  "v2-abl-sh-keep10-slow --miner semi-hard  --keep-close 10 --lr 1e-5"
  # UTKFace's training share (never the open-set strangers) as extra negatives in every batch
  "v2-abl-bh-neg64-keep10  --miner batch-hard --keep-close 10 --lr 1e-5 --negatives 64"
  "v2-abl-bh-neg64-keep1   --miner batch-hard --keep-close 1  --lr 5e-5 --negatives 64"
  "v2-abl-bh-neg128-keep3  --miner batch-hard --keep-close 3  --lr 2e-5 --negatives 128"
)
printf '%s\n' "${arms[@]}" | xargs -P 2 -I{} sh -c \
  'set -- {}; name=$1; shift; gatekeeper train run --name "$name" --holdout A --steps '"$STEPS"' --threads 1 "$@" > "runs-$name.log" 2>&1 && echo "done $name"'
gatekeeper eval ablation runs/v2-abl-*
