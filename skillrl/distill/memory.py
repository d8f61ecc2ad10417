"""Memories: the original SkillRL's per-trajectory record, read and written in its format.

A memory file is a JSON array of records (the original's ``generated_memories_*.json``)::

    {
      "memory_id": "mem_alfworld_1a2b3c4d",
      "contextual_description": "ALFWorld heat task: heat some egg and put it in ... Failed.",
      "tags": {"environment": "alfworld", "outcome": "Success" | "Failure", ...},
      "content": {
        "task_meta": {"original_goal": "heat some egg and put it in countertop.", ...},
        "refined_trajectory": {"refined_trajectory": [
            {"step_index": 0, "action": "go to fridge 1", "reasoning": "...",
             "critical_observation": "..."}, ...]},
        "strategic_guidelines": {
            "planning_pattern": "search PLACEs -> take OBJECT from PLACE -> ...",
            "mistakes_to_avoid": ["...", {"trigger_condition": "...", "bad_action": "...",
                                          "correction": "...", "kind": "loop_two_locations"}]}
      },
      ...
    }

How this shape was established (the original repository's memory files are not published): the
original's skill-generation scripts and its retrieval memory read ``content.task_meta.original_goal``,
``tags.outcome`` (``"Success"``; ``"Failure"`` or ``"Failed"``), ``tags.data_source`` (Search),
``contextual_description`` (top level), ``content.refined_trajectory.refined_trajectory[*]`` with
``action``/``reasoning``/``critical_observation`` (its Search script also accepts a bare list), and
``content.strategic_guidelines.{planning_pattern, mistakes_to_avoid}`` (also accepted nested one
level deeper under another ``strategic_guidelines``); mistakes are strings or objects with
``trigger_condition``/``bad_action``; its own writer adds ``memory_id``, ``tags.environment`` and
``origin_env_id``. This module reads all of those variants and writes the first form. Keys it does
not know are kept (on the record, in ``tags``, in ``task_meta``) and written back unchanged.
We add ``task_meta.task_type``/``env_name``/``episode_id`` and ``mistakes_to_avoid[*].kind`` (the
heuristic's failure kind); readers of the original format ignore them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillrl.distill.trajectory import read_text_file
from skillrl.skills.bank import atomic_write_text

SUCCESS = "Success"
FAILURE = "Failure"
_OUTCOMES = {"success": SUCCESS, "succeeded": SUCCESS, "failure": FAILURE, "failed": FAILURE, "fail": FAILURE}


class MemoryFormatError(ValueError):
    """A memory (file) is not in the expected format. The message names the file and JSON path."""


@dataclass(frozen=True)
class MemoryStep:
    """One step of a refined trajectory."""

    action: str
    reasoning: str = ""
    """Why the action was taken."""
    critical_observation: str = ""
    """What the agent saw that mattered."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Other keys of the step (``step_index`` is rewritten on save)."""

    def to_dict(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extra, "step_index": index, "action": self.action}
        if self.reasoning:
            out["reasoning"] = self.reasoning
        if self.critical_observation:
            out["critical_observation"] = self.critical_observation
        return out


@dataclass(frozen=True)
class MemoryMistake:
    """A lesson from a failure: in which situation which action went wrong, and what to do."""

    bad_action: str
    """The mistake (for a plain-string mistake: the whole text)."""
    trigger_condition: str = ""
    correction: str = ""
    kind: str = ""
    """The heuristic's failure kind (``repeated_action`` …), '' when unknown."""
    plain: bool = False
    """Written back as a plain string (it was one)."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def text(self) -> str:
        """One line for prompts and aggregation."""
        parts = [self.bad_action]
        if self.trigger_condition:
            parts.insert(0, f"When {self.trigger_condition.rstrip('.')}:")
        if self.correction:
            parts.append(f"Instead: {self.correction}")
        return " ".join(p for p in parts if p)

    def to_obj(self) -> str | dict[str, Any]:
        if self.plain and not (self.trigger_condition or self.correction or self.kind or self.extra):
            return self.bad_action
        out: dict[str, Any] = {**self.extra, "trigger_condition": self.trigger_condition, "bad_action": self.bad_action}
        if self.correction:
            out["correction"] = self.correction
        if self.kind:
            out["kind"] = self.kind
        return out


@dataclass(frozen=True)
class Memory:
    """One memory record (see the module docstring for the JSON shape)."""

    memory_id: str
    goal: str
    """``content.task_meta.original_goal``."""
    outcome: str
    """``tags.outcome``: ``"Success"`` or ``"Failure"``."""
    contextual_description: str = ""
    refined_trajectory: tuple[MemoryStep, ...] = ()
    planning_pattern: str = ""
    """``strategic_guidelines.planning_pattern`` ('' for none)."""
    mistakes_to_avoid: tuple[MemoryMistake, ...] = ()
    task_type: str = ""
    """``task_meta.task_type`` ('' when unknown: the bank builder classifies the goal)."""
    env_name: str = ""
    episode_id: str = ""
    """The episode the memory came from ('' for memories from elsewhere)."""
    tags: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """The other tags as read (``outcome`` is :attr:`outcome`)."""
    task_meta: Mapping[str, Any] = field(default_factory=dict, hash=False)
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Unknown top-level keys."""
    content_extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Unknown keys of ``content``."""

    @property
    def won(self) -> bool:
        return self.outcome == SUCCESS

    @property
    def data_source(self) -> str:
        """``tags.data_source`` (the Search dataset), '' when absent."""
        return str(self.tags.get("data_source") or "")

    def to_dict(self) -> dict[str, Any]:
        task_meta = {**self.task_meta, "original_goal": self.goal}
        for key, value in (("task_type", self.task_type), ("env_name", self.env_name), ("episode_id", self.episode_id)):
            if value:
                task_meta[key] = value
        tags = {**self.tags, "outcome": self.outcome}
        if self.env_name:
            tags.setdefault("environment", self.env_name)
        content = {
            **self.content_extra,
            "task_meta": task_meta,
            "refined_trajectory": {"refined_trajectory": [s.to_dict(i) for i, s in enumerate(self.refined_trajectory)]},
            "strategic_guidelines": {
                "planning_pattern": self.planning_pattern or None,
                "mistakes_to_avoid": [m.to_obj() for m in self.mistakes_to_avoid],
            },
        }
        return {
            "memory_id": self.memory_id,
            "contextual_description": self.contextual_description,
            "tags": tags,
            "content": content,
            **{k: v for k, v in self.extra.items() if k not in ("memory_id", "contextual_description", "tags", "content")},
        }

    def summary_for_prompt(self, max_steps: int = 8) -> dict[str, Any]:
        """A compact view for distillation prompts (goal, outcome, steps, pattern, mistakes)."""
        return {
            "goal": self.goal,
            "task_type": self.task_type,
            "outcome": self.outcome,
            "steps": [{"action": s.action, "reasoning": s.reasoning} for s in self.refined_trajectory[:max_steps]],
            "planning_pattern": self.planning_pattern,
            "mistakes": [m.text for m in self.mistakes_to_avoid[:4]],
        }


def memory_id_for(env_name: str, key: str) -> str:
    """``mem_<env>_<8 hex>``, stable for a given key (e.g. a trajectory fingerprint)."""
    return f"mem_{env_name or 'env'}_{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"


# ----------------------------------------------------------------------------- parsing


def _err(where: str, path: str, reason: str) -> MemoryFormatError:
    return MemoryFormatError(f"{where}: {path}: {reason}" if path else f"{where}: {reason}")


def _text(obj: Mapping[str, Any], key: str, where: str, path: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise _err(where, f"{path}.{key}", "missing required field")
        return ""
    if not isinstance(value, str):
        raise _err(where, f"{path}.{key}", f"expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise _err(where, f"{path}.{key}", "must not be empty")
    return value


def parse_steps(value: Any, where: str, path: str) -> tuple[MemoryStep, ...]:
    """A refined trajectory: a list of steps, or ``{"refined_trajectory": [...]}``, or None."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        path = f"{path}.refined_trajectory"
        value = value.get("refined_trajectory") or []
    if not isinstance(value, list):
        raise _err(where, path, f"expected a list of steps, got {type(value).__name__}")
    steps = []
    for i, s in enumerate(value):
        p = f"{path}[{i}]"
        if isinstance(s, str):
            steps.append(MemoryStep(action=s))
            continue
        if not isinstance(s, Mapping):
            raise _err(where, p, f"expected a step object, got {type(s).__name__}")
        steps.append(MemoryStep(
            action=_text(s, "action", where, p, required=True),
            reasoning=_text(s, "reasoning", where, p),
            critical_observation=_text(s, "critical_observation", where, p),
            extra={k: v for k, v in s.items() if k not in ("action", "reasoning", "critical_observation", "step_index")},
        ))
    return tuple(steps)


def parse_mistakes(value: Any, where: str, path: str) -> tuple[MemoryMistake, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _err(where, path, f"expected a list of mistakes, got {type(value).__name__}")
    out = []
    for i, m in enumerate(value):
        p = f"{path}[{i}]"
        if isinstance(m, str):
            if m.strip():
                out.append(MemoryMistake(bad_action=m, plain=True))
            continue
        if not isinstance(m, Mapping):
            raise _err(where, p, f"expected a string or an object, got {type(m).__name__}")
        bad = _text(m, "bad_action", where, p) or _text(m, "description", where, p) or _text(m, "mistake", where, p)
        if not bad.strip():
            raise _err(where, f"{p}.bad_action", "missing required field")
        known = ("bad_action", "trigger_condition", "correction", "kind")
        out.append(MemoryMistake(
            bad_action=bad,
            trigger_condition=_text(m, "trigger_condition", where, p),
            correction=_text(m, "correction", where, p),
            kind=_text(m, "kind", where, p),
            extra={k: v for k, v in m.items() if k not in known},
        ))
    return tuple(out)


def parse_guidelines(value: Any, where: str, path: str) -> tuple[str, tuple[MemoryMistake, ...]]:
    """``(planning_pattern, mistakes)`` from a ``strategic_guidelines`` object (or None)."""
    if value is None:
        return "", ()
    if not isinstance(value, Mapping):
        raise _err(where, path, f"expected an object, got {type(value).__name__}")
    if isinstance(value.get("strategic_guidelines"), Mapping):  # nested variant seen in the original
        value, path = value["strategic_guidelines"], f"{path}.strategic_guidelines"
    pattern = value.get("planning_pattern")
    if pattern is not None and not isinstance(pattern, str):
        if isinstance(pattern, list) and all(isinstance(x, str) for x in pattern):
            pattern = " -> ".join(pattern)
        else:
            raise _err(where, f"{path}.planning_pattern", f"expected a string, got {type(pattern).__name__}")
    return pattern or "", parse_mistakes(value.get("mistakes_to_avoid"), where, f"{path}.mistakes_to_avoid")


def parse_outcome(value: Any, where: str, path: str) -> str:
    if isinstance(value, bool):
        return SUCCESS if value else FAILURE
    if isinstance(value, str) and value.strip().lower() in _OUTCOMES:
        return _OUTCOMES[value.strip().lower()]
    raise _err(where, path, f"expected 'Success' or 'Failure', got {value!r}")


def parse_memory(obj: Any, where: str = "<memory>", path: str = "") -> Memory:
    """Validate one record in the original format.

    Raises:
        MemoryFormatError: naming ``where`` and the JSON path (``[3].content.task_meta.original_goal``).
    """
    if not isinstance(obj, Mapping):
        raise _err(where, path, f"expected a memory object, got {type(obj).__name__}")
    tags = obj.get("tags")
    if not isinstance(tags, Mapping):
        raise _err(where, f"{path}.tags", "missing or not an object")
    content = obj.get("content")
    if not isinstance(content, Mapping):
        raise _err(where, f"{path}.content", "missing or not an object")
    meta = content.get("task_meta")
    if not isinstance(meta, Mapping):
        raise _err(where, f"{path}.content.task_meta", "missing or not an object")
    goal = _text(meta, "original_goal", where, f"{path}.content.task_meta", required=True)
    pattern, mistakes = parse_guidelines(content.get("strategic_guidelines"), where, f"{path}.content.strategic_guidelines")
    mem_id = obj.get("memory_id")
    if not isinstance(mem_id, str) or not mem_id:
        mem_id = memory_id_for(str(tags.get("environment") or ""), goal + json.dumps(content, sort_keys=True, default=str))
    known_content = ("task_meta", "refined_trajectory", "strategic_guidelines")
    return Memory(
        memory_id=mem_id,
        goal=goal,
        outcome=parse_outcome(tags.get("outcome"), where, f"{path}.tags.outcome"),
        contextual_description=_text(obj, "contextual_description", where, path),
        refined_trajectory=parse_steps(content.get("refined_trajectory"), where, f"{path}.content.refined_trajectory"),
        planning_pattern=pattern,
        mistakes_to_avoid=mistakes,
        task_type=str(meta.get("task_type") or tags.get("task_type") or ""),
        env_name=str(meta.get("env_name") or ""),
        episode_id=str(meta.get("episode_id") or ""),
        tags={k: v for k, v in tags.items() if k != "outcome"},
        task_meta={k: v for k, v in meta.items() if k not in ("original_goal", "task_type", "env_name", "episode_id")},
        extra={k: v for k, v in obj.items() if k not in ("memory_id", "contextual_description", "tags", "content")},
        content_extra={k: v for k, v in content.items() if k not in known_content},
    )


def read_memories(path: str | os.PathLike[str]) -> list[Memory]:
    """All memories of a file (a JSON array in the original format; JSONL is accepted too).

    Raises:
        MemoryFormatError: missing file, invalid JSON, or an invalid record (path named).
    """
    p = Path(path)
    text = read_text_file(p, MemoryFormatError, "a memory file")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MemoryFormatError(f"{p}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        return [parse_memory(obj, str(p), f"[{i}]") for i, obj in enumerate(data)]
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MemoryFormatError(f"{p}: line {lineno}: invalid JSON at column {exc.colno}: {exc.msg}") from None
        out.append(parse_memory(obj, str(p), f"line {lineno}"))
    if not out and text.strip():
        raise MemoryFormatError(f"{p}: expected a JSON array of memories")
    return out


def write_memories(path: str | os.PathLike[str], memories: Iterable[Memory]) -> Path:
    """Write a JSON array in the original format, atomically."""
    p = Path(path)
    atomic_write_text(p, json.dumps([m.to_dict() for m in memories], indent=2, ensure_ascii=False) + "\n")
    return p


def group_memories(memories: Sequence[Memory]) -> dict[str, dict[str, list[Memory]]]:
    """``{task_type: {"success": [...], "failure": [...]}}`` in first-seen type order."""
    out: dict[str, dict[str, list[Memory]]] = {}
    for m in memories:
        slot = out.setdefault(m.task_type or "general", {"success": [], "failure": []})
        slot["success" if m.won else "failure"].append(m)
    return out
