"""The distiller interface, its requests, and the registry of distillers.

A :class:`Distiller` turns experience into bank content at three moments:

- offline, one trajectory at a time: :meth:`Distiller.memory` (trajectory -> memory record);
- offline, from all memories: :meth:`Distiller.general_skills`, :meth:`Distiller.task_skills`
  (one task type), :meth:`Distiller.mistakes` — together the initial bank;
- during RL: :meth:`Distiller.propose` (the failures of one task type, the current bank and its
  usage -> proposed :mod:`evolution ops <skillrl.distill.ops>`; :mod:`skillrl.distill.planning`
  decides what enters).

Every distiller returns the same types whatever produced them (rules or an LLM). Distillers are
registered in :data:`DISTILLERS` under one signature ``(llm, *, record_path) -> Distiller``;
callers look them up by name (:func:`build_distiller`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from skillrl.distill.llm import LLMConfig
from skillrl.distill.memory import Memory
from skillrl.distill.ops import EvolutionOp
from skillrl.distill.trajectory import Trajectory
from skillrl.skills.bank import SkillBank
from skillrl.skills.schema import Mistake, Skill
from skillrl.utils.registry import Registry


class TaskClassifier(Protocol):
    """An environment's task taxonomy as distillation needs it (the env layer provides one)."""

    def classify(self, task: str, hint: str | None) -> str:
        """The task's category (``"general"`` when unknown)."""
        ...


@dataclass(frozen=True)
class BankRequest:
    """Everything a distiller sees when writing an initial bank."""

    env_name: str
    groups: Mapping[str, Mapping[str, Sequence[Memory]]]
    """``{task_type: {"success": [...], "failure": [...]}}`` (see :func:`skillrl.distill.memory.group_memories`)."""
    env_description: str = ""
    """One paragraph on what the agent does in this environment (for LLM prompts)."""
    category_descriptions: Mapping[str, str] = field(default_factory=dict)
    """Task type -> one line describing it (for LLM prompts)."""
    n_general: int = 10
    """How many general skills to aim for."""
    n_task: int = 5
    """How many skills per task type to aim for."""
    n_mistakes: int = 10
    """How many common mistakes to aim for."""

    def memories(self, outcome: str | None = None) -> list[Memory]:
        """All memories (``outcome``: ``"success"``/``"failure"`` to filter), group order."""
        keys = ("success", "failure") if outcome is None else (outcome,)
        return [m for g in self.groups.values() for k in keys for m in g.get(k, ())]


@dataclass(frozen=True)
class EvolutionRequest:
    """One task type to evolve in one cycle."""

    env_name: str
    task_type: str
    """The failing type; task-specific adds go to this category."""
    failures: tuple[Trajectory, ...]
    successes: tuple[Trajectory, ...] = ()
    """Successful episodes of the same type, for contrast."""
    bank: SkillBank | None = None
    """A snapshot of the current bank (read only)."""
    success_rate: float | None = None
    """The type's success rate that triggered the cycle."""
    max_new: int = 3
    """How many adds the cycle can take (a hint; the planner enforces it)."""
    step: int | None = None
    """Training step."""

    @property
    def episode_ids(self) -> tuple[str, ...]:
        return tuple(t.episode_id for t in self.failures)


class Distiller(Protocol):
    """Turns trajectories / memories / failures into skills, mistakes and ops (module docstring)."""

    name: str
    """Registry name (``heuristic``, ``openai``, ``azure`` …)."""

    @property
    def cache_key(self) -> str:
        """Identifies what this distiller would produce (name, model, prompt version) for caches."""
        ...

    def memory(self, trajectory: Trajectory) -> Memory:
        """A memory record (original format) for one trajectory."""
        ...

    def general_skills(self, request: BankRequest) -> tuple[Skill, ...]:
        """General skills for the whole environment (ids are placeholders; the builder renumbers)."""
        ...

    def task_skills(self, request: BankRequest, task_type: str) -> tuple[Skill, ...]:
        """Skills for one task type."""
        ...

    def mistakes(self, request: BankRequest) -> tuple[Mistake, ...]:
        """Common mistakes."""
        ...

    def propose(self, request: EvolutionRequest) -> tuple[EvolutionOp, ...]:
        """Proposed evolution ops for one failing task type (unvalidated)."""
        ...


DistillerFactory = Callable[..., Distiller]
"""``(llm: LLMConfig, *, record_path: Path | None) -> Distiller``."""

#: distiller name -> factory. Built-ins: ``heuristic`` (no LLM), ``openai`` (any OpenAI-compatible
#: endpoint), ``azure`` (Azure OpenAI).
DISTILLERS: Registry[DistillerFactory] = Registry("distiller")


def _heuristic(llm: LLMConfig, *, record_path: Path | None = None) -> Distiller:
    from skillrl.distill.heuristic import HeuristicDistiller

    return HeuristicDistiller()


def _llm(provider: str) -> DistillerFactory:
    def make(llm: LLMConfig, *, record_path: Path | None = None) -> Distiller:
        from skillrl.distill.llm import client_for
        from skillrl.distill.llm_distiller import LLMDistiller

        return LLMDistiller(client_for(replace(llm, provider=provider), record_path=record_path), name=provider)

    return make


DISTILLERS.register("heuristic", _heuristic)
DISTILLERS.register("openai", _llm("openai"))
DISTILLERS.register("azure", _llm("azure"))


def build_distiller(
    name: str,
    llm: LLMConfig | None = None,
    *,
    record_path: str | os.PathLike[str] | None = None,
) -> Distiller:
    """The distiller registered as ``name``.

    Args:
        name: ``heuristic``, ``openai``, ``azure`` or any registered name.
        llm: model settings for LLM distillers (ignored by ``heuristic``); the distiller's own
            provider replaces ``llm.provider``.
        record_path: JSONL file where LLM calls are recorded (prompt, reply, usage).

    Raises:
        RegistryError: unknown name (the message lists the known ones).
        LLMConfigError: an LLM distiller whose endpoint is not configured.
    """
    factory = DISTILLERS.get(name)
    return factory(llm or LLMConfig(), record_path=Path(record_path) if record_path is not None else None)


def distiller_names() -> list[str]:
    return DISTILLERS.names()


__all__ = [
    "DISTILLERS",
    "BankRequest",
    "Distiller",
    "DistillerFactory",
    "EvolutionRequest",
    "TaskClassifier",
    "build_distiller",
    "distiller_names",
]

