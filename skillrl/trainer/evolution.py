"""Skill-bank evolution inside a trainer: the hook protocol, the validation report, and the
:class:`Evolution` component both backends drive.

A trainer builds one :class:`Evolution` with :func:`build_evolution` (from the skill settings,
``env.skills_only_memory.*``) and calls it at two points:

- :meth:`Evolution.observe` with every finished training episode: the bank's usage counters
  (``record_usage``: the injected skill ids and the outcome) and, for
  ``evolution_source=train``, the hook's buffer of training episodes;
- :meth:`Evolution.after_validation` with the validation episodes (or a ready
  :class:`ValidationReport` on the verl path): the hook runs one evolution cycle; when the bank
  changed, the new version is published (the verl bank service) and returned.

The local trainer's retriever reads the same :class:`~skillrl.skills.SkillBank` object, and
retrieval caches are keyed by the bank version, so the next rollout is served from the new
version without a rebuild (skill embeddings: only the new texts are encoded). On the verl path
every agent-loop worker asks the bank service for the current version once per episode.

With ``enable_dynamic_update`` the bank that evolves is a working copy (``<dir>/skill_bank.json``
with its ``.history.jsonl`` and ``.usage.json``), never the seed file it was loaded from, and
``<dir>/evolution.jsonl`` gets one line per cycle (which failure source was used, the task
types triggered, the ops applied and rejected, the versions, the time).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from skillrl.utils.config import ConfigError
from skillrl.utils.metrics import success_by_task_type

log = logging.getLogger(__name__)

#: file name of the working copy of an evolving bank (beside its history and usage sidecars)
WORKING_BANK = "skill_bank.json"
#: one JSON line per evolution cycle, beside the working copy
EVOLUTION_LOG = "evolution.jsonl"
#: the config section of the settings (named in errors)
SECTION = "env.skills_only_memory"


@dataclass(frozen=True)
class ValidationReport:
    """One validation round, as the evolution component sees it."""

    step: int
    """Global training step at which validation ran."""
    success_by_type: Mapping[str, list[int]]
    """``{task_type: [won, total]}``."""
    failures_by_type: Mapping[str, Sequence[Mapping[str, Any]]]
    """Failed episodes per task type: summaries with at least ``task``, ``transcript``,
    ``skill_ids``."""
    successes_by_type: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    """Successful episodes per task type (same summaries), for contrast; may be empty."""


class EvolutionHook(Protocol):
    def on_validation(self, report: ValidationReport) -> int | None:
        """Consume a validation report; return the new bank version if the bank changed."""


class LoggingEvolutionHook:
    """No-op evolution: logs per-task-type success and the number of failures collected."""

    def on_validation(self, report: ValidationReport) -> int | None:
        parts = [f"{t}={w}/{n}" for t, (w, n) in sorted(report.success_by_type.items())]
        n_fail = sum(len(v) for v in report.failures_by_type.values())
        log.info("validation@step%d success by type: %s; %d failed episodes collected (evolution off)",
                 report.step, ", ".join(parts) or "-", n_fail)
        return None


# --- episodes -> records ----------------------------------------------------------------------


def _field(ep: Any, name: str, default: Any = None) -> Any:
    return ep.get(name, default) if isinstance(ep, Mapping) else getattr(ep, name, default)


def episode_record(ep: Any, *, prefix: str) -> dict[str, Any]:
    """A JSON-safe record of a finished episode (an ``Episode`` or its summary dict) for the
    report and the hook: the summary, the transcript and an ``episode_id`` that names where it
    came from (``"<prefix>/<env>:<game>:<seed>"``, e.g. ``train@step3/alfworld:12:5``).

    >>> episode_record({"env_name": "toy", "game_id": "g", "seed": 2, "task": "t", "won": False},
    ...                prefix="val@step4")["episode_id"]
    'val@step4/toy:g:2'
    """
    if isinstance(ep, Mapping):
        rec = dict(ep)
    else:
        rec = {**ep.summary(), "transcript": ep.transcript()}
    if not rec.get("episode_id"):
        rec["episode_id"] = f"{prefix}/{rec.get('env_name') or 'env'}:{rec.get('game_id', '')}:{rec.get('seed', '-')}"
    return rec


def validation_report_from_episodes(step: int, episodes: Iterable[Any]) -> ValidationReport:
    """The report of one validation round from its episodes (``Episode`` objects or summaries):
    success per task type, failures and successes (for contrast) per task type. Episodes that an
    env error ended are left out (they say nothing about the skills)."""
    finished = [ep for ep in episodes if not _field(ep, "error")]
    records = [{"task_type": _field(ep, "task_type") or "unknown", "won": bool(_field(ep, "won"))} for ep in finished]
    failures: dict[str, list[dict[str, Any]]] = {}
    successes: dict[str, list[dict[str, Any]]] = {}
    for ep in finished:
        bucket = successes if _field(ep, "won") else failures
        bucket.setdefault(_field(ep, "task_type") or "unknown", []).append(episode_record(ep, prefix=f"val@step{step}"))
    return ValidationReport(step=int(step), success_by_type=success_by_task_type(records),
                            failures_by_type=failures, successes_by_type=successes)


def _skill_ids(ep: Any) -> list[str]:
    ids = _field(ep, "skill_ids") or ()
    if isinstance(ids, str):  # the verl path's comma-joined form
        return [s for s in ids.split(",") if s]
    return [str(s) for s in ids]


# --- the component ----------------------------------------------------------------------------


class Evolution:
    """The trainer's evolution component (module docstring).

    Args:
        hook: what runs a cycle after each validation (:class:`LoggingEvolutionHook` when
            evolution is off).
        bank: the bank whose usage counters are filled (None: skills off).
        publish: called with the bank after a cycle changed it (the verl path pushes it to the
            bank service); None for the local backend, whose retriever reads the bank itself.
    """

    def __init__(self, hook: EvolutionHook, bank: Any = None, *,
                 publish: Callable[[Any], Any] | None = None, outcomes_path: str | Path | None = None) -> None:
        self.hook = hook
        self.bank = bank
        self.publish = publish
        self.outcomes_path = Path(outcomes_path) if outcomes_path is not None else None
        """JSONL file that gets one line per cycle (the hook's ``EvolutionOutcome``: step, failure
        source, distiller, triggered types, ops applied and rejected, versions, seconds)."""
        self.episodes_observed = 0

    @property
    def enabled(self) -> bool:
        """Whether a cycle can change the bank (a hook other than the logging one)."""
        return not isinstance(self.hook, LoggingEvolutionHook)

    def observe(self, episodes: Iterable[Any], *, step: int | None = None) -> int:
        """Count finished training episodes (``Episode`` objects or their summary dicts): usage
        counters of the injected skills, and the hook's buffer of training episodes. Episodes an
        env error ended are skipped. Returns how many were counted."""
        done = [ep for ep in episodes if not _field(ep, "error")]
        if self.bank is not None:
            for ep in done:
                self.bank.record_usage(_skill_ids(ep), bool(_field(ep, "won")))
        feed = getattr(self.hook, "observe", None)
        if feed is not None and done:
            prefix = f"train@step{step}" if step is not None else "train"
            feed([self._tagged(ep, prefix) for ep in done])
        self.episodes_observed += len(done)
        return len(done)

    @staticmethod
    def _tagged(ep: Any, prefix: str) -> Any:
        """The episode with an ``episode_id`` that names its training step."""
        from skillrl.distill.trajectory import Trajectory, TrajectoryError

        try:
            t = Trajectory.from_any(ep)
        except TrajectoryError:
            return ep
        game = f"{t.env_name or 'env'}:{t.game_id}:{_field(ep, 'seed', '-')}"
        return dataclasses.replace(t, episode_id=f"{prefix}/{game}:{t.episode_id.rsplit(':', 1)[-1]}")

    def after_validation(self, step: int, episodes: Iterable[Any] | None = None, *,
                         report: ValidationReport | None = None) -> int | None:
        """Run one cycle on a validation round (its episodes, or a ready ``report``); return the
        new bank version when the bank changed (after publishing it), else None."""
        if report is None:
            report = validation_report_from_episodes(step, episodes or ())
        n_before = len(getattr(self.hook, "outcomes", ()))
        new_version = self.hook.on_validation(report)
        outcomes = getattr(self.hook, "outcomes", ())
        if self.outcomes_path is not None and len(outcomes) > n_before:
            try:
                self.outcomes_path.parent.mkdir(parents=True, exist_ok=True)
                with self.outcomes_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(outcomes[-1].to_dict(), ensure_ascii=False) + "\n")
            except OSError as exc:  # a log, never a reason to stop training
                log.warning("could not append to %s: %s", self.outcomes_path, exc)
        if new_version is not None and self.publish is not None and self.bank is not None:
            self.publish(self.bank)
        if new_version is not None:
            log.info("skill bank evolved to version %s at step %d", new_version, report.step)
        return new_version


def _custom_hook(target: str, **kwargs: Any) -> EvolutionHook:
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ConfigError(f"{SECTION}.evolution_hook", target, "null or 'module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{SECTION}.evolution_hook", target, f"an importable 'module:factory' ({exc})") from None
    return factory(**kwargs)


def build_evolution(
    settings: Any,
    *,
    bank: Any,
    env_name: str,
    taxonomy: Any = None,
    work_dir: str | Path | None = None,
    publish: Callable[[Any], Any] | None = None,
    bank_service: Any = None,
) -> Evolution:
    """The evolution component from the skill settings (a ``SkillsConfig``; None: skills off).

    - ``enable_dynamic_update`` off (or skills off): usage counters only, and a hook that logs
      per-type success;
    - ``evolution_hook: "module:factory"``: ``factory(bank=..., env_name=..., settings=...,
      update_threshold=..., max_new_skills=..., bank_service=...)`` (a factory should accept
      ``**kwargs``);
    - else :class:`skillrl.distill.DistillingEvolutionHook` with the settings' distiller.

    With evolution on and a ``work_dir``, the bank is first saved as ``work_dir/skill_bank.json``
    (with its history and usage sidecars), which every later change updates.

    Raises:
        ConfigError: an unknown distiller or an unloadable ``evolution_hook`` (the key named);
        skillrl.distill.LLMError: an LLM distiller whose endpoint is not configured.
    """
    if settings is None or bank is None or not settings.enable_dynamic_update:
        return Evolution(LoggingEvolutionHook(), bank, publish=publish)
    from skillrl.distill import DISTILLERS, DistillingEvolutionHook

    if not settings.evolution_hook and settings.distiller not in DISTILLERS.names():  # before anything is written
        raise ConfigError(f"{SECTION}.distiller", settings.distiller, "one of " + ", ".join(sorted(DISTILLERS.names())))
    outcomes = Path(work_dir).expanduser() / EVOLUTION_LOG if work_dir is not None else None
    if work_dir is not None:
        target = Path(work_dir).expanduser() / WORKING_BANK
        if bank.path is None or Path(bank.path).resolve() != target.resolve():
            bank.save(target)
            log.info("evolving skill bank: %s (version %d)", target, bank.version)
    common = dict(update_threshold=settings.update_threshold, max_new_skills=settings.max_new_skills)
    if settings.evolution_hook:
        hook = _custom_hook(settings.evolution_hook, bank=bank, env_name=env_name, settings=settings,
                            bank_service=bank_service, **common)
        return Evolution(hook, bank, publish=publish, outcomes_path=outcomes)
    hook = DistillingEvolutionHook(bank, env_name=env_name, settings=settings, taxonomy=taxonomy, **common)
    log.info("skill-bank evolution on: %r", hook)
    return Evolution(hook, bank, publish=publish, outcomes_path=outcomes)


def bank_publisher(service: Any) -> Callable[[Any], int]:
    """A ``publish`` callback that pushes the bank's JSON to a bank service (the verl path)."""

    def publish(bank: Any) -> int:
        return int(service.update(json.dumps(bank.to_dict(), ensure_ascii=False)))

    return publish
