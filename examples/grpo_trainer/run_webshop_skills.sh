#!/usr/bin/env bash
# GRPO + SkillBank on WEBSHOP with verl 0.9 (vLLM rollout, v1 trainer "skillrl_sync").
# The run's settings: configs/grpo_webshop.yaml; this script adds the machine (see _common.sh).
#
#   MODEL_PATH=... N_GPUS=8 bash examples/grpo_trainer/run_webshop_skills.sh [hydra overrides...]
#   DRY_RUN=1 bash examples/grpo_trainer/run_webshop_skills.sh      # or --dry-run: print the resolved config, exit
ENV_NAME=webshop
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
