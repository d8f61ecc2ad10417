"""Household env figures: expert and random-policy success per task type, prompt lengths in
tiny-policy tokens, and reset/step speed.

1. The expert (full knowledge, shortest plans) and the searching expert (knows only what it has
   seen) on every game of ``valid_seen`` and ``valid_unseen`` (200 each): success (must be 1.0)
   and mean steps per task type.
2. A uniformly random admissible policy on the same 400 games, ``--random-seeds`` runs each, at
   ``max_steps`` 10, 20 and 50: success per task type.
3. Prompt lengths: ALFWorld's prompt builder (history 2) over expert and random turns of
   ``valid_unseen`` games, counted with the tiny word-level tokenizer of the local trainer built
   from random ``train`` episodes (as ``skillrl train --local`` builds it), with and without the
   skills of ``memory_data/alfworld/skills.json``; also the vocabulary size.
4. Speed: resets/s and steps/s of one in-process env (expert commands on ``train`` games).

The last line is ``BENCH household_steps_per_s=<n>``.

    python bench/household.py [--random-seeds 3] [--speed-games 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_system.environments.household import HouseholdEnv
from skillrl.utils.metrics import success_by_task_type

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPLIT = "valid_unseen"
MAX_STEPS = 50


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
    """Play ``games`` household games with a scripted policy, timing resets and steps (the
    bench's own loop: ``skillrl eval --env household`` is the play path of the project).

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
    start = time.perf_counter()
    records = []
    for k in range(games):
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



def _text(action: str) -> str:
    return f"<think>bench</think><action>{action}</action>"


def expert_figures() -> None:
    for policy in ("expert", "search"):
        for split in ("valid_seen", "valid_unseen"):
            r = play(policy=policy, games=200, split=split, progress=False)
            steps = ", ".join(f"{k} {v:.2f}" for k, v in r["mean_steps_by_type"].items())
            print(f"{policy} {split}: {r['won']}/{r['games']} won; mean steps {r['mean_steps']:.2f} ({steps})")


def random_figures(n_seeds: int) -> None:
    for max_steps in (10, 20, 50):
        by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for split in ("valid_seen", "valid_unseen"):
            for s in range(n_seeds):
                # seed s * 200 wraps onto the same 200 games; the policy's rng differs per run
                r = play(policy="random", games=200, split=split, seed=s * 200, max_steps=max_steps, progress=False)
                for k, (w, t) in r["by_type"].items():
                    by_type[k][0] += w
                    by_type[k][1] += t
        won = sum(w for w, _ in by_type.values())
        total = sum(t for _, t in by_type.values())
        per = ", ".join(f"{k} {w / t:.3f}" for k, (w, t) in sorted(by_type.items()))
        print(f"random max_steps={max_steps}: {won}/{total} = {won / total:.3f} ({per})")


def _episode_prompts(env, spec, seed: int, policy: str, rng: random.Random, block: str, history_length: int = 2,
                     max_steps: int = 20) -> list[str]:
    from agent_system.environments.base import PromptContext

    obs, info = env.reset(seed=seed)
    history: list[tuple[str, str]] = []
    prompts = []
    for turn in range(max_steps):
        adm = env.admissible_actions() or []
        prompts.append(spec.build_prompt(PromptContext(task=info["task"], observation=obs, history=tuple(history),
                                                       admissible_actions=tuple(adm), skill_block=block, turn=turn,
                                                       history_length=history_length)))
        action = info["expert_action"] if policy == "expert" else rng.choice(adm)
        nxt, _, done, info = env.step(_text(action))
        history.append((obs, action))
        obs = nxt
        if done:
            break
    return prompts


def prompt_figures() -> None:
    from agent_system.environments.household import SPEC, HouseholdEnv
    from skillrl.skills.retrieval import build_retriever
    from skillrl.trainer.local.tiny import build_word_tokenizer

    retriever = build_retriever(ROOT / "memory_data" / "alfworld" / "skills.json", taxonomy=SPEC.taxonomy)
    for skills in (False, True):
        rng = random.Random(0)
        train, unseen = HouseholdEnv("train"), HouseholdEnv("valid_unseen")

        def block(env, seed):
            if not skills:
                return ""
            _, info = env.reset(seed=seed)
            return retriever.retrieve(info["task"], info["task_type"]).text

        corpus = [p for s in range(64) for p in _episode_prompts(train, SPEC, s, "random", rng, block(train, s))]
        tok = build_word_tokenizer(corpus)
        counts = {}
        for policy in ("expert", "random"):
            prompts = [p for s in range(60) for p in _episode_prompts(unseen, SPEC, s, policy, rng, block(unseen, s))]
            lengths = [len(tok(p)["input_ids"]) for p in prompts]
            unk = sum(i == tok.unk_token_id for p in prompts for i in tok(p)["input_ids"])
            counts[policy] = (statistics.fmean(lengths), max(lengths), unk)
        print(f"prompt tokens ({'with' if skills else 'without'} skills, vocab {len(tok)}): "
              + "; ".join(f"{k} turns mean {m:.0f} max {x} (unknown words {u})" for k, (m, x, u) in counts.items()))


def speed(n_games: int) -> float:
    from agent_system.environments.household import HouseholdEnv

    env = HouseholdEnv("train")
    # fresh seeds (past any cache) so that resets include generation
    t_reset = t_step = 0.0
    n_steps = 0
    for seed in range(10_000_000, 10_000_000 + n_games):
        t0 = time.perf_counter()
        _, info = env.reset(seed=seed)
        t_reset += time.perf_counter() - t0
        done = False
        while not done:
            t0 = time.perf_counter()
            _, _, done, info = env.step(_text(info["expert_action"]))
            t_step += time.perf_counter() - t0
            n_steps += 1
    print(f"speed: {n_games / t_reset:.0f} resets/s ({1000 * t_reset / n_games:.2f} ms each, new game generated), "
          f"{n_steps / t_step:.0f} steps/s ({1000 * t_step / n_steps:.3f} ms each, both experts' next commands "
          "recomputed per step)")
    return n_steps / t_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--random-seeds", type=int, default=3, help="random-policy runs over the 400 eval games")
    ap.add_argument("--speed-games", type=int, default=2000, help="train games played for the speed figure")
    args = ap.parse_args()
    expert_figures()
    random_figures(args.random_seeds)
    prompt_figures()
    steps_per_s = speed(args.speed_games)
    print(f"BENCH household_steps_per_s={steps_per_s:.0f}")


if __name__ == "__main__":
    main()
