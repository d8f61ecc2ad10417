"""Building blocks of the envs' scripted policies (:class:`~agent_system.environments.base.Script`).

Each env package's ``policies.py`` builds its scripts from these: the faithful ones (expert,
oracle), a random one, and *perturbed* ones that inject a labelled failure (the names are the
heuristic distiller's failure kinds: ``wrong_object``, ``skipped_appliance``,
``loop_two_locations``, ``repeated_action``, ``invalid_action``, ``premature_purchase``,
``answer_without_search``). :func:`perturbed_scripts` turns an env's per-kind actors into a
``perturbed`` script (one applicable kind per episode, drawn from the seed) and one
``perturbed:<kind>`` script per kind.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from agent_system.environments.base import Actor, Script, TurnView

PERTURBED = "perturbed"
"""Name of the script that injects one failure kind per episode."""


def tagged(action: str, thought: str = "scripted") -> str:
    """``action`` as the ``<think>…</think><action>…</action>`` text the ALFWorld and WebShop
    projections read.

    >>> tagged("look")
    '<think>scripted</think><action>look</action>'
    """
    return f"<think>{thought}</think><action>{action}</action>"


def episode_rng(seed: int, salt: str = "") -> random.Random:
    """A random generator for one episode's actor, fixed by the seed (and a per-use salt)."""
    return random.Random(f"{seed}:{salt}")


class RandomAdmissible:
    """Uniformly random admissible action, formatted by ``render`` (``look`` when none is listed)."""

    failure_kind: str | None = None

    def __init__(self, seed: int, render: Callable[[str], str] = tagged, fallback: str = "look") -> None:
        self.rng = episode_rng(seed, "random")
        self.render = render
        self.fallback = fallback

    def act(self, view: TurnView) -> str:
        actions = list(view.admissible_actions or ())
        return self.render(self.rng.choice(actions) if actions else self.fallback)


#: a perturbed actor of one failure kind: ``(seed) -> Actor`` (it sets ``failure_kind`` itself)
KindActor = Callable[[int], Actor]
#: which kinds can be injected into the episode that starts with this view
Applicable = Callable[[TurnView], Sequence[str]]


class _Perturbed:
    """Draws one applicable failure kind at the first turn (from the seed) and delegates to it."""

    def __init__(self, seed: int, kinds: Mapping[str, KindActor], applicable: Applicable) -> None:
        self.seed = seed
        self.kinds = kinds
        self.applicable = applicable
        self.inner: Actor | None = None
        self.failure_kind: str | None = None

    def act(self, view: TurnView) -> str:
        if self.inner is None:
            choices = sorted(k for k in self.applicable(view) if k in self.kinds) or sorted(self.kinds)
            self.failure_kind = episode_rng(self.seed, PERTURBED).choice(choices)
            self.inner = self.kinds[self.failure_kind](self.seed)
        return self.inner.act(view)


def perturbed_scripts(kinds: Mapping[str, KindActor], applicable: Applicable, what: str) -> dict[str, Script]:
    """``perturbed`` plus ``perturbed:<kind>`` for each of ``kinds``.

    ``perturbed`` injects one kind per episode, drawn from the seed among the kinds
    ``applicable`` to the episode (e.g. no skipped appliance in a task that needs none);
    ``perturbed:<kind>`` always injects that kind. ``what`` names the faithful policy the actors
    perturb (for the summaries).
    """
    names = tuple(sorted(kinds))
    out = {PERTURBED: Script(make=lambda seed: _Perturbed(seed, kinds, applicable),
                             summary=f"the {what} with one labelled failure per episode ({', '.join(names)})",
                             failure_kinds=names)}
    for name in names:
        out[f"{PERTURBED}:{name}"] = Script(make=kinds[name], summary=f"the {what} with a {name} failure",
                                            failure_kinds=(name,))
    return out
