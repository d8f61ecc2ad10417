"""The original SkillRL prompt style, per environment: one registry entry per env kind.

Each environment that can be played in the original style has a sibling module
``agent_system/environments/<env>/original.py`` with pure functions (prompt, projection, task
extraction) and registers an :class:`OriginalEnvStyle` here under its env name. Callers look a
style up with :func:`get_original_style` and never branch on env names.

The template wording is not in this project: :meth:`OriginalEnvStyle.load_templates` reads it
from a checkout of the original repository (see :mod:`.original_templates`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_system.environments.base import ParsedAction, PromptContext
from agent_system.environments.original_templates import OriginalTemplates
from skillrl.utils.registry import Registry

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class OriginalEnvStyle:
    """How one environment renders prompts and projects actions in the original style."""

    name: str
    """The env kind (``alfworld``, ``webshop``, ``search``)."""
    load_templates: Callable[[str | os.PathLike[str] | None], OriginalTemplates]
    """``(original_repo) -> templates``; raises ``OriginalRepoError`` when anything is missing."""
    build_prompt: Callable[[PromptContext, OriginalTemplates], str]
    """Pure: one turn's user prompt from raw env text (``ctx.skill_block`` from
    ``skillrl.skills.original.render_skill_block``, '' when skills are off)."""
    project_action: Callable[..., ParsedAction]
    """Pure ``(text, admissible_actions=None) -> ParsedAction``, the original's rule."""
    extract_task: Callable[[str], str]
    """The task text from the reset observation, as the original's env manager extracts it."""
    case_task: Callable[[Mapping[str, Any]], str]
    """The task of a golden case's ``inputs``."""
    case_admissible: Callable[[Mapping[str, Any]], "list[str] | None"]
    """A golden case's current admissible actions as the env's list of strings (None: no list)."""


#: original-style env behaviour, by env name (lazy: importing the registry imports no env)
ORIGINAL_STYLES: Registry[OriginalEnvStyle] = Registry("original-style environment")
ORIGINAL_STYLES.register_lazy("alfworld", "agent_system.environments.alfworld.original:STYLE")
ORIGINAL_STYLES.register_lazy("webshop", "agent_system.environments.webshop.original:STYLE")
ORIGINAL_STYLES.register_lazy("search", "agent_system.environments.search.original:STYLE")


def get_original_style(env_name: str) -> OriginalEnvStyle:
    """The original style of ``env_name``; unknown names raise ``RegistryError`` listing the known ones."""
    return ORIGINAL_STYLES.get(env_name)


def project_tagged(text: str, tail_chars: int) -> ParsedAction:
    """The original ALFWorld/WebShop projection (``env_package/{alfworld,webshop}/projection.py``).

    Lower-case the whole text; the action is what lies between the first ``<action>`` and the
    first ``</action>``, stripped ('' when ``</action>`` comes first). When either tag is missing
    the action is the last ``tail_chars`` characters of the lower-cased text and it is invalid.
    Otherwise it is valid iff the original-case text contains both ``<think>`` and ``</think>``
    (anywhere, in any order) and no character in U+4E00..U+9FFF. Admissibility is not checked.

    >>> project_tagged("<think>x</think></action> then <action>look", 30)
    ParsedAction(action='', valid=True, reason='')
    >>> project_tagged("<action>go to desk 1</action>", 30).reason
    'missing <think> or </think> tag'
    """
    if not isinstance(text, str):
        return ParsedAction("", False, f"model output is {type(text).__name__}, not text")
    lowered = text.lower()
    start = lowered.find("<action>")
    end = lowered.find("</action>")
    if start == -1 or end == -1:
        return ParsedAction(lowered[-tail_chars:] if tail_chars > 0 else "", False, "missing <action> or </action> tag")
    action = lowered[start + len("<action>") : end].strip()
    if text.find("<think>") == -1 or text.find("</think>") == -1:
        return ParsedAction(action, False, "missing <think> or </think> tag")
    if _CJK.search(text):
        return ParsedAction(action, False, "the output contains Chinese characters")
    return ParsedAction(action, True, "")


def recent(history: Sequence[Any], keep: int) -> list[Any]:
    """The last ``keep`` items (none when ``keep <= 0``), as the original's memory ``fetch`` slices."""
    return list(history[-keep:]) if keep > 0 else []


#: the values of the env factories' ``style`` setting
ENV_STYLES = ("native", "original")


def check_env_style(env_name: str, style: str) -> bool:
    """Whether an env factory's ``style`` setting asks for the original's dynamics.

    ``native`` (the default): the project's observations, projection and invalid-action path.
    ``original``: what the original SkillRL's env package does — raw observation text as its
    prompts expect it, its projection, and every projected action played, invalid or not.

    Raises:
        ValueError: ``style`` is neither (the message names the env and the allowed values).

    >>> check_env_style("alfworld", "original"), check_env_style("alfworld", "native")
    (True, False)
    """
    if style not in ENV_STYLES:
        raise ValueError(f"unknown {env_name} env style {style!r}; known: {', '.join(ENV_STYLES)}")
    return style == "original"
