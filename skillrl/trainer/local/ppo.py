"""The PPO/GRPO update of the local trainer (verl's loss functions, a torch optimizer)."""

from __future__ import annotations

import torch

from skillrl.trainer._verl import clipped_policy_loss, kl_penalty
from skillrl.trainer.local.batch import ZERO_ADVANTAGE, TurnBatch, response_logprobs


def has_signal(advantages: list[float]) -> bool:
    """Whether any advantage is non-zero. After convergence every group has equal rewards and all
    advantages are 0; AdamW momentum alone must not move the policy then (DESIGN pitfall 1).

    >>> has_signal([0.0, 0.0]), has_signal([0.0, 0.5])
    (False, True)
    """
    return any(abs(a) > ZERO_ADVANTAGE for a in advantages)


def ppo_update(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: TurnBatch, *,
               old_logprobs: torch.Tensor, ref_logprobs: torch.Tensor | None, epochs: int, mini_batches: int,
               micro_batch_size: int, clip_ratio: float, kl_coef: float, grad_clip: float, temperature: float,
               loss_agg_mode: str, rollout_n: int, generator: torch.Generator) -> dict[str, float]:
    """PPO epochs × mini-batches over ``batch`` (one optimizer step per mini-batch).

    ``old_logprobs``/``ref_logprobs`` are ``(bs, R)`` aligned with ``batch``. Micro-batches
    accumulate gradients weighted by their share of the mini-batch's response tokens.
    Returns mean metrics (``actor/pg_loss``, ``actor/kl``, ``actor/grad_norm``, clip stats).
    """
    device = next(model.parameters()).device
    model.train()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(k: str, v: float) -> None:
        sums[k] = sums.get(k, 0.0) + float(v)
        counts[k] = counts.get(k, 0) + 1

    n = batch.size
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for mb in torch.tensor_split(perm, min(mini_batches, n)):
            if mb.numel() == 0:
                continue
            optimizer.zero_grad(set_to_none=True)
            mb_tokens = float(batch.response_mask[mb].sum().clamp(min=1))
            for micro in torch.split(mb, micro_batch_size):
                sub = batch.select(micro)
                R = sub.response_len
                mask = sub.response_mask.to(device)
                logp = response_logprobs(model, sub, temperature)
                old = old_logprobs[micro][:, :R].to(device)
                adv = sub.advantages.to(device)
                pg_loss, pg_metrics = clipped_policy_loss(old, logp, adv, mask, clip_ratio=clip_ratio,
                                                          loss_agg_mode=loss_agg_mode, rollout_n=rollout_n)
                loss = pg_loss
                if ref_logprobs is not None and kl_coef > 0:
                    kl = kl_penalty(logp, ref_logprobs[micro][:, :R].to(device))
                    kl_mean = (kl * mask).sum() / mask.sum().clamp(min=1)
                    loss = loss + kl_coef * kl_mean
                    add("actor/kl", float(kl_mean.detach()))
                weight = float(mask.sum()) / mb_tokens
                (loss * weight).backward()
                add("actor/pg_loss", float(pg_loss.detach()))
                for k, v in pg_metrics.items():
                    add(k if k.startswith("actor/") else f"actor/{k}", v)
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            add("actor/grad_norm", float(grad_norm))
            optimizer.step()
    return {k: sums[k] / counts[k] for k in sums}


@torch.no_grad()
def batch_logprobs(model: torch.nn.Module, batch: TurnBatch, *, temperature: float, micro_batch_size: int) -> torch.Tensor:
    """``(bs, R)`` response log-probs under ``model`` (no grad), computed in micro-batches."""
    was_training = model.training
    model.eval()
    out = torch.zeros(batch.response_ids.shape, dtype=torch.float32)
    for idx in torch.split(torch.arange(batch.size), micro_batch_size):
        sub = batch.select(idx)
        out[idx, : sub.response_len] = response_logprobs(model, sub, temperature).float().cpu()
    if was_training:
        model.train()
    return out
