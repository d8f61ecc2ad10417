"""examples/data_preprocess/prepare.py writes rows that verl's RLHFDataset reads and our agent
loop maps back to the game (seed, split, env)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from skillrl.trainer.verl_agent_loop import row_task

ROOT = Path(__file__).resolve().parents[2]


def _prepare():
    spec = importlib.util.spec_from_file_location("prepare", ROOT / "examples" / "data_preprocess" / "prepare.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_prepare_writes_train_and_val(tmp_path, capsys):
    prep = _prepare()
    assert prep.main(["--env", "alfworld", "--out", str(tmp_path), "--train_size", "5", "--val_size", "3",
                      "--seed", "10"]) == 0
    train = pd.read_parquet(tmp_path / "train.parquet")
    val = pd.read_parquet(tmp_path / "valid_unseen.parquet")
    assert len(train) == 5 and len(val) == 3
    assert list(train["agent_name"].unique()) == ["skillrl_env_agent"]
    info = train["extra_info"].iloc[2]
    assert (info["seed"], info["split"], info["env_name"], info["index"]) == (12, "train", "alfworld", 2)
    assert val["extra_info"].iloc[0]["split"] == "valid_unseen"
    assert "wrote 5 train rows" in capsys.readouterr().out


def test_rows_survive_verl_dataset(tmp_path):
    pytest.importorskip("verl")
    from omegaconf import OmegaConf

    from skillrl.trainer import _verl
    from verl_helpers import toy_tokenizer

    prep = _prepare()
    prep.main(["--env", "toy", "--out", str(tmp_path), "--train_size", "4", "--val_size", "2"])
    cfg = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 64, "filter_overlong_prompts": True,
                            "cache_dir": str(tmp_path / "cache"), "filter_overlong_prompts_workers": 1})
    ds = _verl.RLHFDataset(str(tmp_path / "train.parquet"), toy_tokenizer(), cfg)
    assert len(ds) == 4
    item = ds[3]
    assert item["agent_name"] == "skillrl_env_agent"
    task = row_task(item, "unused")
    assert (task.env_name, task.seed, task.split, task.task) == ("toy", 3, "train", None)


@pytest.mark.parametrize("rows, overrides, steps", [
    (40, [], 10),                                              # one epoch: rows // train_batch_size
    (40, ["trainer.total_epochs=3"], 30),
    (42, ["trainer.total_epochs=3", "trainer.total_training_steps=12"], 12),
])
def test_verl_counts_the_steps_the_plan_says(tmp_path, monkeypatch, rows, overrides, steps):
    """verl's own ``PPOTrainer._init_dataloader`` on a prepared parquet file (CPU) gives the step
    count :func:`skillrl.trainer.launch.launch_plan` prints in the dry run."""
    pytest.importorskip("verl")
    from skillrl.trainer import verl_trainer as vt
    from skillrl.trainer.launch import launch_plan
    from verl_helpers import compose, toy_tokenizer

    prep = _prepare()
    prep.main(["--env", "toy", "--out", str(tmp_path), "--train_size", str(rows), "--val_size", "2"])
    cfg = compose("skillrl_trainer", ["env=toy", "data.train_batch_size=4", "actor_rollout_ref.actor.ppo_mini_batch_size=2",
                                      f"data.train_files={tmp_path}/train.parquet", f"data.val_files={tmp_path}/test.parquet",
                                      "data.dataloader_num_workers=0",
                                      "data.max_prompt_length=64", *overrides])
    plan = launch_plan(cfg)
    assert plan.steps.train_rows == rows and plan.rows_source.endswith("train.parquet")
    trainer = vt.SkillRLTrainer(cfg)
    trainer.tokenizer, trainer.processor = toy_tokenizer(), None
    trainer._init_dataloader()
    assert trainer.total_training_steps == plan.steps.total_steps == steps
    assert trainer.steps_per_epoch == plan.steps.steps_per_epoch
