"""The format warm-up's data: turns of uniformly random admissible actions.

Pure RL from a random init never produces a well-formed action, so the reward stays 0
(DESIGN). The ``format`` cold start (:class:`LocalTrainConfig` ``cold_start=format``) trains on
*uniformly random admissible* actions: it teaches only the ``<action>…</action>`` format and the
action vocabulary, not the task, so the RL signal still has to do all the work of choosing the
right action. A teacher cold start (``cold_start=expert|search|oracle|DIR``) teaches the task
too (:mod:`skillrl.trainer.local.sft`). These episodes also give the tiny tokenizer its words.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from agent_system.environments.base import EnvSpec, PromptContext, TextEnv
from skillrl.agent.style import NativeStyle, PromptStyle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FormatExample:
    """One supervised example: a prompt and the target output text."""

    prompt: str
    target: str


#: the think text of a random action (it is what the warm-up does: explore)
RANDOM_THINK = "explore"


def format_target(action: str, think: bool = False) -> str:
    """The output the policy is taught to produce for ``action`` (with a one-word think block
    for envs whose projection requires one)."""
    return f"<think>{RANDOM_THINK}</think><action>{action}</action>" if think else f"<action>{action}</action>"


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
    """Minimise the NLL of the targets (EOS included) for ``steps`` AdamW steps; return the losses
    (a stand-alone SFT loop over :func:`skillrl.trainer.local.sft.sft_step`, for benches)."""
    if steps <= 0 or not examples:
        return []
    from tqdm.auto import tqdm

    from skillrl.trainer.local.sft import encode, sample_batch, sft_step

    rng = random.Random(seed)
    data = encode(examples, encode_prompts, encode_target)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses: list[float] = []
    bar = tqdm(range(steps), desc="supervised warm-up", disable=not progress, leave=False)
    for _ in bar:
        losses.append(sft_step(model, opt, data, sample_batch(rng, len(data), batch_size), pad_id=pad_id))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    log.info("supervised warm-up: %d steps, loss %.3f -> %.3f", steps, losses[0], losses[-1])
    return losses
