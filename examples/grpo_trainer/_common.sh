# Shared body of run_{alfworld,webshop,search}_skills.sh: GRPO + SkillBank with verl 0.9
# (vLLM rollout, v1 trainer "skillrl_sync"). Sourced after the caller sets ENV_NAME.
#
# The run's settings are the recipe config configs/grpo_$ENV_NAME.yaml (sizes, learning rate,
# skills; it extends configs/skillrl_trainer.yaml), so the saved config reproduces the run. This
# script adds machine settings only, from the environment:
#   MODEL_PATH (default Qwen/Qwen2.5-7B-Instruct), N_GPUS (8), NNODES (1), TP (2, vLLM tensor
#   parallel), DATA_ROOT (~/data/skillrl/<env>), PYTHON (python3), SKILLS_JSON and USE_SKILLS
#   (override the recipe's bank / switch), WANDB_API_KEY (set: log to wandb too),
#   DRY_RUN (1, or the --dry-run flag: print the resolved config, check it with verl's
#   validate_config and print the plan -- steps, optimizer updates per step, prompt budget,
#   checkpoints -- as `#` lines; then exit).
# Extra arguments are Hydra overrides passed through (they win over the recipe).
set -euo pipefail

DRY_RUN=${DRY_RUN:-0}
ARGS=()
for arg in "$@"; do
    if [[ "$arg" == "--dry-run" ]]; then DRY_RUN=1; else ARGS+=("$arg"); fi
done

RECIPE=grpo_$ENV_NAME
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-7B-Instruct}
N_GPUS=${N_GPUS:-8}
NNODES=${NNODES:-1}
TP=${TP:-2}
PYTHON=${PYTHON:-python3}
DATA_ROOT=${DATA_ROOT:-$HOME/data/skillrl/$ENV_NAME}
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CMD=(
    "$PYTHON" -m skillrl.main --config-name "$RECIPE"
    data.train_files="$DATA_ROOT/train.parquet"
    data.val_files="$DATA_ROOT/\${env.val_split}.parquet"
    actor_rollout_ref.model.path="$MODEL_PATH"
    actor_rollout_ref.rollout.tensor_model_parallel_size=$TP
    trainer.n_gpus_per_node=$N_GPUS
    trainer.nnodes=$NNODES
    trainer.experiment_name=grpo_skills_$(basename "$MODEL_PATH")
)
if [[ -n "${SKILLS_JSON:-}" ]]; then CMD+=(env.skills_only_memory.skills_json_path="$SKILLS_JSON"); fi
if [[ -n "${USE_SKILLS:-}" ]]; then CMD+=(env.use_skills_only_memory="$USE_SKILLS"); fi
if [[ -n "${WANDB_API_KEY:-}" ]]; then CMD+=("trainer.logger=[console,tensorboard,wandb]"); fi

if [[ "$DRY_RUN" == 1 ]]; then
    # the same config, through skillrl.trainer.launch instead of skillrl.main
    exec "$PYTHON" -m skillrl.trainer.launch "${CMD[@]:3}" "${ARGS[@]}"
fi

# the validation file is named by env.val_split (recipe=skillrl_original: ALFWorld valid_seen)
VAL_SPLIT=$("$PYTHON" -m skillrl.main --config-name "$RECIPE" "${ARGS[@]}" --cfg job --package env --resolve \
    | awk '$1 == "val_split:" {print $2}')
if [[ ! -f "$DATA_ROOT/train.parquet" || ! -f "$DATA_ROOT/$VAL_SPLIT.parquet" ]]; then
    # dataset sizes come from the recipe's `prepare` section
    SIZES=$("$PYTHON" -m skillrl.main --config-name "$RECIPE" "${ARGS[@]}" --cfg job --package prepare)
    TRAIN_SIZE=$(awk '$1 == "train_size:" {print $2}' <<<"$SIZES")
    VAL_SIZE=$(awk '$1 == "val_size:" {print $2}' <<<"$SIZES")
    "$PYTHON" "$SCRIPT_DIR/../data_preprocess/prepare.py" --env "$ENV_NAME" --out "$DATA_ROOT" \
        --train_size "$TRAIN_SIZE" --val_size "$VAL_SIZE" --val_split "$VAL_SPLIT" \
        --skip_existing
fi
exec "${CMD[@]}" "${ARGS[@]}"
