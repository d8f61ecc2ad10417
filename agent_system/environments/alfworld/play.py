"""Scripted ALFWorld runs (``skillrl env play alfworld``): the hand-coded expert or a random policy.

Games are played by an :class:`~agent_system.environments.manager.EnvironmentManager`, one env
per worker process, each worker's handle driven by its own thread pulling the next game.
Game ``k`` (0-based) is the one ``reset(seed + k)`` picks (see ``ALFWorldEnv.order``).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent_system.environments.alfworld.env import discover_games
from agent_system.environments.base import TextEnv
from skillrl.utils.metrics import success_by_task_type

log = logging.getLogger(__name__)

DEFAULT_SPLIT = "valid_unseen"
MAX_STEPS = 100
"""Turn limit of a scripted game (the expert needs at most ~50 on the eval splits)."""

#: ``policy(info, admissible, rng) -> raw model text``
ScriptedPolicy = Callable[[dict[str, Any], list[str], random.Random], str]


def _wrap(action: str) -> str:
    return f"<think>scripted</think><action>{action}</action>"


def expert_policy(info: dict[str, Any], admissible: list[str], rng: random.Random) -> str:
    """The hand-coded expert's next command (``look`` when the expert has none)."""
    return _wrap(info.get("expert_action") or "look")


def random_policy(info: dict[str, Any], admissible: list[str], rng: random.Random) -> str:
    """A uniformly random admissible command."""
    return _wrap(rng.choice(admissible) if admissible else "look")


POLICIES: dict[str, ScriptedPolicy] = {"expert": expert_policy, "random": random_policy}
"""Scripted policies by name; the first is the default of ``skillrl env play alfworld``."""


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Sequence[str] | None) -> str:
    """The shared contract test's policy: the expert's next command, statelessly."""
    return _wrap(info.get("expert_action") or "look")


def play_episode(env: TextEnv, seed: int, policy: ScriptedPolicy, max_steps: int = MAX_STEPS) -> dict[str, Any]:
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
    """Play ``games`` ALFWorld games with a scripted policy.

    Args:
        policy: ``"expert"`` (hand-coded expert) or ``"random"``.
        games: number of games (wraps around the split when larger).
        data_dir: folder holding ``json_2.1.1/`` (default: resolved).
        split: default ``valid_unseen``.
        workers: worker processes (0: ``min(cpu count, games)``).
        seed: game ``k`` is ``reset(seed + k)``.
        progress: show a tqdm bar.
        data: unused (the CLI passes it to every env).
        max_steps: turn limit per game.

    Returns:
        ``{"env", "split", "policy", "games", "won", "success_rate", "by_type": {type: [won,
        total]}, "mean_steps", "mean_step_ms", "mean_reset_ms", "wall_s", "workers", "errors",
        "failed_games"}``.

    Raises:
        ValueError: unknown policy. DataNotFoundError: missing data.
    """
    from agent_system.environments.manager import EnvironmentManager, WorkerCrashedError

    if policy not in POLICIES:
        raise ValueError(f"unknown ALFWorld policy {policy!r}; known: {', '.join(POLICIES)}")
    split = split or DEFAULT_SPLIT
    discover_games(data_dir, split)  # fail fast, in this process, with the data hint
    n_workers = max(1, min(workers or os.cpu_count() or 1, games))
    todo: queue.Queue[int] = queue.Queue()
    for k in range(games):
        todo.put(seed + k)
    records: list[dict[str, Any]] = []
    lock = threading.Lock()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=games, desc=f"alfworld {split} {policy}", unit="game")
    start = time.perf_counter()

    with EnvironmentManager("alfworld", n_workers, {"data_dir": data_dir, "split": split}, n_workers) as manager:

        def drain(handle: TextEnv) -> None:
            while True:
                try:
                    game_seed = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    rec = play_episode(handle, game_seed, POLICIES[policy], max_steps)
                except WorkerCrashedError as exc:
                    rec = {"game_id": exc.game_id, "task_type": "", "won": False, "error": str(exc), "step_s": []}
                except Exception as exc:
                    rec = {"game_id": f"seed {game_seed}", "task_type": "", "won": False,
                           "error": f"{type(exc).__name__}: {exc}", "step_s": []}
                with lock:
                    records.append(rec)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(won=sum(r["won"] for r in records))

        threads = [threading.Thread(target=drain, args=(h,), daemon=True) for h in manager.handles]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if bar is not None:
        bar.close()
    step_s = [s for r in records for s in r.get("step_s", [])]
    reset_s = [r["reset_s"] for r in records if "reset_s" in r]
    won = sum(bool(r["won"]) for r in records)
    return {
        "env": "alfworld",
        "split": split,
        "policy": policy,
        "games": len(records),
        "won": won,
        "success_rate": won / len(records) if records else 0.0,
        "by_type": success_by_task_type(records),
        "mean_steps": statistics.fmean(r.get("steps", 0) for r in records) if records else 0.0,
        "mean_step_ms": 1000 * statistics.fmean(step_s) if step_s else 0.0,
        "mean_reset_ms": 1000 * statistics.fmean(reset_s) if reset_s else 0.0,
        "wall_s": time.perf_counter() - start,
        "workers": n_workers,
        "errors": [r["error"] for r in records if r.get("error")],
        "failed_games": sorted(r["game_id"] for r in records if not r["won"]),
    }
