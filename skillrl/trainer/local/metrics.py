"""Metrics of a batch of episodes (what the trainer logs and ``skillrl report`` plots)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from skillrl.agent.episode import Episode
from skillrl.utils.metrics import success_by_task_type, success_metrics


def rollout_metrics(episodes: Sequence[Episode], prefix: str = "train", scoring: Any = None) -> dict[str, float]:
    """Mean reward/success/turns/valid-action rate/response length of a batch of episodes (and
    the mean score, ``<prefix>/score_mean``, when an ``EpisodeScoring`` is given)."""
    if not episodes:
        return {f"{prefix}/num_episodes": 0.0}
    steps = [s for ep in episodes for s in ep.steps]
    return {
        f"{prefix}/num_episodes": float(len(episodes)),
        f"{prefix}/reward_mean": sum(ep.reward for ep in episodes) / len(episodes),
        **({f"{prefix}/score_mean": sum(scoring.score(ep) for ep in episodes) / len(episodes)} if scoring else {}),
        f"{prefix}/success_rate": sum(ep.won for ep in episodes) / len(episodes),
        f"{prefix}/turns_mean": sum(ep.num_turns for ep in episodes) / len(episodes),
        f"{prefix}/valid_action_rate": (sum(s.is_action_valid for s in steps) / len(steps)) if steps else 0.0,
        f"{prefix}/response_length": (sum(len(s.generation.response_ids) for s in steps) / len(steps)) if steps else 0.0,
        f"{prefix}/episode_errors": float(sum(ep.error is not None for ep in episodes)),
    }


def report_metrics(episodes: Sequence[Episode], count_tokens: Callable[[str], int],
                   skill_block: Callable[[str, str], str] | None, prefix: str = "train") -> dict[str, float]:
    """What ``skillrl report`` plots beyond :func:`rollout_metrics`: success per task type
    (``{prefix}/success_rate/<type>``) and prompt size per turn in the policy's tokens —
    ``{prefix}/prompt_tokens_mean`` (the prompts as the policy saw them) and
    ``{prefix}/skill_tokens_mean`` (the episode's skill block, re-retrieved through
    ``skill_block(task, task_type)`` and counted with ``count_tokens``; 0 when skills are off).
    Turns without prompt ids (scripted policies) are left out of the token means."""
    out = {k: v for k, v in success_metrics(success_by_task_type(ep.summary() for ep in episodes), prefix).items()
           if k != f"{prefix}/success_rate"}
    turns = [(ep, s) for ep in episodes for s in ep.steps if s.generation.prompt_ids]
    if turns:
        out[f"{prefix}/prompt_tokens_mean"] = sum(len(s.generation.prompt_ids) for _, s in turns) / len(turns)
        block_tokens: dict[tuple[str, str], int] = {}
        total = 0
        for ep, _ in turns:
            key = (ep.task, ep.task_type)
            if key not in block_tokens:
                block_tokens[key] = count_tokens(skill_block(*key)) if skill_block is not None else 0
            total += block_tokens[key]
        out[f"{prefix}/skill_tokens_mean"] = total / len(turns)
    return out
