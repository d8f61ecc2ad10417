"""Household: procedurally generated ALFWorld-style games small enough for a CPU policy.

ALFWorld's six task types, its command grammar, its observation text, its projection and its
prompt builder (imported from :mod:`agent_system.environments.alfworld`, not copied), in games of
4–6 receptacles and a handful of objects whose shortest plans take 3–10 steps. Layers, each
usable alone:

- :mod:`.world` — object/receptacle kinds, goal templates, seen and held-out combinations (data);
- :mod:`.game` — :class:`Game`, :class:`State`, :func:`admissible`, :func:`apply`, :func:`is_won`
  (pure rules and text);
- :mod:`.generate` — deterministic games per ``(split, seed)``, disjoint splits;
- :mod:`.expert` — shortest plans from any state (full knowledge), and a searching expert that
  knows only what the agent has seen;
- :mod:`.env` — the :class:`HouseholdEnv` adapter; :mod:`.policies` — the scripted policies.

``SPEC.make(split="train", require_think=True)`` builds an env; ``SPEC.play`` names the scripted
policies and run defaults (``skillrl env play household --policy expert|search|random|perturbed``,
``skillrl eval --env household``).
"""

from agent_system.environments.alfworld.projection import project_action
from agent_system.environments.alfworld.prompt import build_prompt
from agent_system.environments.alfworld.taxonomy import TAXONOMY
from agent_system.environments.base import ContractCase, EnvSpec, Play
from agent_system.environments.household.env import HouseholdEnv, HouseholdState, make
from agent_system.environments.household.expert import next_action, plan, search_action
from agent_system.environments.household.game import Game, State, admissible, apply, intro, is_won
from agent_system.environments.household.generate import EVAL_SPLIT_SIZE, eval_games, game_by_id, game_for
from agent_system.environments.household.policies import SCRIPTS, contract_policy, play_setup
from agent_system.environments.household.world import SPLITS, TASK_TYPES

SPEC = EnvSpec(
    name="household",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(contract_policy, max_steps=20, seed=0),
    play=Play(SCRIPTS, play_setup, default_split="valid_unseen", eval_splits=("valid_seen", "valid_unseen"),
              train_split="train", max_steps=50, history_length=2),
)

__all__ = [
    "EVAL_SPLIT_SIZE",
    "SPEC",
    "SPLITS",
    "TASK_TYPES",
    "Game",
    "HouseholdEnv",
    "HouseholdState",
    "State",
    "admissible",
    "apply",
    "build_prompt",
    "contract_policy",
    "eval_games",
    "game_by_id",
    "game_for",
    "intro",
    "is_won",
    "make",
    "next_action",
    "plan",
    "project_action",
    "search_action",
]
