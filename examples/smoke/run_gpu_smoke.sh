#!/usr/bin/env bash
# First-run smoke test of the verl path on 1-2 GPUs: a 0.5B model, 2 games x group 2, 3 env
# steps, 2 training steps with a checkpoint and a validation after each, then a resumed run
# that must continue at step 3 with the model and the skill bank of global_step_2. Prints one
# line, PASS or FAIL (exit status 0 / 1).
#
#   MODEL_PATH=Qwen/Qwen2.5-0.5B-Instruct N_GPUS=1 bash examples/smoke/run_gpu_smoke.sh
#   bash examples/smoke/run_gpu_smoke.sh --cpu     # the CPU half (CI): config, verl's
#                                                  # validate_config, the dry-run plan, the data
# Environment: MODEL_PATH, N_GPUS (1), ENV_NAME (alfworld; its data must be installed),
# TRAIN_SPLIT/VAL_SPLIT (valid_train/valid_seen), PYTHON (python3), WORK (a new temp folder).
set -euo pipefail

CPU_ONLY=0
for arg in "$@"; do [[ "$arg" == "--cpu" ]] && CPU_ONLY=1; done
PYTHON=${PYTHON:-python3}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-0.5B-Instruct}
N_GPUS=${N_GPUS:-1}
ENV_NAME=${ENV_NAME:-alfworld}
TRAIN_SPLIT=${TRAIN_SPLIT:-valid_train}
VAL_SPLIT=${VAL_SPLIT:-valid_seen}
WORK=${WORK:-$(mktemp -d -t skillrl-smoke-XXXXXX)}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
mkdir -p "$WORK"

fail() { echo "FAIL: $*"; exit 1; }

# 3 training rows (3 steps of 2 games), 2 validation rows
"$PYTHON" examples/data_preprocess/prepare.py --env "$ENV_NAME" --out "$WORK/data" --train_size 6 --val_size 2 \
    --train_split "$TRAIN_SPLIT" --val_split "$VAL_SPLIT" >/dev/null || fail "data preparation"

ARGS=(
    --config-name "grpo_$ENV_NAME"
    data.train_files="$WORK/data/train.parquet" data.val_files="$WORK/data/$VAL_SPLIT.parquet"
    env.train_split="$TRAIN_SPLIT" env.val_split="$VAL_SPLIT"
    data.train_batch_size=2 env.rollout.n=2 env.max_steps=3
    data.max_prompt_length=2048 data.max_response_length=128
    actor_rollout_ref.model.path="$MODEL_PATH"
    actor_rollout_ref.actor.ppo_mini_batch_size=1 actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2 actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=2
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 actor_rollout_ref.rollout.gpu_memory_utilization=0.4
    actor_rollout_ref.rollout.agent.num_workers=2 env.workers.num_processes=1 env.workers.envs_per_process=2
    trainer.n_gpus_per_node="$N_GPUS" trainer.nnodes=1
    trainer.total_epochs=1 trainer.save_freq=1 trainer.test_freq=1 trainer.val_before_train=true
    trainer.max_actor_ckpt_to_keep=3 "trainer.logger=[console,file]"
    trainer.project_name=skillrl_smoke trainer.experiment_name=smoke
    trainer.default_local_dir="$WORK/ckpt"
    +ray_kwargs.ray_init.runtime_env.env_vars.VERL_FILE_LOGGER_PATH="$WORK/metrics.jsonl"
)

# --- the CPU half: the config composes, passes verl's validate_config, the plan is 2 steps ---
"$PYTHON" -m skillrl.trainer.launch "${ARGS[@]}" trainer.total_training_steps=2 >"$WORK/dry_run.yaml" \
    2>"$WORK/dry_run.err" || fail "dry run: $(tail -1 "$WORK/dry_run.err")"
grep -q "^# steps: 2 (6 rows from $WORK/data/train.parquet" "$WORK/dry_run.yaml" || fail "dry run: not 2 steps"
grep -q "^# optimizer updates per step: 2 " "$WORK/dry_run.yaml" || fail "dry run: not 2 updates per step"
grep -q "^# verl validate_config: passed" "$WORK/dry_run.yaml" || fail "dry run: verl's validate_config"
if [[ "$CPU_ONLY" == 1 ]]; then
    echo "PASS (CPU half: config, validate_config, plan, data) in $WORK"
    exit 0
fi

# --- the GPU half: 2 steps, then resume for a third ---
export VERL_FILE_LOGGER_PATH="$WORK/metrics.jsonl"
"$PYTHON" -m skillrl.main "${ARGS[@]}" trainer.total_training_steps=2 >"$WORK/run1.log" 2>&1 \
    || fail "first run (log: $WORK/run1.log): $(grep -m1 -E '^error:|Error' "$WORK/run1.log" || tail -1 "$WORK/run1.log")"
cp "$WORK/metrics.jsonl" "$WORK/metrics_run1.jsonl"
# mark the bank of global_step_2 (version 7) so the resumed run shows where its bank came from
[[ -f "$WORK/ckpt/global_step_2/skill_bank_version.json" ]] || fail "global_step_2/skill_bank_version.json missing"
echo '{"version": 7}' > "$WORK/ckpt/global_step_2/skill_bank_version.json"
"$PYTHON" -m skillrl.main "${ARGS[@]}" trainer.total_training_steps=3 >"$WORK/run2.log" 2>&1 \
    || fail "resumed run (log: $WORK/run2.log): $(grep -m1 -E '^error:|Error' "$WORK/run2.log" || tail -1 "$WORK/run2.log")"

WORK="$WORK" "$PYTHON" - <<'PY' || exit 1
import json, os, sys
work = os.environ["WORK"]
def fail(msg):
    print(f"FAIL: {msg} (work folder {work})")
    sys.exit(1)
def records(name):
    with open(os.path.join(work, name)) as fh:
        return [json.loads(line) for line in fh if line.strip()]
run1, run2 = records("metrics_run1.jsonl"), records("metrics.jsonl")
keys = set().union(*(r["data"] for r in run1))
need = ["actor/pg_loss", "skillrl/bank/version", "skillrl/rollout/updates", "skillrl/rollout/failed_sessions", "skillrl/rollout/won/mean",
        "skillrl/rollout/history_cuts/mean", "val-core/skillrl/success_rate", "val-core/skillrl/failed_sessions"]
missing = [k for k in need if k not in keys]
if missing:
    fail(f"metric keys missing: {missing}")
updates = {r["data"]["skillrl/rollout/updates"] for r in run1 if "skillrl/rollout/updates" in r["data"]}
if updates != {2.0}:
    fail(f"updates per step {updates}, expected 2")
ckpt = os.path.join(work, "ckpt")
for step in (1, 2, 3):
    for name in ("skill_bank.json", "skill_bank_version.json"):
        if not os.path.isfile(os.path.join(ckpt, f"global_step_{step}", name)):
            fail(f"global_step_{step}/{name} missing")
if open(os.path.join(ckpt, "latest_checkpointed_iteration.txt")).read().strip() != "3":
    fail("latest_checkpointed_iteration.txt is not 3 after the resumed run")
train_steps = sorted({r["step"] for r in run2 if "skillrl/rollout/updates" in r["data"]})
if train_steps != [3]:
    fail(f"the resumed run trained steps {train_steps}, expected [3]")
versions = {r["data"]["skillrl/bank/version"] for r in run2 if r["step"] == 3 and "skillrl/bank/version" in r["data"]}
if versions != {7.0}:
    fail(f"the resumed run's bank version is {versions}, expected 7 (the one saved in global_step_2)")
if json.load(open(os.path.join(ckpt, "global_step_3", "skill_bank_version.json")))["version"] != 7:
    fail("global_step_3 does not carry the restored bank version 7")
print(f"PASS: 2 steps + resume at step 3 with the model and bank (version 7) of global_step_2; metric keys and "
      f"bank files in global_step_1..3 ({work})")
PY
