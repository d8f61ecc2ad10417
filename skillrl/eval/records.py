"""Episode records of an evaluation (one JSON line each) and their summary (pure functions).

A record is JSON-safe and self-contained; the keys a report reads:

================== ==============================================================================
key                meaning
================== ==============================================================================
``key``            ``"<split>/<seed>/<sample>"``: unique in a run (resume skips written keys)
``run``            fingerprint of the run's settings (a resumed run must match it)
``split``          the split played ('' for envs without splits)
``seed``           the env seed (game ``k`` of a split is seed ``start + k``)
``sample``         0 .. n-1 (``--n`` plays every game n times)
``game_id``        the env's id of the game
``task``           the goal text
``task_type``      the env's task type (ALFWorld type, WebShop category, Search data set)
``won``, ``reward`` outcome (errors count as failures with reward 0)
``turns``          steps played; ``invalid_actions`` of them rejected by the env
``truncated``      the turn limit ended the episode
``error``          why the episode was aborted (env or policy failure), else null
``skill_ids``      skills injected into the prompts; ``bank_version`` of their bank
``prompt_tokens``  tokens of each turn's prompt; ``skill_tokens`` of the skill block (every turn)
``metadata``       labels: ``policy``, ``failure_kind`` of a perturbed policy …
``steps``          per turn: ``action``, ``is_action_valid``, ``observation`` (cut at 1,000
                   characters), ``reward``, ``output`` (the policy's text, cut at 1,000)
``wall_s``         seconds the episode took
================== ==============================================================================

The JSONL file of records is also an episode file for ``skillrl distill --episodes``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OBSERVATION_CHARS = 1000
OUTPUT_CHARS = 1000


@dataclass(frozen=True)
class Job:
    """One episode to play: game ``seed`` of ``split``, sample ``sample``."""

    split: str
    """The split ('' for envs without splits)."""
    seed: int
    """The env seed that picks the game."""
    sample: int = 0
    """Which of the ``n`` plays of this game."""

    @property
    def key(self) -> str:
        return f"{self.split}/{self.seed}/{self.sample}"

    @property
    def actor_seed(self) -> int:
        """Seed of a scripted actor's own choices (differs between samples of one game)."""
        return self.seed + 1_000_003 * self.sample


def episode_record(job: Job, episode: Any, *, run: str, prompt_tokens: Sequence[int], skill_tokens: int,
                   wall_s: float) -> dict[str, Any]:
    """The JSON record of a played ``episode`` (an :class:`skillrl.agent.episode.Episode`)."""
    steps = [
        {"action": s.action, "is_action_valid": s.is_action_valid, "observation": s.observation[:OBSERVATION_CHARS],
         "reward": s.reward, "output": s.generation.text[:OUTPUT_CHARS]}
        for s in episode.steps
    ]
    return {
        "key": job.key,
        "run": run,
        "env_name": episode.env_name,
        "split": job.split,
        "seed": job.seed,
        "sample": job.sample,
        "game_id": episode.game_id,
        "task": episode.task,
        "task_type": episode.task_type,
        "won": bool(episode.won) and episode.error is None,
        "reward": float(episode.reward) if episode.error is None else 0.0,
        "turns": episode.num_turns,
        "invalid_actions": sum(not s.is_action_valid for s in episode.steps),
        "truncated": bool(episode.truncated),
        "error": episode.error,
        "skill_ids": list(episode.skill_ids),
        "bank_version": episode.bank_version,
        "prompt_tokens": list(prompt_tokens),
        "skill_tokens": int(skill_tokens),
        "metadata": dict(episode.metadata),
        "steps": steps,
        "wall_s": round(float(wall_s), 4),
    }


def _rate(won: int, total: int) -> float:
    return won / total if total else 0.0


def _outcomes(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    won = sum(bool(r["won"]) for r in records)
    return {"won": won, "total": len(records), "success_rate": _rate(won, len(records)),
            "mean_reward": statistics.fmean(float(r["reward"]) for r in records) if records else 0.0}


def _grouped(records: Iterable[Mapping[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        groups[str(r.get(key) or "unknown")].append(r)
    return {k: _outcomes(groups[k]) for k in sorted(groups)}


def pass_at_k(records: Sequence[Mapping[str, Any]]) -> tuple[float, float, int]:
    """``(pass@k, mean@k, games)`` over the games of ``records`` (a game: one split and seed).

    pass@k is the share of games won in at least one of their samples; mean@k the mean, over
    games, of the share of their samples won (the expected success of one sample).

    >>> pass_at_k([{"split": "a", "seed": 0, "won": True}, {"split": "a", "seed": 0, "won": False},
    ...            {"split": "a", "seed": 1, "won": False}, {"split": "a", "seed": 1, "won": False}])
    (0.5, 0.25, 2)
    """
    games: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for r in records:
        games[(str(r.get("split", "")), int(r["seed"]))].append(bool(r["won"]))
    if not games:
        return 0.0, 0.0, 0
    passed = sum(any(v) for v in games.values()) / len(games)
    mean = statistics.fmean(sum(v) / len(v) for v in games.values())
    return passed, mean, len(games)


def summarize(records: Sequence[Mapping[str, Any]], *, n: int = 1) -> dict[str, Any]:
    """The ``summary`` of an evaluation from its episode records.

    Keys: ``episodes``, ``games``, ``errors``, ``won``, ``success_rate``, ``mean_reward``,
    ``by_type`` / ``by_split`` (``{name: {won, total, success_rate, mean_reward}}``),
    ``mean_turns``, ``invalid_action_rate`` (rejected steps / steps), ``prompt_tokens_per_turn``,
    ``skill_tokens_per_turn``, ``skill_token_share`` (skill block / prompt), ``mean_wall_s``,
    ``failure_kinds`` (episodes per injected failure kind, when a perturbed policy played),
    ``error_reasons`` (episodes per distinct error, first 20), and with ``n`` > 1 ``pass@n`` and
    ``mean@n``.
    """
    steps = sum(int(r["turns"]) for r in records)
    invalid = sum(int(r.get("invalid_actions", 0)) for r in records)
    turn_tokens = [t for r in records for t in r.get("prompt_tokens", ())]
    skill_turn_tokens = [int(r.get("skill_tokens", 0)) for r in records for _ in r.get("prompt_tokens", ())]
    out: dict[str, Any] = {"episodes": len(records)}
    overall = _outcomes(records)
    _, _, games = pass_at_k(records)
    out.update(games=games, errors=sum(r.get("error") is not None for r in records), won=overall["won"],
               success_rate=overall["success_rate"], mean_reward=overall["mean_reward"])
    out["by_type"] = _grouped(records, "task_type")
    out["by_split"] = _grouped(records, "split")
    out["mean_turns"] = steps / len(records) if records else 0.0
    out["invalid_action_rate"] = invalid / steps if steps else 0.0
    out["prompt_tokens_per_turn"] = statistics.fmean(turn_tokens) if turn_tokens else 0.0
    out["skill_tokens_per_turn"] = statistics.fmean(skill_turn_tokens) if skill_turn_tokens else 0.0
    out["skill_token_share"] = (sum(skill_turn_tokens) / sum(turn_tokens)) if sum(turn_tokens) else 0.0
    out["mean_wall_s"] = statistics.fmean(float(r.get("wall_s", 0.0)) for r in records) if records else 0.0
    kinds: dict[str, int] = defaultdict(int)
    for r in records:
        kind = (r.get("metadata") or {}).get("failure_kind")
        if kind:
            kinds[str(kind)] += 1
    if kinds:
        out["failure_kinds"] = dict(sorted(kinds.items()))
    reasons: dict[str, int] = defaultdict(int)
    for r in records:
        if r.get("error"):
            reasons[str(r["error"])[:300]] += 1
    if reasons:
        out["error_reasons"] = dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:20])
    if n > 1:
        passed, mean, _ = pass_at_k(records)
        out[f"pass@{n}"] = passed
        out[f"mean@{n}"] = mean
    return out
