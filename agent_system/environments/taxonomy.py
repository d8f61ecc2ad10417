"""Task taxonomies: the task categories of one environment and how a task is classified.

Each environment package owns its taxonomy (``<env>/taxonomy.py``) and publishes it as
``EnvSpec.taxonomy``. Skill retrieval uses it to route a task to the bank's task-specific
skills: it only needs :meth:`TaskTaxonomy.canonical` and :meth:`TaskTaxonomy.classify` (the
skills layer declares that much as a Protocol and never imports an environment).

Nothing here raises on user text: an unknown name canonicalises to ``None`` and an
unclassifiable task to :data:`FALLBACK`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FALLBACK = "general"
"""Category of a task that fits no category (only general skills and mistakes serve it)."""

#: ``(task_text, hint) -> category | None`` (None: no idea)
TextClassifier = Callable[[str, str | None], str | None]


def normalize_name(name: str) -> str:
    """A category name as compared by :meth:`TaskTaxonomy.canonical`: lower case, ``_`` separated.

    >>> normalize_name(" Pick-Two obj ")
    'pick_two_obj'
    """
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class TaskTaxonomy:
    """The task categories of one environment and how to classify its tasks.

    >>> tax = TaskTaxonomy(("heat", "cool"), {"warm": "heat"})
    >>> tax.canonical("Warm"), tax.canonical("boil"), tax.classify("boil an egg", hint="heat")
    ('heat', None, 'heat')
    >>> tax.classify("boil an egg")
    'general'

    Raises:
        ValueError: (on construction) an alias that points to no category.
    """

    categories: tuple[str, ...]
    """Canonical category names, in display order (normalised: lower case, ``_`` separated)."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Other names (normalised, see :func:`normalize_name`) -> canonical category, e.g. a data
    folder prefix or an older bank's name (``examine`` -> ``look_at_obj_in_light``)."""
    classify_text: TextClassifier | None = None
    """Reads the task text (and the hint): ``(task_text, hint) -> category | None``; ``None``
    when the env has no text classifier (only hints that name a category count)."""
    hint_is_authoritative: bool = True
    """Whether a hint that names a category (or an alias) wins over the text. False where the
    hint is something else (Search: the data source) and only helps the text classifier."""

    def __post_init__(self) -> None:
        stray = sorted(a for a, c in self.aliases.items() if c not in self.categories)
        if stray:
            raise ValueError(f"taxonomy aliases point to unknown categories: {stray}")

    def canonical(self, name: str | None) -> str | None:
        """Canonical category of a category name or alias; ``None`` when unknown (or empty)."""
        if not name or not isinstance(name, str):
            return None
        key = normalize_name(name)
        if key in self.categories:
            return key
        return self.aliases.get(key)

    def classify(self, task: str, hint: str | None = None) -> str:
        """The category of a task: one of :attr:`categories` or :data:`FALLBACK`.

        ``hint`` is what the env reports as ``info.task_type``; see
        :attr:`hint_is_authoritative`. Never raises (a classifier bug is logged and gives
        :data:`FALLBACK`).
        """
        if self.hint_is_authoritative:
            from_hint = self.canonical(hint)
            if from_hint is not None:
                return from_hint
        if self.classify_text is None:
            return FALLBACK
        try:
            found = self.classify_text(str(task or ""), hint)
        except Exception as exc:  # a classifier bug must not break an episode
            log.warning("task classifier failed on %r: %s", str(task)[:80], exc)
            found = None
        return found if found in self.categories else FALLBACK
