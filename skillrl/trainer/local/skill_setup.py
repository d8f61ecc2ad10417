"""The skill bank of a local run and the retriever over it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class SkillsSetup:
    """The loaded bank and the retriever over it (both None when skills are off)."""

    bank: Any = None
    retriever: Any = None
    source_path: str | None = None
    """The bank file the run started from (the seed bank, or a checkpoint's copy when resuming)."""


def build_skills(env_name: str, *, skills_json_path: str | Path | None,
                 retriever_kwargs: Mapping[str, Any], style: Any = None) -> SkillsSetup:
    """Load the SkillBank and build the prompt style's skill source over it (native, the default:
    ``skillrl.skills.build_retriever`` with ``retriever_kwargs``, routing tasks with the env's
    taxonomy; original: the original's keyword routing and skill block); ``None`` path -> skills off.

    Raises:
        skillrl.skills.SkillBankError: the bank file is missing or invalid.
    """
    if not skills_json_path:
        return SkillsSetup()
    from agent_system.environments import get_env_spec
    from skillrl.agent.style import build_prompt_style
    from skillrl.skills.bank import SkillBank

    bank = SkillBank.load(skills_json_path)
    style = style if style is not None else build_prompt_style(get_env_spec(env_name))
    retriever = style.skill_source(bank, retriever_kwargs)
    return SkillsSetup(bank=bank, retriever=retriever, source_path=str(skills_json_path))


def skill_block_fn(retriever: Any) -> Callable[[str, str], str] | None:
    """``(task, task_type) -> rendered skill block`` over ``retriever`` (None when skills are off)."""
    if retriever is None:
        return None
    return lambda task, task_type: retriever.retrieve(task, task_type or None).text
