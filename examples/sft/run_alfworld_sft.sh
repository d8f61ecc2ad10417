#!/usr/bin/env bash
# SFT for ALFWORLD: 'expert' teacher turns with skills (skillrl sft export --format verl), then verl 0.9's
# multi-turn SFT trainer. The settings are listed in _common.sh.
#
#   MODEL_PATH=... N_GPUS=8 bash examples/sft/run_alfworld_sft.sh [verl sft_trainer overrides...]
#   DRY_RUN=1 bash examples/sft/run_alfworld_sft.sh      # or --dry-run: print the export command and verl's config, exit
ENV_NAME=alfworld
TEACHER_DEFAULT=expert
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
