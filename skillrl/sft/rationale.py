"""Short, truthful rationales for scripted teachers: the ``<think>`` text of SFT targets.

A scripted teacher has no reasoning to show, but it knows *why* it acts: the sub-goal its plan
is on (find the object, fetch it, treat it, place it, light the lamp) and, with a skill bank,
the injected skill written for that sub-goal. The think text says exactly that and nothing
it does not know — never a placeholder. Pure functions, tested on strings.

Two styles: ``short`` (the sub-goal alone, a few words: cheap for a tiny policy to generate)
and ``full`` (the task, the sub-goal with its reason, and the skill that applies).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

STYLES = ("short", "full")

#: treatment verb -> adjective in goal texts ("put a hot apple in fridge")
_TREATED = {"heat": "hot", "cool": "cool", "clean": "clean"}
_ADJECTIVES = {"hot", "cool", "cold", "clean", "heated", "cooled", "cleaned"}
_ARTICLE_OBJ = re.compile(r"\b(?:a|an|some|two|the)\s+((?:[a-z]+\s+)?[a-z]+)")
_TARGET = re.compile(r"\b(?:in|on|in/on)\s+(?:a |an |the |some )?([a-z]+)\s*\.?$")
_LAMP = ("desklamp", "floorlamp")


@dataclass(frozen=True)
class GoalFacts:
    """What a goal asks, in ALFWorld's terms."""

    task_type: str
    """One of ALFWorld's six task types."""
    obj: str
    """The object kind the goal is about (``apple``)."""
    target: str = ""
    """The target receptacle kind of placing tasks ('' otherwise)."""
    treatment: str = ""
    """``heat``, ``cool`` or ``clean`` for those task types, else ''."""


def parse_goal(task: str, task_type: str) -> GoalFacts:
    """The facts of an ALFWorld-style goal text.

    >>> parse_goal("put a hot apple in fridge.", "heat")
    GoalFacts(task_type='heat', obj='apple', target='fridge', treatment='heat')
    >>> parse_goal("examine the cd with the desklamp.", "look_at_obj_in_light").obj
    'cd'
    >>> parse_goal("clean some soapbar and put it in cabinet.", "clean").target
    'cabinet'
    """
    text = " ".join(task.lower().replace("your task is to:", " ").split()).rstrip(".")
    obj = ""
    for m in _ARTICLE_OBJ.finditer(text):
        words = [w for w in m.group(1).split() if w not in _ADJECTIVES]
        if words and words[0] not in _LAMP:
            obj = words[0]
            break
    target = ""
    if task_type != "look_at_obj_in_light":
        t = _TARGET.search(text)
        target = t.group(1) if t else ""
    treatment = task_type if task_type in _TREATED else ""
    return GoalFacts(task_type, obj, target, treatment)


def _kind(name: str) -> str:
    """``"cabinet 2"`` -> ``"cabinet"``."""
    head, _, num = name.rpartition(" ")
    return head if num.isdigit() else name


@dataclass(frozen=True)
class Subgoal:
    """The sub-goal an action serves."""

    kind: str
    """``find``, ``fetch``, ``treat``, ``place``, ``light``, ``unload`` or ``other``."""
    text: str
    """A few words (``find a mug``, ``heat mug 1``, ``put mug 1 in cabinet 2``)."""
    reason: str = ""
    """Why this step serves it (``cabinet 1 is not explored yet``), for the full style."""


def alfworld_subgoal(action: str, facts: GoalFacts, *, holding: str = "", searching: bool = False,
                     treated: bool = False) -> Subgoal:
    """The sub-goal an ALFWorld-grammar ``action`` serves.

    Args:
        action: the command (``go to cabinet 1``, ``take mug 1 from cabinet 1`` …).
        facts: the goal (:func:`parse_goal`).
        holding: the object in hand before the action ('' = none).
        searching: whether the teacher does not know yet where a goal object is.
        treated: whether the held goal object already has the goal's treatment.

    >>> alfworld_subgoal("go to cabinet 1", GoalFacts("heat", "mug", "cabinet", "heat"), searching=True).text
    'find a mug'
    >>> alfworld_subgoal("go to microwave 1", GoalFacts("heat", "mug", "cabinet", "heat"), holding="mug 1").text
    'heat mug 1'
    >>> alfworld_subgoal("move mug 1 to cabinet 2", GoalFacts("heat", "mug", "cabinet", "heat"), holding="mug 1").text
    'put mug 1 in cabinet 2'
    """
    words = action.split()
    verb = words[0] if words else ""
    held_goal = bool(holding) and _kind(holding) == facts.obj
    if verb == "go" and action.startswith("go to "):
        place = action[len("go to "):]
        if held_goal:
            if facts.treatment and not treated:
                return Subgoal("treat", f"{facts.treatment} {holding}", f"{place} can {facts.treatment} it")
            if facts.task_type == "look_at_obj_in_light":
                return Subgoal("light", f"look at {holding} in the light", f"the lamp is at {place}")
            return Subgoal("place", f"put {holding} in {place}", f"the goal needs it in a {facts.target}")
        if searching:
            return Subgoal("find", f"find a {facts.obj}", f"{place} is not explored yet")
        if facts.task_type == "look_at_obj_in_light" and holding:
            return Subgoal("light", "find the lamp", f"the lamp may be at {place}")
        return Subgoal("fetch", f"get a {facts.obj}", f"a {facts.obj} is at {place}")
    if verb == "open":
        place = action[len("open "):]
        if held_goal:
            return Subgoal("place", f"put {holding} in {place}", f"{place} is closed")
        if searching:
            return Subgoal("find", f"find a {facts.obj}", f"{place} is closed and not explored yet")
        return Subgoal("fetch", f"get a {facts.obj}", f"{place} is closed")
    if verb == "take":
        obj = action[len("take "):].split(" from ")[0]
        return Subgoal("fetch", f"take {obj}", f"the goal needs a {facts.obj}")
    if verb in _TREATED:
        obj = action[len(verb) + 1:].split(" with ")[0]
        return Subgoal("treat", f"{verb} {obj}", f"the goal needs it {_TREATED[verb]}")
    if verb in ("move", "put"):
        obj, _, place = action[len(verb) + 1:].partition(" to ")
        if not place:
            obj, _, place = action[len(verb) + 1:].partition(" in")
        if _kind(obj) == facts.obj:
            return Subgoal("place", f"put {obj} in {place}", f"the goal needs it in a {facts.target or place}")
        return Subgoal("unload", f"put down {obj}", "my hands must be free")
    if verb == "use":
        return Subgoal("light", f"turn on {action[len('use '):]}", f"the goal is to look at a {facts.obj} in its light")
    return Subgoal("other", action, "")


#: sub-goal kind -> words that mark a skill written for it
_SKILL_WORDS = {
    "find": ("search", "find", "explore", "look for", "locate", "visit", "check"),
    "fetch": ("take", "pick", "grab", "fetch"),
    "treat": (),
    "place": ("place", "put", "deliver", "target"),
    "light": ("lamp", "light"),
    "unload": ("hands", "free"),
}


_APPLIANCE_WORD = {"heat": "microwave", "cool": "fridge", "clean": "sink"}


def applicable_skill(subgoal: Subgoal, skills: Iterable[tuple[str, str, str]]) -> tuple[str, str] | None:
    """The first skill (``(id, title, text)`` in injection order) written for ``subgoal``'s kind:
    its title or text names the sub-goal's action (for ``treat``: the treatment itself).
    Returns ``(id, title)`` or None.

    >>> applicable_skill(Subgoal("treat", "heat mug 1"), [("g1", "Explore", "visit every place"),
    ...                  ("h1", "Heat first", "heat the object in the microwave")])
    ('h1', 'Heat first')
    """
    words = _SKILL_WORDS.get(subgoal.kind, ())
    if subgoal.kind == "treat":  # the treatment at hand, not any treatment
        verb = subgoal.text.split()[0]
        words = (verb, _APPLIANCE_WORD.get(verb, verb))
    for sid, title, text in skills:
        hay = f"{title} {text}".lower()
        if any(re.search(rf"\b{re.escape(w)}", hay) for w in words):
            return sid, title
    return None


def think_text(subgoal: Subgoal, *, style: str = "short", task: str = "",
               skill: tuple[str, str] | None = None) -> str:
    """The ``<think>`` content for a sub-goal.

    >>> think_text(Subgoal("find", "find a mug", "cabinet 1 is not explored yet"))
    'find a mug'
    >>> think_text(Subgoal("find", "find a mug", "cabinet 1 is not explored yet"), style="full",
    ...            task="put a mug in desk.", skill=("gen_001", "Search before acting"))
    'Task: put a mug in desk. Sub-goal: find a mug (cabinet 1 is not explored yet). Skill gen_001 (Search before acting) applies.'
    """
    if style not in STYLES:
        raise ValueError(f"unknown rationale style {style!r}; choose one of {', '.join(STYLES)}")
    if style == "short":
        return subgoal.text
    parts = []
    if task:
        parts.append(f"Task: {task.strip()}")
    parts.append(f"Sub-goal: {subgoal.text}" + (f" ({subgoal.reason})" if subgoal.reason else ""))
    if skill is not None:
        parts.append(f"Skill {skill[0]} ({skill[1]}) applies")
    return ". ".join(p.rstrip(".") for p in parts) + "."
