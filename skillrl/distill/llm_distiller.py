"""The LLM distiller (registered as ``openai`` and ``azure``): prompts from files, JSON replies.

Prompts are the project's own files (``string.Template`` text, ``$name`` placeholders):

- ``memory_data/prompt/memory.md`` — one trajectory -> one memory;
- ``skill_generation/prompts/system.md`` — the system message of every call;
- ``skill_generation/prompts/{general_skills,task_skills,common_mistakes}.md`` — the initial bank;
- ``skill_generation/prompts/evolve.md`` — one evolution cycle for one failing task type.

Every reply is validated (memories against the memory format, skills and mistakes against the
bank schema :mod:`skillrl.skills.schema`, evolution replies also against the current bank: ids
of updates/retirements must exist). One repair round-trip is made with the validation error
(:meth:`skillrl.distill.llm.LLMClient.complete_json`); a reply still invalid raises
:class:`~skillrl.distill.llm.LLMOutputError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from skillrl.distill.base import BankRequest, EvolutionRequest
from skillrl.distill.llm import LLMClient
from skillrl.distill.memory import FAILURE, SUCCESS, Memory, memory_id_for, parse_guidelines, parse_steps
from skillrl.distill.ops import AddMistake, AddSkill, EvolutionOp, RetireSkill, UpdateSkill
from skillrl.distill.planning import id_prefix
from skillrl.distill.trajectory import Trajectory
from skillrl.skills.bank import ADDED_AT_VERSION, SkillBank
from skillrl.skills.schema import Mistake, Skill, SkillBankError, parse_document, parse_mistake, parse_skill

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout the prompt files are read from."""

PROMPT_FILES = {
    "memory": "memory_data/prompt/memory.md",
    "system": "skill_generation/prompts/system.md",
    "general_skills": "skill_generation/prompts/general_skills.md",
    "task_skills": "skill_generation/prompts/task_skills.md",
    "common_mistakes": "skill_generation/prompts/common_mistakes.md",
    "evolve": "skill_generation/prompts/evolve.md",
}

_SKILL_TEXT = ("title", "principle", "when_to_apply")
_MISTAKE_TEXT = ("description", "why_it_happens", "how_to_avoid")
_OP_META = ("reason", "episode_ids", ADDED_AT_VERSION)  # op metadata, and the stamp the bank sets itself


class PromptError(FileNotFoundError):
    """A prompt file is missing (the message names it)."""


def load_prompts(root: str | Path | None = None) -> dict[str, str]:
    """All prompt texts, by name, read from ``root`` (default: this checkout).

    Raises:
        PromptError: a file is missing.
    """
    base = Path(root) if root is not None else REPO_ROOT
    out = {}
    for name, rel in PROMPT_FILES.items():
        p = base / rel
        try:
            out[name] = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PromptError(f"prompt file {p} not found (prompts live in the SkillRL checkout: {rel})") from None
    return out


def _render(template: str, **values: Any) -> str:
    return Template(template).safe_substitute({k: str(v) for k, v in values.items()})


# ----------------------------------------------------------------------------- validators


@dataclass(frozen=True)
class MemoryBody:
    """What the model writes for a memory (the rest comes from the trajectory)."""

    contextual_description: str
    steps: tuple
    planning_pattern: str
    mistakes: tuple


def validate_memory_body(obj: Any) -> MemoryBody:
    """Check a memory reply; raises ValueError naming the JSON path of the problem."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object with contextual_description, refined_trajectory, strategic_guidelines; got {type(obj).__name__}")
    desc = obj.get("contextual_description")
    if not isinstance(desc, str) or not desc.strip():
        raise ValueError("contextual_description: must be a non-empty string")
    if "strategic_guidelines" not in obj:
        raise ValueError("strategic_guidelines: missing required field")
    steps = parse_steps(obj.get("refined_trajectory"), "reply", "refined_trajectory")
    pattern, mistakes = parse_guidelines(obj.get("strategic_guidelines"), "reply", "strategic_guidelines")
    return MemoryBody(desc.strip(), steps, pattern, mistakes)


def _items_list(obj: Any, keys: Sequence[str]) -> list[Any]:
    if isinstance(obj, Mapping):
        for k in keys:
            if isinstance(obj.get(k), list):
                return obj[k]
        raise ValueError(f"expected a JSON array (or an object with one of {', '.join(keys)})")
    if not isinstance(obj, list):
        raise ValueError(f"expected a JSON array, got {type(obj).__name__}")
    return obj


def validate_skills(obj: Any, *, prefix: str = "tmp", min_items: int = 1) -> tuple[Skill, ...]:
    """A list of skills in the bank schema (missing ids are filled; other errors name the path)."""
    items = _items_list(obj, ("skills", "general_skills"))
    if len(items) < min_items:
        raise ValueError(f"expected at least {min_items} skill(s), got {len(items)}")
    out = []
    for i, it in enumerate(items):
        if isinstance(it, Mapping) and not it.get("skill_id"):
            it = {**it, "skill_id": f"{prefix}_{i + 1:03d}"}
        s = parse_skill(it, path=f"[{i}]")
        out.append(Skill(s.skill_id, s.title.strip(), s.principle.strip(), s.when_to_apply.strip(),
                         {k: v for k, v in s.extra.items() if k not in _OP_META}))
    return tuple(out)


def validate_mistakes(obj: Any, *, min_items: int = 1) -> tuple[Mistake, ...]:
    """A list of mistakes in the bank schema."""
    items = _items_list(obj, ("mistakes", "common_mistakes"))
    if len(items) < min_items:
        raise ValueError(f"expected at least {min_items} mistake(s), got {len(items)}")
    out = []
    for i, it in enumerate(items):
        if isinstance(it, Mapping) and not it.get("mistake_id"):
            it = {**it, "mistake_id": f"err_{i + 1:03d}"}
        m = parse_mistake(it, path=f"[{i}]")
        out.append(Mistake(m.mistake_id, m.description.strip(), m.why_it_happens.strip(), m.how_to_avoid.strip(),
                           {k: v for k, v in m.extra.items() if k not in _OP_META}))
    return tuple(out)


def _episode_ids(obj: Mapping[str, Any], known: Sequence[str], path: str) -> tuple[str, ...]:
    ids = obj.get("episode_ids")
    if ids is None:
        return tuple(known)
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise ValueError(f"{path}.episode_ids: expected a list of episode id strings")
    unknown = [x for x in ids if x not in known]
    if unknown:
        raise ValueError(f"{path}.episode_ids: unknown episode id(s) {unknown[:3]}; use ids from the episode list")
    return tuple(ids) or tuple(known)


def _reason(obj: Mapping[str, Any], path: str) -> str:
    r = obj.get("reason", "")
    if not isinstance(r, str):
        raise ValueError(f"{path}.reason: expected a string")
    return r.strip()


def validate_evolution(obj: Any, *, bank: SkillBank, task_type: str, episode_ids: Sequence[str]) -> tuple[EvolutionOp, ...]:
    """An evolution reply -> ops. Adds are checked against the bank schema (all sections at once,
    ids filled); updates/retirements must name active items of ``bank``."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    allowed = {"general_skills", "task_specific_skills", "common_mistakes", "updates", "retire", "reason"}
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ValueError(f"unexpected key(s) {extra}; allowed: {sorted(allowed)}")
    ts = obj.get("task_specific_skills") or {}
    if not isinstance(ts, Mapping):
        raise ValueError("task_specific_skills: expected an object mapping the task type to a list")
    others = [k for k in ts if k != task_type]
    if others:
        raise ValueError(f"task_specific_skills: only {task_type!r} may be given, got {others}")
    n = 0

    def fill(items: Any, key: str, path: str) -> list[Any]:
        nonlocal n
        if items is None:
            return []
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list")
        out = []
        for it in items:
            n += 1
            out.append({**it, key: f"new_{n}"} if isinstance(it, Mapping) else it)
        return out

    doc = {
        "general_skills": fill(obj.get("general_skills"), "skill_id", "general_skills"),
        "task_specific_skills": {task_type: fill(ts.get(task_type), "skill_id", f"task_specific_skills.{task_type}")},
        "common_mistakes": fill(obj.get("common_mistakes"), "mistake_id", "common_mistakes"),
    }
    parsed = parse_document(doc, "reply")  # the bank schema, paths like task_specific_skills.heat[0].principle
    ops: list[EvolutionOp] = []

    def strip(extra: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in extra.items() if k not in _OP_META}

    for i, s in enumerate(parsed.general):
        raw = doc["general_skills"][i]
        ops.append(AddSkill(None, Skill(s.skill_id, s.title, s.principle, s.when_to_apply, strip(s.extra)),
                            reason=_reason(raw, f"general_skills[{i}]"),
                            episode_ids=_episode_ids(raw, episode_ids, f"general_skills[{i}]")))
    for i, s in enumerate(parsed.task_specific.get(task_type, [])):
        raw = doc["task_specific_skills"][task_type][i]
        p = f"task_specific_skills.{task_type}[{i}]"
        ops.append(AddSkill(task_type, Skill(s.skill_id, s.title, s.principle, s.when_to_apply, strip(s.extra)),
                            reason=_reason(raw, p), episode_ids=_episode_ids(raw, episode_ids, p)))
    for i, m in enumerate(parsed.mistakes):
        raw = doc["common_mistakes"][i]
        ops.append(AddMistake(Mistake(m.mistake_id, m.description, m.why_it_happens, m.how_to_avoid, strip(m.extra)),
                              reason=_reason(raw, f"common_mistakes[{i}]"),
                              episode_ids=_episode_ids(raw, episode_ids, f"common_mistakes[{i}]")))
    active = set(bank.active_ids())
    for key, build in (("updates", _update_op), ("retire", _retire_op)):
        items = obj.get(key) or []
        if not isinstance(items, list):
            raise ValueError(f"{key}: expected a list")
        for i, it in enumerate(items):
            path = f"{key}[{i}]"
            if not isinstance(it, Mapping):
                raise ValueError(f"{path}: expected an object")
            sid = it.get("skill_id") or it.get("mistake_id")
            if sid not in active:
                raise ValueError(f"{path}.skill_id: {sid!r} is not an active item of the bank")
            ops.append(build(it, sid, bank, path, episode_ids))
    return tuple(ops)


def _update_op(it: Mapping[str, Any], sid: str, bank: SkillBank, path: str, episode_ids: Sequence[str]) -> EvolutionOp:
    fields = _MISTAKE_TEXT if isinstance(bank.get(sid), Mistake) else _SKILL_TEXT
    changes = {k: it[k] for k in fields if k in it}
    bad = [k for k, v in changes.items() if not isinstance(v, str)]
    if bad or not changes:
        raise ValueError(f"{path}: give new text for at least one of {', '.join(fields)} (strings)")
    return UpdateSkill(sid, changes, reason=_reason(it, path), episode_ids=_episode_ids(it, episode_ids, path))


def _retire_op(it: Mapping[str, Any], sid: str, bank: SkillBank, path: str, episode_ids: Sequence[str]) -> EvolutionOp:
    return RetireSkill(sid, reason=_reason(it, path), episode_ids=_episode_ids(it, episode_ids, path))


# ----------------------------------------------------------------------------- the distiller


def _memories_block(memories: Sequence[Memory], limit: int) -> str:
    return json.dumps([m.summary_for_prompt() for m in memories[:limit]], indent=1, ensure_ascii=False) if memories else "[]"


def _episodes_block(trajs: Sequence[Trajectory], limit: int, chars: int) -> str:
    if not trajs:
        return "(none)"
    return "\n\n".join(f"[{t.episode_id}]\n{t.transcript(max_chars=chars)}" for t in trajs[:limit])


def _items_block(items: Sequence[Any], bank: SkillBank) -> str:
    if not items:
        return "(none)"
    lines = []
    for it in items:
        u = bank.usage(it.skill_id)
        use = f" [usage {u.times_retrieved}, won {u.episodes_won}, lost {u.episodes_lost}]"
        text = f"{it.description} / {it.how_to_avoid}" if isinstance(it, Mistake) else f"{it.title} — {it.principle}"
        lines.append(f"- {it.skill_id}: {text}{use}")
    return "\n".join(lines)


class LLMDistiller:
    """Distiller over an :class:`LLMClient` (any :class:`~skillrl.distill.llm.ChatModel`).

    Args:
        client: the recording client (its model may be an API endpoint or the policy itself).
        name: registry name for records and caches.
        prompt_root: checkout holding the prompt files (default: this one).
        max_examples: memories/episodes shown per group in a prompt.
        transcript_chars: cap on one episode's transcript in a prompt.
    """

    def __init__(self, client: LLMClient, *, name: str = "openai", prompt_root: str | Path | None = None,
                 max_examples: int = 8, transcript_chars: int = 2500) -> None:
        self.client = client
        self.name = name
        self.prompts = load_prompts(prompt_root)
        self.max_examples = max_examples
        self.transcript_chars = transcript_chars
        digest = hashlib.sha1("\x1f".join(self.prompts[k] for k in sorted(self.prompts)).encode("utf-8")).hexdigest()[:10]
        self._cache_key = f"{name}:{client.model.model_name}:{digest}"

    def __repr__(self) -> str:
        return f"LLMDistiller(name={self.name!r}, client={self.client!r})"

    @property
    def cache_key(self) -> str:
        return self._cache_key

    def _messages(self, user: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.prompts["system"].strip()}, {"role": "user", "content": user}]

    # -- offline -----------------------------------------------------------------------

    def memory(self, trajectory: Trajectory) -> Memory:
        t = trajectory
        user = _render(self.prompts["memory"], env_name=t.env_name or "unknown", task_type=t.task_type or "unknown",
                       outcome="success" if t.won else "failure", transcript=t.transcript(max_chars=self.transcript_chars * 2))
        body = self.client.complete_json(self._messages(user), validate_memory_body, purpose="memory")
        tags = {"environment": t.env_name, "source": self.name}
        if t.hint:
            tags["data_source"] = t.hint
        return Memory(
            memory_id=memory_id_for(t.env_name, t.fingerprint()),
            goal=t.task,
            outcome=SUCCESS if t.won else FAILURE,
            contextual_description=body.contextual_description,
            refined_trajectory=body.steps,
            planning_pattern=body.planning_pattern,
            mistakes_to_avoid=body.mistakes,
            task_type=t.task_type,
            env_name=t.env_name,
            episode_id=t.episode_id,
            tags=tags,
            task_meta={"game_id": t.game_id} if t.game_id else {},
        )

    def _sample(self, request: BankRequest, outcome: str, per_type: int) -> list[Memory]:
        return [m for g in request.groups.values() for m in list(g.get(outcome, ()))[:per_type]]

    def general_skills(self, request: BankRequest) -> tuple[Skill, ...]:
        user = _render(self.prompts["general_skills"], env_name=request.env_name, env_description=request.env_description,
                       successes=_memories_block(self._sample(request, "success", 3), 3 * self.max_examples),
                       failures=_memories_block(self._sample(request, "failure", 3), 3 * self.max_examples),
                       n_general=request.n_general)
        return self.client.complete_json(self._messages(user), lambda o: validate_skills(o, prefix="gen"), purpose="general_skills")

    def task_skills(self, request: BankRequest, task_type: str) -> tuple[Skill, ...]:
        g = request.groups.get(task_type, {})
        prefix = id_prefix(task_type)
        user = _render(self.prompts["task_skills"], env_name=request.env_name, task_type=task_type,
                       task_description=request.category_descriptions.get(task_type, task_type.replace("_", " ")),
                       successes=_memories_block(list(g.get("success", ())), self.max_examples),
                       failures=_memories_block(list(g.get("failure", ())), self.max_examples),
                       n_task=request.n_task, prefix=prefix)
        return self.client.complete_json(self._messages(user), lambda o: validate_skills(o, prefix=prefix),
                                         purpose=f"task_skills:{task_type}")

    def mistakes(self, request: BankRequest) -> tuple[Mistake, ...]:
        records = [
            {"task_type": t, "goal": m.goal, "mistakes": [x.text for x in m.mistakes_to_avoid[:3]]}
            for t, g in request.groups.items() for m in list(g.get("failure", ()))[: self.max_examples]
            if m.mistakes_to_avoid
        ]
        user = _render(self.prompts["common_mistakes"], env_name=request.env_name, env_description=request.env_description,
                       mistakes=json.dumps(records[: 4 * self.max_examples], indent=1, ensure_ascii=False) or "[]",
                       n_mistakes=request.n_mistakes)
        return self.client.complete_json(self._messages(user), validate_mistakes, purpose="common_mistakes")

    # -- evolution -----------------------------------------------------------------------

    def propose(self, request: EvolutionRequest) -> tuple[EvolutionOp, ...]:
        bank = request.bank if request.bank is not None else SkillBank.empty()
        rate = f"{request.success_rate:.0%}" if request.success_rate is not None else "low"
        user = _render(
            self.prompts["evolve"], env_name=request.env_name, task_type=request.task_type, success_rate=rate,
            task_skills=_items_block(bank.task_specific_skills.get(request.task_type, ()), bank),
            general_skills=_items_block(bank.general_skills, bank),
            mistakes=_items_block(bank.common_mistakes, bank),
            failures=_episodes_block(request.failures, self.max_examples, self.transcript_chars),
            successes=_episodes_block(request.successes, max(1, self.max_examples // 4), self.transcript_chars),
            max_new=request.max_new,
        )
        ids = request.episode_ids

        def validate(obj: Any) -> tuple[EvolutionOp, ...]:
            try:
                return validate_evolution(obj, bank=bank, task_type=request.task_type, episode_ids=ids)
            except SkillBankError as exc:
                raise ValueError(str(exc)) from None

        return self.client.complete_json(self._messages(user), validate, purpose=f"evolve:{request.task_type}")
