"""Search in the original SkillRL's prompt style: turn prompt and action projection.

Pure functions; template wording from the original checkout (:func:`load_templates`), the rest
written here from the documented behaviour of the original (aiming-lab/SkillRL @ 48c8446f).

Observations: the reset observation is the question; after a step it is the tool output,
``<information>{"result": "Doc 1: ..."}</information>`` with the passages JSON-encoded (quotes
escaped, newlines as ``\\n``, non-ASCII as ``\\uXXXX``), or ``""`` when the action was not a
search. The prompt shows that text verbatim: nothing is decoded.

Prompt (``SearchEnvironmentManager.build_text_obs``, ``env_manager.py:130-172``):

- turn 0 / ``history_length <= 0``: the no-history template with the question only;
- later turns: history or with-memory template with ``step_count`` and the last
  ``history_length`` steps, each ``Step k:<action> <result>\\n`` (the projected action, a space,
  the env's output after it), joined by ``\\n`` (``memory/memory.py:168-181``). The current
  observation is not shown separately: it is the result of the last step.

Projection (``env_package/search/projection.py``): cut the text after the first ``</search>``
(else after the first ``</answer>``; both case-sensitive), then take the first
``<search>…</search>`` block (tags case-insensitive, content stripped) as
``<search>content</search>``, else the first ``<answer>…</answer>`` block likewise, else ``""``
(invalid). Invalid also when the *whole* text holds both an opening ``<search>`` and an opening
``<answer>`` tag, or either one more than once. No think or language check.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.base import ParsedAction, PromptContext
from agent_system.environments.original_style import OriginalEnvStyle, recent
from agent_system.environments.original_templates import OriginalTemplates
from agent_system.environments.original_templates import load_templates as _load

TEMPLATE_FILE = "search.py"
TEMPLATE_PREFIX = "SEARCH"

_NO_HISTORY_FIELDS = ("task_description",)
_HISTORY_FIELDS = ("task_description", "step_count", "memory_context")

_SEARCH_BLOCK = re.compile(r"<search>(.*?)</search>", re.IGNORECASE | re.DOTALL)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_SEARCH_TAG = re.compile(r"<search>", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>", re.IGNORECASE)


def load_templates(repo: str | os.PathLike[str] | None) -> OriginalTemplates:
    """The three Search templates of the original checkout at ``repo``."""
    return _load(
        repo,
        "search",
        TEMPLATE_FILE,
        TEMPLATE_PREFIX,
        no_history_fields=_NO_HISTORY_FIELDS,
        history_fields=_HISTORY_FIELDS,
    )


def extract_task(first_observation: str) -> str:
    """The reset observation *is* the question."""
    return first_observation


def format_steps(steps: Sequence[tuple[str, str]], keep: int) -> str:
    """The last ``keep`` (action, result) steps as ``Step k:<action> <result>\\n`` joined by ``\\n``.

    >>> format_steps([("<search>a</search>", "<information>x</information>"), ("", "")], 4)
    'Step 1:<search>a</search> <information>x</information>\\n\\nStep 2: \\n'
    """
    shown = recent(steps, keep)
    first = len(steps) - len(shown) + 1
    return "\n".join(f"Step {first + i}:{action} {result}\n" for i, (action, result) in enumerate(shown))


def build_prompt(ctx: PromptContext, templates: OriginalTemplates) -> str:
    """One turn's user prompt in the original style (see the module docstring).

    ``ctx.history`` holds every earlier turn as (observation before the action, projected
    action), so the result of action ``i`` is the observation of pair ``i + 1``, and the result
    of the last action is ``ctx.observation``.
    """
    steps_taken = max(ctx.turn, len(ctx.history))
    if steps_taken == 0 or ctx.history_length <= 0:
        return templates.no_history.format(task_description=ctx.task)
    history = list(ctx.history)
    results = [obs for obs, _ in history[1:]] + [ctx.observation]
    steps = [(action, result) for (_, action), result in zip(history, results)]
    fields = dict(
        task_description=ctx.task,
        step_count=steps_taken,
        memory_context=format_steps(steps, ctx.history_length),
    )
    if ctx.skill_block:
        return templates.with_memory.format(retrieved_memories=ctx.skill_block, **fields)
    return templates.history.format(**fields)


def project_action(text: str, admissible_actions: Sequence[str] | None = None) -> ParsedAction:
    """Project model output the original way (see the module docstring); never raises.

    >>> project_action("<think>x</think><answer>a1</answer> <search>q1</search>")
    ParsedAction(action='<search>q1</search>', valid=False, reason='both <search> and <answer> tags')
    """
    del admissible_actions
    if not isinstance(text, str):
        return ParsedAction("", False, f"model output is {type(text).__name__}, not text")
    trimmed = text
    for close in ("</search>", "</answer>"):
        if close in text:
            trimmed = text.split(close, 1)[0] + close
            break
    reason = ""
    m = _SEARCH_BLOCK.search(trimmed)
    if m:
        action = f"<search>{m.group(1).strip()}</search>"
    else:
        m = _ANSWER_BLOCK.search(trimmed)
        if m:
            action = f"<answer>{m.group(1).strip()}</answer>"
        else:
            action, reason = "", "no <search>…</search> or <answer>…</answer> block"
    n_search = len(_SEARCH_TAG.findall(text))
    n_answer = len(_ANSWER_TAG.findall(text))
    if not reason and n_search and n_answer:
        reason = "both <search> and <answer> tags"
    elif not reason and (n_search > 1 or n_answer > 1):
        reason = "a <search> or <answer> tag appears more than once"
    return ParsedAction(action, not reason, reason)


_PROJECTED = re.compile(r"<(search|answer)>(.*)</\1>", re.DOTALL)


def split_action(action: str) -> tuple[str, str] | None:
    """A projected action as ``(kind, content)``; None for ``""`` (no block), which the original
    env answers with an empty observation.

    >>> split_action("<search>who wrote hamlet</search>"), split_action("")
    (('search', 'who wrote hamlet'), None)
    """
    m = _PROJECTED.fullmatch(action)
    return (m.group(1), m.group(2)) if m else None


def format_tool_output(contents: Sequence[str]) -> str:
    r"""The original search tool's observation for retrieved passages (their corpus ``contents``):
    ``<information>`` + the JSON object ``{"result": "Doc 1: <contents>\nDoc 2: ..."}`` (each
    passage followed by a newline; ``json.dumps`` defaults, so non-ASCII is ``\uXXXX``) +
    ``</information>``.

    >>> print(format_tool_output(['"Hamlet"\nA play – 1600.']))
    <information>{"result": "Doc 1: \"Hamlet\"\nA play \u2013 1600.\n"}</information>
    """
    result = "".join(f"Doc {i}: {text}\n" for i, text in enumerate(contents, 1))
    return f"<information>{json.dumps({'result': result})}</information>"


def case_task(inputs: Mapping[str, Any]) -> str:
    """A golden case's question: the reset observation, as the original takes it (else ``inputs["question"]``)."""
    observations = inputs.get("observations") or []
    return str(observations[0]) if observations else str(inputs["question"])


def case_admissible(inputs: Mapping[str, Any]) -> None:
    """Search has no closed action set."""
    del inputs
    return None


STYLE = OriginalEnvStyle(
    name="search",
    load_templates=load_templates,
    build_prompt=build_prompt,
    project_action=project_action,
    extract_task=extract_task,
    case_task=case_task,
    case_admissible=case_admissible,
)
