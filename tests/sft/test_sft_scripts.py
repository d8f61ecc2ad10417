"""examples/sft/run_<env>_sft.sh with DRY_RUN=1: the export command and verl's own resolved SFT
config (composed by ``verl.trainer.sft_trainer`` itself, so a wrong key fails), nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {env: ROOT / "examples" / "sft" / f"run_{env}_sft.sh" for env in ("alfworld", "webshop", "search")}
TEACHER = {"alfworld": "expert", "webshop": "oracle", "search": "oracle"}


def _dry_run(env_name, tmp_path, *args, **env_vars):
    env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable, "MODEL_PATH": "/models/tiny", "N_GPUS": "4",
           "SFT_DATA": str(tmp_path / "data"), "SKILLRL": "skillrl"}
    env.update(env_vars)
    return subprocess.run(["bash", str(SCRIPTS[env_name]), *args], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=600)


@pytest.mark.parametrize("env_name", ["alfworld", pytest.param("webshop", marks=pytest.mark.slow),
                                      pytest.param("search", marks=pytest.mark.slow)])
def test_dry_run_prints_the_export_and_verls_sft_config(env_name, tmp_path):
    proc = _dry_run(env_name, tmp_path, "trainer.total_epochs=3", GAMES="20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    export_line = next(ln for ln in proc.stdout.splitlines() if "sft export" in ln)
    assert f"--env {env_name} --teacher {TEACHER[env_name]} --games 20" in export_line
    assert f"--format verl --output {tmp_path}/data" in export_line
    cfg = OmegaConf.create(proc.stdout)
    assert cfg.data.train_files == f"{tmp_path}/data/train.parquet"
    assert cfg.data.val_files == f"{tmp_path}/data/val.parquet"
    assert cfg.data.messages_key == "messages"
    assert cfg.model.path == "/models/tiny" and cfg.trainer.n_gpus_per_node == 4
    assert cfg.trainer.total_epochs == 3  # extra arguments win
    assert not (tmp_path / "data").exists(), "a dry run writes no data"


@pytest.mark.slow
def test_a_bad_override_fails(tmp_path):
    proc = _dry_run("alfworld", tmp_path, "data.no_such_key=1", "--dry-run", DRY_RUN="0")
    assert proc.returncode != 0
    assert "no_such_key" in proc.stderr
