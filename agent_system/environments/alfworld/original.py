"""ALFWorld in the original SkillRL's prompt style: turn prompt and action projection.

Pure functions of their inputs; the template wording comes from the original checkout
(:func:`load_templates`), everything else is written here from the documented behaviour of the
original (aiming-lab/SkillRL @ 48c8446f; file:line references are in that commit).

Prompt (``AlfWorldEnvironmentManager.build_text_obs``, ``env_manager.py:283-335``):

- turn 0, and every turn when ``history_length <= 0``: the no-history template with the current
  observation and the admissible actions only (no task line, no skills, no history);
- later turns: the history template, or the with-memory template when a skill block is given,
  with the task, ``step_count`` = steps taken so far, the last ``history_length`` turns, and
  ``current_step`` = ``step_count + 1``;
- history lines ``[Observation k: '<obs>', Action k: '<action>']`` joined by ``\\n``, ``k``
  counted from 1 over the whole episode, ``<obs>`` the raw observation *before* action ``k``
  (the reset text, banner included, for ``k = 1``) and ``<action>`` the projected action sent to
  the env (``memory/memory.py:84-98``); nothing is escaped or stripped;
- admissible actions: every action but ``help``, each in single quotes, joined by ``"\\n "``.

Projection (``env_package/alfworld/projection.py``): lower-case the whole text; take what lies
between the first ``<action>`` and the first ``</action>``, stripped (empty when ``</action>``
comes first); when either tag is missing, the last 30 characters of the lower-cased text,
invalid. Otherwise valid iff the original-case text contains both ``<think>`` and ``</think>``
and no character in U+4E00..U+9FFF. Admissibility is never checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.base import ParsedAction, PromptContext
from agent_system.environments.original_style import OriginalEnvStyle, project_tagged, recent
from agent_system.environments.original_templates import OriginalTemplates
from agent_system.environments.original_templates import load_templates as _load

TEMPLATE_FILE = "alfworld.py"
TEMPLATE_PREFIX = "ALFWORLD"
TASK_MARKER = "Your task is to: "
#: characters of the (lower-cased) output kept as the action when the tags are missing
TAIL_CHARS = 30

_NO_HISTORY_FIELDS = ("current_observation", "admissible_actions")
_HISTORY_FIELDS = (
    "task_description",
    "step_count",
    "history_length",
    "action_history",
    "current_step",
    "current_observation",
    "admissible_actions",
)


def load_templates(repo: str | os.PathLike[str] | None) -> OriginalTemplates:
    """The three ALFWorld templates of the original checkout at ``repo`` (see
    :func:`agent_system.environments.original_templates.load_templates` for the errors)."""
    return _load(
        repo,
        "alfworld",
        TEMPLATE_FILE,
        TEMPLATE_PREFIX,
        no_history_fields=_NO_HISTORY_FIELDS,
        history_fields=_HISTORY_FIELDS,
    )


def extract_task(first_observation: str) -> str:
    """The task: the text after ``Your task is to: `` in the reset observation, stripped.

    Raises:
        ValueError: the observation has no task line.

    >>> extract_task("-= Welcome =-\\n\\nYou are in a room.\\n\\nYour task is to: put a mug in desk.")
    'put a mug in desk.'
    """
    at = first_observation.find(TASK_MARKER)
    if at == -1:
        raise ValueError("ALFWorld observation has no 'Your task is to: ' line")
    return first_observation[at + len(TASK_MARKER) :].strip()


def format_admissible(actions: Sequence[str] | None) -> str:
    """Admissible actions as the original lists them: quoted, ``help`` dropped, ``"\\n "``-joined.

    >>> format_admissible(["go to desk 1", "help", "look"])
    "'go to desk 1'\\n 'look'"
    """
    return "\n ".join(f"'{a}'" for a in (actions or ()) if a != "help")


def format_history(history: Sequence[tuple[str, str]], keep: int, steps_taken: int) -> tuple[str, int]:
    """The last ``keep`` (observation, action) pairs as history lines, and how many are shown.

    Lines are numbered by absolute step: the last shown pair is step ``steps_taken``.
    """
    shown = recent(history, keep)
    first = steps_taken - len(shown) + 1
    lines = [f"[Observation {first + i}: '{obs}', Action {first + i}: '{action}']" for i, (obs, action) in enumerate(shown)]
    return "\n".join(lines), len(shown)


def build_prompt(ctx: PromptContext, templates: OriginalTemplates) -> str:
    """One turn's user prompt in the original style (see the module docstring).

    ``ctx.observation`` and the history observations are raw env text; ``ctx.history`` holds all
    earlier turns as (observation before the action, projected action); ``ctx.skill_block`` is
    the original-style skill block ('' when skills are off); ``ctx.admissible_actions`` is the
    env's list as returned (``help`` included or not).
    """
    admissible = format_admissible(ctx.admissible_actions)
    steps_taken = max(ctx.turn, len(ctx.history))
    if steps_taken == 0 or ctx.history_length <= 0:
        return templates.no_history.format(current_observation=ctx.observation, admissible_actions=admissible)
    action_history, shown = format_history(ctx.history, ctx.history_length, steps_taken)
    fields = dict(
        task_description=ctx.task,
        step_count=steps_taken,
        history_length=shown,
        action_history=action_history,
        current_step=steps_taken + 1,
        current_observation=ctx.observation,
        admissible_actions=admissible,
    )
    if ctx.skill_block:
        return templates.with_memory.format(retrieved_memories=ctx.skill_block, **fields)
    return templates.history.format(**fields)


def project_action(text: str, admissible_actions: Sequence[str] | None = None) -> ParsedAction:
    """Project model output the original way (see the module docstring); never raises.

    ``admissible_actions`` is accepted for signature compatibility and ignored, as in the original.

    >>> project_action("<think>ok</think><ACTION>Go To Desk 1</ACTION>")
    ParsedAction(action='go to desk 1', valid=True, reason='')
    >>> project_action("I will look around now")
    ParsedAction(action='i will look around now', valid=False, reason='missing <action> or </action> tag')
    """
    del admissible_actions
    return project_tagged(text, TAIL_CHARS)


def case_task(inputs: Mapping[str, Any]) -> str:
    """A golden case's task, extracted from the reset observation as the original does (``inputs["task"]``
    when the reset observation has no task)."""
    try:
        return extract_task(str(inputs["observations"][0]))
    except (ValueError, IndexError):
        return str(inputs["task"])


def case_admissible(inputs: Mapping[str, Any]) -> list[str]:
    """A golden case's ``admissible_actions`` (the env's list, ``help`` included)."""
    return [str(a) for a in inputs["admissible_actions"]]


STYLE = OriginalEnvStyle(
    name="alfworld",
    load_templates=load_templates,
    build_prompt=build_prompt,
    project_action=project_action,
    extract_task=extract_task,
    case_task=case_task,
    case_admissible=case_admissible,
)
