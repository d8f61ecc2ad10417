"""``python -m skillrl.main``: typed settings of composed configs, backend dispatch, verl preflight,
and one-line errors for bad settings on the Hydra path."""

from __future__ import annotations

import os
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


def _verl_cfg(tmp_path, *extra):
    for name in ("train.parquet", "valid_seen.parquet"):
        (tmp_path / name).write_bytes(b"")
    return compose("skillrl_trainer", ["env=alfworld", f"data.train_files={tmp_path}/train.parquet",
                                       f"data.val_files={tmp_path}/valid_seen.parquet", "trainer.n_gpus_per_node=2",
                                       "env.train_split=valid_train", "env.val_split=valid_seen", *extra])


def _preflight(cfg, **kw):
    M.verl_preflight(cfg, **{"cuda_devices": 2, "have_module": lambda n: True, "plugin_check": lambda: None, **kw})


def test_verl_preflight(tmp_path):
    ok = _verl_cfg(tmp_path)
    _preflight(ok)
    with pytest.raises(M.PreflightError, match="no CUDA GPU"):
        _preflight(ok, cuda_devices=0)
    with pytest.raises(M.PreflightError, match="only 1 GPU"):
        _preflight(ok, cuda_devices=1)
    with pytest.raises(M.PreflightError, match="'vllm' is not installed"):
        _preflight(ok, have_module=lambda n: False)
    with pytest.raises(M.PreflightError, match="verl.plugins entry point is not installed"):
        _preflight(ok, plugin_check=lambda: M.plugin_problem(eps=[]))
    with pytest.raises(M.PreflightError, match="prepare.py --env alfworld"):
        _preflight(compose("skillrl_trainer", ["env=alfworld", "env.train_split=valid_train",
                                               "env.val_split=valid_seen"]))
    with pytest.raises(M.PreflightError, match="skills_json_path"):
        _preflight(_verl_cfg(tmp_path, "env.use_skills_only_memory=True",
                             "env.skills_only_memory.skills_json_path=/no/bank.json"))


def test_preflight_checks_env_data_where_workers_read_it(tmp_path):
    with pytest.raises(M.PreflightError, match=r"env 'alfworld' split 'train': .*train_games.tgz"):
        _preflight(_verl_cfg(tmp_path, "env.train_split=train"))
    with pytest.raises(M.PreflightError, match="alfworld data directory '/nowhere' does not exist"):
        _preflight(_verl_cfg(tmp_path, "env.data_dir=/nowhere"))
    # the folder the preflight found is written into the config the workers receive
    cfg = M.absolute_paths(_verl_cfg(tmp_path))
    assert os.path.isabs(cfg.env.data_dir) and os.path.isdir(os.path.join(cfg.env.data_dir, "json_2.1.1"))


def test_plugin_problems_name_the_fix():
    from importlib.metadata import EntryPoint

    missing = EntryPoint(name="skillrl", value="skillrl.trainer.no_such_plugin", group="verl.plugins")
    assert "cannot be imported: ModuleNotFoundError" in M.plugin_problem(eps=[missing], policy="auto")
    good = EntryPoint(name="skillrl", value="skillrl.trainer.plugin", group="verl.plugins")
    assert M.plugin_problem(eps=[good], policy="auto") is None
    assert "VERL_USE_EXTERNAL_PLUGINS='none'" in M.plugin_problem(eps=[good], policy="none")
    assert M.plugin_problem(eps=[good], policy="other,skillrl") is None
    assert M.plugin_problem() is None, "the project's own entry point is installed and loads"


def test_search_preflight_asks_the_retriever(tmp_path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Retriever(BaseHTTPRequestHandler):
        def do_POST(self):
            n = len(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["queries"])
            body = json.dumps({"result": [[{"document": {"id": "1", "contents": "a"}, "score": 1.0}]] * n}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Retriever)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("train.parquet", "bamboogle_test.parquet"):
            (tmp_path / name).write_bytes(b"")
        base = ["env=search", f"data.train_files={tmp_path}/train.parquet",
                f"data.val_files={tmp_path}/bamboogle_test.parquet", "trainer.n_gpus_per_node=2"]
        url = f"http://127.0.0.1:{server.server_port}/retrieve"
        _preflight(compose("skillrl_trainer", [*base, f"+env.env_kwargs.retriever_url={url}"]))
    finally:
        server.shutdown()
    with pytest.raises(M.PreflightError, match=r"search retriever at http://127.0.0.1:\d+/retrieve does not answer"):
        _preflight(compose("skillrl_trainer", [*base, f"+env.env_kwargs.retriever_url={url}"]))


def test_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TENSORBOARD_DIR", raising=False)
    cfg = M.absolute_paths(compose("grpo_alfworld", ["data.train_files=d/train.parquet", "trainer.resume_mode=resume_path",
                                                     "trainer.resume_from_path=ck/global_step_3"]))
    assert cfg.data.train_files == str(tmp_path / "d" / "train.parquet")
    assert cfg.trainer.default_local_dir == str(tmp_path / "checkpoints" / "skillrl_alfworld" / "grpo_skills")
    assert cfg.trainer.resume_from_path == str(tmp_path / "ck" / "global_step_3")
    bank = cfg.env.skills_only_memory.skills_json_path
    assert os.path.isabs(bank) and os.path.isfile(bank), "memory_data/ is found in the project folder"
    assert os.path.isfile(cfg.actor_rollout_ref.rollout.agent.agent_loop_config_path)
    assert cfg.ray_kwargs.ray_init.runtime_env.env_vars.TENSORBOARD_DIR == str(
        tmp_path / "tensorboard_log" / "skillrl_alfworld" / "grpo_skills")


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
