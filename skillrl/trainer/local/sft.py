"""Supervised fine-tuning of the local policy (the cold start before GRPO).

The data is any sequence of ``(prompt, target)`` examples: teacher turns
(:class:`skillrl.sft.examples.SFTExample`, from a teacher played now or an export folder) or the
format warm-up's random-action turns (:mod:`skillrl.trainer.local.warmup`). One step minimises
the NLL of a batch of targets (EOS included) given their prompts, exactly as the policy sees
them (:meth:`LocalHFPolicy.encode_prompts`). Held-out teacher turns measure *exact-action
accuracy*: the policy answers greedily (with the run's constraint setting) and the env's
projection of its answer must equal the teacher's action.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from skillrl.trainer.local.batch import build_turn_batch, response_logprobs

#: format warm-up / SFT defaults (the tiny policy's; a checkpoint uses its own lr)
DEFAULT_SFT_BATCH_SIZE = 32
DEFAULT_TINY_SFT_LR = 1e-3
DEFAULT_CHECKPOINT_SFT_LR = 1e-5
DEFAULT_SFT_GRAD_CLIP = 1.0
#: held-out turns answered per accuracy check (at most)
DEFAULT_HELDOUT_TURNS = 256


class Example(Protocol):
    prompt: str
    target: str


@dataclass
class EncodedSFT:
    """Examples as token ids, ready for :func:`sft_step`."""

    prompt_ids: list[list[int]]
    target_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.prompt_ids)


def encode(examples: Sequence[Example], encode_prompts: Callable[[Sequence[str]], list[list[int]]],
           encode_target: Callable[[str], list[int]]) -> EncodedSFT:
    """Token ids of every example (prompts as the policy sees them, targets with EOS)."""
    return EncodedSFT(encode_prompts([ex.prompt for ex in examples]), [encode_target(ex.target) for ex in examples])


def sample_batch(rng: random.Random, size: int, batch_size: int) -> list[int]:
    """``batch_size`` example indices drawn with replacement."""
    return [rng.randrange(size) for _ in range(batch_size)]


def sft_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: EncodedSFT, indices: Sequence[int], *,
             pad_id: int, grad_clip: float = DEFAULT_SFT_GRAD_CLIP) -> float:
    """One AdamW step on the mean target-token NLL of ``indices``; returns the loss."""
    model.train()
    batch = build_turn_batch([data.prompt_ids[i] for i in indices], [data.target_ids[i] for i in indices],
                             [0.0] * len(indices), pad_id)
    logp = response_logprobs(model, batch, temperature=1.0)
    mask = batch.response_mask.to(logp.device)
    loss = -(logp * mask).sum() / mask.sum().clamp(min=1)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach())


def _norm(action: str) -> str:
    return " ".join(str(action).lower().split())


def action_accuracy(policy: Any, project: Callable[[str, Sequence[str] | None], Any], examples: Sequence[Any],
                    *, batch_size: int = 64) -> dict[str, float]:
    """Greedy answers of ``policy`` to held-out teacher turns (``prompt``, ``action``,
    ``admissible``), projected by the env: ``exact`` (same action as the teacher) and ``valid``
    (the env accepts the answer) rates."""
    if not examples:
        return {}
    temperature = policy.temperature
    policy.temperature = 0.0
    exact = valid = 0
    try:
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            gens = policy.generate_batch([ex.prompt for ex in chunk], [ex.admissible for ex in chunk])
            for ex, gen in zip(chunk, gens):
                parsed = project(gen.text, ex.admissible)
                valid += bool(parsed.valid)
                exact += bool(parsed.valid) and _norm(parsed.action) == _norm(ex.action)
    finally:
        policy.temperature = temperature
    return {"exact": exact / len(examples), "valid": valid / len(examples)}
