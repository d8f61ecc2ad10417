"""Every Hydra config in configs/ composes (with each env), resolves and builds its typed settings;
the verl ones pass verl's own ``validate_config``; the recipes keep the launch scripts' sizes; each
launch script's dry run composes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from skillrl.main import is_local, typed_config
from skillrl.trainer.config import ComposeError, EnvConfig, compose
from skillrl.trainer.local.config import LocalTrainConfig, toy_env

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"
PRIMARY = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
ENVS = sorted(p.stem for p in (CONFIG_DIR / "env").glob("*.yaml") if not p.stem.startswith("_"))
SCRIPTS = sorted((ROOT / "examples" / "grpo_trainer").glob("run_*_skills.sh"))
VERL = [name for name in PRIMARY if not is_local(compose(name))]
#: the recipes' sizes: (train batch, group, max_steps, max_prompt_length, val_size, games per mini-batch)
SCRIPT_SIZES = {"alfworld": (16, 8, 50, 2048, 128, 2), "webshop": (16, 8, 15, 4096, 128, 2),
                "search": (32, 5, 4, 4096, 125, 4)}


def test_the_expected_configs_exist():
    assert {"skillrl_trainer", "local_quickstart", "main_job", "grpo_alfworld", "grpo_webshop",
            "grpo_search"} <= set(PRIMARY)
    assert {"alfworld", "webshop", "search", "toy"} <= set(ENVS)
    assert {s.name for s in SCRIPTS} == {f"run_{e}_skills.sh" for e in ("alfworld", "webshop", "search")}
    assert set(VERL) == {"skillrl_trainer", "grpo_alfworld", "grpo_webshop", "grpo_search"}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", PRIMARY)
def test_config_composes_resolves_and_builds(name, env):
    cfg = compose(name, [f"env={env}"])
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert plain["env"]["env_name"] == env
    typed = typed_config(cfg)
    settings = typed.env if isinstance(typed, LocalTrainConfig) else typed
    assert isinstance(settings, EnvConfig) and settings.env_name == env
    # the seed-compatible flags exist under their original names
    for key in ("max_steps", "history_length", "seed", "data_dir", "rollout", "use_skills_only_memory",
                "skills_only_memory"):
        assert key in plain["env"]
    skills = settings.skills_only_memory
    assert skills.retrieval_mode == "template" and skills.embedding_model_path == "Qwen/Qwen3-Embedding-0.6B"
    assert (skills.update_threshold, skills.max_new_skills) == (0.4, 3)
    if name != "main_job":  # the main job sizes the skill block for the tiny policy
        assert (skills.top_k, skills.task_specific_top_k, skills.enable_dynamic_update) == (6, None, False)


def test_skills_are_off_unless_a_config_switches_them_on():
    for name in ("skillrl_trainer", "local_quickstart"):
        assert OmegaConf.to_container(compose(name))["env"]["use_skills_only_memory"] is False
    for name in ("main_job", "grpo_alfworld", "grpo_webshop", "grpo_search"):
        assert compose(name).env.use_skills_only_memory is True


def test_the_quick_start_is_the_local_defaults():
    """configs/env/toy.yaml and LocalTrainConfig's default env are the same settings."""
    typed = typed_config(compose("local_quickstart"))
    assert typed == dataclasses.replace(LocalTrainConfig(), output_dir="outputs/local/toy")
    assert typed.env == toy_env()


def test_the_main_job_is_the_household_cycle_with_the_project_bank():
    job = typed_config(compose("main_job"))
    assert job.env.env_name == "household" and (job.env.train_split, job.env.val_split) == ("train", "valid_unseen")
    assert Path(job.env.skills_only_memory.skills_json_path) == ROOT / "memory_data" / "alfworld" / "skills.json"
    assert Path(job.env.skills_only_memory.skills_json_path).is_file()
    assert job.cold_start == "search" and job.constrained_actions and job.warmup_steps > 0
    assert job.val_before_train and job.total_training_steps > 0 and job.output_dir == "outputs/local/main_job"
    assert job.model_path is None  # the tiny built-in policy


@pytest.mark.parametrize("override, key", [
    ("env.max_steps=abc", "env.max_steps"),
    ("env.rollout.n=1.5", "env.rollout.n"),
    ("env.skills_only_memory.top_k=x", "env.skills_only_memory.top_k"),
    ("env.nope=1", "env.nope"),
])
@pytest.mark.parametrize("name", ["skillrl_trainer", "local_quickstart"])
def test_hydra_type_checks_the_env_section(name, override, key):
    with pytest.raises(ComposeError, match=key.replace(".", r"\.")):
        compose(name, [override])


def test_env_kwargs_take_new_keys_without_plus():
    cfg = typed_config(compose("local_quickstart", ["env=alfworld", "env.env_kwargs.require_think=false"]))
    assert cfg.env.factory_kwargs("train") == {"require_think": False, "split": "train"}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", VERL)
def test_verl_config_passes_verl_validation(name, env):
    pytest.importorskip("verl")
    from skillrl.trainer import _verl

    cfg = compose(name, [f"env={env}", "env.rollout.n=4"])
    assert cfg.trainer.use_v1 and cfg.trainer.v1.trainer_mode == "skillrl_sync"
    assert cfg.actor_rollout_ref.rollout.n == 4, "the GRPO group size follows env.rollout.n"
    assert cfg.actor_rollout_ref.rollout.agent.default_agent_loop == "skillrl_env_agent"
    assert cfg.algorithm.adv_estimator == "grpo"
    assert cfg.data.train_files.endswith(f"skillrl/{env}/train.parquet")
    _verl.validate_trainer_config(cfg)


def test_verl_validation_rejects_a_bad_batch():
    pytest.importorskip("verl")
    from skillrl.trainer import _verl

    cfg = compose("skillrl_trainer", ["data.train_batch_size=4", "actor_rollout_ref.actor.ppo_mini_batch_size=8"])
    with pytest.raises((AssertionError, ValueError)):
        _verl.validate_trainer_config(cfg)


def test_cluster_defaults_track_and_checkpoint():
    for name in VERL:
        trainer = compose(name).trainer
        assert {"console", "tensorboard"} <= set(trainer.logger)
        assert trainer.save_freq > 0 and trainer.max_actor_ckpt_to_keep >= 1


@pytest.mark.parametrize("env", sorted(SCRIPT_SIZES))
def test_recipes_sizes_and_their_arithmetic(env):
    from skillrl.trainer.launch import launch_plan

    composed = compose(f"grpo_{env}")
    cfg = OmegaConf.to_container(composed, resolve=True)
    batch, group, max_steps, prompt, val_size, mini = SCRIPT_SIZES[env]
    assert cfg["env"]["env_name"] == env
    assert (cfg["data"]["train_batch_size"], cfg["env"]["rollout"]["n"], cfg["env"]["max_steps"]) == (batch, group, max_steps)
    assert cfg["data"]["max_prompt_length"] == prompt and cfg["data"]["max_response_length"] == 512
    assert cfg["actor_rollout_ref"]["actor"]["ppo_mini_batch_size"] == mini
    assert cfg["actor_rollout_ref"]["actor"]["optim"]["lr"] == 1e-6
    assert cfg["prepare"] == {"train_size": 150 * batch, "val_size": val_size}
    assert cfg["env"]["skills_only_memory"]["skills_json_path"] == f"memory_data/{env}/skills.json"
    assert (ROOT / cfg["env"]["skills_only_memory"]["skills_json_path"]).is_file()
    # the recipe's run: ~150 steps (SkillRL/GiGPO), 8 optimizer updates each, periodic checkpoints
    plan = launch_plan(composed)
    assert plan.steps.total_steps == 150 and plan.updates.updates_per_step == 8
    assert plan.checkpoints.saves(150) == [50, 100, 150]
    assert cfg["trainer"]["v1"]["sampler"]["sync_refill_failed_groups"] is True


def test_skill_flags_override():
    cfg = compose("skillrl_trainer", [
        "env=webshop", "env.use_skills_only_memory=True", "env.skills_only_memory.skills_json_path=/b.json",
        "env.skills_only_memory.retrieval_mode=embedding", "env.skills_only_memory.task_specific_top_k=2",
    ])
    assert cfg.env.use_skills_only_memory is True
    assert cfg.env.skills_only_memory.skills_json_path == "/b.json"
    assert cfg.env.skills_only_memory.task_specific_top_k == 2
    assert typed_config(cfg).skills.retrieval_mode == "embedding"


def _dry_run(script, tmp_path, *args, **env_vars):
    env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable, "MODEL_PATH": "/models/tiny", "N_GPUS": "4",
           "DATA_ROOT": str(tmp_path)}
    env.pop("WANDB_API_KEY", None)
    env.pop("TENSORBOARD_DIR", None)
    env.update(env_vars)
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=300)


def _plan(stdout: str) -> dict[str, str]:
    lines = [line[2:] for line in stdout.splitlines() if line.startswith("# ")]
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_launch_script_dry_run_is_the_recipe_plus_the_machine(script, tmp_path):
    pytest.importorskip("verl")
    from skillrl.main import absolute_paths
    from skillrl.trainer import _verl

    env_name = script.name.split("_")[1]
    proc = _dry_run(script, tmp_path, "trainer.save_freq=25")
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = OmegaConf.create(proc.stdout)
    assert cfg.env.env_name == env_name
    assert cfg.actor_rollout_ref.model.path == "/models/tiny"
    assert cfg.trainer.n_gpus_per_node == 4 and cfg.trainer.save_freq == 25
    assert cfg.actor_rollout_ref.rollout.name == "vllm"
    assert cfg.env.use_skills_only_memory is True
    assert list(cfg.trainer.logger) == ["console", "tensorboard"]
    assert cfg.data.train_files == f"{tmp_path}/train.parquet"
    assert cfg.data.val_files == f"{tmp_path}/{cfg.env.val_split}.parquet"
    assert os.path.isabs(cfg.trainer.default_local_dir) and os.path.isfile(cfg.env.skills_only_memory.skills_json_path)
    assert not list(tmp_path.iterdir()), "a dry run writes no data"
    # the printed config passes verl's own check (the dry run ran it too)
    _verl.validate_trainer_config(cfg, quiet=True)
    plan = _plan(proc.stdout)
    assert plan["verl validate_config"] == "passed"
    batch = SCRIPT_SIZES[env_name][0]
    assert plan["steps"].startswith(f"150 ({150 * batch} rows from prepare.train_size / {batch} games per step")
    assert plan["optimizer updates per step"].startswith("8 (8 mini-batches x 1 epoch(s)) whatever the episode length")
    assert plan["prompt budget"].startswith(f"{SCRIPT_SIZES[env_name][3]} tokens per turn")
    assert plan["checkpoints"].startswith("every 25 steps (6 saves: 25, 50, 75, 100, ...)")
    # everything but the machine settings comes from the recipe
    recipe = OmegaConf.to_container(absolute_paths(compose(f"grpo_{env_name}"), cwd=str(ROOT)), resolve=True)
    machine = {"data", "trainer", "actor_rollout_ref", "ray_kwargs"}  # ray_kwargs: TensorBoard under the experiment name
    printed = OmegaConf.to_container(cfg)
    assert {k: v for k, v in printed.items() if k not in machine} == {k: v for k, v in recipe.items() if k not in machine}
    assert printed["data"]["train_batch_size"] == recipe["data"]["train_batch_size"]
    assert printed["ray_kwargs"]["ray_init"]["runtime_env"]["env_vars"]["TENSORBOARD_DIR"] == str(
        ROOT / "tensorboard_log" / f"skillrl_{env_name}" / "grpo_skills_tiny")


def test_dry_run_flag_wandb_and_real_data(tmp_path):
    """--dry-run; WANDB_API_KEY adds wandb; with data present the steps come from its row count."""
    pytest.importorskip("verl")
    import importlib.util

    spec = importlib.util.spec_from_file_location("prepare", ROOT / "examples" / "data_preprocess" / "prepare.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    prepare.main(["--env", "alfworld", "--out", str(tmp_path), "--train_size", "800", "--val_size", "4"])
    script = ROOT / "examples" / "grpo_trainer" / "run_alfworld_skills.sh"
    proc = _dry_run(script, tmp_path, "--dry-run", "env.max_steps=7", DRY_RUN="0", WANDB_API_KEY="x")
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = OmegaConf.create(proc.stdout)
    assert cfg.env.max_steps == 7 and list(cfg.trainer.logger) == ["console", "tensorboard", "wandb"]
    assert _plan(proc.stdout)["steps"].startswith(f"50 (800 rows from {tmp_path}/train.parquet")
    # more steps than the data gives: one line, before any GPU is touched
    proc = _dry_run(script, tmp_path, "trainer.total_training_steps=60")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: trainer.total_training_steps=60 but 800 rows / 16 per step")


def test_launch_script_rejects_a_bad_override_in_one_line(tmp_path):
    script = ROOT / "examples" / "grpo_trainer" / "run_webshop_skills.sh"
    proc = _dry_run(script, tmp_path, "env.max_steps=abc")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: invalid value for env.max_steps: 'abc' (allowed: an integer)"


def test_gpu_smoke_script_cpu_half(tmp_path):
    """examples/smoke/run_gpu_smoke.sh --cpu: the smoke run's config composes, passes verl's
    validate_config, plans 2 steps of 2 updates, and its data is written."""
    pytest.importorskip("verl")
    env = {**os.environ, "PYTHON": sys.executable, "WORK": str(tmp_path)}
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run(["bash", str(ROOT / "examples" / "smoke" / "run_gpu_smoke.sh"), "--cpu"], capture_output=True,
                          text=True, env=env, cwd=str(ROOT), timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("PASS (CPU half")
    assert (tmp_path / "data" / "train.parquet").is_file()
    cfg = OmegaConf.create((tmp_path / "dry_run.yaml").read_text())
    assert cfg.trainer.save_freq == 1 and cfg.trainer.test_freq == 1 and cfg.env.rollout.n == 2
