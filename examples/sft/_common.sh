# Shared body of run_{alfworld,webshop,search}_sft.sh: SFT data from a teacher (`skillrl sft
# export --format verl`, prompts with the skill block of the env's bank), then verl 0.9's own
# multi-turn SFT trainer (`torchrun -m verl.trainer.sft_trainer`, config sft_trainer_engine).
# Sourced after the caller sets ENV_NAME and TEACHER_DEFAULT.
#
# Settings, from the environment:
#   MODEL_PATH (default Qwen/Qwen2.5-7B-Instruct), N_GPUS (8), NNODES (1), PYTHON (python3),
#   SKILLRL (the skillrl command, default skillrl),
#   TEACHER (the env's scripted teacher; openai:MODEL for a model behind OPENAI_BASE_URL),
#   GAMES (1000 teacher games), VAL_GAMES (50), SPLIT (the env's training split),
#   SKILLS_JSON (the bank whose block goes into the prompts; default memory_data/<env>/skills.json),
#   NO_SKILLS=1 (prompts without skills), DATA_DIR (env data folder), SFT_DATA (where the export
#   goes, default ~/data/skillrl/sft/<env>), CKPT_DIR (checkpoints/skillrl-sft/<env>),
#   MAX_LENGTH (4096 tokens per example), EPOCHS (2), LR (1e-5),
#   DRY_RUN (1, or the --dry-run flag: print the export command and verl's resolved SFT config, exit).
# Extra arguments are Hydra overrides for verl's SFT trainer (they win over the above).
set -euo pipefail

DRY_RUN=${DRY_RUN:-0}
ARGS=()
for arg in "$@"; do
    if [[ "$arg" == "--dry-run" ]]; then DRY_RUN=1; else ARGS+=("$arg"); fi
done

MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-7B-Instruct}
N_GPUS=${N_GPUS:-8}
NNODES=${NNODES:-1}
PYTHON=${PYTHON:-python3}
SKILLRL=${SKILLRL:-skillrl}
TEACHER=${TEACHER:-$TEACHER_DEFAULT}
GAMES=${GAMES:-1000}
VAL_GAMES=${VAL_GAMES:-50}
SFT_DATA=${SFT_DATA:-$HOME/data/skillrl/sft/$ENV_NAME}
CKPT_DIR=${CKPT_DIR:-checkpoints/skillrl-sft/$ENV_NAME}
MAX_LENGTH=${MAX_LENGTH:-4096}
EPOCHS=${EPOCHS:-2}
LR=${LR:-1e-5}

EXPORT=(
    "$SKILLRL" sft export --env "$ENV_NAME" --teacher "$TEACHER" --games "$GAMES"
    --val-games "$VAL_GAMES" --format verl --output "$SFT_DATA"
)
if [[ -n "${SPLIT:-}" ]]; then EXPORT+=(--split "$SPLIT"); fi
if [[ -n "${DATA_DIR:-}" ]]; then EXPORT+=(--data-dir "$DATA_DIR"); fi
if [[ "${NO_SKILLS:-0}" == 1 ]]; then EXPORT+=(--no-skills);
elif [[ -n "${SKILLS_JSON:-}" ]]; then EXPORT+=(--bank "$SKILLS_JSON"); fi

SFT=(
    data.train_files="$SFT_DATA/train.parquet"
    data.val_files="$SFT_DATA/val.parquet"
    data.messages_key=messages
    data.max_length="$MAX_LENGTH"
    data.truncation=left
    model.path="$MODEL_PATH"
    optim.lr="$LR"
    trainer.total_epochs="$EPOCHS"
    trainer.project_name=skillrl-sft
    trainer.experiment_name="${ENV_NAME}_${TEACHER//[:\/]/_}_$(basename "$MODEL_PATH")"
    trainer.default_local_dir="$CKPT_DIR"
    trainer.n_gpus_per_node="$N_GPUS"
    trainer.nnodes="$NNODES"
    "trainer.logger=[console,tensorboard]"
)

if [[ "$DRY_RUN" == 1 ]]; then
    # YAML on stdout: the two steps as comments, then verl's resolved SFT config
    echo "# 1. SFT data (skipped when $SFT_DATA/train.parquet exists):"
    echo "#    ${EXPORT[*]}"
    echo "# 2. torchrun --standalone --nnodes=$NNODES --nproc_per_node=$N_GPUS -m verl.trainer.sft_trainer with:"
    exec "$PYTHON" -m verl.trainer.sft_trainer "${SFT[@]}" "${ARGS[@]}" --cfg job --resolve
fi

if [[ ! -f "$SFT_DATA/train.parquet" ]]; then
    "${EXPORT[@]}"
fi
exec torchrun --standalone --nnodes="$NNODES" --nproc_per_node="$N_GPUS" -m verl.trainer.sft_trainer \
    "${SFT[@]}" "${ARGS[@]}"
