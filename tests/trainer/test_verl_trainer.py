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
    saved = []
    monkeypatch.setattr(_verl.PPOTrainerSync, "_save_checkpoint", lambda self: saved.append(self.global_steps))
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

    t.config = OmegaConf.create({"trainer": {"default_local_dir": str(tmp_path), "default_hdfs_dir": None}})
    t.bank_service = InProcessBankService('{"general_skills": []}')
    t.bank_service.update('{"general_skills": [], "x": 1}')
    t._save_checkpoint()
    folder = tmp_path / "global_step_5"
    assert json.loads((folder / vt.BANK_FILE).read_text())["x"] == 1
    assert json.loads((folder / vt.BANK_VERSION_FILE).read_text())["version"] == 1
    assert saved == [5], "verl's own save runs after the bank is written"


def test_latest_bank_checkpoint(tmp_path):
    assert vt.latest_bank_checkpoint(tmp_path) is None
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("4")
    assert vt.latest_bank_checkpoint(tmp_path) is None  # model checkpoint without a bank
    path = vt.save_bank_checkpoint(tmp_path / "global_step_4", BankSnapshot(2, "{}"))
    assert vt.latest_bank_checkpoint(tmp_path) == path


class _Stub:
    """Records calls; answers attribute access with recorders."""

    def __init__(self, **answers):
        self.calls = []
        self._answers = answers

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            answer = self._answers.get(name)
            return answer(*args, **kwargs) if callable(answer) else answer
        return call


def _trainer(tmp_path, monkeypatch, overrides=(), bank_json='{"general_skills": [], "v": 0}'):
    """verl's real ``__init__`` on the composed config (CPU); ``init`` with verl's part stubbed."""
    from skillrl.trainer import _verl
    from verl_helpers import compose

    bank = tmp_path / "bank.json"
    bank.write_text(bank_json)
    cfg = compose("skillrl_trainer", ["env=toy", "env.use_skills_only_memory=True",
                                      f"env.skills_only_memory.skills_json_path={bank}",
                                      f"trainer.default_local_dir={tmp_path / 'ckpt'}", *overrides])
    t = vt.SkillRLTrainer(cfg)
    monkeypatch.setattr(_verl.PPOTrainerSync, "init", lambda self: None)
    return t


def test_trainer_builds_from_the_config_and_scopes_its_bank(tmp_path, monkeypatch):
    t = _trainer(tmp_path, monkeypatch, ["trainer.experiment_name=exp one"])
    assert t.trainer_mode == "sync"
    assert type(t.replay_buffer).__name__ == "ReplayBuffer", "verl must pick its sync replay buffer"
    t.init()
    assert isinstance(t.evolution.hook, LoggingEvolutionHook)
    snap = t.bank_service.get_snapshot()
    assert snap.version == 0 and json.loads(snap.bank_json)["v"] == 0
    # the actor name is scoped to the run, in the config the agent-loop workers receive
    name = t.config.env.skills_only_memory.bank_actor_name
    assert name == f"skillrl_skill_bank/exp_one/{t.run_id}"
    other = _trainer(tmp_path, monkeypatch, ["trainer.experiment_name=exp one"])
    assert other.config.env.skills_only_memory.bank_actor_name != name, "two runs never share a bank actor"


def _checkpoint(folder, version, marker):
    vt.save_bank_checkpoint(folder, BankSnapshot(version, json.dumps({"general_skills": [], "v": marker})))


def test_auto_resume_restores_the_bank_of_verls_latest_checkpoint_with_its_version(tmp_path, monkeypatch):
    _checkpoint(tmp_path / "ckpt" / "global_step_2", 3, "two")
    _checkpoint(tmp_path / "ckpt" / "global_step_4", 5, "four")
    (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").write_text("4")
    t = _trainer(tmp_path, monkeypatch)
    t.init()
    snap = t.bank_service.get_snapshot()
    assert (snap.version, json.loads(snap.bank_json)["v"]) == (5, "four")
    assert t.bank_service.update('{"general_skills": []}') == 6, "versions go on from the saved one"


def test_resume_path_takes_model_and_bank_from_the_same_checkpoint(tmp_path, monkeypatch):
    """verl's own ``_load_checkpoint`` (workers stubbed) and our bank restore pick one folder."""
    _checkpoint(tmp_path / "ckpt" / "global_step_2", 3, "two")
    _checkpoint(tmp_path / "ckpt" / "global_step_4", 5, "four")
    (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").write_text("4")
    (tmp_path / "ckpt" / "global_step_2" / "data.pt").write_bytes(b"")
    t = _trainer(tmp_path, monkeypatch, ["trainer.resume_mode=resume_path",
                                         f"trainer.resume_from_path={tmp_path / 'ckpt' / 'global_step_2'}"])
    t.init()
    snap = t.bank_service.get_snapshot()
    assert (snap.version, json.loads(snap.bank_json)["v"]) == (3, "two")
    t.actor_rollout_wg = _Stub()
    t.train_dataloader = _Stub()
    t.use_critic = False
    import torch

    monkeypatch.setattr(torch, "load", lambda *a, **k: {})
    t._load_checkpoint()
    assert t.global_steps == 2
    (name, args, kwargs), = t.actor_rollout_wg.calls
    assert name == "load_checkpoint" and kwargs["local_path"] == str(tmp_path / "ckpt" / "global_step_2" / "actor")


def test_resume_rules_follow_verl(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.chdir(tmp_path)
    _checkpoint(tmp_path / "rel" / "global_step_3", 1, "x")
    (tmp_path / "rel" / "latest_checkpointed_iteration.txt").write_text("3")
    cfg = lambda **kw: OmegaConf.create({"default_local_dir": "rel", "resume_mode": "auto", **kw})  # noqa: E731
    assert vt.resume_checkpoint_dir(cfg()) == str(tmp_path / "rel" / "global_step_3")
    assert vt.resume_checkpoint_dir(cfg(resume_mode="disable")) is None
    assert vt.resume_checkpoint_dir(cfg(default_local_dir="none")) is None
    assert vt.resume_checkpoint_dir(cfg(resume_mode="resume_path", resume_from_path="rel/global_step_3")) == str(
        tmp_path / "rel" / "global_step_3")
    with pytest.raises(ValueError, match="global_step_N"):
        vt.resume_checkpoint_dir(cfg(resume_mode="resume_path", resume_from_path="rel"))
    with pytest.raises(ValueError, match="unknown trainer.resume_mode"):
        vt.resume_checkpoint_dir(cfg(resume_mode="latest"))
    # a checkpoint without a bank
    assert vt.read_bank_checkpoint(tmp_path) is None


def test_bank_is_in_the_checkpoint_before_verl_marks_it_complete(tmp_path, monkeypatch):
    """verl's real ``_save_checkpoint`` (workers stubbed): when it writes the tracker and calls
    the checkpoint callback, the bank of that step is already in ``global_step_N/`` (and in the
    ``default_hdfs_dir`` copy)."""
    remote = tmp_path / "remote"
    t = _trainer(tmp_path, monkeypatch, [f"trainer.default_hdfs_dir={remote}"])
    t.init()
    t.bank_service.update('{"general_skills": [], "v": "evolved"}')
    t.global_steps = 6
    t.use_critic = False
    t.actor_rollout_wg = _Stub()
    t.train_dataloader = _Stub(state_dict=lambda: {})
    folder = tmp_path / "ckpt" / "global_step_6"
    seen = {}

    class Callback:
        def on_save(self, trainer, global_step, checkpoint_dir, async_save=False, **kw):
            seen["tracker"] = (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").read_text()
            seen["bank"] = json.loads((folder / vt.BANK_FILE).read_text())["v"]
            seen["version"] = json.loads((folder / vt.BANK_VERSION_FILE).read_text())["version"]

    t.checkpoint_callback = Callback()
    t._save_checkpoint()
    assert seen == {"tracker": "6", "bank": "evolved", "version": 1}
    assert t.actor_rollout_wg.calls[0][0] == "save_checkpoint"
    assert json.loads((remote / "global_step_6" / vt.BANK_FILE).read_text())["v"] == "evolved"
    assert json.loads((remote / "global_step_6" / vt.BANK_VERSION_FILE).read_text()) == {"version": 1}
    # and what was saved is what a resumed run reads back
    assert vt.read_bank_checkpoint(folder) == t.bank_service.get_snapshot()


def _verl_updates(rows: int, dp: int, extra_info: dict) -> int:
    """What verl's worker does with the trainer's extra_info (engine_workers.train_mini_batch):
    each DP rank gets rows/dp rows, mini-batches of mini_batch_size/dp, through verl's iterator."""
    import torch
    from tensordict import TensorDict

    from skillrl.trainer import _verl

    per_rank = TensorDict({"x": torch.zeros(rows // dp, 1)}, batch_size=[rows // dp])
    it = _verl.make_iterator(per_rank, mini_batch_size=extra_info["mini_batch_size"] // dp,
                             epochs=extra_info["epochs"], seed=0, dataloader_kwargs=extra_info["dataloader_kwargs"])
    return sum(1 for _ in it)


@pytest.mark.parametrize("turns", [1, 7, 50])
@pytest.mark.parametrize("dp", [1, 8])
def test_a_step_makes_the_planned_updates_whatever_the_episode_length(tmp_path, monkeypatch, turns, dp):
    from skillrl.trainer import _verl
    from skillrl.trainer.launch import verl_row_updates

    t = _trainer(tmp_path, monkeypatch, ["data.train_batch_size=16", "actor_rollout_ref.actor.ppo_mini_batch_size=2",
                                         "env.rollout.n=8"])
    assert t.update_plan.updates_per_step == 8
    rows = 16 * 8 * turns
    multiple = t._get_required_batch_multiple(dp)
    padded = -(-rows // multiple) * multiple  # what verl's upsample_batch_to_divisible_size pads to
    batch = _verl.KVBatchMeta(keys=[f"u{i}_0_0" for i in range(padded)], tags=[{}] * padded, partition_id="train")
    captured = {}
    t.actor_rollout_wg = _Stub(update_actor=lambda b: captured.update(b.extra_info) or {"metrics": {"mfu": [0.0]}})
    metrics = {}
    t._update_actor(batch, metrics)
    assert captured["mini_batch_size"] == captured["global_batch_size"] == padded // 8
    assert _verl_updates(padded, dp, captured) == 8
    assert metrics["skillrl/rollout/updates"] == 8
    # verl's own row counting would have made this many
    assert verl_row_updates(rows, 2, 8) == -(-rows // 16)


def test_failed_and_lone_sessions_are_counted_and_lone_games_dropped(tmp_path, monkeypatch):
    from skillrl.trainer import _verl

    t = _trainer(tmp_path, monkeypatch, ["env.rollout.n=4"])
    keys = ["a_0_0", "a_0_1", "a_1_0", "a_2_0", "a_3_0",   # game a: 4 sessions
            "b_0_0", "b_2_0", "b_2_1",                    # game b: sessions 1 and 3 failed
            "c_1_0", "c_1_1"]                             # game c: only session 1 finished
    batch = _verl.KVBatchMeta(keys=keys, tags=[{}] * len(keys), partition_id="train")
    cleared, balanced = [], []
    monkeypatch.setattr(_verl, "tq_clear", lambda k, p: cleared.extend(k))
    monkeypatch.setattr(_verl.PPOTrainerSync, "_balance_batch", lambda self, b, m, **kw: balanced.append(b) or b)
    t._balance_batch(batch, {})
    assert cleared == ["c_1_0", "c_1_1"] and balanced[0].keys == keys[:8]
    infos = [{"won": 1.0, "turns": 2}] * 4 + [{"won": 0.0, "turns": 4}] * 2 + [{"won": 0.0, "turns": 1}]
    m = vt.rollout_metrics(t._step_groups, 4, infos)
    assert m["skillrl/rollout/failed_sessions"] == 2 + 3
    assert m["skillrl/rollout/failed_session_rate"] == 5 / 12
    assert m["skillrl/rollout/lone_games"] == 1
    assert m["skillrl/rollout/won/mean"] == 4 / 7 and m["skillrl/rollout/turns/mean"] == 17 / 7


def test_validation_counts_failed_sessions_as_verls_acc_does(tmp_path, monkeypatch):
    """Three games x 2 sessions; one session of game b and both of game c failed (no output).
    Our success rate equals verl's ``acc`` mean (``process_validation_metrics`` with
    ``expected_acc_counts``)."""
    from verl.trainer.ppo.metric_utils import process_validation_metrics

    sources = ["d", "d", "d"]
    uids = ["a", "a", "b"]
    infos = {"acc": [1.0, 0.0, 1.0], "won": [1.0, 0.0, 1.0], "task_type": ["heat", "heat", "cool"],
             "episode": [_ep("x", True), _ep("y", False), _ep("z", True)], "skill_ids": ["", "", ""]}
    expected = {("d", "a"): 2, ("d", "b"): 2, ("d", "c"): 2}
    verl = process_validation_metrics(sources, uids, infos, expected_acc_counts=expected)
    verl_acc = verl["d"]["acc"]["mean@2"]
    report = vt.validation_report(1, infos, expected_counts=expected, data_sources=sources, uids=uids)
    assert report.success_by_type == {"heat": [1, 2], "cool": [1, 2], "unknown": [0, 2]}
    won = sum(w for w, _ in report.success_by_type.values())
    assert won / sum(n for _, n in report.success_by_type.values()) == pytest.approx(verl_acc) == 2 / 6
    assert set(report.failures_by_type) == {"heat"}, "a failed session has no episode to learn from"

    t = object.__new__(vt.SkillRLTrainer)
    t.global_steps = 1
    t._last_report = None
    monkeypatch.setattr(vt._verl.PPOTrainerSync, "_val_metrics_update", lambda self, *a, **k: {})
    metrics = t._val_metrics_update(sources, uids, infos, [1, 1, 1], expected_acc_counts=expected)
    assert metrics[f"{vt.METRIC_PREFIX}/success_rate"] == pytest.approx(2 / 6)
    assert metrics[f"{vt.METRIC_PREFIX}/failed_sessions"] == 3
