"""ALFWorld: household tasks as TextWorld games (see :mod:`.env` for the data layout and
episode rules, :mod:`.projection` for the model-output format, :mod:`.prompt` for the prompt,
:mod:`.taxonomy` for the task types, :mod:`.play` for scripted runs).

``SPEC.make(data_dir=None, split="valid_seen", require_think=True)`` builds an env;
``SPEC.play`` plays scripted games (``skillrl env play alfworld``).
"""

from agent_system.environments.alfworld.env import (
    SPLITS,
    ALFWorldEnv,
    ALFWorldState,
    discover_games,
    make,
    task_type_of,
)
from agent_system.environments.alfworld.play import POLICIES, contract_policy, play
from agent_system.environments.alfworld.projection import project_action
from agent_system.environments.alfworld.prompt import build_prompt
from agent_system.environments.alfworld.taxonomy import TASK_TYPES, TAXONOMY
from agent_system.environments.base import ContractCase, EnvSpec, ScriptedPlay

SPEC = EnvSpec(
    name="alfworld",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    # valid_seen seed 16 plays a pick_two_obj_and_place game the expert wins in 10 steps
    contract=ContractCase(contract_policy, max_steps=60, make_kwargs={"split": "valid_seen"}, seed=16),
    play=ScriptedPlay(play, tuple(POLICIES)),
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
    "play",
    "project_action",
    "task_type_of",
]
