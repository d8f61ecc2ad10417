"""The expert: a shortest plan from any state, computed from the full game state.

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
"""

from __future__ import annotations

import itertools

from agent_system.environments.household.game import (
    NOTHING_HAPPENS,
    Game,
    State,
    apply,
    is_won,
    lamp_of,
)
from agent_system.environments.household.world import APPLIANCE_FOR, RECEPTACLES, TREATMENT_OF, kind_of


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
    """The expert's shortest plan from ``state`` ([] when the game is won or cannot be won)."""
    if is_won(game, state):
        return []
    best: list[str] | None = None
    for run in _recipes(game, state):
        recipe = _Recipe(game, state)
        try:
            run(recipe)
        except _Infeasible:
            continue
        if recipe.won and (best is None or len(recipe.commands) < len(best)):
            best = recipe.commands
    return best or []


def next_action(game: Game, state: State) -> str:
    """The first command of :func:`plan` (``"look"`` when there is none)."""
    steps = plan(game, state)
    return steps[0] if steps else "look"
