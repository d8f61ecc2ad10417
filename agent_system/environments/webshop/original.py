"""WebShop in the original SkillRL's prompt style: turn prompt and action projection.

Pure functions; template wording from the original checkout (:func:`load_templates`), the rest
written here from the documented behaviour of the original (aiming-lab/SkillRL @ 48c8446f).

Observations are the raw simple-text pages of the original ``WebAgentTextEnv``
(``... [SEP] ...``; the reset page is ``WebShop [SEP] Instruction: [SEP] <task> [SEP] Search``).

Prompt (``WebshopEnvironmentManager``, ``env_manager.py:564-703``):

- the task is the third ``" [SEP] "`` field of the reset page;
- every observation, current and in the history, is re-quoted: the fields *after* the first
  field equal to the task, each in single quotes, joined by ``" [SEP] "``
  (``'Back to Search' [SEP] 'Page 1 ...'``); a page without the task field is kept as is;
- available actions: ``search[<your query>]`` when the page has a search bar, then
  ``click[<c>]`` for every clickable, each as ``'<a>',`` on its own line;
- turn 0 / ``history_length <= 0``: the no-history template (task, observation, actions);
  later turns: history or with-memory template, history lines as in ALFWorld
  (``[Observation k: '<obs>', Action k: '<action>']``, so a search page reads ``''Search''``);
- a rendered prompt longer than :data:`MAX_PROMPT_CHARS` characters is replaced by the
  no-history rendering of the same turn, skills on or off (``env_manager.py:693-699``).

Projection (``env_package/webshop/projection.py``): as ALFWorld's (lower-case, first
``<action>`` to first ``</action>``, think tags and no CJK for validity) but the fallback keeps the
last 20 characters. The command syntax (``search[...]``/``click[...]``) is not checked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.base import ParsedAction, PromptContext
from agent_system.environments.original_style import OriginalEnvStyle, project_tagged, recent
from agent_system.environments.original_templates import OriginalTemplates
from agent_system.environments.original_templates import load_templates as _load

TEMPLATE_FILE = "webshop.py"
TEMPLATE_PREFIX = "WEBSHOP"
SEP = " [SEP] "
#: a longer prompt falls back to the no-history template (characters, not tokens)
MAX_PROMPT_CHARS = 13_000
#: characters of the (lower-cased) output kept as the action when the tags are missing
TAIL_CHARS = 20
#: the available-actions entry that stands for "type a query into the search bar"
SEARCH_ACTION = "search[<your query>]"

_NO_HISTORY_FIELDS = ("task_description", "current_observation", "available_actions")
_HISTORY_FIELDS = (
    "task_description",
    "step_count",
    "history_length",
    "action_history",
    "current_step",
    "current_observation",
    "available_actions",
)


def load_templates(repo: str | os.PathLike[str] | None) -> OriginalTemplates:
    """The three WebShop templates of the original checkout at ``repo``."""
    return _load(
        repo,
        "webshop",
        TEMPLATE_FILE,
        TEMPLATE_PREFIX,
        no_history_fields=_NO_HISTORY_FIELDS,
        history_fields=_HISTORY_FIELDS,
    )


def extract_task(first_observation: str) -> str:
    """The goal text: the third ``" [SEP] "`` field of the reset page (the second is ``Instruction:``).

    Raises:
        ValueError: the page does not have that shape.

    >>> extract_task("WebShop [SEP] Instruction: [SEP] i need red socks [SEP] Search")
    'i need red socks'
    """
    parts = first_observation.split(SEP)
    if len(parts) < 3 or parts[1] != "Instruction:":
        raise ValueError("WebShop reset page is not 'WebShop [SEP] Instruction: [SEP] <task> [SEP] ...'")
    return parts[2]


def format_observation(page: str, task: str) -> str:
    """Re-quote a raw page as the original does (fields after the task, quoted, re-joined).

    >>> format_observation("Instruction: [SEP] red socks [SEP] Back to Search [SEP] Page 1", "red socks")
    "'Back to Search' [SEP] 'Page 1'"
    >>> format_observation("Thank you for shopping with us!", "red socks")
    'Thank you for shopping with us!'
    """
    parts = page.split(SEP)
    try:
        index = parts.index(task)
    except ValueError:
        return page
    return SEP.join(f"'{p}'" for p in parts[index + 1 :])


def available_actions(available: Mapping[str, Any]) -> list[str]:
    """The env's ``{"has_search_bar", "clickables"}`` as action strings, in the original's order.

    Raises:
        ValueError: a key other than those two (as the original does).

    >>> available_actions({"has_search_bar": True, "clickables": ["search"]})
    ['search[<your query>]', 'click[search]']
    """
    for key in available:
        if key not in ("has_search_bar", "clickables"):
            raise ValueError(f"unknown key in WebShop available actions: {key!r}")
    actions = [SEARCH_ACTION] if available.get("has_search_bar") else []
    actions += [f"click[{c}]" for c in available.get("clickables", ())]
    return actions


def format_available(actions: Sequence[str] | None) -> str:
    """One ``'<action>',`` line per action.

    >>> print(format_available(["click[back to search]", "click[next >]"]))
    'click[back to search]',
    'click[next >]',
    """
    return "\n".join(f"'{a}'," for a in (actions or ()))


def build_prompt(ctx: PromptContext, templates: OriginalTemplates) -> str:
    """One turn's user prompt in the original style (see the module docstring).

    ``ctx.observation`` and the history observations are raw pages (re-quoted here);
    ``ctx.history`` holds every earlier turn as (page before the action, projected action);
    ``ctx.admissible_actions`` is the list of :func:`available_actions`.
    """
    task = ctx.task
    observation = format_observation(ctx.observation, task)
    actions = format_available(ctx.admissible_actions)
    no_history = templates.no_history.format(
        task_description=task, current_observation=observation, available_actions=actions
    )
    steps_taken = max(ctx.turn, len(ctx.history))
    if steps_taken == 0 or ctx.history_length <= 0:
        return no_history
    shown = recent(ctx.history, ctx.history_length)
    first = steps_taken - len(shown) + 1
    lines = [
        f"[Observation {first + i}: '{format_observation(obs, task)}', Action {first + i}: '{action}']"
        for i, (obs, action) in enumerate(shown)
    ]
    fields = dict(
        task_description=task,
        step_count=steps_taken,
        history_length=len(shown),
        action_history="\n".join(lines),
        current_step=steps_taken + 1,
        current_observation=observation,
        available_actions=actions,
    )
    if ctx.skill_block:
        prompt = templates.with_memory.format(retrieved_memories=ctx.skill_block, **fields)
    else:
        prompt = templates.history.format(**fields)
    return no_history if len(prompt) > MAX_PROMPT_CHARS else prompt


def project_action(text: str, admissible_actions: Sequence[str] | None = None) -> ParsedAction:
    """Project model output the original way; ``admissible_actions`` is ignored, as in the original.

    >>> project_action("<think>x</think><action>click[Buy Now]</action>")
    ParsedAction(action='click[buy now]', valid=True, reason='')
    """
    del admissible_actions
    return project_tagged(text, TAIL_CHARS)


_COMMAND = re.compile(r"(.+)\[(.+)\]")


def parse_command(action: str) -> tuple[str, str | None]:
    """How the original's text env reads a projected action: ``name[arg]`` (greedy, as its
    ``parse_action``), the argument lower-cased; anything else is ``(action, None)``.

    The env then searches for a non-empty ``search`` argument (from any page), clicks a
    ``click`` argument that is a clickable of the page other than ``search``, and otherwise
    leaves the page as it is.

    >>> parse_command("click[< prev]"), parse_command("search[Red Socks]"), parse_command("buy it")
    (('click', '< prev'), ('search', 'red socks'), ('buy it', None))
    >>> parse_command("search[red [xl] socks]")  # greedy: the name takes up to the last '['
    ('search[red ', 'xl] socks')
    """
    m = _COMMAND.match(action)
    if m is None:
        return action, None
    return m.group(1), m.group(2).lower()


def case_task(inputs: Mapping[str, Any]) -> str:
    """A golden case's task, extracted from the reset page as the original does (``inputs["task"]``
    when the reset page has no task)."""
    try:
        return extract_task(str(inputs["observations"][0]))
    except (ValueError, IndexError):
        return str(inputs["task"])


def case_admissible(inputs: Mapping[str, Any]) -> list[str]:
    """A golden case's ``available_actions`` dict as the action list."""
    available = inputs["available_actions"]
    if not isinstance(available, Mapping):
        raise ValueError("available_actions must be an object {has_search_bar, clickables}")
    return available_actions(available)


STYLE = OriginalEnvStyle(
    name="webshop",
    load_templates=load_templates,
    build_prompt=build_prompt,
    project_action=project_action,
    extract_task=extract_task,
    case_task=case_task,
    case_admissible=case_admissible,
)
