"""ALFWorld's scripted policies: the hand-coded expert, a random one, and perturbed experts.

Every actor reads the game through the :class:`~agent_system.environments.base.TurnView` the agent
loop hands it: ``info["expert_action"]`` (the hand-coded expert's next command, in
:class:`~.env.ALFWorldState`), the admissible commands and the task. Outputs are raw
``<think>…</think><action>…</action>`` text, projected by the env like any model output.

Perturbed experts inject one labelled failure (``actor.failure_kind``) and then never win:

- ``wrong_object``: every ``take`` the expert asks for takes another kind of object instead;
- ``skipped_appliance`` (heat, cool, clean, look tasks): when the expert asks for the appliance,
  the object is carried to the goal receptacle instead, and no appliance is ever used;
- ``loop_two_locations``: from the expert's first move on, goes back and forth between two places;
- ``repeated_action``: after a few expert steps, repeats one action that changes nothing;
- ``invalid_action``: paraphrases every expert command (``walk to`` for ``go to`` …), which the
  game does not accept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.alfworld.env import HIDDEN_COMMANDS
from agent_system.environments.base import Script, TurnView, stateless_script
from agent_system.environments.scripts import RandomAdmissible, episode_rng, perturbed_scripts, tagged

_TAKE = re.compile(r"^take (.+?) from (.+)$")
_PUT = re.compile(r"^(?:move|put) (.+?) (?:to|in/on|into|onto|in|on) (.+)$")
_APPLIANCE = re.compile(r"^(heat|cool|clean) (.+?) with (.+)$|^use (.+)$")
_NUMBER = re.compile(r"\s+\d+$")
_TARGET = re.compile(r"\b(?:in|on|into|onto|in/on)\s+(?:the\s+|a\s+|an\s+|some\s+)?([a-z]+)\s*\.?\s*$")
#: task types whose goal needs an appliance (heat, cool, clean) or the lamp (look)
APPLIANCE_TYPES = frozenset({"heat", "cool", "clean", "look_at_obj_in_light"})


def kind_of(entity: str) -> str:
    """``"apple 1"`` -> ``"apple"``."""
    return _NUMBER.sub("", entity.strip().lower())


def expert_command(view: TurnView) -> str:
    """The hand-coded expert's next command (``look`` when it has none).

    When its plan fails, alfworld's expert picks a random admissible command, ``help`` included;
    the env hides ``help`` and rejects it without a game step, so the expert would ask for
    ``help`` again on every turn to the end of the episode. ``look`` takes its place: a real step,
    after which the expert plans again.
    """
    return _sendable(view.info.get("expert_action"))


def _sendable(command: Any) -> str:
    command = str(command or "look")
    return "look" if command in HIDDEN_COMMANDS else command


def goal_receptacle(task: str) -> str | None:
    """The receptacle kind a goal ends on (``"put a hot apple in fridge."`` -> ``"fridge"``)."""
    m = _TARGET.search(task.lower().strip())
    return m.group(1) if m else None


class Expert:
    """The hand-coded expert (``info["expert_action"]``)."""

    failure_kind: str | None = None

    def act(self, view: TurnView) -> str:
        return tagged(expert_command(view))


class WrongObject:
    """Takes another kind of object whenever the expert asks for a ``take``."""

    failure_kind = "wrong_object"

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, self.failure_kind)

    def act(self, view: TurnView) -> str:
        command = expert_command(view)
        adm = list(view.admissible_actions or ())
        m = _TAKE.match(command)
        if m is None:
            return tagged(command)
        wanted = kind_of(m.group(1))
        others = [a for a in adm if (t := _TAKE.match(a)) and kind_of(t.group(1)) != wanted]
        if others:
            return tagged(self.rng.choice(others))
        moves = [a for a in adm if a.startswith("go to ")]  # nothing else to take here: leave
        return tagged(self.rng.choice(moves) if moves else "look")


class SkippedAppliance:
    """Follows the expert until it asks for the appliance, then carries the object to the goal
    receptacle without using it, and wanders (never using an appliance) for the rest."""

    failure_kind = "skipped_appliance"

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, self.failure_kind)
        self.skipping = False
        self.placed = False

    def act(self, view: TurnView) -> str:
        command = expert_command(view)
        if not self.skipping and _APPLIANCE.match(command) is None:
            return tagged(command)
        self.skipping = True
        adm = list(view.admissible_actions or ())
        target = goal_receptacle(str(view.info.get("task", "")))
        if target and not self.placed:
            put = [a for a in adm if (m := _PUT.match(a)) and kind_of(m.group(2)) == target]
            if put:
                self.placed = True
                return tagged(put[0])
            go = [a for a in adm if a.startswith("go to ") and kind_of(a[len("go to "):]) == target]
            if go:
                return tagged(go[0])
        calm = [a for a in adm if _APPLIANCE.match(a) is None and not a.startswith(("take ", "move ", "put "))]
        return tagged(self.rng.choice(calm) if calm else "look")


class LoopTwoLocations:
    """Goes back and forth between two places from the expert's first move on."""

    failure_kind = "loop_two_locations"

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, self.failure_kind)
        self.places: list[str] = []
        self.turns = 0

    def act(self, view: TurnView) -> str:
        command = expert_command(view)
        adm = list(view.admissible_actions or ())
        if not self.places:
            if not command.startswith("go to "):
                return tagged(command)
            others = [a for a in adm if a.startswith("go to ") and a != command]
            if not others:
                return tagged(command)
            self.places = [command, self.rng.choice(others)]
        action = self.places[self.turns % 2]
        self.turns += 1
        return tagged(action)


class RepeatedAction:
    """Follows the expert for one to three steps, then repeats an action that changes nothing."""

    failure_kind = "repeated_action"

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, self.failure_kind)
        self.lead = 1 + self.rng.randrange(3)
        self.repeat: str | None = None

    def act(self, view: TurnView) -> str:
        if view.turn < self.lead:
            return tagged(expert_command(view))
        if self.repeat is None:
            adm = list(view.admissible_actions or ())
            idle = [a for a in ("look", "inventory") if a in adm]
            self.repeat = idle[0] if idle else next((a for a in adm if a.startswith("examine ")), "look")
        return tagged(self.repeat)


#: how a paraphrase turns a command into one the game does not know
_PARAPHRASES = (("go to ", "walk to "), ("take ", "grab "), ("move ", "place "), ("put ", "place "),
                ("open ", "pull open "), ("close ", "shut "))


def paraphrase(command: str) -> str:
    """A command the game does not accept, with the same meaning.

    >>> paraphrase("go to desk 1"), paraphrase("look")
    ('walk to desk 1', 'please look')
    """
    for verb, other in _PARAPHRASES:
        if command.startswith(verb):
            return other + command[len(verb):]
    return "please " + command


class InvalidAction:
    """Paraphrases every expert command (never admissible)."""

    failure_kind = "invalid_action"

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        return tagged(paraphrase(expert_command(view)))


PERTURBATIONS = {
    "wrong_object": WrongObject,
    "skipped_appliance": SkippedAppliance,
    "loop_two_locations": LoopTwoLocations,
    "repeated_action": RepeatedAction,
    "invalid_action": InvalidAction,
}


def applicable(view: TurnView) -> Sequence[str]:
    """The failure kinds that fit the episode (``skipped_appliance`` only where the goal needs one)."""
    kinds = [k for k in PERTURBATIONS if k != "skipped_appliance"]
    if str(view.info.get("task_type", "")) in APPLIANCE_TYPES:
        kinds.append("skipped_appliance")
    return kinds


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Sequence[str] | None) -> str:
    """The shared contract test's policy and the ``expert`` script: the expert's next command,
    statelessly (``look`` for none or for ``help``, as :func:`expert_command`)."""
    return tagged(_sendable(info.get("expert_action")))


SCRIPTS: dict[str, Script] = {
    "expert": stateless_script(contract_policy, "the hand-coded expert (info['expert_action'])"),
    "random": Script(make=lambda seed: RandomAdmissible(seed), summary="a uniformly random admissible command"),
    **perturbed_scripts(PERTURBATIONS, applicable, "expert"),
}
"""ALFWorld's scripted policies by name; the first (``expert``) is the default."""
