"""``skillrl train --local``: the local single-process backend.

It composes the same Hydra configs with the same override syntax as ``python -m skillrl.main``
(``configs/main_job.yaml`` without ``--env``, ``configs/local_quickstart.yaml`` with it; the
root is ``LocalTrainConfig``). The flags are shorthands for overrides (:func:`flag_overrides`);
explicit overrides come after them and win. The verl/Hydra scale path is ``python -m
skillrl.main`` (or the launch scripts in ``examples/``); ``skillrl train`` without ``--local``
says so.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import typer

from skillrl.cli.common import fail

#: the config of the main job (``skillrl train --local`` with no ``--env``)
MAIN_JOB_CONFIG = "main_job"
#: the config ``--env`` selects an environment in (the toy quick start's settings)
ENV_CONFIG = "local_quickstart"

VERL_HINT = (
    "the verl (GPU cluster) trainer is launched with Hydra: `python -m skillrl.main <overrides>` "
    "or examples/grpo_trainer/run_*_skills.sh; use `skillrl train --local` for the single-process backend"
)


def hydra_quote(value: str) -> str:
    """``value`` as a quoted Hydra override value (paths with spaces, commas or ``=`` stay one string).

    >>> hydra_quote("/tmp/my bank's.json")
    "'/tmp/my bank\\\\'s.json'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def flag_overrides(*, env: str | None = None, steps: int | None = None, output_dir: str | None = None,
                   skills: str | None = None, no_skills: bool = False, model: str | None = None,
                   cold_start: str | None = None, resume: bool = False) -> list[str]:
    """The Hydra overrides the convenience flags stand for.

    >>> flag_overrides(env="webshop", steps=5, skills="b.json")
    ['env=webshop', 'total_training_steps=5', 'env.use_skills_only_memory=true', "env.skills_only_memory.skills_json_path='b.json'"]
    >>> flag_overrides(no_skills=True, model="/m")
    ["model_path='/m'", 'env.use_skills_only_memory=false']
    >>> flag_overrides(cold_start="search", resume=True)
    ["cold_start='search'", 'resume_from=auto']
    """
    out = []
    if env is not None:
        out.append(f"env={env}")
    if steps is not None:
        out.append(f"total_training_steps={steps}")
    if output_dir is not None:
        out.append(f"output_dir={hydra_quote(output_dir)}")
    if model is not None:
        out.append(f"model_path={hydra_quote(model)}")
    if no_skills:
        out.append("env.use_skills_only_memory=false")
    elif skills is not None:
        out += ["env.use_skills_only_memory=true", f"env.skills_only_memory.skills_json_path={hydra_quote(skills)}"]
    if cold_start is not None:
        out.append(f"cold_start={hydra_quote(cold_start)}")
    if resume:
        out.append("resume_from=auto")
    return out


def resolve_config(overrides: list[str], *, config_name: str | None = None, env: str | None = None,
                   **flags: Any) -> Any:
    """The ``LocalTrainConfig`` that ``skillrl train --local`` runs (pure: builds, never trains).

    ``config_name`` defaults to the main job, or to the quick start when ``env`` is given; the
    flags' overrides come first, ``overrides`` (Hydra syntax) after them.

    Raises:
        skillrl.trainer.config.ComposeError | skillrl.utils.config.ConfigError: a bad override or
            value (the message names the key, the value and what is allowed).
    """
    from skillrl.main import is_local, typed_config
    from skillrl.trainer.config import compose
    from skillrl.utils.config import ConfigError

    name = config_name or (ENV_CONFIG if env is not None else MAIN_JOB_CONFIG)
    if config_name is not None and not is_local(compose(name)):
        raise ConfigError("--config", name, f"a local-backend config such as {MAIN_JOB_CONFIG} or {ENV_CONFIG}")
    return typed_config(compose(name, [*flag_overrides(env=env, **flags), *overrides]))


def train(
    ctx: typer.Context,
    local: bool = typer.Option(False, "--local", help="Run the local single-process backend (CPU or one GPU)."),
    env: str = typer.Option(None, "--env", help="Environment (env=E on the quick-start config): alfworld, webshop, "
                            "search, toy. Without it: the main job (configs/main_job.yaml)."),
    steps: int = typer.Option(None, "--steps", help="Training steps (total_training_steps=N)."),
    output_dir: str = typer.Option(None, "--output-dir", help="Checkpoints, metrics.jsonl, TensorBoard logs "
                                   "(output_dir=D)."),
    skills: str = typer.Option(None, "--skills", help="SkillBank JSON to inject (env.use_skills_only_memory=true "
                               "env.skills_only_memory.skills_json_path=B)."),
    no_skills: bool = typer.Option(False, "--no-skills", help="Train without a skill bank "
                                   "(env.use_skills_only_memory=false)."),
    model: str = typer.Option(None, "--model", help="HF checkpoint folder or hub id (model_path=P; default: the "
                              "tiny built-in policy)."),
    config: str = typer.Option(None, "--config", help="Config name in configs/ (default: main_job, or "
                               "local_quickstart with --env)."),
    cold_start: str = typer.Option(None, "--cold-start", help="SFT before GRPO (cold_start=…): format (random "
                                   "admissible actions), a teacher (expert, search, oracle, openai:MODEL), a folder "
                                   "from `skillrl sft export`, or none."),
    resume: bool = typer.Option(False, "--resume", help="Resume from the latest checkpoint under the output dir "
                                "(resume_from=auto; resume_from=PATH names one)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Train an agent with GRPO. Extra arguments are Hydra overrides, as for `python -m skillrl.main`
    (e.g. `train_batch_size=8 env.max_steps=4 env.skills_only_memory.top_k=3`); see
    `python -m skillrl.main --config-name main_job --cfg job` for every key."""
    if not local:
        raise fail(VERL_HINT)
    from skillrl.main import USER_ERRORS
    from skillrl.trainer.local.preflight import check_local_run

    try:  # every setting is checked before torch, the envs or the model are loaded
        cfg = resolve_config(list(ctx.args), config_name=config, env=env, steps=steps, output_dir=output_dir,
                             skills=skills, no_skills=no_skills, model=model, cold_start=cold_start, resume=resume)
        check_local_run(cfg)
    except USER_ERRORS as exc:
        raise fail(str(exc)) from None
    from skillrl.trainer.local.trainer import EpisodesFailedError
    from skillrl.trainer.local.trainer import train as run_training

    try:
        result = run_training(cfg)
    except USER_ERRORS as exc:
        raise fail(str(exc)) from None
    except EpisodesFailedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if json_out:
        typer.echo(json.dumps({**dataclasses.asdict(result), "metrics_path": f"{result.output_dir}/metrics.jsonl",
                               "config": dataclasses.asdict(cfg)}, default=str))
    else:
        _print_result(result)


def _print_result(result: Any) -> None:
    cs = result.cold_start or {}
    if result.resumed_from:
        typer.echo(f"resumed from {result.resumed_from}")
    if cs.get("steps"):
        acc = cs.get("heldout_action_accuracy")
        typer.echo(f"cold start ({cs.get('kind')}): {cs['steps']} SFT steps on {cs.get('examples')} turns, "
                   f"loss {cs.get('loss_first', 0.0):.3f} -> {cs.get('loss_last', 0.0):.3f}"
                   + (f", held-out exact-action accuracy {acc:.3f}" if acc is not None else ""))
    typer.echo(f"trained {result.steps} steps in {result.seconds:.1f}s; "
               f"train reward {(result.reward_history or [0.0])[0]:.3f} -> {(result.reward_history or [0.0])[-1]:.3f}")
    before = result.initial_success_by_type or {}
    typer.echo("validation success by task type" + (" (before GRPO -> after):" if before else ":"))
    for task_type, (won, total) in sorted(result.success_by_type.items()):
        was = ""
        if task_type in before:
            w0, t0 = before[task_type]
            was = f"{w0}/{t0} ({w0 / t0 if t0 else 0.0:.2f}) -> "
        typer.echo(f"  {task_type:<24} {was}{won}/{total} ({won / total if total else 0.0:.2f})")
    overall = result.final_metrics.get("val/success_rate")
    if overall is not None:
        w0 = sum(w for w, _ in before.values())
        t0 = sum(t for _, t in before.values())
        typer.echo(f"  {'overall':<24} " + (f"{w0 / t0:.3f} -> " if t0 else "") + f"{overall:.3f}")
    typer.echo(f"skill ids injected: {', '.join(result.skill_ids) if result.skill_ids else '(skills off)'}")
    typer.echo(f"checkpoint: {result.checkpoint_dir}")
    if result.bank_path:
        typer.echo(f"skill bank: {result.bank_path} (version {result.bank_version})")
    typer.echo(f"metrics: {result.output_dir}/metrics.jsonl")
    if result.data_path:
        typer.echo(f"cold-start data: {result.data_path}/examples.jsonl")
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
