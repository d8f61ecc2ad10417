"""Supervised format warm-up and vocabulary sampling.

Pure RL from a random init never produces a well-formed action, so the reward stays 0
(DESIGN). A short supervised pass on *uniformly random admissible* actions teaches only the
``<action>…</action>`` format and the action vocabulary, not the task: the RL signal still has
to do all the work of choosing the right action.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from agent_system.environments.base import EnvSpec, PromptContext, TextEnv
from skillrl.agent.style import NativeStyle, PromptStyle
from skillrl.trainer.local.batch import build_turn_batch, response_logprobs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FormatExample:
    """One supervised example: a prompt and the target output text."""

    prompt: str
    target: str


def format_target(action: str, think: bool = False) -> str:
    """The output the policy is taught to produce for ``action`` (with an empty-ish think block
    for envs whose projection requires one)."""
    return f"<think>act</think><action>{action}</action>" if think else f"<action>{action}</action>"


def needs_think(spec: EnvSpec, action: str, admissible: Sequence[str]) -> bool:
    """True when ``spec``'s projection rejects a bare ``<action>`` block but accepts a think block."""
    bare = spec.project_action(format_target(action), admissible)
    return not bare.valid and spec.project_action(format_target(action, think=True), admissible).valid


def sample_format_examples(env: TextEnv, spec: EnvSpec, *, episodes: int, max_steps: int, history_length: int,
                           rng: random.Random, skill_block: Callable[[str, str], str] | None = None,
                           seed_offset: int = 0, style: PromptStyle | None = None) -> list[FormatExample]:
    """Play ``episodes`` episodes with uniformly random admissible actions; one example per turn.

    ``skill_block(task, task_type)`` supplies the rendered skills when skills are on, and the
    prompts are built in the prompt ``style`` of the run (default: native), so that warm-up
    prompts look like training prompts. Envs without admissible actions give no examples.
    """
    style = style if style is not None else NativeStyle(spec)
    out: list[FormatExample] = []
    think: bool | None = None
    for i in range(episodes):
        obs, info = env.reset(seed=rng.randrange(2**31) + seed_offset)
        task = style.prompt_task(obs, str(info.get("task", "")))
        task_type = str(info.get("task_type", ""))
        block = skill_block(task, task_type) if skill_block else ""
        history: list[tuple[str, str]] = []
        for turn in range(max_steps):
            admissible = env.admissible_actions()
            if not admissible:
                break
            action = rng.choice(list(admissible))
            if think is None:
                think = needs_think(spec, action, admissible)
            prompt = style.build_prompt(PromptContext(task=task, observation=obs, history=tuple(history),
                                                     admissible_actions=tuple(admissible), skill_block=block,
                                                     turn=turn, history_length=history_length))
            out.append(FormatExample(prompt, format_target(action, bool(think))))
            next_obs, _, done, _ = env.step(format_target(action, bool(think)))
            history.append((obs, action))
            obs = next_obs
            if done:
                break
    return out


def example_texts(examples: Iterable[FormatExample]) -> list[str]:
    """Prompt and target texts (the corpus of the tiny tokenizer)."""
    out: list[str] = []
    for ex in examples:
        out.extend((ex.prompt, ex.target))
    return out


def supervised_warmup(model: torch.nn.Module, encode_prompts: Callable[[Sequence[str]], list[list[int]]],
                      encode_target: Callable[[str], list[int]], examples: Sequence[FormatExample], *,
                      steps: int, batch_size: int = 32, lr: float = 1e-3, pad_id: int = 0, seed: int = 0,
                      progress: bool = False) -> list[float]:
    """Minimise the NLL of the targets (EOS included) for ``steps`` AdamW steps; return the losses."""
    if steps <= 0 or not examples:
        return []
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    prompt_ids = encode_prompts([ex.prompt for ex in examples])
    target_ids = [encode_target(ex.target) for ex in examples]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses: list[float] = []
    bar = tqdm(range(steps), desc="format warm-up", disable=not progress, leave=False)
    for _ in bar:
        idx = [rng.randrange(len(examples)) for _ in range(batch_size)]
        batch = build_turn_batch([prompt_ids[i] for i in idx], [target_ids[i] for i in idx], [0.0] * len(idx), pad_id)
        logp = response_logprobs(model, batch, temperature=1.0)
        mask = batch.response_mask.to(logp.device)
        loss = -(logp * mask).sum() / mask.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    log.info("format warm-up: %d steps, loss %.3f -> %.3f", steps, losses[0], losses[-1])
    return losses
