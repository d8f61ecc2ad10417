"""Rules of a household game as pure functions: state, admissible commands, transitions, text.

Nothing here knows of models, prompts or the :class:`TextEnv` protocol; :mod:`.env` adapts it.

A :class:`Game` is the fixed part (task, receptacles, the start state); a :class:`State` is an
immutable snapshot (hashable, so planners may search over it). :func:`apply` returns the next
state and the game's feedback text; a command that is not admissible leaves the state as it is
and answers ``"Nothing happens."``, as TextWorld does for ALFWorld.

Rules (ALFWorld's, for the commands kept):

* ``go to R`` for every receptacle but the current one; arriving shows what lies on ``R`` (or
  that it is closed). The agent starts in the middle of the room.
* ``open R`` / ``close R`` at an openable ``R``; a closed receptacle hides its contents.
* ``take O from R`` at ``R`` (open, or not openable) with empty hands: one object at a time.
* ``move O to R`` puts the held object on/in ``R`` (open, or not openable).
* ``heat O with microwave N``, ``cool O with fridge N``, ``clean O with sinkbasin N`` at that
  appliance (open or closed) while holding ``O``, when the treatment applies to ``O``'s kind;
  heating makes it hot and no longer cool, cooling the reverse, cleaning makes it clean.
* ``use desklamp N`` at the lamp's receptacle toggles the lamp.
* ``examine R`` at ``R``, ``examine O`` for the held object, ``inventory`` and ``look`` change
  nothing.

Winning (checked after every command), with ``X``/``Y`` the goal's object and receptacle kinds:
placing tasks need an ``X`` in a ``Y`` (hot/cool/clean for ``heat``/``cool``/``clean``);
``pick_two_obj_and_place`` needs two ``X`` in the same ``Y``; ``look_at_obj_in_light`` needs the
agent at the lamp, the lamp on, and an ``X`` in hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from agent_system.environments.household.world import (
    LAMP,
    OBJECTS,
    RECEPTACLES,
    TREATMENT_OF,
    kind_of,
)

NOTHING_HAPPENS = "Nothing happens."
"""Feedback of a command that cannot be carried out (TextWorld's words)."""


@dataclass(frozen=True)
class State:
    """A snapshot of a game (immutable and hashable)."""

    location: str = ""
    """The receptacle the agent stands at ('' = the middle of the room, the start)."""
    holding: str = ""
    """The object in hand ('' = none)."""
    places: tuple[tuple[str, str], ...] = ()
    """``(object, receptacle)`` for every object not in hand (the lamp included), sorted."""
    opened: frozenset[str] = frozenset()
    """Openable receptacles that are open now."""
    hot: frozenset[str] = frozenset()
    """Objects that are hot."""
    cool: frozenset[str] = frozenset()
    """Objects that are cool."""
    clean: frozenset[str] = frozenset()
    """Objects that are clean."""
    lamp_on: bool = False
    """Whether the lamp is switched on."""
    seen: frozenset[str] = frozenset()
    """Receptacles whose contents the agent has seen (arrived at while open or not openable,
    or opened). Objects only move when the agent moves them, so what lies in a seen
    receptacle is known to the agent; the rest is hidden (see :func:`~.expert.search_action`)."""

    def where(self, obj: str) -> str:
        """Receptacle holding ``obj`` ('' when it is in hand or unknown)."""
        for o, r in self.places:
            if o == obj:
                return r
        return ""

    def contents(self, recep: str) -> list[str]:
        """Objects in/on ``recep``, in ALFWorld's listing order (see :func:`listing_order`)."""
        return listing_order(o for o, r in self.places if r == recep)

    def is_open(self, recep: str) -> bool:
        """Whether one can reach into ``recep`` (open, or not openable)."""
        return not RECEPTACLES[kind_of(recep)].openable or recep in self.opened

    def treated(self, treatment: str) -> frozenset[str]:
        """Objects that are hot/cool/clean, for ``treatment`` heat/cool/clean."""
        return {"heat": self.hot, "cool": self.cool, "clean": self.clean}[treatment]


@dataclass(frozen=True)
class Game:
    """The fixed part of one game."""

    game_id: str
    """``"<split>/<index>"``: which game of which split (see :mod:`.generate`)."""
    task_type: str
    """One of :data:`~.world.TASK_TYPES`."""
    goal: str
    """The goal sentence without the final full stop (``"put a hot apple in fridge"``)."""
    obj_kind: str
    """The kind of object the goal is about (``apple``)."""
    recep_kind: str
    """The target receptacle kind, or the lamp holder's kind for ``look_at_obj_in_light``."""
    receptacles: tuple[str, ...]
    """Receptacle instances (``cabinet 1``), in listing order."""
    start: State = field(default_factory=State)
    """The state at reset."""

    @property
    def objects(self) -> tuple[str, ...]:
        """Every object instance (the lamp included), in listing order."""
        return tuple(listing_order(o for o, _ in self.start.places))


def listing_order(names) -> list[str]:
    """ALFWorld's order: by kind, then by number *descending* (``cup 3, cup 2, mug 1``)."""
    def key(name: str) -> tuple[str, int]:
        kind, _, num = name.rpartition(" ")
        return (kind, -int(num)) if num.isdigit() else (name, 0)

    return sorted(names, key=key)


def a_list(names: list[str]) -> str:
    """``"a cup 2, a mug 1, and a pen 1"``; ``"nothing"`` when empty (ALFWorld's article is
    always ``a``)."""
    items = [f"a {n}" for n in names]
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


# ---------------------------------------------------------------------------------- text
def describe_receptacle(state: State, recep: str) -> str:
    """What one sees of ``recep`` (ALFWorld's ``examineReceptacle`` text)."""
    if RECEPTACLES[kind_of(recep)].openable:
        if recep not in state.opened:
            return f"The {recep} is closed."
        return f"The {recep} is open. In it, you see {a_list(state.contents(recep))}."
    return f"On the {recep}, you see {a_list(state.contents(recep))}."


def describe_object(state: State, obj: str) -> str:
    """ALFWorld's ``examineObject`` text for ``obj``."""
    if kind_of(obj) == LAMP:
        return f"This {obj} is {'on' if state.lamp_on else 'off'}."
    hot, cool, clean = obj in state.hot, obj in state.cool, obj in state.clean
    if clean and (hot or cool):
        return f"This is a {'hot' if hot else 'cool'} and clean {obj}."
    if hot:
        return f"This is a hot {obj}."
    if clean:
        return f"This is a clean {obj}."
    if cool:
        return f"This is a cold {obj}."
    return f"There's nothing special about {obj}."


def room_text(game: Game) -> str:
    """``You are in the middle of a room. Looking quickly around you, you see …``."""
    return f"You are in the middle of a room. Looking quickly around you, you see {a_list(list(game.receptacles))}."


def intro(game: Game) -> str:
    """The first observation: the room, then ``Your task is to: <goal>.``."""
    return f"{room_text(game)}\n\nYour task is to: {game.goal}."


# ---------------------------------------------------------------------------------- rules
def lamp_of(game: Game) -> str:
    """The lamp instance of the game ('' when there is none)."""
    for obj in game.objects:
        if kind_of(obj) == LAMP:
            return obj
    return ""


def admissible(game: Game, state: State) -> list[str]:
    """Every command :func:`apply` carries out in ``state``, sorted (as ALFWorld lists them)."""
    out = ["inventory", "look"]
    out.extend(f"go to {r}" for r in game.receptacles if r != state.location)
    here = state.location
    if here:
        out.append(f"examine {here}")
        if RECEPTACLES[kind_of(here)].openable:
            out.append(f"close {here}" if here in state.opened else f"open {here}")
        reachable = state.is_open(here)
        if state.holding:
            if reachable:
                out.append(f"move {state.holding} to {here}")
            treatment = RECEPTACLES[kind_of(here)].appliance
            if treatment and treatment in OBJECTS[kind_of(state.holding)].treatments:
                out.append(f"{treatment} {state.holding} with {here}")
        elif reachable:
            out.extend(f"take {o} from {here}" for o in state.contents(here) if kind_of(o) != LAMP)
        for o in state.contents(here):
            if kind_of(o) == LAMP:
                out.append(f"use {o}")
    if state.holding:
        out.append(f"examine {state.holding}")
    return sorted(out)


_GO = re.compile(r"go to (.+)")
_TAKE = re.compile(r"take (.+) from (.+)")
_MOVE = re.compile(r"move (.+) to (.+)")
_TREAT = re.compile(r"(heat|cool|clean) (.+) with (.+)")
_ONE = re.compile(r"(open|close|use|examine) (.+)")


def _with_places(state: State, places: dict[str, str], **changes) -> State:
    return replace(state, places=tuple(sorted(places.items())), **changes)


def apply(game: Game, state: State, command: str) -> tuple[State, str]:
    """Carry out ``command`` (lower-case, single spaces); return ``(next state, feedback)``.

    A command that is not admissible in ``state`` returns ``(state, "Nothing happens.")``.
    """
    here, held = state.location, state.holding
    recs = set(game.receptacles)
    if command == "look":
        if not here:
            return state, room_text(game)
        return state, f"You are facing the {here}. Next to it, you see nothing."
    if command == "inventory":
        return state, f"You are carrying: a {held}." if held else "You are not carrying anything."
    if m := _GO.fullmatch(command):
        target = m.group(1)
        if target in recs and target != here:
            seen = state.seen | {target} if state.is_open(target) else state.seen
            return (replace(state, location=target, seen=seen),
                    f"You arrive at {target}. {describe_receptacle(state, target)}")
        return state, NOTHING_HAPPENS
    if m := _TAKE.fullmatch(command):
        obj, src = m.groups()
        if (src == here and not held and state.where(obj) == src and kind_of(obj) != LAMP
                and state.is_open(src)):
            places = dict(state.places)
            del places[obj]
            return _with_places(state, places, holding=obj), f"You pick up the {obj} from the {src}."
        return state, NOTHING_HAPPENS
    if m := _MOVE.fullmatch(command):
        obj, dst = m.groups()
        if dst == here and held == obj and state.is_open(dst):
            places = dict(state.places)
            places[obj] = dst
            return _with_places(state, places, holding=""), f"You move the {obj} to the {dst}."
        return state, NOTHING_HAPPENS
    if m := _TREAT.fullmatch(command):
        verb, obj, appliance = m.groups()
        if (appliance == here and held == obj and RECEPTACLES[kind_of(here)].appliance == verb
                and verb in OBJECTS[kind_of(obj)].treatments):
            if verb == "heat":
                nxt = replace(state, hot=state.hot | {obj}, cool=state.cool - {obj})
            elif verb == "cool":
                nxt = replace(state, cool=state.cool | {obj}, hot=state.hot - {obj})
            else:
                nxt = replace(state, clean=state.clean | {obj})
            return nxt, f"You {verb} the {obj} using the {appliance}."
        return state, NOTHING_HAPPENS
    if m := _ONE.fullmatch(command):
        verb, name = m.groups()
        if verb in ("open", "close"):
            if name == here and RECEPTACLES[kind_of(here)].openable and (name in state.opened) == (verb == "close"):
                if verb == "close":
                    return replace(state, opened=state.opened - {name}), f"You close the {name}."
                nxt = replace(state, opened=state.opened | {name}, seen=state.seen | {name})
                return nxt, f"You open the {name}. {describe_receptacle(nxt, name)}"
            return state, NOTHING_HAPPENS
        if verb == "use":
            if here and kind_of(name) == LAMP and state.where(name) == here:
                on = not state.lamp_on
                return replace(state, lamp_on=on), f"You turn {'on' if on else 'off'} the {name}."
            return state, NOTHING_HAPPENS
        # examine
        if name == here and here:
            return state, describe_receptacle(state, here)
        if name == held and held:
            return state, describe_object(state, held)
        return state, NOTHING_HAPPENS
    return state, NOTHING_HAPPENS


def is_won(game: Game, state: State) -> bool:
    """Whether ``state`` satisfies the goal of ``game`` (see the module docstring)."""
    kind = game.obj_kind
    if game.task_type == "look_at_obj_in_light":
        lamp = lamp_of(game)
        return (bool(lamp) and state.lamp_on and state.location != "" and state.location == state.where(lamp)
                and state.holding != "" and kind_of(state.holding) == kind)
    in_target: dict[str, int] = {}
    treatment = TREATMENT_OF.get(game.task_type)
    for obj, recep in state.places:
        if kind_of(obj) != kind or kind_of(recep) != game.recep_kind:
            continue
        if treatment and obj not in state.treated(treatment):
            continue
        in_target[recep] = in_target.get(recep, 0) + 1
    need = 2 if game.task_type == "pick_two_obj_and_place" else 1
    return any(n >= need for n in in_target.values())

