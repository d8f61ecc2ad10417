"""The built-in ``toy`` environment: a two-turn text task for tests and quick starts.

The agent reads ``Your task is to: take the key from the garden.``, must first ``go to garden``
and then ``take key``. Reward 1.0 only for that admissible sequence; anything else ends with 0.
No data files, no model, deterministic per seed. Exported as :data:`SPEC`; ``SPEC.play`` offers
the ``oracle`` and a ``random`` policy (``skillrl eval --env toy --games N``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_system.environments.base import ContractCase, EnvSpec, Play, Script, stateless_script
from agent_system.environments.scripts import RandomAdmissible
from agent_system.environments.toy.env import ToyEnv, make, oracle_policy
from agent_system.environments.toy.projection import project_action
from agent_system.environments.toy.prompt import build_prompt
from agent_system.environments.toy.taxonomy import TASK_TYPES, TAXONOMY

def _bare(action: str) -> str:
    return f"<action>{action}</action>"


def play_setup(split: str | None, data_dir: str | None, data: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The toy task has no data and no splits: games come from the seed."""
    del split, data_dir, overrides
    if data:
        raise ValueError("toy reads no data file (--data)")
    return {}


SCRIPTS = {
    "oracle": stateless_script(oracle_policy, "goes to the named place and takes the goal object"),
    "random": Script(make=lambda seed: RandomAdmissible(seed, render=_bare), summary="a uniformly random admissible action"),
}

SPEC = EnvSpec(
    name="toy",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(oracle_policy, max_steps=4),
    play=Play(SCRIPTS, play_setup, max_steps=2, history_length=2),
)

__all__ = ["SPEC", "TASK_TYPES", "TAXONOMY", "ToyEnv", "build_prompt", "make", "oracle_policy", "project_action"]
