"""ALFWorld turn prompt: a pure function of :class:`PromptContext`.

Layout (blocks separated by blank lines; empty blocks are left out)::

    You are an expert agent operating in the ALFRED Embodied Environment.
    Prior to this step you have taken N step(s). The last K observations and your actions: ...
    Your task is to: <task>
    <skill block>                      <- on every turn, the first one included
    You are now at step N+1 and your current observation is: <observation>
    Your admissible actions of the current situation are: ['<a>', '<b>', ...].
    <output-format instruction: <think>...</think><action>...</action>>

Why this order: a prompt over the budget is cut from the left, so what goes first is what can be
lost first — the role line, then the oldest turns of the history; the task, the skills, the
current observation, the actions and the format instruction stay to the end.

The history block shows the last ``ctx.history_length`` (observation, action) pairs, numbered by
their absolute step, as plain text (whitespace folded, nothing escaped); it is absent on turn 0
(or when ``history_length`` is 0). The task is shown once: the reset observation's own
``Your task is to: ...`` line is dropped, in the current observation and in the history alike.
The format instruction names the tags but gives no example action (an example biases the choice).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent_system.environments.base import PromptContext

INTRO = "You are an expert agent operating in the ALFRED Embodied Environment."

FORMAT_INSTRUCTION = (
    "Now it's your turn to take an action.\n"
    "First reason step by step about the current situation; this reasoning MUST be enclosed "
    "within <think> </think> tags.\n"
    "Then choose ONE admissible action for the current step, copy it exactly from the list above, "
    "and present it within <action> </action> tags after your reasoning."
)

_TASK_LINE = re.compile(r"\s*Your task is to:\s*(?P<task>.+?)\s*$", re.DOTALL)


def without_task(observation: str, task: str) -> str:
    """``observation`` without a trailing ``Your task is to: <task>`` line that repeats ``task``.

    >>> without_task("You are in a room.\\n\\nYour task is to: put a mug in desk.", "put a mug in desk.")
    'You are in a room.'
    >>> without_task("Your task is to: something else", "put a mug in desk.")
    'Your task is to: something else'
    """
    m = _TASK_LINE.search(observation)
    if m and " ".join(m.group("task").split()) == " ".join(task.split()):
        return observation[: m.start()].rstrip()
    return observation


def plain(text: str) -> str:
    """``text`` on one line (whitespace runs folded to one space).

    >>> plain("  You arrive at desk 1.\\n\\nOn it, you see a mug. ")
    'You arrive at desk 1. On it, you see a mug.'
    """
    return " ".join(text.split())


def render_history(history: Sequence[tuple[str, str]], keep: int, n_prior: int | None = None, task: str = "") -> str:
    """The last ``keep`` turns as ``[Observation i: '...', Action i: '...']`` lines ('' if none).

    ``n_prior`` is the number of steps taken so far (default ``len(history)``); it numbers the
    shown turns by absolute step even when the caller passed a truncated history. Observations
    are shown without a line repeating ``task``.
    """
    if keep <= 0 or not history:
        return ""
    shown = list(history[-keep:])
    first = (len(history) if n_prior is None else n_prior) - len(shown) + 1
    lines = []
    for i, (obs, action) in enumerate(shown, start=first):
        lines.append(f"[Observation {i}: '{plain(without_task(obs, task))}', Action {i}: '{plain(action)}']")
    return "\n".join(lines)


def build_prompt(ctx: PromptContext) -> str:
    """Build one turn's user prompt (see the module docstring for the layout)."""
    blocks = [INTRO]
    n_prior = max(ctx.turn, len(ctx.history))
    history = render_history(ctx.history, ctx.history_length, n_prior, ctx.task)
    if history:
        shown = min(len(ctx.history), ctx.history_length)
        blocks.append(
            f"Prior to this step, you have already taken {n_prior} step(s). Below are the most "
            f"recent {shown} observation(s) and the corresponding action(s) you took:\n{history}"
        )
    blocks.append(f"Your task is to: {ctx.task.strip()}")
    if ctx.skill_block.strip():
        blocks.append(ctx.skill_block.strip())
    observation = without_task(ctx.observation, ctx.task).strip()
    blocks.append(f"You are now at step {n_prior + 1} and your current observation is: {observation}")
    if ctx.admissible_actions is not None:
        listed = ", ".join(f"'{a}'" for a in ctx.admissible_actions)
        blocks.append(f"Your admissible actions of the current situation are: [{listed}].")
    blocks.append(FORMAT_INSTRUCTION)
    return "\n\n".join(blocks)
