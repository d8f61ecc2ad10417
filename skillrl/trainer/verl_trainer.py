"""SkillRL's verl v1 trainer: ``PPOTrainerSync`` plus the validation -> evolution hook and the
bank in checkpoints. Chosen with ``trainer.v1.trainer_mode=skillrl_sync``.

The subclass is thin; the logic is in pure functions tested without verl's trainer:

- :func:`validation_report` — verl's per-session ``reward_extra_info`` lists -> a
  :class:`~skillrl.trainer.evolution.ValidationReport` (success and failures per task type);
- :func:`save_bank_checkpoint` — writes the bank and its version next to the model checkpoint;
- :func:`build_verl_evolution` — the evolution component over the bank service (usage counters
  from the training batches' ``reward_extra_info``, a cycle after each validation, each new
  version pushed to the service); :func:`training_episodes` reads a batch's episodes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skillrl.utils.metrics import success_by_task_type, success_metrics
from skillrl.trainer import _verl
from skillrl.trainer.bank_service import BankService, BankSnapshot
from skillrl.trainer.evolution import (
    Evolution,
    LoggingEvolutionHook,
    ValidationReport,
    bank_publisher,
    build_evolution,
    episode_record,
)
from skillrl.trainer.verl_agent_loop import connect_bank_service, env_settings

log = logging.getLogger(__name__)

TRAINER_NAME = "skillrl_sync"
BANK_FILE = "skill_bank.json"
BANK_VERSION_FILE = "skill_bank_version.json"
#: folder under ``trainer.default_local_dir`` of the evolving bank's working copy (+ history, usage)
EVOLVING_BANK_DIR = "skill_bank"
#: metric prefix of the per-task-type success rates
METRIC_PREFIX = "val-core/skillrl"


def validation_report(step: int, infos: Mapping[str, Sequence[Any]], max_failures_per_type: int = 64) -> ValidationReport:
    """Build the evolution report from verl's ``reward_extra_infos_dict`` (failures and, for
    contrast, successes per task type, at most ``max_failures_per_type`` of each).

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
    successes: dict[str, list[dict[str, Any]]] = {}
    for i in range(n):
        if won[i] is None:
            continue
        task_type = str(types[i] or "unknown")
        ok = bool(float(won[i]) > 0.5)
        records.append({"task_type": task_type, "won": ok})
        bucket = (successes if ok else failures).setdefault(task_type, [])
        if len(bucket) >= max_failures_per_type:
            continue
        try:
            summary = json.loads(episodes[i]) if episodes[i] else {}
        except (TypeError, ValueError):
            summary = {}
        ids = summary.get("skill_ids")
        if ids is None:
            ids = [s for s in str(skills[i] or "").split(",") if s]
        bucket.append(episode_record(
            {**summary, "task": summary.get("task", ""), "transcript": summary.get("transcript", ""),
             "skill_ids": list(ids), "task_type": task_type}, prefix=f"val@step{int(step)}"))
    return ValidationReport(step=int(step), success_by_type=success_by_task_type(records), failures_by_type=failures,
                            successes_by_type=successes)


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


def session_key(key: str) -> str:
    """``{uid}_{session}`` of a TransferQueue key ``{uid}_{session}_{turn}`` (the v1 agent-loop
    worker's key format; every turn of a session carries the episode's ``reward_extra_info``).

    >>> session_key("3f2a_1_4")
    '3f2a_1'
    """
    head, sep, _ = str(key).rpartition("_")
    return head if sep else str(key)


def training_episodes(keys: Sequence[str], extra_fields: Sequence[Any]) -> list[dict[str, Any]]:
    """One episode summary per session of a training batch, from the outputs' ``extra_fields``
    (``reward_extra_info`` of :func:`skillrl.trainer.verl_agent_loop.reward_extra_info`: the
    ``episode`` JSON, else ``won``/``task_type``/``skill_ids``). Outputs without our fields are
    skipped.

    >>> eps = training_episodes(["u_0_0", "u_0_1", "u_1_0"], [
    ...     {"reward_extra_info": {"won": 1.0, "task_type": "heat", "skill_ids": "a,b", "episode": ""}},
    ...     {"reward_extra_info": {"won": 1.0, "task_type": "heat", "skill_ids": "a,b", "episode": ""}},
    ...     {"reward_extra_info": {"won": 0.0, "task_type": "cool", "skill_ids": "", "episode": "{}"}}])
    >>> [(e["task_type"], e["won"], e["skill_ids"]) for e in eps]
    [('heat', True, ['a', 'b']), ('cool', False, [])]
    """
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for key, extra in zip(keys, extra_fields):
        info = extra.get("reward_extra_info") if isinstance(extra, Mapping) else None
        sk = session_key(key)
        if not isinstance(info, Mapping) or info.get("won") is None or sk in seen:
            continue
        seen.add(sk)
        try:
            summary = json.loads(info.get("episode") or "{}")
        except (TypeError, ValueError):
            summary = {}
        if not isinstance(summary, dict):
            summary = {}
        ids = summary.get("skill_ids")
        if ids is None:
            ids = [x for x in str(info.get("skill_ids") or "").split(",") if x]
        summary.update(won=bool(float(info["won"]) > 0.5), task_type=str(info.get("task_type") or "unknown"),
                       skill_ids=list(ids))
        out.append(summary)
    return out


def build_verl_evolution(skills: Any, service: BankService, *, env_name: str, work_dir: str) -> Evolution:
    """The evolution component of the verl trainer: it evolves a bank read from ``service`` (the
    working copy lives in ``work_dir``) and pushes every new version back to ``service``, where
    each agent-loop worker picks it up at its next episode."""
    from agent_system.environments import get_env_spec
    from skillrl.skills.bank import SkillBank

    bank = SkillBank.from_dict(json.loads(service.get_snapshot().bank_json))
    return build_evolution(skills, bank=bank, env_name=env_name, taxonomy=get_env_spec(env_name).taxonomy,
                           work_dir=work_dir, publish=bank_publisher(service), bank_service=service)


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
        self.bank_service: BankService | None = None
        self.evolution = Evolution(LoggingEvolutionHook())
        """Usage counters and bank evolution (built in :meth:`init`, once the bank service runs)."""
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
        if self.bank_service is not None:
            self.evolution = build_verl_evolution(
                self.env_settings.skills, self.bank_service, env_name=self.env_settings.env_name,
                work_dir=os.path.join(str(self.config.trainer.default_local_dir), EVOLVING_BANK_DIR))
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
        self.evolution.after_validation(report.step, report=report)

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps=global_steps, epoch=epoch)
        # the batch is still in TransferQueue here (cleared after this call): count its episodes
        if self.evolution.bank is not None:
            self.evolution.observe(_batch_episodes(batch), step=int(global_steps))

    def _save_checkpoint(self) -> None:
        super()._save_checkpoint()
        if self.bank_service is None:
            return
        folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        path = save_bank_checkpoint(folder, self.bank_service.get_snapshot())
        log.info("saved skill bank to %s", path)


def _batch_episodes(batch: Any) -> list[dict[str, Any]]:
    """The episodes of a training batch (``KVBatchMeta``), read from TransferQueue; [] on failure
    (usage counters are best effort and must never stop training)."""
    keys = [k for k, tag in zip(batch.keys, batch.tags) if not tag.get("is_padding", False)]
    first: dict[str, str] = {}
    for k in keys:
        first.setdefault(session_key(k), k)
    if not first:
        return []
    try:
        import transfer_queue as tq  # verl's store of the batch (a verl dependency)

        data = tq.kv_batch_get(keys=list(first.values()), partition_id=batch.partition_id,
                               select_fields=["extra_fields"])
        extra = data["extra_fields"]
        extra = extra.tolist() if hasattr(extra, "tolist") else list(extra)
    except Exception as exc:  # noqa: BLE001 - best effort
        log.warning("skill usage of step not counted: could not read the batch's episodes (%s)", exc)
        return []
    return training_episodes(list(first.values()), extra)
