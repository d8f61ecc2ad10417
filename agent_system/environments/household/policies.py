"""Household's scripted policies, read through the agent loop's
:class:`~agent_system.environments.base.TurnView` like every env's:

- ``expert``: the shortest plan from the full game state (``info["expert_action"]``);
- ``search``: the expert that knows only what the agent has seen (``info["search_action"]``),
  the teacher to imitate;
- ``random``: a uniformly random admissible command;
- ``perturbed`` / ``perturbed:KIND``: ALFWorld's perturbed experts (same grammar, same
  ``expert_action`` field), one labelled failure per episode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.alfworld.policies import PERTURBATIONS, applicable
from agent_system.environments.base import Script, stateless_script
from agent_system.environments.scripts import RandomAdmissible, perturbed_scripts, tagged


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Sequence[str] | None) -> str:
    """The expert, statelessly (the shared contract test's policy)."""
    return tagged(info.get("expert_action") or "look")


def search_policy(observation: str, info: Mapping[str, Any], admissible: Sequence[str] | None) -> str:
    """The searching expert's next command."""
    return tagged(info.get("search_action") or "look")


SCRIPTS: dict[str, Script] = {
    "expert": stateless_script(contract_policy, "shortest plans from the full game state (info['expert_action'])"),
    "search": stateless_script(search_policy, "the expert that knows only what it has seen (info['search_action'])"),
    "random": Script(make=lambda seed: RandomAdmissible(seed), summary="a uniformly random admissible command"),
    **perturbed_scripts(PERTURBATIONS, applicable, "expert"),
}
"""Household's scripted policies by name; the first (``expert``) is the default."""


def play_setup(split: str | None, data_dir: str | None, data: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Factory settings of a run outside training: games are generated, so no data is read."""
    del data_dir, overrides
    if data:
        raise ValueError("household reads no data file (--data): its games are generated from the seed")
    return {"split": split or "valid_unseen"}
