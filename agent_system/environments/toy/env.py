"""A two-turn "go to the place, then take the goal object" task.

A game: four places, each holding one object: the goal object in one of them, a distractor in
the others. Turn 1 admissible actions are ``go to <place>``; at a place, ``take <object>`` for
the object there. So the decision that matters is where to go (read off the task), and the
take must still be well-formed and admissible: reward needs the whole admissible sequence. Taking the goal object at its place wins
(reward 1.0, done); taking another object loses (done); an invalid action costs the turn.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any

from agent_system.environments.base import GameRef, Outcome, ParsedAction, TextEnv
from agent_system.environments.toy.projection import project_action

PLACES = ("kitchen", "garden", "office", "garage")
OBJECTS = {"apple": "fruit", "pear": "fruit", "key": "tool", "hammer": "tool", "book": "paper", "letter": "paper"}
"""Object -> its kind (the task type of a game is the kind of its goal object)."""
START = "You are in the hall. You can go to the " + ", the ".join(PLACES) + "."


@dataclass(frozen=True)
class ToyGame:
    """One game: the goal object, where it is, and the distractor in each place."""

    goal: str
    place: str
    distractors: tuple[str, ...]
    """One object per entry of :data:`PLACES`, in that order."""

    @property
    def game_id(self) -> str:
        return f"{self.goal}@{self.place}:{','.join(self.distractors)}"

    @property
    def task(self) -> str:
        return f"take the {self.goal} from the {self.place}"

    def objects_at(self, place: str) -> list[str]:
        """What lies at ``place``: the goal at its place, the place's distractor elsewhere."""
        return [self.goal] if place == self.place else [self.distractors[PLACES.index(place)]]


def sample_game(rng: random.Random) -> ToyGame:
    goal = rng.choice(sorted(OBJECTS))
    place = rng.choice(PLACES)
    others = [o for o in sorted(OBJECTS) if o != goal]
    return ToyGame(goal, place, tuple(rng.choice(others) for _ in PLACES))


def parse_game_id(game_id: str) -> ToyGame:
    """Inverse of :attr:`ToyGame.game_id`; ``goal@place`` alone gets distractors from a hash.

    Raises:
        ValueError: malformed id or unknown object/place.
    """
    head, _, tail = game_id.partition(":")
    goal, _, place = head.partition("@")
    if goal not in OBJECTS or place not in PLACES:
        raise ValueError(f"bad toy game id {game_id!r}: want 'object@place' with object in "
                         f"{sorted(OBJECTS)} and place in {list(PLACES)}")
    if tail:
        distractors = tuple(tail.split(","))
        if len(distractors) != len(PLACES) or any(d not in OBJECTS or d == goal for d in distractors):
            raise ValueError(f"bad toy game id {game_id!r}: need {len(PLACES)} distractors != goal")
        return ToyGame(goal, place, distractors)
    rng = random.Random(zlib.crc32(head.encode()))
    others = [o for o in sorted(OBJECTS) if o != goal]
    return ToyGame(goal, place, tuple(rng.choice(others) for _ in PLACES))


class ToyEnv(TextEnv):
    """The toy env (see the module docstring). ``seed=None`` draws from the env's own RNG."""

    env_name = "toy"

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._game: ToyGame | None = None
        self._location: str | None = None

    def admissible_actions(self) -> list[str] | None:
        if self._game is None or self.finished:
            return []
        if self._location is None:
            return [f"go to {p}" for p in PLACES]
        return [f"take {o}" for o in self._game.objects_at(self._location)]

    # -- TextEnv hooks -------------------------------------------------------------
    def _start(self, seed: int | None, task: str | None) -> tuple[str, GameRef]:
        if task is not None:
            self._game = parse_game_id(task)
        else:
            self._game = sample_game(random.Random(seed) if seed is not None else self._rng)
        self._location = None
        return START, GameRef(task=self._game.task, task_type=OBJECTS[self._game.goal], game_id=self._game.game_id)

    def _project(self, text: str, admissible: list[str] | None) -> ParsedAction:
        return project_action(text, admissible)

    def _apply(self, action: str) -> Outcome:
        assert self._game is not None
        verb, _, arg = action.partition(" ")
        if verb == "go":
            self._location = arg.removeprefix("to ")
            objs = " and a ".join(self._game.objects_at(self._location))
            return Outcome(f"You arrive at the {self._location}. You see a {objs}.")
        # take <object>: ends the episode
        won = arg == self._game.goal and self._location == self._game.place
        obs = f"You take the {arg}." + (" Task done." if won else " That is not the goal.")
        return Outcome(obs, 1.0 if won else 0.0, True, won)

    def _invalid_observation(self, parsed: ParsedAction) -> str:
        return f"Nothing happens. ({parsed.reason})"


def make(seed: int | None = None, split: str | None = None, data_dir: str | None = None) -> ToyEnv:
    """``EnvSpec.make``: a :class:`ToyEnv`. The toy task has no data: ``split`` and ``data_dir``
    are accepted (trainers pass them to every env) and ignored."""
    del split, data_dir
    return ToyEnv(seed=seed)


def oracle_policy(observation: str, info: dict[str, Any], admissible: list[str] | None) -> str:
    """A scripted winner (for contract tests and demos): go to the named place, take the goal.

    >>> oracle_policy("", {"task": "take the key from the garden"}, ["go to kitchen", "go to garden"])
    '<action>go to garden</action>'
    """
    words = str(info.get("task", "")).split()
    goal, place = (words[2], words[-1]) if len(words) >= 6 else ("", "")
    for wanted in (f"go to {place}", f"take {goal}"):
        if admissible and wanted in admissible:
            return f"<action>{wanted}</action>"
    return f"<action>{admissible[0] if admissible else 'look'}</action>"
