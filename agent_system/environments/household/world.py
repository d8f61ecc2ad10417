"""The household world as data: object and receptacle kinds, what each task may ask, and the
split of task combinations into seen and held-out ones.

Names follow ALFWorld (``countertop``, ``sinkbasin``, ``desklamp`` …) but the vocabulary is
small on purpose (12 object kinds, 10 receptacle kinds, one lamp) so that a word-level policy
built from the training text knows every word of every split.

A *combination* is ``(task_type, object kind, receptacle kind)``: the receptacle is the target of
the placing tasks and the lamp's holder for ``look_at_obj_in_light``. Every combination the rules
allow is either *seen* (train and ``valid_seen`` games) or *held out* (only ``valid_unseen``
games), chosen once by a fixed shuffle (:func:`held_out_combos`) under the constraint that each
object kind and each receptacle kind of a task type still occurs in a seen combination of that
type: ``valid_unseen`` asks for new pairings of known words, never for unknown words.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

#: the six ALFWorld task types, in ALFWorld's order (same names as the ALFWorld env)
TASK_TYPES = ("pick_and_place", "pick_two_obj_and_place", "look_at_obj_in_light", "clean", "heat", "cool")

#: splits: ``train`` (any seed), and two evaluation splits of :data:`EVAL_SPLIT_SIZE` games each
SPLITS = ("train", "valid_seen", "valid_unseen")


@dataclass(frozen=True)
class ReceptacleKind:
    """A kind of receptacle (``cabinet``); games hold numbered instances (``cabinet 2``)."""

    openable: bool = False
    """Closed at the start; must be opened before anything is taken from or moved into it."""
    appliance: str = ""
    """The treatment it gives (``heat``, ``cool``, ``clean``) or '' for none."""
    repeatable: bool = False
    """Whether a game may hold two instances of it."""


RECEPTACLES: dict[str, ReceptacleKind] = {
    "cabinet": ReceptacleKind(openable=True, repeatable=True),
    "countertop": ReceptacleKind(repeatable=True),
    "desk": ReceptacleKind(),
    "diningtable": ReceptacleKind(),
    "drawer": ReceptacleKind(openable=True, repeatable=True),
    "fridge": ReceptacleKind(openable=True, appliance="cool"),
    "microwave": ReceptacleKind(openable=True, appliance="heat"),
    "shelf": ReceptacleKind(repeatable=True),
    "sidetable": ReceptacleKind(),
    "sinkbasin": ReceptacleKind(appliance="clean"),
}
"""Receptacle kinds by name."""

#: the appliance kind each treatment task uses (ALFWorld: heat with a microwave, cool with a
#: fridge, clean with a sinkbasin)
APPLIANCE_FOR = {"heat": "microwave", "cool": "fridge", "clean": "sinkbasin"}

LAMP = "desklamp"
"""The one light source (an object that cannot be taken; ``use desklamp 1`` toggles it)."""
LAMP_HOLDERS = ("desk", "sidetable")
"""Receptacle kinds a lamp stands on."""

_FOOD_PLACES = ("countertop", "diningtable", "fridge", "microwave", "sinkbasin")
_DISH_PLACES = ("cabinet", "countertop", "diningtable", "microwave", "shelf", "sinkbasin")
_PLATE_PLACES = ("cabinet", "countertop", "diningtable", "fridge", "shelf", "sinkbasin")
_CUTLERY_PLACES = ("countertop", "diningtable", "drawer", "sinkbasin")
_DESK_PLACES = ("desk", "drawer", "shelf", "sidetable")


@dataclass(frozen=True)
class ObjectKind:
    """A kind of takeable object (``apple``); games hold numbered instances (``apple 1``)."""

    places: tuple[str, ...]
    """Receptacle kinds where it may lie at the start and where a placing task may ask for it
    (``sinkbasin`` is never a placing target)."""
    treatments: frozenset[str] = frozenset()
    """Which of ``heat``, ``cool``, ``clean`` apply to it."""
    lamp_task: bool = False
    """Whether ``look_at_obj_in_light`` may ask to examine it under the lamp."""


_HCC = frozenset({"heat", "cool", "clean"})
OBJECTS: dict[str, ObjectKind] = {
    "apple": ObjectKind(_FOOD_PLACES, _HCC),
    "book": ObjectKind(_DESK_PLACES, lamp_task=True),
    "cd": ObjectKind(_DESK_PLACES, lamp_task=True),
    "cup": ObjectKind(_DISH_PLACES, _HCC),
    "egg": ObjectKind(_FOOD_PLACES, frozenset({"heat", "cool"})),
    "knife": ObjectKind(_CUTLERY_PLACES, frozenset({"clean"})),
    "mug": ObjectKind(_DISH_PLACES, _HCC, lamp_task=True),
    "pen": ObjectKind(_DESK_PLACES, lamp_task=True),
    "plate": ObjectKind(_PLATE_PLACES, frozenset({"cool", "clean"})),
    "potato": ObjectKind(_FOOD_PLACES, _HCC),
    "spoon": ObjectKind(_CUTLERY_PLACES, frozenset({"clean"})),
    "tomato": ObjectKind(_FOOD_PLACES, _HCC),
}
"""Object kinds by name."""

#: treatment -> the adjective of ALFWorld's goal text and the ``examine`` feedback
ADJECTIVE = {"heat": "hot", "cool": "cool", "clean": "clean"}

#: goal templates per task type, ALFWorld's own two phrasings each (``{obj}``, ``{recep}``, ``{lamp}``)
GOAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "pick_and_place": ("put a {obj} in {recep}", "put some {obj} on {recep}"),
    "pick_two_obj_and_place": ("put two {obj} in {recep}", "find two {obj} and put them in {recep}"),
    "look_at_obj_in_light": ("look at {obj} under the {lamp}", "examine the {obj} with the {lamp}"),
    "clean": ("put a clean {obj} in {recep}", "clean some {obj} and put it in {recep}"),
    "heat": ("put a hot {obj} in {recep}", "heat some {obj} and put it in {recep}"),
    "cool": ("put a cool {obj} in {recep}", "cool some {obj} and put it in {recep}"),
}

TREATMENT_OF = {"clean": "clean", "heat": "heat", "cool": "cool"}
"""Task type -> the treatment its goal object needs (placing tasks without one are absent)."""

HELD_OUT_SHARE = 0.25
"""Share of each task type's combinations kept for ``valid_unseen`` (before the coverage rule)."""
_HELD_OUT_SEED = 20260111


def kind_of(name: str) -> str:
    """The kind of an instance name: ``"cabinet 2" -> "cabinet"``."""
    return name.rsplit(" ", 1)[0]


def placing_targets(task_type: str, obj: str) -> tuple[str, ...]:
    """Receptacle kinds a placing task of ``task_type`` may ask ``obj`` to be put in.

    The object's places, never the sinkbasin, and never the appliance of the task's own
    treatment (no "put a hot apple in microwave", as in ALFWorld).
    """
    banned = {"sinkbasin"}
    if task_type in TREATMENT_OF:
        banned.add(APPLIANCE_FOR[TREATMENT_OF[task_type]])
    return tuple(p for p in OBJECTS[obj].places if p not in banned)


@functools.lru_cache(maxsize=None)
def all_combos() -> tuple[tuple[str, str, str], ...]:
    """Every ``(task_type, object kind, receptacle kind)`` the rules allow, sorted."""
    out: list[tuple[str, str, str]] = []
    for task_type in TASK_TYPES:
        for obj, kind in sorted(OBJECTS.items()):
            if task_type == "look_at_obj_in_light":
                if kind.lamp_task:
                    out.extend((task_type, obj, holder) for holder in LAMP_HOLDERS)
                continue
            if task_type in TREATMENT_OF and TREATMENT_OF[task_type] not in kind.treatments:
                continue
            out.extend((task_type, obj, recep) for recep in placing_targets(task_type, obj))
    return tuple(sorted(out))


@functools.lru_cache(maxsize=None)
def held_out_combos() -> frozenset[tuple[str, str, str]]:
    """The combinations only ``valid_unseen`` asks for (fixed; see the module docstring)."""
    held: set[tuple[str, str, str]] = set()
    for task_type in TASK_TYPES:
        combos = [c for c in all_combos() if c[0] == task_type]
        budget = max(1, round(HELD_OUT_SHARE * len(combos)))
        order = list(combos)
        random.Random(f"{_HELD_OUT_SEED}:{task_type}").shuffle(order)
        seen = set(combos)
        for combo in order:
            if len(seen) == len(combos) - budget:
                break
            rest = seen - {combo}
            if any(c[1] == combo[1] for c in rest) and any(c[2] == combo[2] for c in rest):
                seen = rest
                held.add(combo)
    return frozenset(held)


def combos_for(split: str, task_type: str) -> tuple[tuple[str, str, str], ...]:
    """The combinations games of ``split`` and ``task_type`` draw from (sorted).

    Raises:
        ValueError: unknown split or task type.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown household split {split!r}; known: {', '.join(SPLITS)}")
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown household task type {task_type!r}; known: {', '.join(TASK_TYPES)}")
    unseen = split == "valid_unseen"
    held = held_out_combos()
    return tuple(c for c in all_combos() if c[0] == task_type and (c in held) == unseen)
