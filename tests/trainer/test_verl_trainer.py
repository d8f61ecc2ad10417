"""The verl trainer subclass's components: validation report, bank checkpoint, evolution hook,
and the thin hooks themselves on a trainer object built without verl's heavy ``__init__``."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("verl")

from skillrl.trainer import verl_trainer as vt  # noqa: E402
from skillrl.trainer.bank_service import BankSnapshot, InProcessBankService  # noqa: E402
from skillrl.trainer.evolution import LoggingEvolutionHook  # noqa: E402


def _ep(task, won, ids=("s1",)):
    return json.dumps({"task": task, "won": won, "skill_ids": list(ids), "transcript": f"Task: {task}\n> go"})


INFOS = {
    "reward": [1.0, 0.0, 0.0, 1.0, None],
    "won": [1.0, 0.0, 0.0, 1.0, None],
    "acc": [1.0, 0.0, 0.0, 1.0, None],
    "task_type": ["heat", "heat", "cool", "cool", None],
    "skill_ids": ["s1", "s1,s2", "", "s3", None],
    "episode": [_ep("heat egg", True), _ep("heat mug", False, ("s1", "s2")), "not json", _ep("cool x", True), None],
}


def test_validation_report_groups_failures_by_task_type():
    report = vt.validation_report(7, INFOS)
    assert report.step == 7
    assert report.success_by_type == {"cool": [1, 2], "heat": [1, 2]}
    (heat_fail,) = report.failures_by_type["heat"]
    assert heat_fail["task"] == "heat mug" and heat_fail["skill_ids"] == ["s1", "s2"]
    assert heat_fail["transcript"].startswith("Task: heat mug")
    (cool_fail,) = report.failures_by_type["cool"]  # unparsable episode json: ids from skill_ids
    assert cool_fail["skill_ids"] == [] and cool_fail["task"] == ""


def test_validation_report_caps_failures():
    infos = {"won": [0.0] * 5, "task_type": ["a"] * 5, "episode": [_ep(f"t{i}", False) for i in range(5)]}
    assert len(vt.validation_report(0, infos, max_failures_per_type=2).failures_by_type["a"]) == 2


def test_save_bank_checkpoint(tmp_path):
    path = vt.save_bank_checkpoint(tmp_path / "global_step_3", BankSnapshot(4, '{"general_skills": []}'))
    assert json.loads(path.read_text()) == {"general_skills": []}
    assert json.loads((tmp_path / "global_step_3" / vt.BANK_VERSION_FILE).read_text()) == {"version": 4}


class _Hook:
    def __init__(self, **kw):
        self.kw = kw
        self.reports = []

    def on_validation(self, report):
        self.reports.append(report)
        return 1


def make_hook(**kw):
    return _Hook(**kw)


def test_training_episodes_one_per_session():
    keys = ["u_0_0", "u_0_1", "u_1_0", "v_0_0", "w_0_0"]
    extra = [{"reward_extra_info": {"won": 0.0, "task_type": "heat", "skill_ids": "s1,s2", "episode": _ep("heat mug", False, ("s1", "s2"))}},
             {"reward_extra_info": {"won": 0.0, "task_type": "heat", "skill_ids": "s1,s2", "episode": _ep("heat mug", False, ("s1", "s2"))}},
             {"reward_extra_info": {"won": 1.0, "task_type": "heat", "skill_ids": "s3", "episode": "not json"}},
             {"min_global_steps": 1},  # an output without our fields
             {"reward_extra_info": {"won": None}}]
    eps = vt.training_episodes(keys, extra)
    assert [(e["won"], e["skill_ids"], e["task_type"]) for e in eps] == [(False, ["s1", "s2"], "heat"), (True, ["s3"], "heat")]
    assert eps[0]["task"] == "heat mug" and "transcript" in eps[0]


def test_trainer_is_registered_and_acts_as_sync():
    from skillrl.trainer import _verl

    assert _verl.get_trainer_cls(vt.TRAINER_NAME) is vt.SkillRLTrainer
    t = object.__new__(vt.SkillRLTrainer)
    t.trainer_mode = "skillrl_sync"  # what verl's __init__ assigns
    assert t.trainer_mode == "sync"


def test_validation_hooks_feed_the_evolution_hook(monkeypatch, tmp_path, caplog):
    from skillrl.trainer import _verl

    monkeypatch.setattr(_verl.PPOTrainerSync, "_val_metrics_update", lambda self, *a, **k: {"val-core/x": 1.0})
    monkeypatch.setattr(_verl.PPOTrainerSync, "_save_checkpoint", lambda self: None)
    t = object.__new__(vt.SkillRLTrainer)
    t.global_steps = 5
    t._last_report = None
    from skillrl.trainer.evolution import Evolution

    t.evolution = Evolution(_Hook())
    metrics = t._val_metrics_update(["d"] * 5, ["u"] * 5, INFOS, [2] * 5)
    assert metrics["val-core/x"] == 1.0
    assert metrics[f"{vt.METRIC_PREFIX}/success_rate"] == 0.5
    assert metrics[f"{vt.METRIC_PREFIX}/success_rate/heat"] == 0.5
    with caplog.at_level(logging.INFO, logger="skillrl.trainer.evolution"):
        t.on_validate_end()
    (report,) = t.evolution.hook.reports
    assert report.step == 5 and set(report.failures_by_type) == {"heat", "cool"}
    assert [x["task"] for x in report.successes_by_type["heat"]] == ["heat egg"]  # for contrast
    assert report.failures_by_type["heat"][0]["episode_id"].startswith("val@step5/")
    assert "evolved to version 1" in caplog.text
    t.on_validate_end()  # no new validation: the hook is not called again
    assert len(t.evolution.hook.reports) == 1

    # checkpoint: the bank and its version go next to the model
    from omegaconf import OmegaConf

    t.config = OmegaConf.create({"trainer": {"default_local_dir": str(tmp_path)}})
    t.bank_service = InProcessBankService('{"general_skills": []}')
    t.bank_service.update('{"general_skills": [], "x": 1}')
    t._save_checkpoint()
    saved = tmp_path / "global_step_5"
    assert json.loads((saved / vt.BANK_FILE).read_text())["x"] == 1
    assert json.loads((saved / vt.BANK_VERSION_FILE).read_text())["version"] == 1


def test_latest_bank_checkpoint(tmp_path):
    assert vt.latest_bank_checkpoint(tmp_path) is None
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("4")
    assert vt.latest_bank_checkpoint(tmp_path) is None  # model checkpoint without a bank
    path = vt.save_bank_checkpoint(tmp_path / "global_step_4", BankSnapshot(2, "{}"))
    assert vt.latest_bank_checkpoint(tmp_path) == path


def test_trainer_builds_from_the_config_and_restores_the_bank(tmp_path, monkeypatch):
    """verl's real ``__init__`` on the composed config (CPU); ``init`` with verl's part stubbed."""
    from skillrl.trainer import _verl
    from verl_helpers import compose

    bank = tmp_path / "bank.json"
    bank.write_text('{"general_skills": [], "v": 0}')
    ckpt = tmp_path / "ckpt"
    vt.save_bank_checkpoint(ckpt / "global_step_2", BankSnapshot(3, '{"general_skills": [], "v": 3}'))
    (ckpt / "latest_checkpointed_iteration.txt").write_text("2")
    cfg = compose("skillrl_trainer", ["env=toy", "env.use_skills_only_memory=True",
                                      f"env.skills_only_memory.skills_json_path={bank}",
                                      f"trainer.default_local_dir={ckpt}"])
    t = vt.SkillRLTrainer(cfg)
    assert t.trainer_mode == "sync"
    assert type(t.replay_buffer).__name__ == "ReplayBuffer", "verl must pick its sync replay buffer"
    monkeypatch.setattr(_verl.PPOTrainerSync, "init", lambda self: None)
    t.init()
    assert isinstance(t.evolution.hook, LoggingEvolutionHook)
    snap = t.bank_service.get_snapshot()
    assert snap.version == 1 and json.loads(snap.bank_json)["v"] == 3
