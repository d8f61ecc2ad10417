"""The offline pipeline: trajectories -> memories -> an initial skill bank.

Both stages are resumable: each unit of work (one trajectory's memory; each bank section) is
stored in a :class:`JsonCache` under a key made of the distiller's :attr:`cache_key` and a hash
of the unit's input, so a rerun (after an interruption, an LLM outage, a Ctrl-C) skips what is
done. Progress bars go to stderr.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from skillrl.distill.base import BankRequest, Distiller
from skillrl.distill.llm import LLMError, redact
from skillrl.distill.memory import Memory, MemoryFormatError, group_memories, parse_memory
from skillrl.distill.planning import id_prefix
from skillrl.distill.trajectory import Trajectory
from skillrl.skills.bank import SkillBank, atomic_write_text
from skillrl.skills.schema import Mistake, Skill

log = logging.getLogger(__name__)

Classify = Callable[[str, "str | None"], str]
"""``(task_text, hint) -> task type`` (``"general"`` when unknown); the env's taxonomy."""


class JsonCache:
    """A directory of JSON files keyed by strings (one file per key, written atomically).

    ``JsonCache(None)`` caches nothing.
    """

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root is not None else None

    def __repr__(self) -> str:
        return f"JsonCache({str(self.root) if self.root else None!r})"

    def _path(self, key: str) -> Path:
        assert self.root is not None
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, key: str) -> Any | None:
        """The stored value, or None (also for a corrupt entry, which is then ignored)."""
        if self.root is None:
            return None
        p = self._path(key)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("cache entry %s unreadable (%s); recomputing", p, exc)
            return None
        return data.get("value") if isinstance(data, dict) and data.get("key") == key else None

    def put(self, key: str, value: Any) -> None:
        if self.root is None:
            return
        atomic_write_text(self._path(key), json.dumps({"key": key, "value": value}, ensure_ascii=False))


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()[:20]


# ----------------------------------------------------------------------------- memories


@dataclass
class MemoryRun:
    """The result of :func:`distill_memories`."""

    memories: list[Memory] = field(default_factory=list)
    """One memory per trajectory that succeeded, in input order."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """``(episode_id, error)`` of trajectories whose distillation failed (``keep_going``)."""
    cached: int = 0
    """How many came from the cache."""


def distill_memories(
    trajectories: Iterable[Trajectory],
    distiller: Distiller,
    *,
    cache: JsonCache | None = None,
    classify: Classify | None = None,
    keep_going: bool = False,
    progress: bool = True,
    total: int | None = None,
) -> MemoryRun:
    """One memory per trajectory (original format), cached per trajectory.

    Args:
        classify: fills ``task_type`` of trajectories that have none.
        keep_going: on an LLM error, record it and continue (default: stop and raise; the work
            done so far stays in the cache).

    Raises:
        LLMError: a trajectory could not be distilled (unless ``keep_going``).
    """
    cache = cache or JsonCache(None)
    run = MemoryRun()
    items = list(trajectories) if total is None else trajectories
    bar = tqdm(items, total=total if total is not None else len(items), desc="memories", unit="traj",
               disable=not progress, leave=False)
    for traj in bar:
        if not traj.task_type and classify is not None:
            traj = replace(traj, task_type=classify(traj.task, traj.hint or None))
        key = f"memory/{distiller.cache_key}/{traj.fingerprint()}"
        hit = cache.get(key)
        if hit is not None:
            try:
                run.memories.append(parse_memory(hit, "cache", key))
                run.cached += 1
                continue
            except MemoryFormatError as exc:
                log.warning("cached memory unreadable (%s); recomputing", exc)
        try:
            mem = distiller.memory(traj)
        except LLMError as exc:
            if not keep_going:
                raise
            run.failed.append((traj.episode_id, redact(str(exc))))
            log.warning("memory for %s failed: %s", traj.episode_id, redact(str(exc)))
            continue
        cache.put(key, mem.to_dict())
        run.memories.append(mem)
    bar.close()
    return run


# ----------------------------------------------------------------------------- bank


def classify_memories(memories: Sequence[Memory], classify: Classify | None) -> list[Memory]:
    """Memories with ``task_type`` filled (by ``classify`` on goal and data source) where empty."""
    out = []
    for m in memories:
        if not m.task_type:
            m = replace(m, task_type=classify(m.goal, m.data_source or None) if classify else "general")
        out.append(m)
    return out


def _renumber_skills(skills: Sequence[Skill], prefix: str, seen_text: set[str]) -> list[Skill]:
    out = []
    for s in skills:
        text = " ".join(f"{s.title} {s.principle}".lower().split())
        if text in seen_text:
            continue
        seen_text.add(text)
        out.append(replace(s, skill_id=f"{prefix}_{len(out) + 1:03d}"))
    return out


def build_bank(
    memories: Sequence[Memory],
    distiller: Distiller,
    *,
    env_name: str,
    classify: Classify | None = None,
    categories: Sequence[str] | None = None,
    env_description: str = "",
    category_descriptions: Mapping[str, str] | None = None,
    n_general: int = 10,
    n_task: int = 5,
    n_mistakes: int = 10,
    cache: JsonCache | None = None,
    progress: bool = True,
) -> SkillBank:
    """An initial bank (general skills, skills per task type, common mistakes) from memories.

    Memories without a task type are classified with ``classify`` (the env's taxonomy);
    ``categories`` fixes the order of task types (others follow in first-seen order; the
    fallback type ``general`` gets no task-specific section). Ids are renumbered
    (``gen_001``, ``<type[:3]>_001``, ``err_001``), exact duplicates dropped. ``metadata``
    records the source and the per-type success/failure counts (as the original's banks did).

    Raises:
        ValueError: no memories.
        LLMError: a distiller call failed (finished sections stay cached).
        SkillBankError: the result is not a valid bank (should not happen).
    """
    if not memories:
        raise ValueError("no memories to build a bank from")
    cache = cache or JsonCache(None)
    mems = classify_memories(memories, classify)
    groups = group_memories(mems)
    order = [c for c in (categories or ()) if c in groups] + [c for c in groups if c not in (categories or ())]
    groups = {c: groups[c] for c in order}
    request = BankRequest(env_name=env_name, groups=groups, env_description=env_description,
                          category_descriptions=dict(category_descriptions or {}),
                          n_general=n_general, n_task=n_task, n_mistakes=n_mistakes)
    task_types = [c for c in order if c != "general"]
    base_key = f"bank/{distiller.cache_key}/{env_name}/{_digest([m.to_dict() for m in mems])}/{n_general}-{n_task}-{n_mistakes}"

    stages: list[tuple[str, Callable[[], Any]]] = [("general_skills", lambda: distiller.general_skills(request))]
    stages += [(f"task:{t}", (lambda t=t: distiller.task_skills(request, t))) for t in task_types]
    stages.append(("common_mistakes", lambda: distiller.mistakes(request)))
    results: dict[str, list[dict[str, Any]]] = {}
    bar = tqdm(stages, desc="bank", unit="section", disable=not progress, leave=False)
    for name, run in bar:
        bar.set_postfix_str(name)
        key = f"{base_key}/{name}"
        hit = cache.get(key)
        if isinstance(hit, list):
            results[name] = hit
            continue
        value = [item.to_dict() for item in run()]
        cache.put(key, value)
        results[name] = value
    bar.close()

    seen: set[str] = set()
    general = _renumber_skills([_skill(d) for d in results["general_skills"]], "gen", seen)
    task_specific = {}
    for t in task_types:
        skills = _renumber_skills([_skill(d) for d in results[f"task:{t}"]], id_prefix(t), seen)
        if skills:
            task_specific[t] = skills
    mistakes, seen_m = [], set()
    for d in results["common_mistakes"]:
        m = _mistake(d)
        text = " ".join(m.description.lower().split())
        if text not in seen_m:
            seen_m.add(text)
            mistakes.append(replace(m, mistake_id=f"err_{len(mistakes) + 1:03d}"))
    dist = {t: {"success": len(g["success"]), "failure": len(g["failure"])} for t, g in groups.items()}
    data = {
        "general_skills": [s.to_dict() for s in general],
        "task_specific_skills": {t: [s.to_dict() for s in ss] for t, ss in task_specific.items()},
        "common_mistakes": [m.to_dict() for m in mistakes],
        "metadata": {
            "version": 0,
            "source": f"generated from {env_name} trajectories by skillrl distill ({distiller.name})",
            "distiller": distiller.cache_key,
            "total_memories_analyzed": len(mems),
            "task_distribution": dist,
        },
    }
    return SkillBank.from_dict(data, file=f"<{env_name} bank>")


def _skill(d: Mapping[str, Any]) -> Skill:
    known = ("skill_id", "title", "principle", "when_to_apply")
    return Skill(str(d["skill_id"]), str(d["title"]), str(d["principle"]), str(d.get("when_to_apply", "")),
                 {k: v for k, v in d.items() if k not in known})


def _mistake(d: Mapping[str, Any]) -> Mistake:
    known = ("mistake_id", "description", "why_it_happens", "how_to_avoid")
    return Mistake(str(d["mistake_id"]), str(d["description"]), str(d.get("why_it_happens", "")),
                   str(d["how_to_avoid"]), {k: v for k, v in d.items() if k not in known})
