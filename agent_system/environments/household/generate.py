"""Procedural generation of household games, deterministic per ``(split, seed)``.

Splits (see also :mod:`.world`):

``train``
    any integer seed is a game (``game_id`` ``"train/<seed>"``); task type ``TASK_TYPES[seed % 6]``.
``valid_seen``, ``valid_unseen``
    :data:`EVAL_SPLIT_SIZE` distinct games each; ``seed`` picks game ``seed % EVAL_SPLIT_SIZE``
    (``game_id`` ``"<split>/<index>"``), task types cycle so every type has 33–34 games.

Disjointness, by construction: ``valid_unseen`` games use only held-out combinations
(:func:`~.world.held_out_combos`), the other splits never; among seen combinations a game's
*layout* (:func:`signature`: task, object and receptacle kinds, receptacles and where every
object lies; the goal's wording left out) belongs to ``valid_seen`` when its CRC-32 falls in
bucket 0 of :data:`LAYOUT_BUCKETS` and to ``train`` otherwise. A draw that lands in the wrong
bucket, or whose expert plan falls outside :data:`PLAN_STEPS`, is redrawn from the same
seeded stream.

A game: the target receptacle (or the lamp's desk/sidetable), the task's appliance, the
receptacles the goal objects lie in, then random others up to 4–6 receptacles (cabinets,
countertops, drawers and shelves may come twice); one goal object (two for
``pick_two_obj_and_place``), sometimes one more of the same kind; 1–3 distractor objects of
other kinds; the desklamp for ``look_at_obj_in_light`` (and now and then elsewhere, on a desk or
sidetable). Openable receptacles start closed; no object starts hot, cool or clean.
"""

from __future__ import annotations

import functools
import random
import zlib

from agent_system.environments.household import expert
from agent_system.environments.household.game import Game, State, is_won, listing_order
from agent_system.environments.household.world import (
    APPLIANCE_FOR,
    GOAL_TEMPLATES,
    LAMP,
    OBJECTS,
    RECEPTACLES,
    SPLITS,
    TASK_TYPES,
    TREATMENT_OF,
    combos_for,
    kind_of,
)

EVAL_SPLIT_SIZE = 200
"""Games in each of ``valid_seen`` and ``valid_unseen``."""
LAYOUT_BUCKETS = 5
"""A seen-combination layout is a ``valid_seen`` game when ``crc32(signature) % 5 == 0``."""
RECEPTACLES_PER_GAME = (4, 6)
"""Inclusive range of receptacle instances in a game."""
DISTRACTORS_PER_GAME = (1, 3)
"""Inclusive range of objects of other kinds."""
EXTRA_GOAL_OBJECT_P = 0.25
"""Chance of one more object of the goal kind than the task needs."""
STRAY_LAMP_P = 0.4
"""Chance of a desklamp in games of other task types (when a desk or sidetable is there)."""
PLAN_STEPS: dict[str, tuple[int, int]] = {
    "pick_and_place": (3, 6),
    "pick_two_obj_and_place": (6, 10),
    "look_at_obj_in_light": (3, 5),
    "clean": (4, 8),
    "heat": (4, 8),
    "cool": (4, 8),
}
"""Inclusive bounds of the expert's plan length at reset, per task type."""
_MAX_DRAWS = 1000


def signature(game: Game) -> str:
    """The layout of a game as text (two games with one signature differ at most in wording)."""
    places = ";".join(f"{o}@{r}" for o, r in game.start.places)
    return f"{game.task_type}|{game.obj_kind}|{game.recep_kind}|{','.join(game.receptacles)}|{places}"


def split_of_layout(game: Game) -> str:
    """``valid_unseen`` for held-out combinations, else ``valid_seen`` or ``train`` by layout bucket."""
    if (game.task_type, game.obj_kind, game.recep_kind) in combos_for("valid_unseen", game.task_type):
        return "valid_unseen"
    return "valid_seen" if zlib.crc32(signature(game).encode()) % LAYOUT_BUCKETS == 0 else "train"


def _number(kinds: list[str]) -> list[str]:
    """Instance names for a list of kinds, numbered from 1 per kind in order of appearance."""
    counts: dict[str, int] = {}
    out = []
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
        out.append(f"{kind} {counts[kind]}")
    return out


def _draw(rng: random.Random, split: str, task_type: str, game_id: str) -> Game:
    """One candidate game (not yet checked against the split and the plan bounds)."""
    _, obj, recep = rng.choice(combos_for(split, task_type))
    look = task_type == "look_at_obj_in_light"
    treatment = TREATMENT_OF.get(task_type, "")
    rec_kinds: list[str] = [recep]
    if treatment and APPLIANCE_FOR[treatment] not in rec_kinds:
        rec_kinds.append(APPLIANCE_FOR[treatment])
    # goal objects and where they lie (never already in a target-kind receptacle)
    n_goal = (2 if task_type == "pick_two_obj_and_place" else 1) + (rng.random() < EXTRA_GOAL_OBJECT_P)
    sources = [p for p in OBJECTS[obj].places if look or p != recep]
    goal_at: list[str] = []  # receptacle kind of each goal object; instance chosen below
    for _ in range(n_goal):
        kind = rng.choice(sources)
        goal_at.append(kind)
        if kind not in rec_kinds:
            rec_kinds.append(kind)
    # fill up with other receptacles
    n_rec = rng.randint(*RECEPTACLES_PER_GAME)
    all_kinds = sorted(RECEPTACLES)
    while len(rec_kinds) < n_rec:
        kind = rng.choice(all_kinds)
        count = rec_kinds.count(kind)
        if count == 0 or (RECEPTACLES[kind].repeatable and count == 1):
            rec_kinds.append(kind)
    receptacles = _number(rec_kinds)
    by_kind = {k: [r for r in receptacles if kind_of(r) == k] for k in set(rec_kinds)}
    # objects
    obj_kinds: list[str] = [obj] * n_goal
    obj_places: list[str] = [rng.choice(by_kind[k]) for k in goal_at]
    others = [k for k in sorted(OBJECTS) if k != obj and set(OBJECTS[k].places) & set(rec_kinds)]
    for _ in range(rng.randint(*DISTRACTORS_PER_GAME) if others else 0):
        kind = rng.choice(others)
        obj_kinds.append(kind)
        obj_places.append(rng.choice([r for r in receptacles if kind_of(r) in OBJECTS[kind].places]))
    holders = [r for r in receptacles if kind_of(r) in ("desk", "sidetable")]
    if look:
        obj_kinds.append(LAMP)
        obj_places.append(rng.choice(by_kind[recep]))
    elif holders and rng.random() < STRAY_LAMP_P:
        obj_kinds.append(LAMP)
        obj_places.append(rng.choice(holders))
    places = tuple(sorted(zip(_number(obj_kinds), obj_places)))
    goal = rng.choice(GOAL_TEMPLATES[task_type]).format(obj=obj, recep=recep, lamp=LAMP)
    return Game(game_id=game_id, task_type=task_type, goal=goal, obj_kind=obj, recep_kind=recep,
                receptacles=tuple(listing_order(receptacles)), start=State(places=places))


def _acceptable(game: Game, split: str) -> bool:
    if is_won(game, game.start) or split_of_layout(game) != split:
        return False
    low, high = PLAN_STEPS[game.task_type]
    return low <= len(expert.plan(game, game.start)) <= high


def _generate(split: str, key: int, task_type: str, game_id: str, taken: frozenset[str] = frozenset()) -> Game:
    rng = random.Random(f"household:{split}:{key}")
    for _ in range(_MAX_DRAWS):
        game = _draw(rng, split, task_type, game_id)
        if _acceptable(game, split) and signature(game) not in taken:
            return game
    raise RuntimeError(f"no acceptable {task_type} game for {split} key {key} in {_MAX_DRAWS} draws")


@functools.lru_cache(maxsize=4096)
def train_game(seed: int) -> Game:
    """The ``train`` game of ``seed`` (any integer)."""
    seed = int(seed)
    return _generate("train", seed, TASK_TYPES[seed % len(TASK_TYPES)], f"train/{seed}")


@functools.lru_cache(maxsize=None)
def eval_games(split: str) -> tuple[Game, ...]:
    """The :data:`EVAL_SPLIT_SIZE` games of an evaluation split, in order (built once, ~0.1 s)."""
    if split not in SPLITS or split == "train":
        raise ValueError(f"{split!r} is not an evaluation split; use valid_seen or valid_unseen")
    games: list[Game] = []
    taken: set[str] = set()
    for i in range(EVAL_SPLIT_SIZE):
        game = _generate(split, i, TASK_TYPES[i % len(TASK_TYPES)], f"{split}/{i}", frozenset(taken))
        taken.add(signature(game))
        games.append(game)
    return tuple(games)


def game_for(split: str, seed: int) -> Game:
    """The game ``reset(seed)`` plays in ``split``.

    Raises:
        ValueError: unknown split.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown household split {split!r}; known: {', '.join(SPLITS)}")
    if split == "train":
        return train_game(int(seed))
    return eval_games(split)[int(seed) % EVAL_SPLIT_SIZE]


def game_by_id(game_id: str) -> Game:
    """The game named ``"<split>/<index>"`` (as in ``info["game_id"]``).

    Raises:
        ValueError: malformed id, unknown split, or an index outside an evaluation split.
    """
    split, _, index = game_id.strip().partition("/")
    try:
        number = int(index)
    except ValueError:
        raise ValueError(f"bad household game id {game_id!r}: want '<split>/<index>', e.g. 'valid_seen/3'") from None
    if split not in SPLITS:
        raise ValueError(f"bad household game id {game_id!r}: unknown split {split!r} (known: {', '.join(SPLITS)})")
    if split != "train" and not 0 <= number < EVAL_SPLIT_SIZE:
        raise ValueError(f"bad household game id {game_id!r}: {split} has games 0..{EVAL_SPLIT_SIZE - 1}")
    return game_for(split, number)
