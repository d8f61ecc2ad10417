"""The local cold start: SFT on teacher turns (played now, or read from an export folder) before
GRPO, with loss and held-out exact-action accuracy logged and checkpointed; constrained decoding
makes every action admissible; a cold start that does not fit is one ConfigError."""

from __future__ import annotations

import json

import pytest

from skillrl.sft.pipeline import ExportRequest, export_sft
from skillrl.skills.config import SkillsConfig
from skillrl.trainer.config import PROJECT_ROOT, EnvConfig, RolloutConfig
from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.trainer.local.trainer import train
from skillrl.utils.config import ConfigError

BANK = f"{PROJECT_ROOT}/memory_data/alfworld/skills.json"


def _household(skills: bool = True) -> EnvConfig:
    sk = SkillsConfig(skills_json_path=BANK, top_k=2, max_skill_tokens=120) if skills else SkillsConfig()
    return EnvConfig(env_name="household", max_steps=10, rollout=RolloutConfig(n=2), train_split="train",
                     val_split="valid_unseen", use_skills_only_memory=skills, skills_only_memory=sk)


def _config(tmp_path, **kw) -> LocalTrainConfig:
    base = dict(env=_household(), cold_start="search", warmup_episodes=8, warmup_val_games=2, warmup_steps=12,
                warmup_batch_size=8, warmup_eval_every=6, train_batch_size=2, total_training_steps=1, test_freq=0,
                val_batch_size=4, val_before_train=False, max_new_tokens=16, output_dir=str(tmp_path / "run"),
                progress=False, cpu_threads=1, loggers=("jsonl",))
    base.update(kw)
    return LocalTrainConfig(**base)


def test_teacher_cold_start_logs_loss_and_heldout_accuracy_and_checkpoints(tmp_path):
    result = train(_config(tmp_path, constrained_actions=True))
    cs = result.cold_start
    assert cs["kind"] == "search" and cs["steps"] == 12 and cs["examples"] > 0 and cs["held_out_examples"] > 0
    assert cs["loss_last"] < cs["loss_first"]
    assert 0.0 <= cs["heldout_action_accuracy"] <= 1.0
    assert cs["heldout_valid_rate"] == 1.0  # constrained: every greedy answer is an admissible action
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    sft_rows = [r for r in rows if "sft/step" in r]
    assert [r["sft/step"] for r in sft_rows if "sft/heldout_action_accuracy" in r] == [6, 12]
    assert all(r["step"] == 0 and r["sft/loss"] > 0 for r in sft_rows)
    # the cold start's checkpoint (step 0) and the data beside the run
    ck0 = tmp_path / "run" / "checkpoints" / "global_step_0"
    state = json.loads((ck0 / "trainer_state.json").read_text())
    assert state["cold_start"]["done"] and state["cold_start"]["steps"] == 12
    assert state["metrics"]["heldout_action_accuracy"] == cs["heldout_action_accuracy"]
    assert (ck0 / "skill_bank.json").is_file()
    data = [json.loads(line) for line in (tmp_path / "run" / "sft_data" / "examples.jsonl").read_text().splitlines()]
    assert result.data_path == str(tmp_path / "run" / "sft_data") and len(data) >= cs["examples"]
    assert all("## Skills from past experience" in d["prompt"] for d in data)
    # constrained rollouts: every action of training and validation was admissible
    rl = [r for r in rows if "train/valid_action_rate" in r]
    assert rl and all(r["train/valid_action_rate"] == 1.0 for r in rl)
    assert result.final_metrics["val/valid_action_rate"] == 1.0


def test_cold_start_from_an_export_folder(tmp_path):
    folder = tmp_path / "sft"
    export_sft(ExportRequest(env="household", teacher="expert", games=6, output=str(folder), fmt="verl", bank=BANK,
                             retrieval={"top_k": 2, "max_skill_tokens": 120}, max_steps=10, val_games=2,
                             history_length=2))
    result = train(_config(tmp_path, cold_start=str(folder), warmup_steps=6, warmup_eval_every=0))
    cs = result.cold_start
    assert cs["kind"] == str(folder) and cs["steps"] == 6 and cs["held_out_examples"] > 0
    assert "heldout_action_accuracy" in cs
    assert result.data_path is None  # the data already lives in the folder


def test_cold_starts_that_do_not_fit_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cold_start"):
        train(_config(tmp_path, cold_start="oracle"))  # household has no oracle
    with pytest.raises(ConfigError, match="not an SFT export folder"):
        train(_config(tmp_path, cold_start=str(tmp_path)))
    toy = tmp_path / "toy_export"
    toy.mkdir()
    (toy / "examples.jsonl").write_text("")
    (toy / "export.json").write_text(json.dumps({"env": "webshop"}))
    with pytest.raises(ConfigError, match="this folder holds webshop"):
        train(_config(tmp_path, cold_start=str(toy)))
