"""Turning episodes into one padded training batch, and the GRPO/PPO math on it.

Every turn of every episode becomes one row ``[left-padded prompt | right-padded response]``;
its advantage is its episode's GRPO advantage (DESIGN: GRPO per trajectory, copied to each
turn, all turns in one re-padded batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from skillrl.agent.episode import Episode
from skillrl.trainer._verl import grpo_advantages
from skillrl.trainer.local.policy import position_ids_from_mask


#: |advantage| below this counts as zero (a batch of zeros skips the update; filtered groups drop)
ZERO_ADVANTAGE = 1e-8


def episode_advantages(rewards: Sequence[float], group_ids: Sequence[object]) -> list[float]:
    """GRPO outcome advantage of each episode (reward normalised within its group).

    >>> [round(a, 3) for a in episode_advantages([1.0, 0.0, 0.5, 0.5], ["a", "a", "b", "b"])]
    [0.707, -0.707, 0.0, 0.0]
    """
    if not rewards:
        return []
    scores = torch.tensor([[float(r)] for r in rewards], dtype=torch.float32)
    mask = torch.ones_like(scores)
    adv = grpo_advantages(scores, mask, np.asarray(list(group_ids), dtype=object))
    return [float(a) for a in adv[:, 0]]


@dataclass
class TurnBatch:
    """One padded batch of turns; every tensor has ``bs`` rows.

    ``input_ids``/``attention_mask``/``position_ids`` are ``(bs, P + R)``: prompts left-padded
    to ``P`` tokens, responses right-padded to ``R``. ``response_ids``/``response_mask``/
    ``advantages`` are ``(bs, R)``; ``response_mask`` is 1 on generated tokens (EOS included).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    advantages: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def response_len(self) -> int:
        return int(self.response_ids.shape[1])

    def select(self, index: torch.Tensor) -> "TurnBatch":
        """Rows ``index``, re-trimmed to the shortest padding that fits them."""
        sub = TurnBatch(*(t[index] for t in (self.input_ids, self.attention_mask, self.position_ids,
                                              self.response_ids, self.response_mask, self.advantages)))
        return sub.trimmed()

    def trimmed(self) -> "TurnBatch":
        R = self.response_len
        keep_r = int(self.response_mask.sum(-1).max().item()) if self.size else 0
        keep_r = max(keep_r, 1)
        P = self.input_ids.shape[1] - R
        prompt_mask = self.attention_mask[:, :P]
        keep_p = int(prompt_mask.sum(-1).max().item()) if self.size else 0
        cols = list(range(P - keep_p, P)) + list(range(P, P + keep_r))
        c = torch.tensor(cols, dtype=torch.long)
        return TurnBatch(self.input_ids[:, c], self.attention_mask[:, c], self.position_ids[:, c],
                         self.response_ids[:, :keep_r], self.response_mask[:, :keep_r], self.advantages[:, :keep_r])


def build_turn_batch(prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]],
                     advantages: Sequence[float], pad_id: int,
                     forced: Sequence[Sequence[bool]] | None = None) -> TurnBatch:
    """Pad prompts left and responses right into one :class:`TurnBatch`.

    Rows with an empty response are kept with an all-zero response mask (they add no loss);
    ``forced`` tokens (a decoding constraint left only them) are left out of the response mask.
    """
    n = len(prompt_ids)
    P = max((len(p) for p in prompt_ids), default=1)
    R = max(max((len(r) for r in response_ids), default=1), 1)
    ids = torch.full((n, P + R), pad_id, dtype=torch.long)
    attn = torch.zeros((n, P + R), dtype=torch.long)
    resp = torch.full((n, R), pad_id, dtype=torch.long)
    rmask = torch.zeros((n, R), dtype=torch.float32)
    for i, (p, r) in enumerate(zip(prompt_ids, response_ids)):
        ids[i, P - len(p):P] = torch.tensor(list(p), dtype=torch.long)
        attn[i, P - len(p):P] = 1
        if r:
            ids[i, P:P + len(r)] = torch.tensor(list(r), dtype=torch.long)
            attn[i, P:P + len(r)] = 1
            resp[i, :len(r)] = torch.tensor(list(r), dtype=torch.long)
            rmask[i, :len(r)] = 1.0
            row_forced = forced[i] if forced is not None else ()
            for j, was_forced in enumerate(row_forced[:len(r)]):
                if was_forced:
                    rmask[i, j] = 0.0
    adv = torch.tensor(list(advantages), dtype=torch.float32).unsqueeze(-1) * rmask
    return TurnBatch(ids, attn, position_ids_from_mask(attn), resp, rmask, adv)


def informative_episodes(episodes: Sequence[Episode],
                         advantages: Sequence[float]) -> tuple[list[Episode], list[float]]:
    """The episodes whose advantage is not 0 (``|a| > ZERO_ADVANTAGE``), with their advantages: what
    an update filtered by group keeps (a group whose rewards are all equal has advantage 0).

    >>> informative_episodes(["a", "b", "c"], [0.0, 0.7, -0.7])
    (['b', 'c'], [0.7, -0.7])
    """
    kept = [(ep, a) for ep, a in zip(episodes, advantages) if abs(a) > ZERO_ADVANTAGE]
    return [ep for ep, _ in kept], [a for _, a in kept]


def episodes_to_batch(episodes: Sequence[Episode], advantages: Sequence[float], pad_id: int) -> TurnBatch:
    """All turns of ``episodes`` (those with token ids), each carrying its episode's advantage
    (tokens a decoding constraint forced carry no loss)."""
    prompts, responses, advs, forced = [], [], [], []
    for ep, adv in zip(episodes, advantages):
        for step in ep.steps:
            if not step.generation.prompt_ids:
                continue
            prompts.append(step.generation.prompt_ids)
            responses.append(step.generation.response_ids)
            advs.append(adv)
            forced.append(step.generation.forced)
    return build_turn_batch(prompts, responses, advs, pad_id, forced=forced)


def response_logprobs(model: torch.nn.Module, batch: TurnBatch, temperature: float = 1.0) -> torch.Tensor:
    """``(bs, R)`` log-probabilities of the response tokens under ``model`` (logits / temperature).

    Only the last ``R + 1`` positions are projected to the vocabulary (``logits_to_keep``).
    """
    device = next(model.parameters()).device
    R = batch.response_len
    out = model(
        input_ids=batch.input_ids.to(device),
        attention_mask=batch.attention_mask.to(device),
        position_ids=batch.position_ids.to(device),
        logits_to_keep=R + 1,
        use_cache=False,
    )
    logits = out.logits[:, :-1, :].float()
    if temperature > 0:
        logits = logits / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return logp.gather(-1, batch.response_ids.to(device).unsqueeze(-1)).squeeze(-1)
