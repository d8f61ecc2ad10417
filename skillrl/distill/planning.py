"""Evolution planning (pure): proposed ops + the current bank + usage counters -> validated ops.

:func:`plan_ops` decides what of a distiller's proposal may enter the bank:

1. **Retire by utility** (ACE / ExpeL style): an active item whose injection correlates with
   failure — injected in at least ``retire_min_episodes`` episodes with a win rate at least
   ``retire_margin`` below the baseline (the pooled win rate of all injected items) — is retired,
   worst first, at most ``retire_max_per_cycle`` per cycle. A distiller's own retire proposal is
   accepted only when the counters show the same harm.
2. **Updates** keep the id; the new text must be valid, differ from the old and not duplicate
   another item.
3. **Adds**, most-evidenced first (number of episodes behind them): at most ``max_new_skills``
   per cycle (skills and mistakes together), at most ``max_skills_per_category`` active items in
   the target section/category, never a near-copy (similarity >= the threshold) of an active item
   or of an add accepted earlier in the same plan; each gets a fresh id (``gen_013``, ``hea_004``,
   ``err_012``: prefix and next free number).

Every op is tried on a snapshot of the bank as it is planned, so an accepted plan applies cleanly
(:func:`skillrl.distill.ops.apply_ops`). Nothing here touches the caller's bank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from skillrl.distill.ops import AddMistake, AddSkill, EvolutionOp, RetireSkill, UpdateSkill, skill_text
from skillrl.distill.similarity import Similarity
from skillrl.skills.bank import SkillBank, Usage
from skillrl.skills.schema import GENERAL, MISTAKES, TASK_SPECIFIC, Mistake, SkillBankError


@dataclass(frozen=True)
class PlanLimits:
    """Bounds on one evolution cycle."""

    max_new_skills: int = 3
    """Adds per cycle (skills and mistakes together); the original flag of the same name."""
    max_skills_per_category: int = 12
    """Cap on active items in ``general_skills``, in each task category, and in ``common_mistakes``."""
    retire_min_episodes: int = 20
    """An item is judged by its usage only after it was injected in this many finished episodes."""
    retire_margin: float = 0.15
    """Retire when the item's win rate is at least this far below the baseline win rate."""
    retire_max_per_cycle: int = 1
    """Retirements per cycle (0 turns retirement off)."""

    def __post_init__(self) -> None:
        for name in ("max_new_skills", "max_skills_per_category", "retire_min_episodes", "retire_max_per_cycle"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if not (0.0 <= self.retire_margin <= 1.0):
            raise ValueError(f"retire_margin must be in [0, 1], got {self.retire_margin}")


@dataclass(frozen=True)
class Rejected:
    """A proposed op that did not make it, and why."""

    op: EvolutionOp
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.op.to_dict(), "rejected": self.reason}


@dataclass(frozen=True)
class Plan:
    """The validated ops of one cycle, in application order (retire, update, add), and the rest."""

    ops: tuple[EvolutionOp, ...] = ()
    rejected: tuple[Rejected, ...] = ()

    @property
    def adds(self) -> tuple[EvolutionOp, ...]:
        return tuple(op for op in self.ops if op.op == "add")

    def to_dict(self) -> dict[str, Any]:
        return {"ops": [op.to_dict() for op in self.ops], "rejected": [r.to_dict() for r in self.rejected]}


# ----------------------------------------------------------------------------- utility


def baseline_win_rate(bank: SkillBank, usage: Mapping[str, Usage]) -> tuple[float | None, int]:
    """Pooled win rate over the active items' usage, and the number of item-episodes pooled."""
    active = set(bank.active_ids())
    won = sum(u.episodes_won for k, u in usage.items() if k in active)
    lost = sum(u.episodes_lost for k, u in usage.items() if k in active)
    n = won + lost
    return (won / n if n else None), n


def harm(item_id: str, usage: Mapping[str, Usage], baseline: float | None, limits: PlanLimits) -> str | None:
    """Why ``item_id`` should be retired (a sentence), or None when its usage shows no harm."""
    u = usage.get(item_id)
    if u is None or baseline is None:
        return None
    n = u.episodes_won + u.episodes_lost
    if n < limits.retire_min_episodes or u.win_rate is None:
        return None
    if u.win_rate <= baseline - limits.retire_margin:
        return (f"injected in {n} episodes with win rate {u.win_rate:.2f}, "
                f"{baseline - u.win_rate:.2f} below the baseline {baseline:.2f}")
    return None


def utility_retirements(bank: SkillBank, usage: Mapping[str, Usage], limits: PlanLimits) -> list[RetireSkill]:
    """Retire ops for every harmful active item, worst win rate first (no cap applied)."""
    baseline, _ = baseline_win_rate(bank, usage)
    found = []
    for item_id in bank.active_ids():
        why = harm(item_id, usage, baseline, limits)
        if why:
            found.append((usage[item_id].win_rate or 0.0, item_id, why))
    found.sort()
    return [RetireSkill(item_id, reason=f"utility: {why}") for _, item_id, why in found]


# ----------------------------------------------------------------------------- ids


def id_prefix(category: str | None, *, mistake: bool = False) -> str:
    """``err`` for mistakes, ``gen`` for general skills, else the category's first 3 letters.

    >>> id_prefix("pick_and_place"), id_prefix(None), id_prefix(None, mistake=True)
    ('pic', 'gen', 'err')
    """
    if mistake:
        return "err"
    if category is None:
        return "gen"
    letters = re.sub(r"[^a-z0-9]", "", category.lower())
    return (letters[:3] or "cat")


def fresh_id(taken: set[str], prefix: str) -> str:
    """``<prefix>_<NNN>`` with NNN one above the largest number already used with that prefix.

    >>> fresh_id({"gen_001", "gen_009", "heat_002"}, "gen")
    'gen_010'
    """
    pat = re.compile(rf"^{re.escape(prefix)}_(\d+)$")
    nums = [int(m.group(1)) for t in taken if (m := pat.match(t))]
    n = max(nums, default=0) + 1
    while f"{prefix}_{n:03d}" in taken:
        n += 1
    return f"{prefix}_{n:03d}"


def _all_ids(bank: SkillBank) -> set[str]:
    return set(bank.active_ids()) | {r.item.skill_id for r in bank.retired}


def _section_size(bank: SkillBank, section: str, category: str | None) -> int:
    if section == GENERAL:
        return len(bank.general_skills)
    if section == MISTAKES:
        return len(bank.common_mistakes)
    return len(bank.task_specific_skills.get(category or "", ()))


def _texts(bank: SkillBank, *, mistakes: bool, exclude: str | None = None) -> list[tuple[str, str]]:
    items: list[Any] = list(bank.common_mistakes) if mistakes else [
        *bank.general_skills, *(s for skills in bank.task_specific_skills.values() for s in skills)
    ]
    return [(it.skill_id, skill_text(it)) for it in items if it.skill_id != exclude]


def _nearest(similarity: Similarity, text: str, pool: Sequence[tuple[str, str]]) -> tuple[str | None, float]:
    if not pool:
        return None, -1.0
    sims = similarity.matrix([text], [t for _, t in pool])[0]
    j = int(sims.argmax())
    value = float(sims[j])
    return pool[j][0], (value if math.isfinite(value) else -1.0)


# ----------------------------------------------------------------------------- the plan


def plan_ops(
    proposed: Sequence[EvolutionOp],
    bank: SkillBank,
    *,
    limits: PlanLimits,
    similarity: Similarity,
    usage: Mapping[str, Usage] | None = None,
) -> Plan:
    """Validate ``proposed`` against ``bank`` (see the module docstring). ``bank`` is not changed.

    ``usage`` defaults to the bank's own counters.
    """
    usage = bank.all_usage if usage is None else usage
    trial = bank.snapshot()
    accepted: list[EvolutionOp] = []
    rejected: list[Rejected] = []

    def try_apply(op: EvolutionOp) -> str | None:
        try:
            op.apply(trial, step=None, source="plan")
        except (SkillBankError, KeyError, ValueError) as exc:
            return f"invalid for this bank: {exc}"
        accepted.append(op)
        return None

    # 1. retirements: utility-driven and proposed, both need evidence of harm
    baseline, _ = baseline_win_rate(bank, usage)
    retire_candidates: dict[str, RetireSkill] = {op.skill_id: op for op in utility_retirements(bank, usage, limits)}
    for op in proposed:
        if not isinstance(op, RetireSkill):
            continue
        if op.skill_id not in trial:
            rejected.append(Rejected(op, f"no active item {op.skill_id!r}"))
            continue
        why = harm(op.skill_id, usage, baseline, limits)
        if why is None:
            rejected.append(Rejected(op, "usage counters do not show harm (not enough episodes or win rate not low enough)"))
            continue
        retire_candidates[op.skill_id] = replace(op, reason=f"{op.reason} ({why})" if op.reason else f"utility: {why}")
    ordered = sorted(retire_candidates.values(), key=lambda op: (usage[op.skill_id].win_rate or 0.0, op.skill_id))
    for i, op in enumerate(ordered):
        if i >= limits.retire_max_per_cycle:
            rejected.append(Rejected(op, f"retire_max_per_cycle={limits.retire_max_per_cycle} reached"))
            continue
        if (why := try_apply(op)) is not None:
            rejected.append(Rejected(op, why))

    # 2. updates
    updated: set[str] = set()
    for op in proposed:
        if not isinstance(op, UpdateSkill):
            continue
        if op.skill_id in updated:
            rejected.append(Rejected(op, f"{op.skill_id} already updated in this cycle"))
            continue
        if op.skill_id not in trial:
            rejected.append(Rejected(op, f"no active item {op.skill_id!r}"))
            continue
        old = trial.get(op.skill_id)
        merged = {**old.to_dict(), **op.changes}
        if all(old.to_dict().get(k) == v for k, v in op.changes.items()):
            rejected.append(Rejected(op, "changes nothing"))
            continue
        new_text = _dict_text(merged, isinstance(old, Mistake))
        dup, sim = _nearest(similarity, new_text, _texts(trial, mistakes=isinstance(old, Mistake), exclude=op.skill_id))
        if dup is not None and sim >= similarity.threshold:
            rejected.append(Rejected(op, f"the new text duplicates {dup} (similarity {sim:.2f})"))
            continue
        if (why := try_apply(op)) is not None:
            rejected.append(Rejected(op, why))
        else:
            updated.add(op.skill_id)

    # 3. adds, best evidenced first
    adds = [op for op in proposed if isinstance(op, (AddSkill, AddMistake))]
    adds.sort(key=lambda op: -len(op.episode_ids))
    n_added = 0
    for op in adds:
        is_mistake = isinstance(op, AddMistake)
        section = MISTAKES if is_mistake else (GENERAL if op.category is None else TASK_SPECIFIC)
        where = "common_mistakes" if is_mistake else (op.category or "general_skills")
        if n_added >= limits.max_new_skills:
            rejected.append(Rejected(op, f"max_new_skills={limits.max_new_skills} reached this cycle"))
            continue
        if _section_size(trial, section, op.category) >= limits.max_skills_per_category:
            rejected.append(Rejected(op, f"{where} is full (max_skills_per_category={limits.max_skills_per_category})"))
            continue
        dup, sim = _nearest(similarity, op.text(), _texts(trial, mistakes=is_mistake))
        if dup is not None and sim >= similarity.threshold:
            rejected.append(Rejected(op, f"near-duplicate of {dup} (similarity {sim:.2f} >= {similarity.threshold:.2f})"))
            continue
        new_id = fresh_id(_all_ids(trial), id_prefix(op.category, mistake=is_mistake))
        op = (replace(op, mistake=replace(op.mistake, mistake_id=new_id)) if isinstance(op, AddMistake)
              else replace(op, skill=replace(op.skill, skill_id=new_id)))
        if (why := try_apply(op)) is not None:
            rejected.append(Rejected(op, why))
        else:
            n_added += 1
    return Plan(tuple(accepted), tuple(rejected))


def _dict_text(obj: Mapping[str, Any], mistake: bool) -> str:
    """:func:`skill_text` of an item given as its JSON object."""
    if mistake:
        return f"{obj.get('description', '')} {obj.get('how_to_avoid', '')}".strip()
    return f"{obj.get('title', '')}. {obj.get('principle', '')} {obj.get('when_to_apply', '')}".strip()
