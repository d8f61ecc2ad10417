"""Evolution during RL: :class:`DistillingEvolutionHook` implements the trainers' EvolutionHook.

After each validation the trainer calls :meth:`DistillingEvolutionHook.on_validation` with a
report (``step``, ``success_by_type`` ``{type: [won, total]}``, ``failures_by_type``, optionally
``successes_by_type``; see ``skillrl.trainer.evolution.ValidationReport``). The hook:

1. picks the task types whose validation success rate is below ``update_threshold``;
2. takes, per such type, the failed episodes (and a few successful ones, for contrast) from the
   configured source — ``train`` (default: the training rollouts handed to :meth:`observe`, so
   validation games never leak into the bank) or ``validation`` (the report's episodes, as the
   original did);
3. asks the distiller for ops per type and plans them (:func:`skillrl.distill.planning.plan_ops`:
   ``max_new_skills`` adds per cycle, size cap per category, de-duplication, retire by utility);
4. applies the plan through the bank's edit methods (history: ``evolution@step<N>``, the reason,
   the episode ids) and saves the bank when it has a file.

Steps 2-3 run in a worker thread bounded by ``timeout_s``: training is never blocked longer.
On a timeout or any error the bank is unchanged, the error is logged, and None is returned.
Each cycle leaves an :class:`EvolutionOutcome` in :attr:`DistillingEvolutionHook.outcomes`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from skillrl.distill.base import Distiller, EvolutionRequest, build_distiller
from skillrl.distill.llm import redact
from skillrl.distill.ops import EvolutionOp, apply_ops
from skillrl.distill.planning import Plan, PlanLimits, plan_ops
from skillrl.distill.similarity import Similarity, build_similarity, default_dedup_model
from skillrl.distill.trajectory import Trajectory, TrajectoryError
from skillrl.skills.bank import SkillBank
from skillrl.skills.config import EVOLUTION_SOURCES, EvolutionSettings  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

def plan_limits(settings: EvolutionSettings, max_new_skills: int) -> PlanLimits:
    """The planner's limits from the settings and the original ``max_new_skills`` flag."""
    return PlanLimits(max_new_skills=max_new_skills, max_skills_per_category=settings.max_skills_per_category,
                      retire_min_episodes=settings.retire_min_episodes, retire_margin=settings.retire_margin,
                      retire_max_per_cycle=settings.retire_max_per_cycle)


def dedup_similarity(settings: EvolutionSettings) -> Similarity:
    """The de-duplication similarity the settings ask for (``dedup_model``: ``auto`` = the shipped
    MiniLM when installed, else lexical; None or ``lexical`` = lexical)."""
    model = default_dedup_model() if settings.dedup_model == "auto" else settings.dedup_model
    if model == "lexical":
        model = None
    return build_similarity(model, threshold=settings.dedup_threshold,
                            lexical_threshold=settings.lexical_dedup_threshold)


class ValidationReportLike(Protocol):
    """What the hook reads from ``skillrl.trainer.evolution.ValidationReport``."""

    step: int
    success_by_type: Mapping[str, Sequence[int]]
    failures_by_type: Mapping[str, Sequence[Mapping[str, Any]]]


class Taxonomy(Protocol):
    def canonical(self, name: str | None) -> str | None: ...


@dataclass(frozen=True)
class EvolutionOutcome:
    """What one evolution cycle did (logged, kept on the hook, reportable)."""

    step: int
    source: str
    """Where the failures came from: ``train`` or ``validation``."""
    distiller: str
    triggered: Mapping[str, float]
    """Task types below the threshold -> their success rate."""
    episodes_used: Mapping[str, int] = field(default_factory=dict)
    """Failed episodes sent to the distiller, per type."""
    applied: tuple[Mapping[str, Any], ...] = ()
    """The ops applied (``op.to_dict()``, with the final ids)."""
    rejected: tuple[Mapping[str, Any], ...] = ()
    """Proposed ops that were not applied, each with its ``rejected`` reason."""
    version_before: int = 0
    version_after: int = 0
    seconds: float = 0.0
    timed_out: bool = False
    error: str | None = None
    notes: tuple[str, ...] = ()
    llm_usage: str = ""
    """LLM calls, tokens and cost of the cycle ('' for the heuristic)."""

    @property
    def changed(self) -> bool:
        return self.version_after != self.version_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "source": self.source, "distiller": self.distiller, "triggered": dict(self.triggered),
            "episodes_used": dict(self.episodes_used), "applied": [dict(a) for a in self.applied],
            "rejected": [dict(r) for r in self.rejected], "version_before": self.version_before,
            "version_after": self.version_after, "seconds": round(self.seconds, 3), "timed_out": self.timed_out,
            "error": self.error, "notes": list(self.notes), "llm_usage": self.llm_usage,
        }


class DistillingEvolutionHook:
    """The EvolutionHook that distils failures into bank edits (module docstring).

    Args:
        bank: the trainer's bank (edited in place; saved after a change when it has a file).
        env_name: environment name (for records and prompts).
        update_threshold: task types with validation success below this evolve (original flag).
        max_new_skills: adds per cycle (original flag).
        settings: the rest (:class:`~skillrl.skills.config.EvolutionSettings`; a trainer passes its
            ``SkillsConfig``, which extends it).
        distiller: a ready distiller (default: built from ``settings.distiller``/``settings.llm``).
        similarity: de-duplication similarity (default: from the settings).
        taxonomy: maps a report's task type to the bank's category name (``canonical``); when
            absent the type name is used as the category.
        save: save the bank after a change (default: when the bank has a path).
    """

    def __init__(
        self,
        bank: SkillBank,
        *,
        env_name: str,
        update_threshold: float = 0.4,
        max_new_skills: int = 3,
        settings: EvolutionSettings | None = None,
        distiller: Distiller | None = None,
        similarity: Similarity | None = None,
        taxonomy: Taxonomy | None = None,
        save: bool | None = None,
    ) -> None:
        self.bank = bank
        self.env_name = env_name
        self.update_threshold = float(update_threshold)
        self.settings = settings or EvolutionSettings()
        self.limits = plan_limits(self.settings, int(max_new_skills))
        self.distiller = distiller or build_distiller(self.settings.distiller, self.settings.llm,
                                                      record_path=self.settings.llm_record_path)
        self.similarity = similarity or dedup_similarity(self.settings)
        self.taxonomy = taxonomy
        self.save = save
        self.outcomes: list[EvolutionOutcome] = []
        self._train: dict[str, deque[Trajectory]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"DistillingEvolutionHook(env={self.env_name!r}, distiller={self.distiller.name!r}, "
                f"source={self.settings.evolution_source!r}, threshold={self.update_threshold})")

    @property
    def last_outcome(self) -> EvolutionOutcome | None:
        return self.outcomes[-1] if self.outcomes else None

    # -- inputs ------------------------------------------------------------------------

    def observe(self, episodes: Iterable[Any]) -> int:
        """Remember training episodes (Episode, its dicts, or Trajectory) for source ``train``.

        Returns how many were kept (records that cannot be read are skipped with a debug log).
        """
        n = 0
        with self._lock:
            for ep in episodes:
                try:
                    t = Trajectory.from_any(ep, env_name=self.env_name)
                except TrajectoryError as exc:
                    log.debug("evolution: episode skipped: %s", exc)
                    continue
                buf = self._train.setdefault(t.task_type or "unknown",
                                             deque(maxlen=self.settings.train_buffer_per_type))
                buf.append(t)
                n += 1
        return n

    def _category(self, task_type: str) -> str:
        if self.taxonomy is None:
            return task_type
        want = self.taxonomy.canonical(task_type) or task_type
        for name in self.bank.task_specific_skills:
            if name == task_type or self.taxonomy.canonical(name) == want:
                return name
        return want

    def _episodes(self, task_type: str, report: Any) -> tuple[list[Trajectory], list[Trajectory]]:
        s = self.settings
        if s.evolution_source == "validation":
            fails = [Trajectory.from_any(x, env_name=self.env_name, task_type=task_type, won=False)
                     for x in (report.failures_by_type.get(task_type) or ())]
            succ_src = getattr(report, "successes_by_type", None) or {}
            succ = [Trajectory.from_any(x, env_name=self.env_name, task_type=task_type, won=True)
                    for x in (succ_src.get(task_type) or ())]
        else:
            with self._lock:
                buf = list(self._train.get(task_type, ()))
            fails = [t for t in buf if not t.won]
            succ = [t for t in buf if t.won]
        return fails[-s.max_failures_per_type:], succ[-s.max_successes_per_type:] if s.max_successes_per_type else []

    # -- the cycle -----------------------------------------------------------------------

    def on_validation(self, report: ValidationReportLike) -> int | None:
        """Run one evolution cycle; return the new bank version, or None when nothing changed."""
        t0 = time.monotonic()
        step = int(report.step)
        source = self.settings.evolution_source
        rates = {t: float(w) / float(n) for t, (w, n) in report.success_by_type.items() if n}
        triggered = {t: r for t, r in sorted(rates.items()) if r < self.update_threshold}
        version_before = self.bank.version
        base = dict(step=step, source=source, distiller=self.distiller.name, triggered=triggered,
                    version_before=version_before, version_after=version_before)
        if not triggered:
            log.info("evolution@step%d: no task type below %.2f (%s); bank unchanged", step, self.update_threshold,
                     ", ".join(f"{t}={r:.2f}" for t, r in sorted(rates.items())) or "no results")
            return self._done(EvolutionOutcome(**base, seconds=time.monotonic() - t0))

        snapshot = self.bank.snapshot()
        requests: list[EvolutionRequest] = []
        notes: list[str] = []
        used: dict[str, int] = {}
        try:
            for task_type, rate in triggered.items():
                fails, succ = self._episodes(task_type, report)
                if not fails:
                    notes.append(f"{task_type}: no failed {source} episodes to learn from")
                    continue
                used[task_type] = len(fails)
                requests.append(EvolutionRequest(
                    env_name=self.env_name, task_type=self._category(task_type), failures=tuple(fails),
                    successes=tuple(succ), bank=snapshot, success_rate=rate,
                    max_new=self.limits.max_new_skills, step=step))
        except TrajectoryError as exc:
            return self._fail(base, t0, f"unreadable episode in the report: {exc}", notes)
        if not requests:
            log.info("evolution@step%d: %s; bank unchanged", step, "; ".join(notes))
            return self._done(EvolutionOutcome(**base, notes=tuple(notes), seconds=time.monotonic() - t0))

        calls_before = self._llm_calls()
        result: dict[str, Any] = {}
        cancel = threading.Event()

        def work() -> None:
            try:
                proposed: list[EvolutionOp] = []
                for req in requests:
                    if cancel.is_set():
                        return
                    proposed.extend(self.distiller.propose(req))
                result["plan"] = plan_ops(proposed, snapshot, limits=self.limits, similarity=self.similarity)
            except BaseException as exc:  # reported to the caller's thread
                result["error"] = exc

        worker = threading.Thread(target=work, name=f"skillrl-evolution-step{step}", daemon=True)
        worker.start()
        worker.join(self.settings.timeout_s)
        if worker.is_alive():
            cancel.set()
            msg = f"timed out after {self.settings.timeout_s:g}s; the cycle is dropped"
            log.warning("evolution@step%d: %s; bank unchanged", step, msg)
            return self._done(EvolutionOutcome(**{**base, "episodes_used": used}, timed_out=True, error=msg,
                                               notes=tuple(notes), seconds=time.monotonic() - t0,
                                               llm_usage=self._llm_usage(calls_before)))
        if "error" in result:
            exc = result["error"]
            return self._fail({**base, "episodes_used": used}, t0, f"{type(exc).__name__}: {exc}", notes,
                              self._llm_usage(calls_before))
        plan: Plan = result["plan"]
        try:
            apply_ops(self.bank, plan.ops, step=step, source=f"evolution@step{step}")
        except Exception as exc:  # the plan was tried on a snapshot; this is a real surprise
            return self._fail({**base, "episodes_used": used}, t0, f"applying the plan failed: {exc}", notes)
        if plan.ops and self._should_save():
            try:
                self.bank.save()
            except (OSError, ValueError) as exc:
                notes.append(f"saving the bank failed ({exc}); the new version is kept in memory")
                log.error("evolution@step%d: saving the bank failed: %s", step, redact(str(exc)))
        outcome = EvolutionOutcome(
            **{**base, "version_after": self.bank.version, "episodes_used": used},
            applied=tuple(op.to_dict() for op in plan.ops), rejected=tuple(r.to_dict() for r in plan.rejected),
            seconds=time.monotonic() - t0, notes=tuple(notes), llm_usage=self._llm_usage(calls_before),
        )
        log.info("evolution@step%d (%s, failures from %s): types %s -> %d ops applied, %d rejected, bank v%d -> v%d (%.1fs)%s",
                 step, self.distiller.name, source, ", ".join(f"{t}={r:.2f}" for t, r in triggered.items()),
                 len(plan.ops), len(plan.rejected), version_before, self.bank.version, outcome.seconds,
                 f"; LLM: {outcome.llm_usage}" if outcome.llm_usage else "")
        for r in plan.rejected:
            log.debug("evolution@step%d: rejected %s: %s", step, r.op.to_dict(), r.reason)
        self._done(outcome)
        return self.bank.version if outcome.changed else None

    # -- helpers -------------------------------------------------------------------------

    def _should_save(self) -> bool:
        return self.bank.path is not None if self.save is None else bool(self.save)

    def _done(self, outcome: EvolutionOutcome) -> None:
        self.outcomes.append(outcome)
        return None

    def _fail(self, base: dict[str, Any], t0: float, message: str, notes: Sequence[str], usage: str = "") -> None:
        message = redact(message)
        log.error("evolution@step%d: %s; bank unchanged", base["step"], message)
        self._done(EvolutionOutcome(**base, error=message, notes=tuple(notes), seconds=time.monotonic() - t0,
                                    llm_usage=usage))
        return None

    def _llm_calls(self) -> int:
        client = getattr(self.distiller, "client", None)
        return len(client.calls) if client is not None else 0

    def _llm_usage(self, since: int) -> str:
        client = getattr(self.distiller, "client", None)
        if client is None:
            return ""
        calls = client.calls[since:]
        if not calls:
            return ""
        tin = sum(c.usage.input_tokens for c in calls)
        tout = sum(c.usage.output_tokens for c in calls)
        costs = [c.cost_usd for c in calls if c.cost_usd is not None]
        cost = f", ${sum(costs):.4f}" if costs else ""
        return f"{len(calls)} calls, {tin:,} in / {tout:,} out tokens{cost}"
