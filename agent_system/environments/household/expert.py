"""Two experts: shortest plans from the full game state (:func:`plan`, :func:`next_action`), and
a searcher that knows only what the agent has seen (:func:`search_action`).

Unlike ALFWorld's hand-coded expert (which searches the room), this one knows where every object
is. For each way of reaching the goal — which goal object(s), which target receptacle, which
appliance, in which order — it simulates the fixed recipe below with the real rules
(:func:`~.game.apply`) and keeps the shortest result (the first in a sorted enumeration on ties,
so plans are deterministic):

* fetch an object: if the hands hold something else, put it down here when this receptacle is
  reachable, else at the object's receptacle once there; ``go to`` its receptacle, ``open`` it
  when closed, ``take`` it;
* treat it (``heat``/``cool``/``clean`` tasks, unless already treated): ``go to`` the appliance,
  apply it;
* place it: ``go to`` the target, ``open`` it when closed, ``move`` it there;
* ``look_at_obj_in_light``: fetch, ``go to`` the lamp, ``use`` it unless it is on.

A plan stops at the command that wins. The tests check the plans against breadth-first search.

The full-knowledge expert walks straight to objects it has never seen, so its first moves
cannot be read off the observations; :func:`search_action` is the teacher a policy can imitate.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import replace

from agent_system.environments.household.game import (
    NOTHING_HAPPENS,
    Game,
    State,
    apply,
    is_won,
    lamp_of,
)
from agent_system.environments.household.world import (
    APPLIANCE_FOR,
    LAMP_HOLDERS,
    OBJECTS,
    RECEPTACLES,
    TREATMENT_OF,
    kind_of,
)


class _Infeasible(Exception):
    """A recipe step could not be carried out (the candidate is dropped)."""


class _Recipe:
    """Appends commands while simulating them; stops recording once the game is won."""

    def __init__(self, game: Game, state: State) -> None:
        self.game, self.state = game, state
        self.commands: list[str] = []
        self.won = is_won(game, state)

    def do(self, command: str) -> None:
        if self.won:
            return
        nxt, feedback = apply(self.game, self.state, command)
        if feedback == NOTHING_HAPPENS:
            raise _Infeasible(command)
        self.state = nxt
        self.commands.append(command)
        self.won = is_won(self.game, nxt)

    def go(self, recep: str) -> None:
        if self.state.location != recep:
            self.do(f"go to {recep}")

    def open_here(self) -> None:
        here = self.state.location
        if RECEPTACLES[kind_of(here)].openable and here not in self.state.opened:
            self.do(f"open {here}")

    def fetch(self, obj: str) -> None:
        s = self.state
        if s.holding == obj:
            return
        if s.holding and s.location and s.is_open(s.location):
            self.do(f"move {s.holding} to {s.location}")
        src = self.state.where(obj)
        if not src:
            raise _Infeasible(f"{obj} is nowhere")
        self.go(src)
        self.open_here()
        if self.state.holding:
            self.do(f"move {self.state.holding} to {src}")
        self.do(f"take {obj} from {src}")

    def put(self, obj: str, dst: str) -> None:
        self.go(dst)
        self.open_here()
        self.do(f"move {obj} to {dst}")


def _instances(names, kind: str) -> list[str]:
    return [n for n in names if kind_of(n) == kind]


def _candidates(game: Game, state: State) -> list[str]:
    """Objects of the goal kind, wherever they are (in hand first)."""
    objs = _instances(game.objects, game.obj_kind)
    return sorted(objs, key=lambda o: (o != state.holding, o))


def _recipes(game: Game, state: State):
    """Yield one command-producing function per way of reaching the goal."""
    cands = _candidates(game, state)
    if game.task_type == "look_at_obj_in_light":
        lamp = lamp_of(game)

        for obj in cands:
            def run(r: _Recipe, obj: str = obj) -> None:
                r.fetch(obj)
                r.go(r.state.where(lamp))
                if not r.state.lamp_on:
                    r.do(f"use {lamp}")
            yield run
        return
    targets = _instances(game.receptacles, game.recep_kind)
    if game.task_type == "pick_two_obj_and_place":
        for dst in targets:
            already = [o for o in cands if state.where(o) == dst]
            others = [o for o in cands if state.where(o) != dst]
            for order in itertools.permutations(others, max(0, 2 - len(already))):
                def run(r: _Recipe, dst: str = dst, order: tuple[str, ...] = order) -> None:
                    for obj in order:
                        r.fetch(obj)
                        r.put(obj, dst)
                yield run
        return
    treatment = TREATMENT_OF.get(game.task_type, "")
    appliances = _instances(game.receptacles, APPLIANCE_FOR[treatment]) if treatment else [""]
    for obj, dst, appliance in itertools.product(cands, targets, appliances):
        def run(r: _Recipe, obj: str = obj, dst: str = dst, appliance: str = appliance) -> None:
            r.fetch(obj)
            if treatment and obj not in r.state.treated(treatment):
                r.go(appliance)
                r.do(f"{treatment} {obj} with {appliance}")
            r.put(obj, dst)
        yield run


def plan(game: Game, state: State) -> list[str]:
    """The expert's shortest plan from ``state`` ([] when the game is won or cannot be won).

    Memoised per ``(game, state)``: the copies of a GRPO group replay the same states.
    """
    return list(_plan(game, state))


@functools.lru_cache(maxsize=1 << 15)
def _plan(game: Game, state: State) -> tuple[str, ...]:
    if is_won(game, state):
        return ()
    best: list[str] | None = None
    for run in _recipes(game, state):
        recipe = _Recipe(game, state)
        try:
            run(recipe)
        except _Infeasible:
            continue
        if recipe.won and (best is None or len(recipe.commands) < len(best)):
            best = recipe.commands
    return tuple(best or ())


def next_action(game: Game, state: State) -> str:
    """The first command of :func:`plan` (``"look"`` when there is none)."""
    steps = plan(game, state)
    return steps[0] if steps else "look"


# ------------------------------------------------------------------------------ the searcher
def known_state(state: State) -> State:
    """``state`` as the agent knows it: objects in receptacles it has not seen are left out."""
    return replace(state, places=tuple((o, r) for o, r in state.places if r in state.seen))


def _fetch_first(game: Game, state: State, objs: list[str]) -> str:
    """First command of the shortest way to hold one of ``objs`` ('' when none can be fetched)."""
    best: list[str] | None = None
    for obj in objs:
        recipe = _Recipe(game, state)
        try:
            recipe.fetch(obj)
        except _Infeasible:
            continue
        if recipe.commands and (best is None or len(recipe.commands) < len(best)):
            best = recipe.commands
    return best[0] if best else ""


def _search_kinds(game: Game, known: State) -> set[str]:
    """Receptacle kinds that may hide what the goal still needs (the generator's rules: goal
    objects lie in their kind's places, never in a target-kind receptacle of a placing task;
    the lamp stands on a desk or a sidetable)."""
    kinds: set[str] = set()
    look = game.task_type == "look_at_obj_in_light"
    holding_goal = bool(known.holding) and kind_of(known.holding) == game.obj_kind
    if not holding_goal:
        kinds |= {k for k in OBJECTS[game.obj_kind].places if look or k != game.recep_kind}
    if look and not known.where(lamp_of(game)):
        kinds |= set(LAMP_HOLDERS)
    return kinds


def search_action(game: Game, state: State) -> str:
    """The next command of an expert that knows only what the agent has seen (``state.seen``).

    Like ALFWorld's hand-coded expert it searches: when the objects the goal needs are known, it
    follows :func:`plan` on the known state; in ``pick_two_obj_and_place`` it delivers a known
    object before looking for the second, in ``look_at_obj_in_light`` it picks up a known object
    before looking for the lamp; otherwise it visits the first receptacle (in the admissible
    list's alphabetical order) that it has not seen and that may hide what it needs, opening it
    when closed. Every choice depends only on the task, the receptacle names and what was seen,
    so a policy reading the same observations can imitate it. Always wins on generated games;
    ``"look"`` once won.
    """
    if is_won(game, state):
        return "look"
    known = known_state(state)
    steps = plan(game, known)
    if steps:
        return steps[0]
    if game.task_type == "pick_two_obj_and_place":
        steps = plan(replace(game, task_type="pick_and_place"), known)
        if steps:
            return steps[0]
    holding_goal = bool(known.holding) and kind_of(known.holding) == game.obj_kind
    if game.task_type == "look_at_obj_in_light" and not holding_goal:
        first = _fetch_first(game, known, [o for o in _candidates(game, known) if known.where(o)])
        if first:
            return first
    kinds = _search_kinds(game, known)
    for recep in sorted(game.receptacles):
        if recep not in state.seen and kind_of(recep) in kinds:
            return f"open {recep}" if state.location == recep else f"go to {recep}"
    return next_action(game, state)  # nothing left to search (not on generated games): use full knowledge

