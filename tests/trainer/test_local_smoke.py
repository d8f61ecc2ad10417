"""Smoke runs of the local backend: toy end to end (skills, all loggers), ALFWorld, and the CLI."""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from skillrl.skills.config import SkillsConfig
from skillrl.trainer.config import EnvConfig, RolloutConfig
from skillrl.trainer.local.config import LocalTrainConfig, toy_env
from skillrl.trainer.local.trainer import train

TOY_BANK = {
    "general_skills": [{"skill_id": "gen_1", "title": "Go first", "principle": "Go to the named place first.",
                        "when_to_apply": "turn one"}],
    "task_specific_skills": {"fruit": [{"skill_id": "fruit_1", "title": "Fruit", "principle": "Take the fruit named.",
                                        "when_to_apply": "at the place"}]},
    "common_mistakes": [],
}


def _toy(**kw) -> EnvConfig:
    return dataclasses.replace(toy_env(), rollout=RolloutConfig(n=2), **kw)


def _rl_rows(path):
    """The metric rows of RL steps (cold-start rows carry ``sft/step``)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if "sft/step" not in r]


def _tiny_run(tmp_path, **kw):
    base = dict(env=_toy(), train_batch_size=2, total_training_steps=2, warmup_steps=5,
                warmup_episodes=8, val_batch_size=4, output_dir=str(tmp_path / "out"), progress=False,
                cpu_threads=1, max_new_tokens=8)
    base.update(kw)
    return train(LocalTrainConfig(**base))


class RecordingHook:
    def __init__(self):
        self.reports = []

    def on_validation(self, report):
        self.reports.append(report)
        return None


def test_toy_run_with_skills_writes_checkpoint_bank_and_metrics(tmp_path):
    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps(TOY_BANK))
    hook = RecordingHook()
    env = _toy(use_skills_only_memory=True, skills_only_memory=SkillsConfig(skills_json_path=str(bank)))
    cfg = LocalTrainConfig(env=env, train_batch_size=2, total_training_steps=2, warmup_steps=5,
                           warmup_episodes=8, val_batch_size=6, output_dir=str(tmp_path / "out"), progress=False,
                           cpu_threads=1, max_new_tokens=8, loggers=("console", "jsonl", "tensorboard"), test_freq=1,
                           save_freq=1, val_before_train=True, kl_coef=0.01)
    result = train(cfg, evolution_hook=hook)
    ck = tmp_path / "out" / "checkpoints" / "global_step_2"
    assert result.checkpoint_dir == str(ck)
    assert (ck / "config.json").is_file() and (ck / "tokenizer.json").is_file()
    assert (tmp_path / "out" / "checkpoints" / "global_step_1").is_dir()  # save_freq
    state = json.loads((ck / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and state["bank_version"] == result.bank_version
    assert json.loads((ck / "skill_bank.json").read_text())["general_skills"][0]["skill_id"] == "gen_1"
    assert result.bank_path == str(ck / "skill_bank.json")
    assert "gen_1" in result.skill_ids
    rows = _rl_rows(tmp_path / "out" / "metrics.jsonl")
    assert [r["step"] for r in rows if "train/reward_mean" in r] == [1, 2]
    assert any("val/success_rate" in r for r in rows)
    assert list((tmp_path / "out" / "tensorboard").iterdir())
    assert [r.step for r in hook.reports] == [0, 1, 2]  # before, test_freq, final
    assert sum(t for _, t in result.success_by_type.values()) == 6
    assert len(result.reward_history) == 2


def test_all_zero_advantages_skip_the_update(tmp_path):
    result = _tiny_run(tmp_path, max_new_tokens=1, warmup_steps=0, total_training_steps=1)  # 1 token: never valid
    rows = _rl_rows(tmp_path / "out" / "metrics.jsonl")
    assert rows[0]["train/reward_mean"] == 0.0 and rows[0]["actor/update_skipped"] == 1.0
    assert result.reward_history == [0.0]


def test_resume_from_checkpoint_as_model_path(tmp_path):
    first = _tiny_run(tmp_path, total_training_steps=1)
    second = _tiny_run(tmp_path / "b", total_training_steps=1, model_path=first.checkpoint_dir, lr=1e-4)
    assert second.checkpoint_dir and second.checkpoint_dir != first.checkpoint_dir


def test_alfworld_smoke(tmp_path):
    pytest.importorskip("agent_system.environments.alfworld")
    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    try:
        resolve_data_dir("alfworld")
    except DataNotFoundError:
        pytest.skip("no ALFWorld data")
    from pathlib import Path

    bank = Path(__file__).resolve().parents[2] / "memory_data" / "alfworld" / "skills.json"
    env = EnvConfig(env_name="alfworld", train_split="valid_seen", val_split="valid_seen", max_steps=3,
                    rollout=RolloutConfig(n=2), use_skills_only_memory=bank.is_file(),
                    skills_only_memory=SkillsConfig(skills_json_path=str(bank) if bank.is_file() else None))
    cfg = LocalTrainConfig(env=env, train_batch_size=2, total_training_steps=1, warmup_steps=3, warmup_episodes=1,
                           val_batch_size=2, max_new_tokens=12, output_dir=str(tmp_path / "alf"), progress=False,
                           cpu_threads=1)
    result = train(cfg)
    ck = Path(result.checkpoint_dir)
    assert (ck / "model.safetensors").is_file() and (ck / "trainer_state.json").is_file()
    if bank.is_file():
        assert (ck / "skill_bank.json").is_file() and result.bank_version is not None
        assert result.skill_ids
    rows = _rl_rows(tmp_path / "alf" / "metrics.jsonl")
    assert rows[0]["train/num_episodes"] == 4.0 and 1 <= rows[0]["train/turns_mean"] <= 3
    assert set(result.success_by_type) <= set(__import__("agent_system.environments.alfworld", fromlist=["x"]).TASK_TYPES)


def test_cli_local_toy_json_and_verl_hint(tmp_path):
    from skillrl.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["train", "--local", "--env", "toy", "--steps", "1", "--output-dir", str(tmp_path / "cli"),
                              "--json", "train_batch_size=2", "env.rollout.n=2", "warmup_steps=2", "warmup_episodes=4",
                              "val_batch_size=3", "progress=false", "cpu_threads=1"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["steps"] == 1 and len(result["reward_history"]) == 1
    assert result["checkpoint_dir"] == str(tmp_path / "cli" / "checkpoints" / "global_step_1")
    assert result["config"]["env"]["rollout"]["n"] == 2 and result["config"]["train_batch_size"] == 2
    assert sum(total for _, total in result["success_by_type"].values()) == 3
    assert (tmp_path / "cli" / "checkpoints" / "global_step_1").is_dir()
    hint = runner.invoke(app, ["train"])
    assert hint.exit_code == 2 and "python -m skillrl.main" in hint.output
    bad = runner.invoke(app, ["train", "--local", "rollout_n=1"])
    assert bad.exit_code == 2 and "unknown config key 'rollout_n'" in bad.output


def test_env_workers_path(tmp_path):
    pytest.importorskip("agent_system.environments.manager")
    result = _tiny_run(tmp_path, total_training_steps=1, num_env_workers=1, val_batch_size=2)
    assert len(result.reward_history) == 1
    assert sum(t for _, t in result.success_by_type.values()) == 2


def test_the_flags_are_overrides_on_the_main_job_or_the_quick_start(tmp_path):
    from skillrl.cli.train import resolve_config

    job = resolve_config([])
    assert job.env.env_name == "household" and job.env.skills is not None
    assert job.env.skills.skills_json_path.endswith("memory_data/alfworld/skills.json")
    assert job.val_before_train and job.total_training_steps == 8 and job.cold_start == "search"
    assert resolve_config([], cold_start="expert").cold_start == "expert"
    # overrides win over the job's values; --no-skills switches the bank off
    cfg = resolve_config(["train_batch_size=2", "env.val_split=valid_unseen"], no_skills=True)
    assert cfg.train_batch_size == 2 and cfg.env.val_split == "valid_unseen" and cfg.env.skills is None
    # --env selects the env on the quick-start config: the env's own values, skills off
    toy = resolve_config([], env="toy")
    assert toy == resolve_config([], config_name="local_quickstart")
    assert toy.env.max_steps == 2 and toy.env.skills is None and toy.total_training_steps == 100
    web = resolve_config([], env="webshop", skills="memory_data/webshop/skills.json", steps=7,
                         output_dir=str(tmp_path / "a b,c"), model="/m")
    assert web.env.max_steps == 15 and web.env.skills.skills_json_path == "memory_data/webshop/skills.json"
    assert web.total_training_steps == 7 and web.output_dir == str(tmp_path / "a b,c") and web.model_path == "/m"
    # an explicit override after the flag wins
    assert resolve_config(["total_training_steps=9"], env="toy", steps=7).total_training_steps == 9


def test_filter_groups_updates_on_informative_episodes_only(tmp_path):
    """``filter_groups``: the update sees only episodes of groups whose rewards differ (share < 1
    in some step, fewer turns than the unfiltered run's same step); off, it sees every episode."""
    runs = {}
    for flag in (False, True):
        _tiny_run(tmp_path / str(flag), filter_groups=flag, train_batch_size=8, total_training_steps=2,
                  warmup_steps=150)
        runs[flag] = [r for r in _rl_rows(tmp_path / str(flag) / "out" / "metrics.jsonl") if "train/num_turns" in r]
    assert runs[False] and all(r["train/update_episode_share"] == 1.0 for r in runs[False])
    shares = [r["train/update_episode_share"] for r in runs[True]]
    assert shares and all(0.0 < s <= 1.0 for s in shares) and min(shares) < 1.0
    # the first step's rollouts are the same (seeded); the filtered update takes fewer of their turns
    off, on = runs[False][0], runs[True][0]
    assert off["step"] == on["step"]
    assert (on["train/num_turns"] < off["train/num_turns"]) == (on["train/update_episode_share"] < 1.0)
