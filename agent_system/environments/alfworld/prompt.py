"""ALFWorld turn prompt: a pure function of :class:`PromptContext`.

Layout (blocks separated by blank lines; empty blocks are left out)::

    You are an expert agent operating in the ALFRED Embodied Environment.
    <skill block>                      <- on every turn, the first one included
    Your task is to: <task>
    Prior to this step you have taken N step(s). The last K observations and your actions: ...
    You are now at step N+1 and your current observation is: <observation>
    Your admissible actions of the current situation are: [<a>, <b>, ...].
    <output-format instruction: <think>...</think><action>...</action>>

The history block shows the last ``ctx.history_length`` (observation, action) pairs, numbered
by their absolute step; it is absent on turn 0 (or when ``history_length`` is 0).
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_system.environments.base import PromptContext

INTRO = "You are an expert agent operating in the ALFRED Embodied Environment."

FORMAT_INSTRUCTION = (
    "Now it's your turn to take an action.\n"
    "First reason step by step about the current situation; this reasoning MUST be enclosed "
    "within <think> </think> tags.\n"
    "Then choose ONE admissible action for the current step and present it within "
    "<action> </action> tags, for example: <think>...</think><action>go to countertop 1</action>."
)


def render_history(history: Sequence[tuple[str, str]], keep: int, n_prior: int | None = None) -> str:
    """The last ``keep`` turns as ``[Observation i: '...', Action i: '...']`` lines ('' if none).

    ``n_prior`` is the number of steps taken so far (default ``len(history)``); it numbers the
    shown turns by absolute step even when the caller passed a truncated history.
    """
    if keep <= 0 or not history:
        return ""
    shown = list(history[-keep:])
    first = (len(history) if n_prior is None else n_prior) - len(shown) + 1
    lines = []
    for i, (obs, action) in enumerate(shown, start=first):
        lines.append(f"[Observation {i}: {obs.strip()!r}, Action {i}: {action.strip()!r}]")
    return "\n".join(lines)


def build_prompt(ctx: PromptContext) -> str:
    """Build one turn's user prompt (see the module docstring for the layout)."""
    blocks = [INTRO]
    if ctx.skill_block.strip():
        blocks.append(ctx.skill_block.strip())
    blocks.append(f"Your task is to: {ctx.task.strip()}")
    n_prior = max(ctx.turn, len(ctx.history))
    history = render_history(ctx.history, ctx.history_length, n_prior)
    if history:
        shown = min(len(ctx.history), ctx.history_length)
        blocks.append(
            f"Prior to this step, you have already taken {n_prior} step(s). Below are the most "
            f"recent {shown} observation(s) and the corresponding action(s) you took:\n{history}"
        )
    blocks.append(
        f"You are now at step {n_prior + 1} and your current observation is: {ctx.observation.strip()}"
    )
    if ctx.admissible_actions is not None:
        listed = ", ".join(f"'{a}'" for a in ctx.admissible_actions)
        blocks.append(f"Your admissible actions of the current situation are: [{listed}].")
    blocks.append(FORMAT_INSTRUCTION)
    return "\n\n".join(blocks)
