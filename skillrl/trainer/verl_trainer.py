"""SkillRL's verl v1 trainer: ``PPOTrainerSync`` plus the validation -> evolution hook and the
bank in checkpoints. Chosen with ``trainer.v1.trainer_mode=skillrl_sync``.

The subclass is thin; the logic is in pure functions tested without verl's trainer:

- :func:`validation_report` — verl's per-session ``reward_extra_info`` lists -> a
  :class:`~skillrl.trainer.evolution.ValidationReport` (success and failures per task type);
- :func:`save_bank_checkpoint` — writes the bank and its version next to the model checkpoint;
- :func:`build_evolution_hook` — the hook named in the config (default: logging only).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skillrl.utils.metrics import success_by_task_type, success_metrics
from skillrl.trainer import _verl
from skillrl.trainer.bank_service import BankService, BankSnapshot
from skillrl.trainer.evolution import EvolutionHook, LoggingEvolutionHook, ValidationReport
from skillrl.trainer.verl_agent_loop import connect_bank_service, env_settings

log = logging.getLogger(__name__)

TRAINER_NAME = "skillrl_sync"
BANK_FILE = "skill_bank.json"
BANK_VERSION_FILE = "skill_bank_version.json"
#: metric prefix of the per-task-type success rates
METRIC_PREFIX = "val-core/skillrl"


def validation_report(step: int, infos: Mapping[str, Sequence[Any]], max_failures_per_type: int = 64) -> ValidationReport:
    """Build the evolution report from verl's ``reward_extra_infos_dict``.

    ``infos`` holds one list per key, aligned by session (the final output of each session),
    with the keys of :func:`skillrl.trainer.verl_agent_loop.reward_extra_info`; sessions whose
    ``won`` is None (an output without our fields) are skipped.

    >>> r = validation_report(3, {"won": [1.0, 0.0], "task_type": ["heat", "heat"],
    ...                           "episode": ['{"task": "a"}', '{"task": "b", "transcript": "t"}'],
    ...                           "skill_ids": ["s1", ""]})
    >>> r.success_by_type, r.failures_by_type["heat"][0]["task"]
    ({'heat': [1, 2]}, 'b')
    """
    won = list(infos.get("won") or [])
    n = len(won)

    def column(key: str) -> list[Any]:
        values = list(infos.get(key) or [])
        return values + [None] * (n - len(values))

    types, episodes, skills = column("task_type"), column("episode"), column("skill_ids")
    records: list[dict[str, Any]] = []
    failures: dict[str, list[dict[str, Any]]] = {}
    for i in range(n):
        if won[i] is None:
            continue
        task_type = str(types[i] or "unknown")
        ok = bool(float(won[i]) > 0.5)
        records.append({"task_type": task_type, "won": ok})
        if ok:
            continue
        bucket = failures.setdefault(task_type, [])
        if len(bucket) >= max_failures_per_type:
            continue
        try:
            summary = json.loads(episodes[i]) if episodes[i] else {}
        except (TypeError, ValueError):
            summary = {}
        ids = summary.get("skill_ids")
        if ids is None:
            ids = [s for s in str(skills[i] or "").split(",") if s]
        bucket.append(
            {**summary, "task": summary.get("task", ""), "transcript": summary.get("transcript", ""),
             "skill_ids": list(ids), "task_type": task_type}
        )
    return ValidationReport(step=int(step), success_by_type=success_by_task_type(records), failures_by_type=failures)


def save_bank_checkpoint(folder: str | os.PathLike[str], snapshot: BankSnapshot) -> Path:
    """Write ``skill_bank.json`` and ``skill_bank_version.json`` into ``folder``; return the bank path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    bank_path = out / BANK_FILE
    bank_path.write_text(snapshot.bank_json, encoding="utf-8")
    (out / BANK_VERSION_FILE).write_text(json.dumps({"version": snapshot.version}), encoding="utf-8")
    return bank_path


def latest_bank_checkpoint(default_local_dir: str | os.PathLike[str]) -> Path | None:
    """The bank saved with the latest model checkpoint (verl's ``latest_checkpointed_iteration.txt``),
    or None when there is none."""
    root = Path(os.path.expanduser(str(default_local_dir)))
    tracker = root / "latest_checkpointed_iteration.txt"
    try:
        step = int(tracker.read_text().strip())
    except (OSError, ValueError):
        return None
    bank = root / f"global_step_{step}" / BANK_FILE
    return bank if bank.is_file() else None


def build_evolution_hook(
    target: str | None,
    *,
    enabled: bool,
    bank_service: BankService | None,
    update_threshold: float,
    max_new_skills: int,
) -> EvolutionHook:
    """The evolution hook: :class:`LoggingEvolutionHook` unless dynamic updates are on and
    ``target`` names a factory ``"module:attr"`` called as ``factory(bank_service=...,
    update_threshold=..., max_new_skills=...)``.

    Raises:
        ValueError: ``target`` is malformed or the factory cannot be imported.
    """
    if not enabled or not target:
        if enabled:
            log.warning("enable_dynamic_update=True but no evolution_hook is set: only logging success")
        return LoggingEvolutionHook()
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ValueError(f"evolution_hook must look like 'module:factory', got {target!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load evolution hook {target!r}: {exc}") from None
    return factory(bank_service=bank_service, update_threshold=update_threshold, max_new_skills=max_new_skills)


@_verl.register_trainer(TRAINER_NAME)
class SkillRLTrainer(_verl.PPOTrainerSync):
    """``PPOTrainerSync`` + the shared SkillBank, the evolution hook and bank checkpoints."""

    # verl's base class branches on ``trainer_mode == "sync"`` (replay buffer, checkpoints); we are
    # the sync trainer under another registered name, so report "sync" and ignore its assignment.
    trainer_mode = property(lambda self: "sync", lambda self, value: None)

    def __init__(self, config) -> None:
        super().__init__(config)
        from omegaconf import OmegaConf

        self.env_settings = env_settings(OmegaConf.to_container(config.env, resolve=True))
        skills = self.env_settings.skills_only_memory
        self.bank_service: BankService | None = None
        self._hook_args = dict(
            target=skills.evolution_hook,
            enabled=skills.enable_dynamic_update,
            update_threshold=skills.update_threshold,
            max_new_skills=skills.max_new_skills,
        )
        self.evolution_hook: EvolutionHook = LoggingEvolutionHook()
        self._last_report: ValidationReport | None = None

    def init(self) -> None:
        if self.env_settings.skills is not None:
            # create the named bank actor before any agent-loop worker asks for it
            self.bank_service = connect_bank_service(self.env_settings.skills)
            if str(self.config.trainer.get("resume_mode", "auto")) != "disable":
                saved = latest_bank_checkpoint(self.config.trainer.default_local_dir)
                if saved is not None:  # resuming: continue with the bank saved beside the model
                    version = self.bank_service.update(saved.read_text(encoding="utf-8"))
                    log.info("restored skill bank from %s as version %d", saved, version)
        self.evolution_hook = build_evolution_hook(bank_service=self.bank_service, **self._hook_args)
        super().init()

    def _val_metrics_update(self, data_sources, sample_uids, reward_extra_infos_dict, sample_turns,
                            expected_acc_counts=None):
        metrics = super()._val_metrics_update(
            data_sources, sample_uids, reward_extra_infos_dict, sample_turns, expected_acc_counts=expected_acc_counts
        )
        self._last_report = validation_report(self.global_steps, reward_extra_infos_dict)
        metrics.update(success_metrics(self._last_report.success_by_type, prefix=METRIC_PREFIX))
        return metrics

    def on_validate_end(self) -> None:
        super().on_validate_end()
        report, self._last_report = self._last_report, None
        if report is None:
            return
        new_version = self.evolution_hook.on_validation(report)
        if new_version is not None:
            log.info("skill bank evolved to version %s at step %d", new_version, report.step)

    def _save_checkpoint(self) -> None:
        super()._save_checkpoint()
        if self.bank_service is None:
            return
        folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        path = save_bank_checkpoint(folder, self.bank_service.get_snapshot())
        log.info("saved skill bank to %s", path)
