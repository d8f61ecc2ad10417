"""ALFWorld's task taxonomy: the six ALFRED task types, their data-folder prefixes and the names
older code and hand-written banks use, and a classifier of the goal text.

The task type of a game comes from its task folder (:data:`TASK_TYPE_BY_PREFIX`); a goal text
alone ("put a hot apple in fridge") is classified by :func:`classify_goal`, which agrees with
the folder on every goal of the ``valid_*`` splits.
"""

from __future__ import annotations

import re

from agent_system.environments.taxonomy import TaskTaxonomy

TASK_TYPES = ("pick_and_place", "pick_two_obj_and_place", "look_at_obj_in_light", "clean", "heat", "cool")
"""The canonical task types, in display order."""

TASK_TYPE_BY_PREFIX = {
    "pick_and_place_simple": "pick_and_place",
    "pick_two_obj_and_place": "pick_two_obj_and_place",
    "look_at_obj_in_light": "look_at_obj_in_light",
    "pick_clean_then_place_in_recep": "clean",
    "pick_heat_then_place_in_recep": "heat",
    "pick_cool_then_place_in_recep": "cool",
}
"""ALFRED task-folder prefix (``pick_heat_then_place_in_recep-Egg-None-Fridge-1``) -> task type."""

OLDER_NAMES = {
    "put": "pick_and_place",
    "pick_place": "pick_and_place",
    "pick_and_place_obj": "pick_and_place",
    "examine": "look_at_obj_in_light",
    "look_at": "look_at_obj_in_light",
    "look": "look_at_obj_in_light",
    "look_at_obj": "look_at_obj_in_light",
    "examine_in_light": "look_at_obj_in_light",
    "pick_two": "pick_two_obj_and_place",
    "pick_two_obj": "pick_two_obj_and_place",
    "put_two": "pick_two_obj_and_place",
    "puttwo": "pick_two_obj_and_place",
    "two_obj": "pick_two_obj_and_place",
    "pick_clean_then_place": "clean",
    "clean_then_place": "clean",
    "pick_heat_then_place": "heat",
    "heat_then_place": "heat",
    "pick_cool_then_place": "cool",
    "cool_then_place": "cool",
}
"""Task-type names used by earlier code and hand-written banks (e.g. the seed banks' ``examine``)."""

_W = r"\b"


def classify_goal(text: str, hint: str | None = None) -> str | None:
    """Task type of a goal text (``None`` when nothing matches); ``hint`` is unused.

    Only the goal counts: text before ``Your task is to:`` is ignored.

    >>> classify_goal("Your task is to: put a hot apple in fridge."), classify_goal("examine the book with the desklamp")
    ('heat', 'look_at_obj_in_light')
    """
    del hint
    t = text.lower()
    m = re.search(r"your task is to:?\s*(.*)", t)
    if m:
        t = m.group(1)
    if re.search(_W + r"(two|2|both|pair of)" + _W, t):
        return "pick_two_obj_and_place"
    if re.search(r"desk ?lamp|floor ?lamp|\blamp\b|\blight\b|\bexamine\b|\blook at\b|\binspect\b", t):
        return "look_at_obj_in_light"
    if re.search(_W + r"(clean|cleaned|wash|washed|rinse|rinsed)" + _W, t):
        return "clean"
    if re.search(_W + r"(heat|heated|hot|warm|warmed|cooked)" + _W, t):
        return "heat"
    if re.search(_W + r"(cool|cooled|cold|chill|chilled|refrigerate[d]?)" + _W, t):
        return "cool"
    if re.search(_W + r"(put|place|move|set|take|bring|find)" + _W, t):
        return "pick_and_place"
    return None


TAXONOMY = TaskTaxonomy(
    categories=TASK_TYPES,
    aliases={**{k: v for k, v in TASK_TYPE_BY_PREFIX.items() if k != v}, **OLDER_NAMES},
    classify_text=classify_goal,
    hint_is_authoritative=True,
)
"""ALFWorld's :class:`TaskTaxonomy` (``SPEC.taxonomy``): the env's task-type hint wins."""
