"""Typed evolution ops: what a distiller proposes and what a plan applies to a SkillBank.

Four ops, each with the ``reason`` and the ``episode_ids`` behind it:

- :class:`AddSkill` — a general skill (``category=None``) or a task-specific one;
- :class:`AddMistake` — a common mistake;
- :class:`UpdateSkill` — sharpen an active skill or mistake; its id is kept and the old text goes
  into the history record (``previous``);
- :class:`RetireSkill` — take an item out of retrieval (kept under ``retired_skills``).

Each op applies itself through the SkillBank's own edit method, so history records the step,
source, reason and episode ids (:func:`apply_ops`). Ops are plain data: :meth:`to_dict` gives a
JSON record for logs and reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skillrl.skills.bank import SkillBank
from skillrl.skills.schema import Mistake, Skill

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddSkill:
    """Add a skill to ``general_skills`` (``category=None``) or to a task category."""

    category: str | None
    """Task category, or None for a general skill."""
    skill: Skill
    """The skill (its id may be replaced by the planner with a fresh one)."""
    reason: str = ""
    episode_ids: tuple[str, ...] = ()

    op = "add"

    @property
    def section(self) -> str:
        return "general_skills" if self.category is None else "task_specific_skills"

    def text(self) -> str:
        return skill_text(self.skill)

    def apply(self, bank: SkillBank, *, step: int | None, source: str) -> str:
        bank.add_skill(self.category, self.skill, source=source, reason=self.reason, step=step, episode_ids=self.episode_ids)
        return self.skill.skill_id

    def to_dict(self) -> dict[str, Any]:
        return {"op": "add", "section": self.section, "category": self.category, "item": self.skill.to_dict(),
                "reason": self.reason, "episode_ids": list(self.episode_ids)}


@dataclass(frozen=True)
class AddMistake:
    """Add a common mistake."""

    mistake: Mistake
    reason: str = ""
    episode_ids: tuple[str, ...] = ()

    op = "add"
    category = None
    section = "common_mistakes"

    def text(self) -> str:
        return skill_text(self.mistake)

    def apply(self, bank: SkillBank, *, step: int | None, source: str) -> str:
        bank.add_mistake(self.mistake, source=source, reason=self.reason, step=step, episode_ids=self.episode_ids)
        return self.mistake.mistake_id

    def to_dict(self) -> dict[str, Any]:
        return {"op": "add", "section": self.section, "category": None, "item": self.mistake.to_dict(),
                "reason": self.reason, "episode_ids": list(self.episode_ids)}


@dataclass(frozen=True)
class UpdateSkill:
    """Change text fields of an active item; the id stays, the old text goes to history."""

    skill_id: str
    changes: Mapping[str, str] = field(default_factory=dict)
    """Field -> new text (``title``, ``principle``, ``when_to_apply``; mistake fields for mistakes)."""
    reason: str = ""
    episode_ids: tuple[str, ...] = ()

    op = "update"

    def apply(self, bank: SkillBank, *, step: int | None, source: str) -> str:
        bank.update_skill(self.skill_id, self.changes, source=source, reason=self.reason, step=step, episode_ids=self.episode_ids)
        return self.skill_id

    def to_dict(self) -> dict[str, Any]:
        return {"op": "update", "skill_id": self.skill_id, "changes": dict(self.changes), "reason": self.reason,
                "episode_ids": list(self.episode_ids)}


@dataclass(frozen=True)
class RetireSkill:
    """Retire an active item (it leaves retrieval; the file keeps it under ``retired_skills``)."""

    skill_id: str
    reason: str = ""
    episode_ids: tuple[str, ...] = ()

    op = "retire"

    def apply(self, bank: SkillBank, *, step: int | None, source: str) -> str:
        bank.retire_skill(self.skill_id, source=source, reason=self.reason, step=step, episode_ids=self.episode_ids)
        return self.skill_id

    def to_dict(self) -> dict[str, Any]:
        return {"op": "retire", "skill_id": self.skill_id, "reason": self.reason, "episode_ids": list(self.episode_ids)}


EvolutionOp = AddSkill | AddMistake | UpdateSkill | RetireSkill
"""Any of the four ops."""


def skill_text(item: Skill | Mistake) -> str:
    """The text compared for de-duplication: what the item says, without its id."""
    if isinstance(item, Mistake):
        return f"{item.description} {item.how_to_avoid}".strip()
    return f"{item.title}. {item.principle} {item.when_to_apply}".strip()


def apply_ops(bank: SkillBank, ops: Sequence[EvolutionOp], *, step: int | None, source: str) -> list[str]:
    """Apply ``ops`` in order, all or nothing.

    The ops are first applied to a snapshot of the bank; only when every op succeeds there are
    they applied to ``bank``. Returns the ids touched, in order.

    Raises:
        SkillBankError / KeyError: an op is invalid for this bank (``bank`` is unchanged).
    """
    trial = bank.snapshot()
    for op in ops:
        op.apply(trial, step=step, source=source)
    touched = [op.apply(bank, step=step, source=source) for op in ops]
    for op, item_id in zip(ops, touched):
        category = getattr(op, "category", None)
        log.info("bank %s: %s %s%s — %s [%d episodes]", source, op.op, item_id, f" ({category})" if category else "",
                 getattr(op, "reason", ""), len(op.episode_ids))
    return touched
