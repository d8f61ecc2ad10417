"""ALFWorld: household tasks as TextWorld games (see :mod:`.env` for the data layout and
episode rules, :mod:`.projection` for the model-output format, :mod:`.prompt` for the prompt,
:mod:`.taxonomy` for the task types, :mod:`.policies` for the scripted policies).

``SPEC.make(data_dir=None, split="valid_seen", require_think=True)`` builds an env;
``SPEC.play`` names the scripted policies (expert, random, perturbed experts) and the run
defaults that ``skillrl eval`` and ``skillrl env play alfworld`` use.
"""

from collections.abc import Mapping
from typing import Any

from agent_system.environments.alfworld.env import (
    SPLITS,
    ALFWorldEnv,
    ALFWorldState,
    discover_games,
    make,
    task_type_of,
)
from agent_system.environments.alfworld.policies import SCRIPTS, contract_policy
from agent_system.environments.alfworld.projection import project_action
from agent_system.environments.alfworld.prompt import build_prompt
from agent_system.environments.alfworld.taxonomy import TASK_TYPES, TAXONOMY
from agent_system.environments.base import ContractCase, EnvSpec, Play


def play_setup(split: str | None, data_dir: str | None, data: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Factory settings of a run outside training (see :class:`~agent_system.environments.base.Play`)."""
    del overrides
    if data:
        raise ValueError("alfworld reads no data file (--data); point --data-dir at the folder holding json_2.1.1/")
    return {"data_dir": data_dir, "split": split or "valid_unseen"}


SPEC = EnvSpec(
    name="alfworld",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    # valid_seen seed 16 plays a pick_two_obj_and_place game the expert wins in 10 steps
    contract=ContractCase(contract_policy, max_steps=60, make_kwargs={"split": "valid_seen"}, seed=16),
    play=Play(SCRIPTS, play_setup, default_split="valid_unseen", eval_splits=("valid_seen", "valid_unseen"),
              train_split="valid_train",
              max_steps=50, history_length=2, parallel=True),
)

__all__ = [
    "SPEC",
    "SPLITS",
    "TASK_TYPES",
    "TAXONOMY",
    "ALFWorldEnv",
    "ALFWorldState",
    "build_prompt",
    "discover_games",
    "make",
    "project_action",
    "task_type_of",
]
