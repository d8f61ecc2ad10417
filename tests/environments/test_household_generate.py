"""Household generation and expert: determinism, disjoint splits, plan bounds, optimal plans."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from agent_system.environments.household import generate
from agent_system.environments.household.expert import known_state, next_action, plan, search_action
from agent_system.environments.household.game import NOTHING_HAPPENS, Game, State, admissible, apply, is_won
from agent_system.environments.household.generate import (
    EVAL_SPLIT_SIZE,
    PLAN_STEPS,
    eval_games,
    game_by_id,
    game_for,
    signature,
    split_of_layout,
    train_game,
)
from agent_system.environments.household.world import TASK_TYPES, held_out_combos

ROOT = Path(__file__).resolve().parents[2]
TRAIN_SEEDS = range(600)


def _solve(game: Game) -> tuple[bool, int]:
    """Follow the expert one command at a time (replanning each step, as the env does)."""
    state, steps = game.start, 0
    while not is_won(game, state) and steps < 30:
        state, feedback = apply(game, state, next_action(game, state))
        assert feedback != NOTHING_HAPPENS
        steps += 1
    return is_won(game, state), steps


def _all_games() -> list[Game]:
    return [train_game(s) for s in TRAIN_SEEDS] + list(eval_games("valid_seen")) + list(eval_games("valid_unseen"))


def test_expert_wins_every_game_within_the_plan_bounds():
    lengths: dict[str, list[int]] = {}
    for game in _all_games():
        won, steps = _solve(game)
        assert won, game.game_id
        low, high = PLAN_STEPS[game.task_type]
        assert low <= steps <= high, (game.game_id, steps)
        assert steps == len(plan(game, game.start))
        lengths.setdefault(game.task_type, []).append(steps)
    assert set(lengths) == set(TASK_TYPES)
    flat = [n for v in lengths.values() for n in v]
    assert min(flat) >= 3 and max(flat) <= 10
    assert 5.0 <= sum(flat) / len(flat) <= 7.5  # short plans on average (≈6)


def _bfs(game: Game, state: State, limit: int) -> int | None:
    """Shortest number of commands to a win (looks, inventories, examines and closes skipped:
    they never help), or None beyond ``limit``."""
    if is_won(game, state):
        return 0
    frontier, visited = [state], {replace(state, seen=frozenset())}
    for depth in range(1, limit + 1):
        nxt = []
        for s in frontier:
            for command in admissible(game, s):
                if command in ("look", "inventory") or command.startswith(("examine ", "close ")):
                    continue
                n, _ = apply(game, s, command)
                key = replace(n, seen=frozenset())  # what the agent saw does not change the world
                if key in visited:
                    continue
                if is_won(game, n):
                    return depth
                visited.add(key)
                nxt.append(n)
        frontier = nxt
    return None


def test_expert_plans_are_shortest_from_the_start_and_from_midway():
    rng = random.Random(1)
    games = list(eval_games("valid_seen")[:24]) + [train_game(s) for s in range(24)]
    for game in games:
        assert _bfs(game, game.start, 12) == len(plan(game, game.start)), game.game_id
        # a random walk away from the start (wrong objects in hand, receptacles opened ...)
        state = game.start
        for _ in range(rng.randint(2, 10)):
            state, _ = apply(game, state, rng.choice(admissible(game, state)))
        if not is_won(game, state):
            steps = plan(game, state)
            assert steps and _bfs(game, state, len(steps)) == len(steps), game.game_id


def test_games_are_deterministic_per_seed():
    assert game_for("train", 123) == game_for("train", 123)
    assert game_for("valid_seen", 5) == game_for("valid_seen", 205) == game_by_id("valid_seen/5")
    generate.train_game.cache_clear()
    generate.eval_games.cache_clear()
    again = [train_game(s) for s in range(30)] + list(eval_games("valid_unseen")[:30])
    generate.train_game.cache_clear()
    generate.eval_games.cache_clear()
    assert again == [train_game(s) for s in range(30)] + list(eval_games("valid_unseen")[:30])


def test_games_do_not_depend_on_the_process():
    code = ("import json; from agent_system.environments.household.generate import game_for, signature; "
            "print(json.dumps([[signature(g), g.goal] for g in [game_for(sp, s) for sp in "
            "('train', 'valid_seen', 'valid_unseen') for s in range(8)]]))")
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                             check=True)
        outs.append(json.loads(res.stdout))
    here = [[signature(g), g.goal] for g in [game_for(sp, s) for sp in ("train", "valid_seen", "valid_unseen")
                                               for s in range(8)]]
    assert outs[0] == outs[1] == here


def test_splits_are_disjoint_and_balanced():
    train = {signature(train_game(s)) for s in range(3000)}
    seen = [signature(g) for g in eval_games("valid_seen")]
    unseen = [signature(g) for g in eval_games("valid_unseen")]
    assert len(set(seen)) == len(seen) == EVAL_SPLIT_SIZE
    assert len(set(unseen)) == len(unseen) == EVAL_SPLIT_SIZE
    assert not train & set(seen) and not train & set(unseen) and not set(seen) & set(unseen)
    held = held_out_combos()
    for split in ("valid_seen", "valid_unseen"):
        games = eval_games(split)
        assert all(split_of_layout(g) == split for g in games)
        assert all(((g.task_type, g.obj_kind, g.recep_kind) in held) == (split == "valid_unseen") for g in games)
        counts = Counter(g.task_type for g in games)
        assert set(counts) == set(TASK_TYPES) and min(counts.values()) >= EVAL_SPLIT_SIZE // 6
    assert all(split_of_layout(train_game(s)) == "train" for s in range(300))
    # the train split reaches every seen combination's kinds
    assert {(g.task_type, g.obj_kind) for g in map(train_game, range(3000))} >= {
        (g.task_type, g.obj_kind) for g in eval_games("valid_unseen")}


def test_game_sizes_are_small():
    for game in _all_games():
        assert 4 <= len(game.receptacles) <= 6
        assert 2 <= len(game.objects) <= 8
        assert not is_won(game, game.start)


def test_game_ids_round_trip_and_bad_ids_are_explained():
    for gid in ("train/7", "train/-3", "valid_seen/0", "valid_unseen/199"):
        assert game_by_id(gid).game_id == gid
    for bad, msg in (("valid_seen/200", "games 0..199"), ("test/1", "unknown split"), ("valid_seen", "want"),
                     ("valid_seen/x", "want")):
        with pytest.raises(ValueError, match=msg):
            game_by_id(bad)
    with pytest.raises(ValueError, match="unknown household split"):
        game_for("valid", 0)


def test_searcher_wins_every_game_without_hidden_knowledge():
    rng = random.Random(2)
    lengths = []
    for game in _all_games():
        state, steps = game.start, 0
        optimal = len(plan(game, game.start))
        while not is_won(game, state):
            action = search_action(game, state)
            # what it does must not depend on where unseen objects lie: shuffle them among the
            # receptacles it has not seen and ask again
            hidden = [(o, r) for o, r in state.places if r not in state.seen]
            unseen = sorted(set(game.receptacles) - state.seen)
            if hidden and len(unseen) > 1:
                moved = replace(state, places=tuple(sorted([p for p in state.places if p[1] in state.seen]
                                                           + [(o, rng.choice(unseen)) for o, _ in hidden])))
                if not is_won(game, moved):
                    assert search_action(game, moved) == action, (game.game_id, steps)
            state, feedback = apply(game, state, action)
            assert feedback != NOTHING_HAPPENS, (game.game_id, action)
            steps += 1
            assert steps <= 16, game.game_id
        assert steps >= optimal
        lengths.append(steps)
    assert sum(lengths) / len(lengths) <= 8.5
    assert search_action(game, state) == "look"


def test_what_the_agent_has_seen():
    game = train_game(4)  # heat: apple in the closed fridge 1
    state = game.start
    assert state.seen == frozenset() and known_state(state).places == ()
    fridge = next(r for r in game.receptacles if r.startswith("fridge"))
    state, _ = apply(game, state, f"go to {fridge}")
    assert fridge not in state.seen  # closed: nothing seen yet
    state, _ = apply(game, state, f"open {fridge}")
    assert fridge in state.seen and known_state(state).contents(fridge) == state.contents(fridge)
    table = next(r for r in game.receptacles if r.startswith("diningtable"))
    state, _ = apply(game, state, f"go to {table}")
    assert table in state.seen
