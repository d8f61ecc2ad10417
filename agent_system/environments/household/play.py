"""Scripted household runs (``skillrl env play household``): the expert, the searching expert,
or a random policy.

Games are generated, so they are played in this process (a game costs well under a
millisecond per step; worker processes would only add start-up time). Game ``k`` (0-based) is
the one ``reset(seed + k)`` picks in the split.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from agent_system.environments.household.env import HouseholdEnv
from skillrl.utils.metrics import success_by_task_type

DEFAULT_SPLIT = "valid_unseen"
MAX_STEPS = 50
"""Turn limit of a scripted game (the expert needs at most 10 steps, the searcher 14)."""

#: ``policy(info, admissible, rng) -> raw model text``
ScriptedPolicy = Callable[[dict[str, Any], list[str], random.Random], str]


def _wrap(action: str) -> str:
    return f"<think>scripted</think><action>{action}</action>"


def expert_policy(info: dict[str, Any], admissible: list[str], rng: random.Random) -> str:
    """The expert's next command (``info["expert_action"]``: shortest plans, full knowledge)."""
    return _wrap(info.get("expert_action") or "look")


def search_policy(info: dict[str, Any], admissible: list[str], rng: random.Random) -> str:
    """The searching expert's next command (``info["search_action"]``: knows only what it saw)."""
    return _wrap(info.get("search_action") or "look")


def random_policy(info: dict[str, Any], admissible: list[str], rng: random.Random) -> str:
    """A uniformly random admissible command."""
    return _wrap(rng.choice(admissible) if admissible else "look")


POLICIES: dict[str, ScriptedPolicy] = {"expert": expert_policy, "search": search_policy, "random": random_policy}


def play_episode(env: HouseholdEnv, seed: int, policy: ScriptedPolicy, max_steps: int = MAX_STEPS) -> dict[str, Any]:
    """Play one game; return ``{game_id, task_type, won, steps, reset_s, step_s[]}``."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    _obs, info = env.reset(seed=seed)
    reset_s = time.perf_counter() - t0
    record: dict[str, Any] = {"game_id": info["game_id"], "task_type": info["task_type"], "won": False}
    step_s: list[float] = []
    for _ in range(max_steps):
        text = policy(info, env.admissible_actions() or [], rng)
        t0 = time.perf_counter()
        _obs, _reward, done, info = env.step(text)
        step_s.append(time.perf_counter() - t0)
        if done:
            record["won"] = bool(info["won"])
            break
    record.update(steps=len(step_s), reset_s=reset_s, step_s=step_s)
    return record


def play(
    policy: str = "expert",
    games: int = 10,
    data_dir: str | None = None,
    split: str | None = None,
    workers: int = 0,
    seed: int = 0,
    progress: bool = True,
    data: str | None = None,
    max_steps: int = MAX_STEPS,
) -> dict[str, Any]:
    """Play ``games`` household games with a scripted policy.

    Args:
        policy: ``"expert"`` (shortest plans from the full state), ``"search"`` (the expert that
            knows only what it has seen) or ``"random"`` (uniform over admissible commands).
        games: number of games (an evaluation split wraps around after 200).
        data_dir, data, workers: accepted for the CLI's common signature; unused.
        split: ``train``, ``valid_seen`` or ``valid_unseen`` (default).
        seed: game ``k`` is ``reset(seed + k)``; also seeds the random policy per game.
        progress: show a tqdm bar.
        max_steps: turn limit per game.

    Returns:
        ``{"env", "split", "policy", "games", "won", "success_rate", "by_type": {type: [won,
        total]}, "mean_steps", "mean_steps_by_type": {type: mean steps of won games},
        "mean_step_ms", "mean_reset_ms", "wall_s", "max_steps", "failed_games"}``.

    Raises:
        ValueError: unknown policy or split, ``games`` < 1.
    """
    del data_dir, data, workers
    if policy not in POLICIES:
        raise ValueError(f"unknown household policy {policy!r}; known: {', '.join(POLICIES)}")
    if games < 1:
        raise ValueError(f"games must be >= 1, got {games}")
    split = split or DEFAULT_SPLIT
    env = HouseholdEnv(split=split)
    from tqdm import tqdm

    start = time.perf_counter()
    records = []
    for k in tqdm(range(games), desc=f"household {split} {policy}", unit="game", disable=not progress):
        records.append(play_episode(env, seed + k, POLICIES[policy], max_steps))
    env.close()
    step_s = [s for r in records for s in r["step_s"]]
    won = sum(r["won"] for r in records)
    won_steps: dict[str, list[int]] = {}
    for r in records:
        if r["won"]:
            won_steps.setdefault(r["task_type"], []).append(r["steps"])
    return {
        "env": "household",
        "split": split,
        "policy": policy,
        "games": len(records),
        "won": won,
        "success_rate": won / len(records),
        "by_type": success_by_task_type(records),
        "mean_steps": statistics.fmean(r["steps"] for r in records),
        "mean_steps_by_type": {k: statistics.fmean(v) for k, v in sorted(won_steps.items())},
        "mean_step_ms": 1000 * statistics.fmean(step_s) if step_s else 0.0,
        "mean_reset_ms": 1000 * statistics.fmean(r["reset_s"] for r in records),
        "wall_s": time.perf_counter() - start,
        "max_steps": max_steps,
        "failed_games": sorted(r["game_id"] for r in records if not r["won"]),
    }


def contract_policy(observation: str, info: dict[str, Any], admissible: list[str] | None) -> str:
    """The expert in the contract checker's policy signature ``(observation, info, admissible)``."""
    return _wrap(info.get("expert_action") or "look")
