"""What skill retrieval needs from an environment's task taxonomy (a Protocol, no env knowledge).

Each environment owns its taxonomy (``agent_system.environments.<env>.taxonomy``, published as
``EnvSpec.taxonomy``); whoever builds a retriever passes it in (see
:func:`skillrl.skills.retrieval.build_retriever`). The skills layer never looks an environment
up by name.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

FALLBACK = "general"
"""Category of tasks that fit no category (only general skills and mistakes are retrieved);
what :meth:`TaskClassifier.classify` returns when it cannot tell."""


@runtime_checkable
class TaskClassifier(Protocol):
    """An environment's task categories, as retrieval uses them.

    ``agent_system.environments.taxonomy.TaskTaxonomy`` implements it.
    """

    def canonical(self, name: str | None) -> str | None:
        """The canonical category of a category name or alias (a bank's ``examine``), or
        ``None`` when the name is no category of this environment."""
        ...

    def classify(self, task: str, hint: str | None = None) -> str:
        """The category of a task (``hint``: the env's ``info.task_type``); :data:`FALLBACK`
        when unknown. Never raises."""
        ...
