"""Resume: a run stopped after a checkpoint and resumed from it ends where the uninterrupted run
ends — same step, same rewards at every step, same bank version, history and usage."""

from __future__ import annotations

import dataclasses
import json

import pytest

from skillrl.skills.bank import history_path, read_history, usage_path
from skillrl.skills.config import SkillsConfig
from skillrl.trainer.config import RolloutConfig
from skillrl.trainer.local.checkpoint import latest_checkpoint
from skillrl.trainer.local.config import LocalTrainConfig, toy_env
from skillrl.trainer.local.trainer import train
from skillrl.utils.config import ConfigError

BANK = {
    "general_skills": [{"skill_id": "gen_1", "title": "Go first", "principle": "Go to the named place first.",
                        "when_to_apply": "turn one"}],
    "task_specific_skills": {},
    "common_mistakes": [],
}


class GrowingHook:
    """Adds one skill to the bank after every validation (a stand-in for evolution)."""

    def __init__(self):
        self.bank = None

    def on_validation(self, report):
        self.bank.add_skill(None, {"skill_id": f"les_{report.step}", "title": f"Lesson {report.step}",
                                   "principle": f"Learned at step {report.step}.", "when_to_apply": "always"},
                            source="test", reason="test", step=report.step)
        return self.bank.version


def _config(tmp_path, out, **kw):
    bank = tmp_path / "bank.json"
    if not bank.exists():
        bank.write_text(json.dumps(BANK))
    env = dataclasses.replace(toy_env(), rollout=RolloutConfig(n=2), use_skills_only_memory=True,
                              skills_only_memory=SkillsConfig(skills_json_path=str(bank)))
    base = dict(env=env, train_batch_size=3, total_training_steps=4, warmup_steps=20, warmup_episodes=8,
                val_batch_size=4, test_freq=2, save_freq=2, output_dir=str(tmp_path / out), progress=False,
                cpu_threads=1, max_new_tokens=8, loggers=("jsonl",))
    base.update(kw)
    return LocalTrainConfig(**base)


def _run(cfg):
    from skillrl.trainer.local import trainer as T

    hook = GrowingHook()
    real = T.build_skills

    def build_and_grab(*a, **k):
        setup = real(*a, **k)
        hook.bank = setup.bank
        return setup

    T.build_skills = build_and_grab
    try:
        return train(cfg, evolution_hook=hook)
    finally:
        T.build_skills = real


def test_stop_and_resume_matches_the_uninterrupted_run(tmp_path):
    whole = _run(_config(tmp_path, "whole"))
    first = _run(_config(tmp_path, "split", total_training_steps=2))
    assert first.steps == 2 and len(first.reward_history) == 2
    resumed = _run(_config(tmp_path, "split", resume_from="auto"))
    assert resumed.resumed_from.endswith("global_step_2")
    assert resumed.steps == whole.steps == 4
    assert resumed.reward_history == whole.reward_history  # same rollouts: model, optimizer, RNGs restored
    assert resumed.bank_version == whole.bank_version
    assert resumed.final_metrics["val/success_rate"] == whole.final_metrics["val/success_rate"]
    ck_whole, ck_resumed = tmp_path / "whole/checkpoints/global_step_4", tmp_path / "split/checkpoints/global_step_4"
    bank_a, bank_b = (json.loads((c / "skill_bank.json").read_text()) for c in (ck_whole, ck_resumed))
    assert bank_a == bank_b
    assert [r.version for r in read_history(ck_resumed / "skill_bank.json")] == \
        [r.version for r in read_history(ck_whole / "skill_bank.json")]
    usage_a, usage_b = (json.loads(usage_path(c / "skill_bank.json").read_text()) for c in (ck_whole, ck_resumed))
    assert usage_a == usage_b and usage_a["usage"]["gen_1"]["times_retrieved"] > 0
    rows = [json.loads(line) for line in (tmp_path / "split/metrics.jsonl").read_text().splitlines()]
    rl_steps = [r["step"] for r in rows if "train/reward_mean" in r]
    assert rl_steps == [1, 2, 3, 4]  # the stopped run's final rows at step 2 were kept once, nothing doubled
    state = json.loads((ck_resumed / "trainer_state.json").read_text())
    assert state["cold_start"]["done"] and state["cold_start"]["steps"] == 20  # the cold start ran once
    assert history_path(tmp_path / "split" / "skill_bank.json").is_file()  # the resumed bank's working copy


def test_resume_auto_without_a_checkpoint_starts_fresh_and_bad_paths_fail(tmp_path):
    assert latest_checkpoint(tmp_path / "nothing") is None
    fresh = _run(_config(tmp_path, "fresh", total_training_steps=1, save_freq=0, test_freq=0, resume_from="auto"))
    assert fresh.resumed_from is None and fresh.steps == 1
    with pytest.raises(ConfigError, match="resume_from"):
        _run(_config(tmp_path, "bad", resume_from=str(tmp_path / "fresh")))
