#!/usr/bin/env bash
# GRPO + SkillBank on SEARCH with verl 0.9 (vLLM rollout, v1 trainer "skillrl_sync").
# The run's settings: configs/grpo_search.yaml; this script adds the machine (see _common.sh).
#
#   MODEL_PATH=... N_GPUS=8 bash examples/grpo_trainer/run_search_skills.sh [hydra overrides...]
#   DRY_RUN=1 bash examples/grpo_trainer/run_search_skills.sh      # or --dry-run: print the resolved config, exit
ENV_NAME=search
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
