"""The toy env's task taxonomy: the kind of the goal object (fruit, paper, tool).

The env always reports the kind as its task type, so the hint decides; there is no text
classifier.
"""

from __future__ import annotations

from agent_system.environments.taxonomy import TaskTaxonomy
from agent_system.environments.toy.env import OBJECTS

TASK_TYPES = tuple(sorted(set(OBJECTS.values())))
"""The kinds of object, sorted."""

TAXONOMY = TaskTaxonomy(categories=TASK_TYPES)
"""The toy env's :class:`TaskTaxonomy` (``SPEC.taxonomy``)."""
