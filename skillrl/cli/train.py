"""``skillrl train``: the local single-process backend (``--local``).

The verl/Hydra scale path is ``python -m skillrl.main`` (or the launch scripts in
``examples/``); ``skillrl train`` without ``--local`` says so.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from skillrl.cli.common import fail

#: Settings of the main job (``skillrl train --local`` with no ``--env``): a few GRPO steps of the
#: tiny policy on ALFWorld with the project's skill bank, small enough for a CPU in minutes.
#: Every key can still be overridden with ``key=value``.
MAIN_JOB = {
    "env_name": "alfworld",
    "env_kwargs": {"split": "valid_train"},
    "val_env_kwargs": {"split": "valid_seen"},
    "max_steps": 8,
    "train_batch_size": 4,
    "rollout_n": 2,
    "total_training_steps": 3,
    "val_before_train": True,
    "test_freq": 3,
    "val_batch_size": 6,
    "warmup_steps": 60,
    "warmup_episodes": 12,
    "max_skill_tokens": 600,
    "num_env_workers": 2,
    "output_dir": "outputs/local/alfworld",
}

#: per-env defaults applied when ``--env`` names a real environment
REAL_ENV_DEFAULTS = {"max_steps": 50}


def default_bank(env_name: str) -> str | None:
    """The project's bank for ``env_name`` (``memory_data/<env>/skills.json``), if it exists."""
    from pathlib import Path

    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        path = base / "memory_data" / env_name / "skills.json"
        if path.is_file():
            return str(path)
    return None

VERL_HINT = (
    "the verl (GPU cluster) trainer is launched with Hydra: `python -m skillrl.main <overrides>` "
    "or examples/grpo_trainer/run_*_skills.sh; use `skillrl train --local` for the single-process backend"
)


def parse_value(text: str) -> Any:
    """``key=value`` value: JSON when it parses (numbers, bools, lists, objects, null), Python-style
    ``True``/``False``/``None`` too, else the raw string."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["lr=1e-4", "env_kwargs.split=valid_seen"]`` -> dict; anything else raises ``ValueError``."""
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.strip().lstrip("+")
        if not sep or not key or key.startswith("-"):
            raise ValueError(f"unexpected argument {arg!r}: overrides look like key=value")
        out[key] = parse_value(value)
    return out


def resolve_config(args: list[str], *, env: str | None = None, steps: int | None = None,
                   output_dir: str | None = None, skills: str | None = None, no_skills: bool = False,
                   model: str | None = None) -> Any:
    """The ``LocalTrainConfig`` that ``skillrl train --local`` runs (pure: builds, never trains).

    Without ``env`` (and no ``env_name=`` override) it is the main job (:data:`MAIN_JOB`) with the
    project's ALFWorld bank unless ``no_skills``; ``key=value`` arguments win over every default.

    Raises:
        ValueError: malformed argument, unknown key, or an invalid value.
    """
    from skillrl.trainer.local.config import LocalTrainConfig

    overrides = parse_overrides(args)
    cli_values = {"env_name": env, "total_training_steps": steps, "output_dir": output_dir, "model_path": model}
    overrides.update({k: v for k, v in cli_values.items() if v is not None})
    if "env_name" not in overrides:
        overrides = {**MAIN_JOB, **overrides}
        if skills is None and not no_skills:
            skills = default_bank("alfworld")
    elif overrides["env_name"] != "toy":
        overrides = {**REAL_ENV_DEFAULTS, **overrides}  # the toy default (2 turns) is far too short
    if skills is not None and not no_skills:
        overrides.update(use_skills=True, skills_json_path=skills)
    return LocalTrainConfig().with_overrides(overrides)


def train(
    ctx: typer.Context,
    local: bool = typer.Option(False, "--local", help="Run the local single-process backend (CPU or one GPU)."),
    env: str = typer.Option(None, "--env", help="Environment: alfworld, webshop, search, toy. Without it: the "
                            "main job (a few steps on ALFWorld with the project's skill bank)."),
    steps: int = typer.Option(None, "--steps", help="Training steps (total_training_steps)."),
    output_dir: str = typer.Option(None, "--output-dir", help="Checkpoints, metrics.jsonl, TensorBoard logs."),
    skills: str = typer.Option(None, "--skills", help="SkillBank JSON to inject (default for the main job: "
                               "memory_data/alfworld/skills.json)."),
    no_skills: bool = typer.Option(False, "--no-skills", help="Train without a skill bank."),
    model: str = typer.Option(None, "--model", help="HF checkpoint path (default: the tiny built-in policy)."),
) -> None:
    """Train an agent with GRPO. Extra ``key=value`` arguments override LocalTrainConfig fields
    (e.g. ``train_batch_size=8 env_kwargs.split=valid_seen``)."""
    if not local:
        raise fail(VERL_HINT)
    try:
        config = resolve_config(list(ctx.args), env=env, steps=steps, output_dir=output_dir, skills=skills,
                                no_skills=no_skills, model=model)
    except (TypeError, ValueError) as exc:
        raise fail(str(exc)) from None

    from agent_system.environments.base import get_env_spec

    try:
        get_env_spec(config.env_name)
    except Exception as exc:
        raise fail(str(exc)) from None

    from skillrl.trainer.local.trainer import train as run_training
    from skillrl.utils.paths import DataNotFoundError

    try:
        result = run_training(config)
    except (DataNotFoundError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    _print_result(result)


def _print_result(result: Any) -> None:
    typer.echo(f"trained {result.steps} steps in {result.seconds:.1f}s; "
               f"train reward {(result.reward_history or [0.0])[0]:.3f} -> {(result.reward_history or [0.0])[-1]:.3f}")
    typer.echo("validation success by task type:")
    for task_type, (won, total) in sorted(result.success_by_type.items()):
        typer.echo(f"  {task_type:<24} {won}/{total} ({won / total if total else 0.0:.2f})")
    overall = result.final_metrics.get("val/success_rate")
    if overall is not None:
        typer.echo(f"  {'overall':<24} {overall:.3f}")
    typer.echo(f"skill ids injected: {', '.join(result.skill_ids) if result.skill_ids else '(skills off)'}")
    typer.echo(f"checkpoint: {result.checkpoint_dir}")
    if result.bank_path:
        typer.echo(f"skill bank: {result.bank_path} (version {result.bank_version})")
    typer.echo(f"metrics: {result.output_dir}/metrics.jsonl")
    _write_report(result.output_dir)


def _write_report(output_dir: str) -> None:
    """Write ``OUTPUT_DIR/report`` (``skillrl report``) and print its path; a report that cannot
    be written never fails the finished run."""
    try:
        from skillrl.report import make_report

        _, files = make_report(output_dir)
    except Exception as exc:  # noqa: BLE001 - the run itself succeeded
        typer.echo(f"warning: no report written: {type(exc).__name__}: {exc}", err=True)
        return
    typer.echo(f"report: {files.html}")
