"""The built-in ``toy`` environment: a two-turn text task for tests and quick starts.

The agent reads ``Your task is to: take the key from the garden.``, must first ``go to garden``
and then ``take key``. Reward 1.0 only for that admissible sequence; anything else ends with 0.
No data files, no model, deterministic per seed. Exported as :data:`SPEC`.
"""

from __future__ import annotations

from agent_system.environments.base import ContractCase, EnvSpec
from agent_system.environments.toy.env import ToyEnv, make, oracle_policy
from agent_system.environments.toy.projection import project_action
from agent_system.environments.toy.prompt import build_prompt
from agent_system.environments.toy.taxonomy import TASK_TYPES, TAXONOMY

SPEC = EnvSpec(
    name="toy",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(oracle_policy, max_steps=4),
)

__all__ = ["SPEC", "TASK_TYPES", "TAXONOMY", "ToyEnv", "build_prompt", "make", "oracle_policy", "project_action"]
