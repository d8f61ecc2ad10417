"""``python -m skillrl.main``: typed settings of composed configs, backend dispatch, verl preflight,
and one-line errors for bad settings on the Hydra path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from skillrl import main as M
from skillrl.trainer.config import EnvConfig, compose
from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.utils.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_local_configs_are_local_train_configs():
    cfg = M.typed_config(compose("local_quickstart"))
    assert isinstance(cfg, LocalTrainConfig)
    assert cfg.env.env_name == "toy" and cfg.env.max_steps == 2 and cfg.env.rollout.n == 8
    assert cfg.env.factory_kwargs(cfg.env.train_split) == {"split": "train"}
    assert cfg.env.factory_kwargs(cfg.env.val_split) == {"split": "test"}
    assert cfg.train_batch_size == 16 and cfg.total_training_steps == 100
    assert cfg.loggers == ("console", "jsonl") and cfg.output_dir == "outputs/local/toy"
    assert cfg.env.skills is None


def test_env_skill_and_local_overrides_reach_the_typed_config(tmp_path):
    bank = tmp_path / "bank.json"
    cfg = M.typed_config(compose("local_quickstart", [
        "env=alfworld", f"env.data_dir={tmp_path}", "env.max_steps=9", "env.rollout.n=4", "env.seed=3",
        "env.use_skills_only_memory=True", f"env.skills_only_memory.skills_json_path={bank}",
        "env.skills_only_memory.top_k=2", "lr=0.5", "model_path=/m", "loggers=[console]",
    ]))
    assert cfg.env.env_name == "alfworld" and cfg.env.max_steps == 9 and cfg.env.rollout.n == 4
    assert cfg.env.seed == 3 and cfg.env.episode.max_steps == 9
    assert cfg.env.factory_kwargs(cfg.env.train_split) == {"data_dir": str(tmp_path), "split": "train"}
    assert cfg.env.factory_kwargs(cfg.env.val_split) == {"data_dir": str(tmp_path), "split": "valid_unseen"}
    assert cfg.env.skills.skills_json_path == str(bank) and cfg.env.skills.top_k == 2
    assert cfg.lr == 0.5 and cfg.model_path == "/m" and cfg.loggers == ("console",)


def test_verl_configs_give_the_env_section():
    env = M.typed_config(compose("skillrl_trainer", ["env=webshop", "env.max_steps=3"]))
    assert isinstance(env, EnvConfig) and env.env_name == "webshop" and env.max_steps == 3


def test_rule_violations_name_the_full_key():
    with pytest.raises(ConfigError, match=r"env\.skills_only_memory\.top_k: -3 \(allowed: an integer >= 0\)"):
        M.typed_config(compose("local_quickstart", ["env.skills_only_memory.top_k=-3"]))
    with pytest.raises(ConfigError, match=r"env\.skills_only_memory\.update_threshold: 1\.5"):
        M.typed_config(compose("skillrl_trainer", ["env.skills_only_memory.update_threshold=1.5"]))


def test_local_backend_calls_the_local_trainer(monkeypatch):
    import skillrl.trainer.local.trainer as local_trainer

    seen = []
    monkeypatch.setattr(local_trainer, "train", lambda config: seen.append(config) or "done")
    assert M.run(compose("local_quickstart", ["total_training_steps=1"])) == "done"
    assert seen[0].total_training_steps == 1


def test_local_backend_checks_paths_before_training(monkeypatch, tmp_path):
    import skillrl.trainer.local.trainer as local_trainer

    monkeypatch.setattr(local_trainer, "train", lambda config: pytest.fail("must not train"))
    (tmp_path / "model").mkdir()
    with pytest.raises(ConfigError, match="model_path"):
        M.run(compose("local_quickstart", [f"model_path={tmp_path / 'model'}"]))


def test_verl_preflight(tmp_path):
    for name in ("train.parquet", "valid_unseen.parquet"):
        (tmp_path / name).write_bytes(b"")
    ok = ["env=alfworld", f"data.train_files={tmp_path}/train.parquet",
          f"data.val_files={tmp_path}/valid_unseen.parquet", "trainer.n_gpus_per_node=2"]
    M.verl_preflight(compose("skillrl_trainer", ok), cuda_devices=2, have_module=lambda n: True)
    with pytest.raises(M.PreflightError, match="no CUDA GPU"):
        M.verl_preflight(compose("skillrl_trainer", ok), cuda_devices=0, have_module=lambda n: True)
    with pytest.raises(M.PreflightError, match="only 1 GPU"):
        M.verl_preflight(compose("skillrl_trainer", ok), cuda_devices=1, have_module=lambda n: True)
    with pytest.raises(M.PreflightError, match="'vllm' is not installed"):
        M.verl_preflight(compose("skillrl_trainer", ok), cuda_devices=2, have_module=lambda n: False)
    with pytest.raises(M.PreflightError, match="prepare.py --env alfworld"):
        M.verl_preflight(compose("skillrl_trainer", ["env=alfworld"]), cuda_devices=8, have_module=lambda n: True)
    with pytest.raises(M.PreflightError, match="skills_json_path"):
        M.verl_preflight(compose("skillrl_trainer", [*ok, "env.use_skills_only_memory=True",
                                                     "env.skills_only_memory.skills_json_path=/no/bank.json"]),
                         cuda_devices=2, have_module=lambda n: True)


def _run(*args):
    return subprocess.run([sys.executable, "-m", "skillrl.main", *args], capture_output=True, text=True,
                          cwd=str(ROOT), timeout=300)


def test_cfg_job_prints_the_config():
    proc = _run("--cfg", "job", "env.env_name=alfworld")
    assert proc.returncode == 0, proc.stderr
    assert "env_name: alfworld" in proc.stdout and "trainer_mode: skillrl_sync" in proc.stdout


def test_verl_backend_fails_early_without_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    proc = _run("env=toy")
    assert proc.returncode == 2
    assert "no CUDA GPU is visible" in proc.stderr and "ray init" not in proc.stdout.lower()


def test_the_old_backend_switch_points_to_the_local_configs():
    proc = _run("trainer.backend=local")
    assert proc.returncode == 2 and "--config-name local_quickstart" in proc.stderr
