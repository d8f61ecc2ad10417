"""The original SkillRL's skill block: keyword routing, template-mode selection and rendering.

Written from the documented behaviour of the original ``SkillsOnlyMemory``
(aiming-lab/SkillRL @ 48c8446f, ``agent_system/memory/skills_only_memory.py``), quirks kept, so
that a released checkpoint sees the skill block it was trained with. Pure Python; works on a
bank given as the decoded JSON of a seed-format bank file (read the way the original reads it:
missing fields are empty strings) or as a :class:`~skillrl.skills.bank.SkillBank`.

Routing (:func:`original_task_type`, ``:115-177``) looks at the bank's task-specific category
names, then at lower-cased substrings of the task:

- a bank with ``pick_and_place`` or ``clean`` (ALFWorld): ``look at`` and ``under`` →
  ``look_at_obj_in_light``; else ``clean``; ``heat``; ``cool``; ``examine`` or ``find`` →
  ``examine``; else ``pick_and_place``. So "put a hot X" is pick_and_place, "find two X" and
  "examine the X with the desklamp" are examine;
- a bank with ``apparel`` or ``electronics`` (WebShop): the first keyword list with a substring
  hit wins — apparel, footwear, electronics, accessories, home_decor, beauty_health — else
  ``other``. Substrings, so "pantry" is apparel ("pant") and "drawstring" accessories ("ring");
- any other bank: its first category, or ``unknown`` when it has none (the Search bank keeps its
  skills under ``query_type_skills``, which is never read: only general skills and mistakes).

Selection (template mode, ``:356-439``): general skills = every ``dyn_*`` skill (in bank order)
then the static ones up to ``top_k`` in total (all dynamic ones are kept even past ``top_k``);
task skills = the routed category's skills, all or the first ``task_specific_top_k``; mistakes =
the first 5.

Rendering (:func:`format_skill_block`): sections joined by a blank line, empty ones left out::

    ### General Principles
    - **<title>**: <principle>

    ### <Category Title Case> Skills
    - **<title>**: <principle>
      _Apply when: <when_to_apply>_          (only when non-empty)

    ### Mistakes to Avoid
    - **Don't**: <description>               (mistakes without a description are skipped)
      **Instead**: <how_to_avoid>            (only when non-empty)

and ``No relevant skills found for this task.`` when every section is empty. Nothing is
sanitised or shortened: the original puts the bank text in verbatim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillrl.skills.bank import SkillBank

#: the original returns the first five common mistakes
MISTAKES_K = 5
#: id prefix of skills the original's dynamic update appended; listed before the static ones
DYNAMIC_PREFIX = "dyn_"
NO_SKILLS_TEXT = "No relevant skills found for this task."

#: WebShop keyword lists, checked in this order (first hit wins), else "other"
WEBSHOP_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("apparel", ("shirt", "dress", "jacket", "pant", "coat", "sweater", "blouse", "clothing", "clothes", "t-shirt")),
    ("footwear", ("shoe", "boot", "sneaker", "sandal", "heel", "slipper", "footwear")),
    ("electronics", ("laptop", "phone", "computer", "tablet", "charger", "cable", "headphone", "speaker", "camera", "electronic")),
    ("accessories", ("necklace", "ring", "bracelet", "earring", "watch", "jewelry", "bag", "purse", "wallet")),
    ("home_decor", ("furniture", "lamp", "curtain", "pillow", "bedding", "decor", "candle", "vase", "rug")),
    ("beauty_health", ("cream", "lotion", "shampoo", "conditioner", "moisturizer", "serum", "makeup", "beauty", "vitamin", "supplement")),
)


@dataclass(frozen=True)
class OriginalSkill:
    """A skill as the original reads it (absent fields are '')."""

    skill_id: str
    """The id ('' when absent); ``dyn_*`` ids are listed first."""
    title: str
    """Bold lead of the bullet."""
    principle: str
    """Text after the title."""
    when_to_apply: str
    """The ``_Apply when: ..._`` line of task skills ('' leaves it out)."""


@dataclass(frozen=True)
class OriginalMistake:
    """A common mistake as the original reads it (absent fields are '')."""

    description: str
    """The ``**Don't**`` text; a mistake without one is not shown."""
    how_to_avoid: str
    """The ``**Instead**`` text ('' leaves the line out)."""


@dataclass(frozen=True)
class OriginalBank:
    """The three parts of a bank that the original's template mode reads."""

    general: tuple[OriginalSkill, ...]
    """``general_skills`` in file order."""
    task_specific: Mapping[str, tuple[OriginalSkill, ...]]
    """``task_specific_skills``: category -> skills, categories in file order."""
    mistakes: tuple[OriginalMistake, ...]
    """``common_mistakes`` in file order."""


@dataclass(frozen=True)
class OriginalSelection:
    """What template mode picked for one task."""

    task_type: str
    """The routed category (may be absent from the bank, or ``unknown``)."""
    general: tuple[OriginalSkill, ...]
    """General skills shown."""
    task_specific: tuple[OriginalSkill, ...]
    """Skills of the routed category shown."""
    mistakes: tuple[OriginalMistake, ...]
    """Mistakes passed to rendering (those without a description are then skipped)."""

    @property
    def skill_ids(self) -> tuple[str, ...]:
        """Ids of the shown skills (general, then task-specific), for usage accounting."""
        return tuple(s.skill_id for s in self.general + self.task_specific if s.skill_id)


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key, "")
    return value if isinstance(value, str) else str(value)


def _skill(obj: Any) -> OriginalSkill:
    if not isinstance(obj, Mapping):
        raise ValueError(f"a skill must be an object, got {type(obj).__name__}")
    return OriginalSkill(_text(obj, "skill_id"), _text(obj, "title"), _text(obj, "principle"), _text(obj, "when_to_apply"))


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, got {type(value).__name__}")
    return value


def as_original_bank(bank: OriginalBank | SkillBank | Mapping[str, Any]) -> OriginalBank:
    """View a bank (decoded seed-format JSON, a :class:`SkillBank`, or an ``OriginalBank``) the
    way the original reads it.

    Raises:
        ValueError: the JSON's sections have the wrong types (a list/object where expected).
    """
    if isinstance(bank, OriginalBank):
        return bank
    if isinstance(bank, SkillBank):
        return OriginalBank(
            general=tuple(OriginalSkill(s.skill_id, s.title, s.principle, s.when_to_apply) for s in bank.general_skills),
            task_specific={
                c: tuple(OriginalSkill(s.skill_id, s.title, s.principle, s.when_to_apply) for s in skills)
                for c, skills in bank.task_specific_skills.items()
            },
            mistakes=tuple(OriginalMistake(m.description, m.how_to_avoid) for m in bank.common_mistakes),
        )
    if not isinstance(bank, Mapping):
        raise ValueError(f"a skill bank must be a JSON object, got {type(bank).__name__}")
    specific = bank.get("task_specific_skills")
    specific = {} if specific is None else specific
    if not isinstance(specific, Mapping):
        raise ValueError("task_specific_skills must be an object {category: [skills]}")
    mistakes = []
    for m in _list(bank.get("common_mistakes"), "common_mistakes"):
        if not isinstance(m, Mapping):
            raise ValueError(f"a common mistake must be an object, got {type(m).__name__}")
        mistakes.append(OriginalMistake(_text(m, "description"), _text(m, "how_to_avoid")))
    return OriginalBank(
        general=tuple(_skill(s) for s in _list(bank.get("general_skills"), "general_skills")),
        task_specific={
            str(c): tuple(_skill(s) for s in _list(skills, f"task_specific_skills.{c}")) for c, skills in specific.items()
        },
        mistakes=tuple(mistakes),
    )


def load_original_bank(path: str | os.PathLike[str]) -> OriginalBank:
    """Read a seed-format bank file the way the original does (plain JSON, no validation
    beyond section types).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, or sections of the wrong type (the message names the file).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: skill bank file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON skill bank ({exc})") from None
    try:
        return as_original_bank(data)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None


def original_task_type(categories: Sequence[str] | Mapping[str, Any], task: str) -> str:
    """The category the original's keyword routing picks for ``task`` (see the module docstring).

    >>> alf = ["pick_and_place", "look_at_obj_in_light", "clean", "heat", "cool", "examine"]
    >>> original_task_type(alf, "put a hot egg in fridge."), original_task_type(alf, "find two book and put them in desk.")
    ('pick_and_place', 'examine')
    >>> original_task_type(["apparel", "electronics", "other"], "a pantry organizer")
    'apparel'
    >>> original_task_type([], "who wrote hamlet")
    'unknown'
    """
    names = list(categories)
    goal = task.lower()
    if "pick_and_place" in names or "clean" in names:
        if "look at" in goal and "under" in goal:
            return "look_at_obj_in_light"
        if "clean" in goal:
            return "clean"
        if "heat" in goal:
            return "heat"
        if "cool" in goal:
            return "cool"
        if "examine" in goal or "find" in goal:
            return "examine"
        return "pick_and_place"
    if "apparel" in names or "electronics" in names:
        for category, keywords in WEBSHOP_KEYWORDS:
            if any(k in goal for k in keywords):
                return category
        return "other"
    return names[0] if names else "unknown"


def select_skills(
    bank: OriginalBank | SkillBank | Mapping[str, Any],
    task: str,
    *,
    top_k: int,
    task_specific_top_k: int | None = None,
) -> OriginalSelection:
    """Template-mode retrieval of the original (see the module docstring).

    Raises:
        ValueError: a negative ``top_k`` / ``task_specific_top_k``, or a malformed bank.
    """
    if top_k < 0 or (task_specific_top_k is not None and task_specific_top_k < 0):
        raise ValueError("top_k and task_specific_top_k must be >= 0")
    view = as_original_bank(bank)
    task_type = original_task_type(list(view.task_specific), task)
    dynamic = [s for s in view.general if s.skill_id.startswith(DYNAMIC_PREFIX)]
    static = [s for s in view.general if not s.skill_id.startswith(DYNAMIC_PREFIX)]
    general = dynamic + static[: max(0, top_k - len(dynamic))]
    specific = list(view.task_specific.get(task_type, ()))
    if task_specific_top_k is not None:
        specific = specific[:task_specific_top_k]
    return OriginalSelection(
        task_type=task_type,
        general=tuple(general),
        task_specific=tuple(specific),
        mistakes=view.mistakes[:MISTAKES_K],
    )


def format_skill_block(selection: OriginalSelection) -> str:
    """Render a selection as the original's ``format_for_prompt`` does (see the module docstring)."""
    sections: list[str] = []
    if selection.general:
        lines = ["### General Principles"]
        lines += [f"- **{s.title}**: {s.principle}" for s in selection.general]
        sections.append("\n".join(lines))
    if selection.task_specific:
        lines = [f"### {selection.task_type.replace('_', ' ').title()} Skills"]
        for s in selection.task_specific:
            lines.append(f"- **{s.title}**: {s.principle}")
            if s.when_to_apply:
                lines.append(f"  _Apply when: {s.when_to_apply}_")
        sections.append("\n".join(lines))
    if selection.mistakes:
        lines = ["### Mistakes to Avoid"]
        for m in selection.mistakes:
            if m.description:
                lines.append(f"- **Don't**: {m.description}")
                if m.how_to_avoid:
                    lines.append(f"  **Instead**: {m.how_to_avoid}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) if sections else NO_SKILLS_TEXT


def render_skill_block(
    bank: OriginalBank | SkillBank | Mapping[str, Any],
    task: str,
    *,
    top_k: int,
    task_specific_top_k: int | None = None,
) -> str:
    """The skill block the original puts in ``{retrieved_memories}`` for ``task``.

    >>> bank = {"general_skills": [{"skill_id": "g1", "title": "Look", "principle": "Look first."}],
    ...         "task_specific_skills": {"pick_and_place": []}, "common_mistakes": []}
    >>> print(render_skill_block(bank, "put a mug in desk", top_k=6))
    ### General Principles
    - **Look**: Look first.
    """
    return format_skill_block(select_skills(bank, task, top_k=top_k, task_specific_top_k=task_specific_top_k))
