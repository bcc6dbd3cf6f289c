#!/usr/bin/env bash
# avatars128 stage 1 on the GPU machine the project is sometimes lent, as one device call:
#   here:  make gpu-train-wheels              (build/gpu-train-wheels: python-avatars, resvg-py, 2 MB)
#   there: BUDGET=270 make gpu-train OUT=$OUT (renders data/avatars128 with every core, ~40 s)
# It resumes from the committed models/checkpoints/avatars128-stage1.safetensors and trains
# BUDGET seconds (default 270) on the recipe's schedule: sharpening to step 43,000, the detail
# phase (--hard-pixel-weight) to 47,000, then the same losses again from lr 1e-3 to 50,000 (a
# polish, as avatars64's sharper faces came from), each while time is left. The compact checkpoint comes back
# in 15 MB pieces ($OUT/stage1_<step>.partNN: the device returns files of at most 16 MiB); put
# them together here with `cat $FILES/stage1_<step>.part* > models/checkpoints/avatars128-stage1.safetensors`.
# An H200 ran 0.115 s a sharpening step (2,342 steps in 270 s; this project's CPU: 2.0 s).
# The bare machine has torch but not this project: the source tree goes on the path instead.
set -u
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}; BUDGET=${BUDGET:-270}; OUT=${OUT:-out/gpu-train}
mkdir -p "$OUT"
if ! $PY -c "import avatarforge.models" 2>/dev/null; then
  export PYTHONPATH=$PWD/clients/python
  for d in models server benchmarks; do ln -sfn "$PWD/$d" "clients/python/avatarforge/$d"; done
  $PY -m pip install -q --no-index --no-deps build/gpu-train-wheels/*.whl
fi
t=$SECONDS
[ -f data/avatars128/train.npz ] || $PY -c "from avatarforge.models.training.dataset import write_dataset as w; \
w('data/avatars128', 30000, 4000, size=128)" 2>&1 | tr '\r' '\n' | tail -1
echo "data ready in $((SECONDS - t)) s"
common=(--data data/avatars128 --run runs/gpu-train --lr 1e-3 --adv-weight 0.1 --adv-start 33131
        --feature-loss models/checkpoints/classifier128.safetensors --feature-weight 0.02 --batch 16
        --threads 8 --checkpoint-every 2000 --sample-every 1000 --device "$DEVICE")
reached() {  # the step of this machine's run, or before it has one, of the checkpoint it resumes from
  $PY -c "from avatarforge.models.training.train_autoencoder import checkpoint_step as c; \
print(c('runs/gpu-train') or c('$resume'))"
}
train() {  # BUDGET_LEFT STEPS DECAY_START EXTRA... ; a timeout past the budget is a safety net only
  local left=$1 steps=$2 decay=$3; shift 3
  timeout $((left + 90)) $PY -m avatarforge.models.training.train_autoencoder "${common[@]}" --steps "$steps" \
    --decay-start "$decay" --budget-seconds "$left" "$@" 2>&1 | tr '\r' '\n' | grep -v "^autoencoder:" | tail -3
}
# The schedule: (until step, lr decay start, extra losses). Each phase runs while budget is left.
phases=("43000 33131" "47000 43000 --hard-pixel-weight 0.25" "50000 47030 --hard-pixel-weight 0.25")
t0=$SECONDS
resume=${RESUME:-models/checkpoints/avatars128-stage1.safetensors}
for phase in "${phases[@]}"; do
  read -r until decay extra <<< "$phase"
  left=$((BUDGET - (SECONDS - t0)))
  s=$(reached)
  [ "$s" -ge "$until" ] && continue
  [ $left -gt 30 ] || break
  # shellcheck disable=SC2086  # extra is a list of flags
  train "$left" "$until" "$decay" $extra --resume "$resume"
  resume=runs/gpu-train/state.pt
  echo "phase to $until: step $(reached) after $((SECONDS - t0)) s"
done
s=$(reached)
split -b 15M -d runs/gpu-train/compact.safetensors "$OUT/stage1_$s.part"
cp runs/gpu-train/log.jsonl runs/gpu-train/samples_latest.png "$OUT/"
