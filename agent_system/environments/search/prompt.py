"""The Search turn prompt: a pure function of :class:`PromptContext`.

Layout, every turn (the first included; blocks separated by blank lines):

1. the role;
2. from the second turn on: how many steps were taken and the last ``history_length`` of them,
   each as the action followed by what it returned (``<information>…</information>``, an
   invalid-action note, ...);
3. the question;
4. the skill block, when skills are on;
5. the format instruction (think, then exactly one ``<search>`` or ``<answer>``; no example
   answer, which would bias the model).

A prompt over the budget is cut from the left: the role line and the oldest steps go first, the
question, the skills and the instruction stay.

``ctx.history`` holds ``(observation_before, action)`` pairs, so the result of action *i* is the
observation of pair *i+1*, and the result of the last one is ``ctx.observation``.
"""

from __future__ import annotations

from agent_system.environments.base import PromptContext

ROLE = "You are an expert agent answering a question step by step with the help of a search engine."

INSTRUCTION = (
    "Now it is your turn to respond for the current step.\n"
    "First reason inside <think> </think> tags. Then choose exactly one action (never both):\n"
    "(1) If you are missing knowledge, query the search engine with <search> your query </search>; "
    "the top results come back inside <information> </information>.\n"
    "(2) If you can answer confidently, give the final answer inside <answer> </answer>: a short "
    "phrase, without explanation."
)


def build_prompt(ctx: PromptContext) -> str:
    """One turn's user prompt (see the module docstring for the layout)."""
    parts: list[str] = [ROLE]
    history = list(ctx.history)
    if history:
        results = [obs for obs, _ in history[1:]] + [ctx.observation]
        steps = [(i + 1, action, result) for i, ((_, action), result) in enumerate(zip(history, results))]
        shown = steps[-ctx.history_length :] if ctx.history_length > 0 else []
        lines = [f"You have already taken {len(steps)} step(s)."]
        if shown:
            lines.append(f"The last {len(shown)} step(s), each action followed by its result:")
            for number, action, result in shown:
                lines.append(f"Step {number}: {action.strip()}\n{result.strip()}")
        parts.append("\n".join(lines))
    parts.append(f"Question: {ctx.task}")
    if ctx.skill_block.strip():
        parts.append(ctx.skill_block.strip())
    parts.append(INSTRUCTION)
    return "\n\n".join(parts)
