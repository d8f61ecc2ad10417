"""Pure prompt builder of the WebShop env.

Layout (blocks separated by blank lines)::

    You are an expert autonomous agent operating in the WebShop e-commerce platform.
    Prior to this step, you have already taken N step(s). ... [Observation k: '...', Action k: '...']
    Your task is to: <task>.
    <skill block>                      <- on every turn, the first one included
    You are now at step N+1 and your current observation is: <page>
    Your admissible actions of the current situation are: [ ... ].
    <format instruction>

A prompt over the budget is cut from the left: the role line and the oldest history go first, the
task, the skills and the current page stay. The task is shown once: the search page's
``Instruction: [SEP] <task> [SEP]`` fields are dropped from the pages shown (current and past).
The format instruction names the two commands but gives no example action (an example biases
the choice).
"""

from __future__ import annotations

from agent_system.environments.base import PromptContext

_INTRO = "You are an expert autonomous agent operating in the WebShop e-commerce platform."
_FORMAT = (
    "Now it's your turn to take one action for the current step.\n"
    "You should first reason step-by-step about the current situation, then think carefully which "
    "admissible action best advances the shopping goal. This reasoning process MUST be enclosed "
    "within <think> </think> tags.\n"
    "Once you've finished your reasoning, choose one admissible action for the current step and "
    "present it within <action> </action> tags: search[...] with a query of your own words (only "
    "when search[<your query>] is listed), or click[...] with a clickable copied exactly from the list."
)
_SEP = " [SEP] "


def without_task(page: str, task: str) -> str:
    """``page`` without its ``Instruction: [SEP] <task> [SEP]`` fields (the prompt states the task).

    >>> without_task("WebShop [SEP] Instruction: [SEP] red socks [SEP] Search", "red socks")
    'WebShop [SEP] Search'
    """
    return page.replace(f"Instruction:{_SEP}{task}{_SEP}", "")


def build_prompt(ctx: PromptContext) -> str:
    """One turn's user prompt: recent history, task, skills, observation, admissible actions.

    ``search[<your query>]`` in the admissible actions means any query may be searched.

    >>> p = build_prompt(PromptContext(task="buy socks", observation="WebShop [SEP] Instruction: [SEP] buy socks [SEP] Search",
    ...                                admissible_actions=("search[<your query>]",), skill_block="S1"))
    >>> p.index("Your task is to: buy socks.") < p.index("S1") and "'search[<your query>]'" in p
    True
    >>> p.count("buy socks")
    1
    """
    parts: list[str] = [_INTRO]
    n_prior = max(ctx.turn, len(ctx.history))
    recent = list(ctx.history)[-ctx.history_length:] if ctx.history_length > 0 else []
    if recent:
        first = n_prior - len(recent) + 1
        lines = [
            f"[Observation {first + i}: '{without_task(obs, ctx.task)}', Action {first + i}: '{action}']"
            for i, (obs, action) in enumerate(recent)
        ]
        parts.append(
            f"Prior to this step, you have already taken {n_prior} step(s). Below are the most "
            f"recent {len(recent)} observations and the corresponding actions you took:\n" + "\n".join(lines)
        )
    parts.append(f"Your task is to: {ctx.task}.")
    if ctx.skill_block.strip():
        parts.append(ctx.skill_block.strip())
    parts.append(f"You are now at step {n_prior + 1} and your current observation is: "
                 f"{without_task(ctx.observation, ctx.task)}")
    if ctx.admissible_actions is not None:
        listed = ",\n".join(f"'{a}'" for a in ctx.admissible_actions)
        parts.append(f"Your admissible actions of the current situation are:\n[\n{listed}\n].")
    parts.append(_FORMAT)
    return "\n\n".join(parts)
