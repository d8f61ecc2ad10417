"""SkillRL's verl v1 trainer: ``PPOTrainerSync`` plus the validation -> evolution hook and the
bank in checkpoints. Chosen with ``trainer.v1.trainer_mode=skillrl_sync``.

The subclass is thin; the logic is in pure functions tested without verl's trainer:

- :func:`validation_report` — verl's per-session ``reward_extra_info`` lists -> a
  :class:`~skillrl.trainer.evolution.ValidationReport` (success and failures per task type;
  failed sessions count as misses, as in verl's ``acc``);
- :func:`save_bank_checkpoint` / :func:`read_bank_checkpoint` — the bank and its version inside
  ``global_step_N/``, written *before* verl marks the checkpoint complete
  (``latest_checkpointed_iteration.txt``) and calls its checkpoint callback;
- :func:`resume_checkpoint_dir` — the checkpoint verl's ``_load_checkpoint`` will resume from
  (``resume_mode`` auto / resume_path / disable), so model and bank come from the same one;
- :func:`session_groups`, :func:`rollout_metrics` — failed sessions and episode statistics of
  a training step, from the step's TransferQueue keys;
- :func:`build_verl_evolution` — the evolution component over the bank service (usage counters
  from the training batches' ``reward_extra_info``, a cycle after each validation, each new
  version pushed to the service); :func:`training_episodes` reads a batch's episodes.

PPO mini-batches: see :mod:`skillrl.trainer.launch` (a step makes ``ppo_epochs x
train_batch_size / ppo_mini_batch_size`` updates whatever the number of rows).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skillrl.utils.metrics import success_by_task_type, success_metrics
from skillrl.trainer import _verl
from skillrl.trainer.bank_service import BankService, BankSnapshot, scoped_actor_name
from skillrl.trainer.evolution import (
    Evolution,
    LoggingEvolutionHook,
    ValidationReport,
    bank_publisher,
    build_evolution,
    episode_record,
)
from skillrl.trainer.launch import UpdatePlan, update_plan
from skillrl.trainer.verl_agent_loop import connect_bank_service, env_settings

log = logging.getLogger(__name__)

TRAINER_NAME = "skillrl_sync"
BANK_FILE = "skill_bank.json"
BANK_VERSION_FILE = "skill_bank_version.json"
#: folder under ``trainer.default_local_dir`` of the evolving bank's working copy (+ history, usage)
EVOLVING_BANK_DIR = "skill_bank"
#: metric prefix of the per-task-type success rates
METRIC_PREFIX = "val-core/skillrl"
#: metric prefix of the training-step rollout statistics
TRAIN_PREFIX = "skillrl/rollout"
#: numeric ``reward_extra_info`` keys averaged over a step's episodes
EPISODE_STATS = ("won", "turns", "invalid_actions", "history_cuts", "prompt_overflows")


def validation_report(
    step: int,
    infos: Mapping[str, Sequence[Any]],
    max_failures_per_type: int = 64,
    *,
    expected_counts: Mapping[tuple[str, str], int] | None = None,
    data_sources: Sequence[Any] | None = None,
    uids: Sequence[Any] | None = None,
) -> ValidationReport:
    """Build the evolution report from verl's ``reward_extra_infos_dict`` (failures and, for
    contrast, successes per task type, at most ``max_failures_per_type`` of each).

    ``infos`` holds one list per key, aligned by session (the final output of each session),
    with the keys of :func:`skillrl.trainer.verl_agent_loop.reward_extra_info`; sessions whose
    ``won`` is None (an output without our fields) are skipped.

    Failed sessions (an env error: the session produced no output) count as misses, as verl's
    ``acc`` counts them: ``expected_counts`` is verl's ``{(data_source, uid): sessions}`` and
    ``data_sources``/``uids`` are aligned with ``infos``. A missing session takes the task type
    of its game's other sessions ("unknown" when none finished); it adds no failure record (there
    is no episode to learn from).

    >>> r = validation_report(3, {"won": [1.0, 0.0], "task_type": ["heat", "heat"],
    ...                           "episode": ['{"task": "a"}', '{"task": "b", "transcript": "t"}'],
    ...                           "skill_ids": ["s1", ""]})
    >>> r.success_by_type, r.failures_by_type["heat"][0]["task"]
    ({'heat': [1, 2]}, 'b')
    >>> validation_report(3, {"won": [1.0], "task_type": ["heat"]}, expected_counts={("d", "u1"): 2, ("d", "u2"): 1},
    ...                   data_sources=["d"], uids=["u1"]).success_by_type
    {'heat': [1, 2], 'unknown': [0, 1]}
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
    for task_type, missing in failed_sessions(expected_counts, data_sources, uids, types, won).items():
        records.extend({"task_type": task_type, "won": False} for _ in range(missing))
    return ValidationReport(step=int(step), success_by_type=success_by_task_type(records), failures_by_type=failures,
                            successes_by_type=successes)


def failed_sessions(
    expected_counts: Mapping[tuple[str, str], int] | None,
    data_sources: Sequence[Any] | None,
    uids: Sequence[Any] | None,
    task_types: Sequence[Any] = (),
    won: Sequence[Any] = (),
) -> dict[str, int]:
    """Sessions verl expected but got no output from, per task type (see :func:`validation_report`).

    >>> failed_sessions({("d", "a"): 3, ("d", "b"): 1}, ["d", "d"], ["a", "a"], ["cool", "cool"], [1.0, 0.0])
    {'cool': 1, 'unknown': 1}
    """
    if not expected_counts or data_sources is None or uids is None:
        return {}
    seen: dict[tuple[str, str], int] = {}
    kind: dict[tuple[str, str], str] = {}
    for i, (source, uid) in enumerate(zip(data_sources, uids)):
        key = (str(source), str(uid))
        if i < len(won) and won[i] is None:
            continue
        seen[key] = seen.get(key, 0) + 1
        if i < len(task_types) and task_types[i]:
            kind.setdefault(key, str(task_types[i]))
    out: dict[str, int] = {}
    for key, expected in expected_counts.items():
        key = (str(key[0]), str(key[1]))
        missing = max(int(expected) - seen.get(key, 0), 0)
        if missing:
            task_type = kind.get(key, "unknown")
            out[task_type] = out.get(task_type, 0) + missing
    return out


# --- training-step rollouts (from the step's TransferQueue keys) --------------------------------


def session_groups(keys: Sequence[str], tags: Sequence[Mapping[str, Any]] | None = None) -> dict[str, set[str]]:
    """``{uid: {session ids}}`` of a batch's keys (``{uid}_{session}_{turn}``), padding skipped.

    >>> sorted(session_groups(["u1_0_0", "u1_0_1", "u1_1_0", "padx_0_0"], [{}, {}, {}, {"is_padding": True}])["u1"])
    ['0', '1']
    """
    groups: dict[str, set[str]] = {}
    for i, key in enumerate(keys):
        if tags is not None and i < len(tags) and tags[i].get("is_padding", False):
            continue
        parts = str(key).rsplit("_", 2)
        if len(parts) != 3:
            continue
        groups.setdefault(parts[0], set()).add(parts[1])
    return groups


def rollout_metrics(groups: Mapping[str, set[str]], rollout_n: int, infos: Sequence[Mapping[str, Any]] = (),
                    min_sessions: int = 2) -> dict[str, float]:
    """Metrics of one training step: failed sessions (``rollout_n`` expected per game), games left
    with fewer than ``min_sessions`` sessions (not trained on), and the mean of the numeric
    episode values in ``infos`` (one ``reward_extra_info`` per finished session).

    >>> m = rollout_metrics({"a": {"0", "1"}, "b": {"0"}}, 2, [{"won": 1.0}, {"won": 0.0}, {"won": 0.0}])
    >>> m["skillrl/rollout/failed_sessions"], m["skillrl/rollout/lone_games"], round(m["skillrl/rollout/won/mean"], 3)
    (1.0, 1.0, 0.333)
    """
    failed = sum(max(int(rollout_n) - len(s), 0) for s in groups.values())
    lone = sum(1 for s in groups.values() if len(s) < min_sessions)
    out = {
        f"{TRAIN_PREFIX}/failed_sessions": float(failed),
        f"{TRAIN_PREFIX}/failed_session_rate": failed / (rollout_n * len(groups)) if groups else 0.0,
        f"{TRAIN_PREFIX}/lone_games": float(lone),
    }
    for name in EPISODE_STATS:
        values = [float(i[name]) for i in infos if isinstance(i.get(name), (int, float)) and not isinstance(i.get(name), bool)]
        if values:
            out[f"{TRAIN_PREFIX}/{name}/mean"] = sum(values) / len(values)
    return out


# --- checkpoints ----------------------------------------------------------------------------------


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_bank_checkpoint(folder: str | os.PathLike[str], snapshot: BankSnapshot,
                         remote_folder: str | None = None) -> Path:
    """Write ``skill_bank.json`` and ``skill_bank_version.json`` into ``folder`` (each file
    atomically) and, when ``remote_folder`` is set (verl's ``default_hdfs_dir/global_step_N``,
    local or ``hdfs://``), copy both there with verl's ``hdfs_io``; return the bank path.

    Raises:
        OSError: a file cannot be written; RuntimeError: the remote copy failed.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    bank_path = out / BANK_FILE
    version_path = out / BANK_VERSION_FILE
    _write_atomic(bank_path, snapshot.bank_json)
    _write_atomic(version_path, json.dumps({"version": int(snapshot.version)}))
    if remote_folder:
        _verl.copy_to_remote([str(bank_path), str(version_path)], remote_folder)
    return bank_path


def read_bank_checkpoint(folder: str | os.PathLike[str]) -> BankSnapshot | None:
    """The bank saved in a ``global_step_N`` folder with its version, or None when the folder
    has no bank (a checkpoint of a run without skills). A missing version file reads as 0.

    Raises:
        ValueError: the version file is not ``{"version": <int>}``; OSError: unreadable files.
    """
    root = Path(os.path.expanduser(str(folder)))
    bank = root / BANK_FILE
    if not bank.is_file():
        return None
    version = 0
    version_file = root / BANK_VERSION_FILE
    if version_file.is_file():
        try:
            version = int(json.loads(version_file.read_text(encoding="utf-8"))["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{version_file} is not {{\"version\": <int>}}: {exc}") from None
    else:
        log.warning("%s has no %s: the restored bank counts as version 0", root, BANK_VERSION_FILE)
    return BankSnapshot(version=version, bank_json=bank.read_text(encoding="utf-8"))


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


def resume_checkpoint_dir(trainer_cfg: Any, cwd: str | None = None) -> str | None:
    """The ``global_step_N`` folder verl's ``PPOTrainer._load_checkpoint`` resumes from (same
    rules): ``resume_mode=disable`` -> None; ``auto`` -> the folder named by
    ``default_local_dir/latest_checkpointed_iteration.txt`` (None when there is none);
    ``resume_path`` -> ``resume_from_path``. Relative paths are taken from ``cwd``.

    Raises:
        ValueError: an unknown ``resume_mode``, or a ``resume_from_path`` that does not name a
            ``global_step_N`` folder.
    """
    mode = str(trainer_cfg.get("resume_mode", "auto"))
    base = cwd or os.getcwd()
    if mode == "disable":
        return None
    if mode == "auto":
        folder = str(trainer_cfg.default_local_dir)
        folder = folder if os.path.isabs(folder) else os.path.join(base, folder)
        return _verl.find_latest_ckpt_path(folder)
    if mode == "resume_path":
        path = trainer_cfg.get("resume_from_path")
        if not isinstance(path, str) or "global_step_" not in path:
            raise ValueError(f"trainer.resume_mode=resume_path needs trainer.resume_from_path=<...>/global_step_N, "
                             f"got {path!r}")
        return path if os.path.isabs(path) else os.path.join(base, path)
    raise ValueError(f"unknown trainer.resume_mode {mode!r} (allowed: auto, resume_path, disable)")


def checkpoint_step(folder: str) -> int:
    """``N`` of a ``.../global_step_N`` folder (as verl reads it)."""
    return int(str(folder).rstrip("/").split("global_step_")[-1])


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
    """``PPOTrainerSync`` + the shared SkillBank, the evolution hook, bank checkpoints, PPO
    mini-batches counted in games, and rollout-failure metrics."""

    # verl's base class branches on ``trainer_mode == "sync"`` (replay buffer, checkpoints); we are
    # the sync trainer under another registered name, so report "sync" and ignore its assignment.
    trainer_mode = property(lambda self: "sync", lambda self, value: None)

    def __init__(self, config) -> None:
        super().__init__(config)
        from omegaconf import OmegaConf, open_dict

        self.run_id = _run_id()
        skills_cfg = config.env.get("skills_only_memory")
        if skills_cfg is not None:
            # one bank actor per run: agent-loop workers read this config after the trainer is built
            with open_dict(config):
                skills_cfg.bank_actor_name = scoped_actor_name(
                    str(skills_cfg.get("bank_actor_name") or "skillrl_skill_bank"),
                    str(config.trainer.experiment_name), self.run_id)
        self.env_settings = env_settings(OmegaConf.to_container(config.env, resolve=True))
        self.bank_service: BankService | None = None
        self.evolution = Evolution(LoggingEvolutionHook())
        """Usage counters and bank evolution (built in :meth:`init`, once the bank service runs)."""
        self._last_report: ValidationReport | None = None
        self._resume_dir: str | None = None
        actor = config.actor_rollout_ref.actor
        self.update_plan: UpdatePlan = update_plan(int(config.data.train_batch_size), int(actor.ppo_mini_batch_size),
                                                   int(actor.ppo_epochs))

    def init(self) -> None:
        if self.env_settings.skills is not None:
            # the bank comes from the checkpoint verl resumes the model from (None: the bank file)
            self._resume_dir = resume_checkpoint_dir(self.config.trainer)
            saved = read_bank_checkpoint(self._resume_dir) if self._resume_dir else None
            if self._resume_dir and saved is None:
                log.warning("checkpoint %s has no skill bank: starting from %s", self._resume_dir,
                            self.env_settings.skills.skills_json_path)
            # create the run's bank actor before any agent-loop worker asks for it
            self.bank_service = connect_bank_service(self.env_settings.skills, initial=saved)
            if saved is not None:
                log.info("restored skill bank version %d from %s", saved.version, self._resume_dir)
        if self.bank_service is not None:
            self.evolution = build_verl_evolution(
                self.env_settings.skills, self.bank_service, env_name=self.env_settings.env_name,
                work_dir=os.path.join(str(self.config.trainer.default_local_dir), EVOLVING_BANK_DIR))
        super().init()

    def _load_checkpoint(self):
        result = super()._load_checkpoint()
        if self._resume_dir is not None and self.global_steps != checkpoint_step(self._resume_dir):
            log.error("verl resumed the model at step %d but the skill bank came from %s", self.global_steps,
                      self._resume_dir)
        return result

    # --- validation ----------------------------------------------------------------------------

    def _val_metrics_update(self, data_sources, sample_uids, reward_extra_infos_dict, sample_turns,
                            expected_acc_counts=None):
        metrics = super()._val_metrics_update(
            data_sources, sample_uids, reward_extra_infos_dict, sample_turns, expected_acc_counts=expected_acc_counts
        )
        self._last_report = validation_report(self.global_steps, reward_extra_infos_dict,
                                              expected_counts=expected_acc_counts, data_sources=data_sources,
                                              uids=sample_uids)
        metrics.update(success_metrics(self._last_report.success_by_type, prefix=METRIC_PREFIX))
        failed = failed_sessions(expected_acc_counts, data_sources, sample_uids,
                                 list(reward_extra_infos_dict.get("task_type") or []),
                                 list(reward_extra_infos_dict.get("won") or []))
        metrics[f"{METRIC_PREFIX}/failed_sessions"] = float(sum(failed.values()))
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

    # --- checkpoints -----------------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        # the bank goes into global_step_N/ first: verl's save ends by writing
        # latest_checkpointed_iteration.txt and calling the checkpoint callback
        if self.bank_service is not None:
            trainer = self.config.trainer
            name = f"global_step_{self.global_steps}"
            remote = os.path.join(trainer.default_hdfs_dir, name) if trainer.get("default_hdfs_dir") else None
            path = save_bank_checkpoint(os.path.join(trainer.default_local_dir, name),
                                        self.bank_service.get_snapshot(), remote_folder=remote)
            log.info("saved skill bank to %s%s", path, f" and {remote}" if remote else "")
        super()._save_checkpoint()

    # --- PPO mini-batches counted in games -----------------------------------------------------

    def _get_required_batch_multiple(self, dp_size: int) -> int:
        # every mini-batch gets an equal share of the step's rows, split evenly over the DP ranks
        required = self.update_plan.row_multiple(dp_size)
        if self.use_critic:
            required = math.lcm(required, super()._get_required_batch_multiple(dp_size))
        return required

    def _update_actor(self, batch, metrics: dict):
        """verl's actor update with ``mini_batch_size`` = the step's rows / mini-batches."""
        if _verl.is_distillation_enabled(self.config.get("distillation")):
            log.warning("distillation is on: PPO mini-batches are verl's (counted in rows)")
            return super()._update_actor(batch, metrics)
        actor_cfg, rollout_cfg = self.config.actor_rollout_ref.actor, self.config.actor_rollout_ref.rollout
        rows = self.update_plan.rows_per_mini_batch(len(batch))
        batch.extra_info.update({
            "calculate_entropy": bool(actor_cfg.calculate_entropy or actor_cfg.entropy_coeff != 0.0),
            "distillation_use_topk": False,
            "distillation_only": False,
            "global_batch_size": rows,
            "mini_batch_size": rows,
            "epochs": self.update_plan.ppo_epochs,
            "seed": actor_cfg.data_loader_seed,
            "dataloader_kwargs": {"shuffle": actor_cfg.shuffle},
            "temperature": rollout_cfg.temperature,
        })
        output = self.actor_rollout_wg.update_actor(batch)
        output = _verl.rename_dict(output["metrics"], "actor/")
        output["perf/mfu/actor"] = output.pop("actor/mfu")
        metrics.update(_verl.reduce_metrics(output))
        metrics[f"{TRAIN_PREFIX}/rows_per_update"] = float(rows)
        metrics[f"{TRAIN_PREFIX}/updates"] = float(self.update_plan.updates_per_step)
        return batch

    # --- failed sessions and episode statistics ------------------------------------------------

    def _balance_batch(self, batch, metrics, logging_prefix="global_seqlen", keep_minibatch=False):
        # a game left with one session (the others failed) has no group to compare with: GRPO
        # would use its raw score as the advantage, so it is not trained on
        groups = session_groups(batch.keys, batch.tags)
        self._step_groups = groups
        lone = {uid for uid, sessions in groups.items() if len(sessions) < 2}
        if lone and len(lone) < len(groups):
            drop = [k for k in batch.keys if str(k).rsplit("_", 2)[0] in lone]
            batch = batch.select_keys([k for k in batch.keys if str(k).rsplit("_", 2)[0] not in lone])
            _verl.tq_clear(drop, batch.partition_id)
        elif lone:
            log.warning("every game of this step has at most one finished session: training on them as they are")
        return super()._balance_batch(batch, metrics, logging_prefix=logging_prefix, keep_minibatch=keep_minibatch)

    def step(self, metrics: dict, timing_raw: dict):
        batch = super().step(metrics, timing_raw)
        try:
            metrics.update(rollout_metrics(getattr(self, "_step_groups", {}), int(self.config.actor_rollout_ref.rollout.n),
                                           self._step_infos(batch)))
            if self.bank_service is not None:
                metrics["skillrl/bank/version"] = float(self.bank_service.current_version())
        except Exception as exc:  # statistics must never stop training
            log.warning("could not compute rollout metrics: %s", exc)
        return batch

    def _step_infos(self, batch) -> list[dict[str, Any]]:
        """``reward_extra_info`` of each session's final output in ``batch`` (from TransferQueue)."""
        finals: dict[str, tuple[int, str]] = {}
        for i, key in enumerate(batch.keys):
            if batch.tags[i].get("is_padding", False):
                continue
            parts = str(key).rsplit("_", 2)
            if len(parts) == 3:
                session = f"{parts[0]}_{parts[1]}"
                if session not in finals or int(parts[2]) > finals[session][0]:
                    finals[session] = (int(parts[2]), key)
        keys = [k for _, k in finals.values()]
        if not keys:
            return []
        out = []
        for extra in _verl.tq_get(keys, batch.partition_id, ["extra_fields"])["extra_fields"]:
            extra = getattr(extra, "data", extra)
            info = extra.get("reward_extra_info", {}) if isinstance(extra, Mapping) else {}
            out.append(dict(info))
        return out


def _run_id() -> str:
    """The Ray job id when Ray runs (unique per job on a cluster), else a random id."""
    try:
        import ray

        if ray.is_initialized():
            return str(ray.get_runtime_context().get_job_id())
    except Exception:  # noqa: BLE001 - any failure: fall back to a random id
        pass
    return uuid.uuid4().hex[:12]


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
        extra = _verl.tq_get(list(first.values()), batch.partition_id, ["extra_fields"])["extra_fields"]
        extra = [getattr(e, "data", e) for e in extra]
    except Exception as exc:  # noqa: BLE001 - best effort
        log.warning("skill usage of step not counted: could not read the batch's episodes (%s)", exc)
        return []
    return training_episodes(list(first.values()), extra)
