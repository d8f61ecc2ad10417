"""``skillrl eval``: any policy on an env's games, the paper's tables, and comparisons of runs.

    skillrl eval --env alfworld --policy expert --games all --output outputs/eval/expert.json
    skillrl eval --env webshop --policy openai:gpt-4o-mini --games 100 --n 4 --temperature 1
    skillrl eval --env alfworld --policy ckpt:outputs/local --no-skills
    skillrl eval --compare skills.json noskills.json [--markdown | --csv]

Policies: the env's scripted ones (``skillrl env list``: expert / oracle, random, wrong,
perturbed, perturbed:KIND) or ``hf:PATH``, ``ckpt:DIR``, ``openai:MODEL``, ``azure:DEPLOYMENT``.
The run writes ``OUT.json`` and appends every finished episode to ``OUT.episodes.jsonl``;
rerunning the same command resumes. Every error exits 2 with one ``error:`` line; an interrupt
exits 130 and says how to resume.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import typer

from skillrl.cli.common import fail, parse_env_args, print_json

DEFAULT_OUTPUT_DIR = Path("outputs") / "eval"


def _complete_env(incomplete: str) -> list[str]:
    from agent_system.environments import ENVIRONMENTS

    out = []
    for name in ENVIRONMENTS.names():
        try:
            if ENVIRONMENTS.get(name).play is not None and name.startswith(incomplete):
                out.append(name)
        except ImportError:
            continue
    return out


def _complete_policy(ctx: typer.Context, incomplete: str) -> list[str]:
    from agent_system.environments import get_env_spec
    from skillrl.policies import policy_choices

    try:
        spec = get_env_spec(str(ctx.params.get("env") or ""))
    except Exception:  # no env typed yet, or an unknown one
        return []
    return [p for p in policy_choices(spec) if p.startswith(incomplete)]


def env_spec(name: str) -> Any:
    """The spec of an env that can be played (exits 2 with the choices otherwise)."""
    from agent_system.environments import ENVIRONMENTS, get_env_spec
    from skillrl.utils.registry import RegistryError

    try:
        spec = get_env_spec(name)
    except RegistryError as exc:
        raise fail(str(exc)) from None
    except ImportError as exc:
        raise fail(f"environment {name!r} cannot be loaded ({exc}); install its extra: pip install 'skillrl[{name}]'") from None
    if spec.play is None:
        playable = []
        for other in ENVIRONMENTS.names():
            try:
                if ENVIRONMENTS.get(other).play is not None:
                    playable.append(other)
            except ImportError:
                continue
        raise fail(f"environment {name!r} has no scripted runs; choose one of: {', '.join(playable)}")
    return spec


def parse_games(text: str) -> int | None:
    """``"all"`` -> None, else a positive integer (exits 2 otherwise)."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise fail(f"--games must be a number or 'all', got {text!r}") from None
    if value < 1:
        raise fail(f"--games must be >= 1, got {value}")
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "policy"


def _load_policy(spec: Any, name: Optional[str], options: Any) -> Any:
    from skillrl.policies import PolicyLoadError, load_policy

    try:
        return load_policy(spec, name, options)
    except PolicyLoadError as exc:
        raise fail(str(exc)) from None


def run_eval(spec: Any, policy: Any, settings: Any, skills: Any, output: Optional[Path], *, force: bool = False,
             retry_errors: bool = False) -> dict[str, Any]:
    """:func:`skillrl.eval.evaluate` with one-line errors (exit 2) and a resumable interrupt (exit 130)."""
    from skillrl.eval import EvalError, PlayError, evaluate
    from skillrl.utils.paths import DataNotFoundError

    try:
        return evaluate(spec, policy, settings, skills, output=output, force=force, retry_errors=retry_errors)
    except (EvalError, PlayError, DataNotFoundError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        if output is not None:
            from skillrl.eval import episodes_path

            typer.echo(f"\ninterrupted: the finished episodes are in {episodes_path(output)}; rerun the same "
                       "command to resume", err=True)
        raise typer.Exit(code=130) from None
    finally:
        policy.close()


def _print_result(result: dict[str, Any], output: Optional[Path]) -> None:
    from skillrl.eval.tables import compare

    s = result["summary"]
    run = result["run"]
    typer.echo(compare([("run", result)]))
    line = (f"episodes {s['episodes']} (errors {s['errors']}) · success {s['success_rate']:.3f} · reward "
            f"{s['mean_reward']:.3f} · turns {s['mean_turns']:.1f} · invalid {s['invalid_action_rate']:.3f} · "
            f"prompt tokens/turn {s['prompt_tokens_per_turn']:.0f} (skills {s['skill_tokens_per_turn']:.0f})")
    for key in s:
        if key.startswith(("pass@", "mean@")):
            line += f" · {key} {s[key]:.3f}"
    typer.echo(line)
    typer.echo(f"tokens counted with {s['tokenizer']}; wall {run['wall_s']:.1f} s"
               + (f" ({run['resumed_episodes']} episodes resumed)" if run["resumed_episodes"] else ""))
    if s.get("error_reasons"):
        first = next(iter(s["error_reasons"]))
        typer.echo(f"errors: {s['errors']} episode(s) failed, e.g. {first}", err=True)
    if output is not None:
        typer.echo(f"wrote {output} and {run['episodes_file']}")


def _compare(files: list[Path], markdown: bool, as_csv: bool) -> None:
    from skillrl.eval.tables import compare

    if not files:
        raise fail("--compare needs the OUT.json files of earlier runs")
    if markdown and as_csv:
        raise fail("--markdown and --csv exclude each other")
    results = []
    for path in files:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail(f"{path}: file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise fail(f"{path}: not an eval result ({exc})") from None
        if not isinstance(result, dict) or not isinstance(result.get("summary"), dict) or "run" not in result:
            raise fail(f"{path}: not an eval result (no run/summary; written by `skillrl eval --output`?)")
        results.append((path.stem, result))
    typer.echo(compare(results, "markdown" if markdown else "csv" if as_csv else "text"))


def eval_command(
    files: list[Path] = typer.Argument(None, help="With --compare: eval results (OUT.json) to show side by side.",
                                       show_default=False),
    env: Optional[str] = typer.Option(None, help="Environment (see: skillrl env list).", autocompletion=_complete_env),
    policy: Optional[str] = typer.Option(None, help="expert|oracle|random|wrong|perturbed[:KIND] (the env's scripted "
                                         "policies), hf:PATH, ckpt:DIR, openai:MODEL or azure:DEPLOYMENT; default: the "
                                         "env's first scripted policy.", autocompletion=_complete_policy),
    split: Optional[str] = typer.Option(None, help="Split(s), comma-separated (default: the env's eval splits; "
                                        "alfworld valid_seen,valid_unseen; webshop test; search nq_test,…)."),
    games: str = typer.Option("all", help="Games per split: a number or 'all'."),
    n: int = typer.Option(1, "--n", min=1, help="Plays per game (pass@n and mean@n when > 1)."),
    start: int = typer.Option(0, help="Seed of the first game (game k is seed start+k)."),
    no_skills: bool = typer.Option(False, "--no-skills", help="No skill block in the prompts."),
    bank: Optional[Path] = typer.Option(None, help="Skill bank (default: a ckpt's bank, else memory_data/ENV/skills.json)."),
    retrieval: Optional[str] = typer.Option(None, help="Skill retrieval: template or embedding (default: a ckpt's, else template)."),
    top_k: Optional[int] = typer.Option(None, min=0, help="General skills per prompt (default 6)."),
    task_specific_top_k: Optional[int] = typer.Option(None, min=0, help="Task-specific skills per prompt (default: all)."),
    embedding_model: Optional[str] = typer.Option(None, help="Embedding model of --retrieval embedding (default: MiniLM)."),
    max_steps: Optional[int] = typer.Option(None, min=1, help="Turn limit (default: the env's training setting)."),
    history_length: Optional[int] = typer.Option(None, min=0, help="Turns shown in the prompt (default: the env's)."),
    data: Optional[Path] = typer.Option(None, help="Data file (search: a QA jsonl/parquet)."),
    data_dir: Optional[Path] = typer.Option(None, help="Environment data directory."),
    env_arg: list[str] = typer.Option([], "--env-arg", help="Env factory setting KEY=VALUE (repeatable), e.g. "
                                      "retriever_url=http://127.0.0.1:8000/retrieve."),
    workers: Optional[int] = typer.Option(None, min=0, help="Env worker processes (default: one per core for "
                                          "alfworld, none otherwise)."),
    concurrency: Optional[int] = typer.Option(None, min=1, help="Episodes at once (default: what the policy can "
                                              "batch or keep in flight; 1 for scripts in one process)."),
    temperature: Optional[float] = typer.Option(None, min=0.0, help="Sampling temperature of model policies (default 0: greedy)."),
    max_new_tokens: Optional[int] = typer.Option(None, min=1, help="Tokens per turn of model policies."),
    device: str = typer.Option("auto", help="hf/ckpt: auto, cpu or cuda."),
    batch_size: int = typer.Option(64, min=1, help="hf/ckpt: most prompts per generate call."),
    base_url: Optional[str] = typer.Option(None, help="openai/azure: endpoint (overrides OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT)."),
    api_version: Optional[str] = typer.Option(None, help="azure: API version."),
    request_concurrency: int = typer.Option(8, min=1, help="openai/azure: requests in flight."),
    timeout: float = typer.Option(60.0, min=0.001, help="openai/azure: seconds per request (the SDK's timeout)."),
    max_retries: int = typer.Option(2, min=0, help="openai/azure: SDK retries on 429/5xx/connection errors."),
    output: Optional[Path] = typer.Option(None, help="Result file OUT.json (episodes go to OUT.episodes.jsonl); "
                                          "default outputs/eval/ENV-POLICY.json."),
    force: bool = typer.Option(False, help="Start over: discard the episodes already in OUT.episodes.jsonl."),
    retry_errors: bool = typer.Option(False, help="On resume, play again the episodes that ended with an error."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the run and summary as one JSON object."),
    compare: bool = typer.Option(False, "--compare", help="Show earlier results (FILES) side by side instead of running."),
    markdown: bool = typer.Option(False, "--markdown", help="With --compare: a Markdown table."),
    as_csv: bool = typer.Option(False, "--csv", help="With --compare: CSV."),
) -> None:
    """Evaluate a policy on an environment's games (success by type, pass@k, tokens) or compare runs.

    Writes OUT.json (run, summary, the paper-layout table, episodes) and OUT.episodes.jsonl (one full
    record per episode, appended as episodes end; the same command resumes an interrupted run).
    """
    if compare:
        _compare(list(files or []), markdown, as_csv)
        return
    if files:
        raise fail(f"unexpected argument(s) {' '.join(map(str, files))}: result files are read with --compare")
    if markdown or as_csv:
        raise fail("--markdown / --csv format --compare tables")
    if not env:
        raise fail("missing --env (see: skillrl env list)")
    from skillrl.eval import PlayError, PlaySettings, SkillSettings, default_bank
    from skillrl.eval.play import auto_workers
    from skillrl.policies import PolicyLoadError, PolicyOptions

    spec = env_spec(env)
    try:
        options = PolicyOptions(temperature=0.0 if temperature is None else temperature, max_new_tokens=max_new_tokens,
                                device=device, max_batch_size=batch_size, concurrency=request_concurrency,
                                base_url=base_url, api_version=api_version, timeout_s=timeout, max_retries=max_retries,
                                seed=start)
    except PolicyLoadError as exc:
        raise fail(str(exc)) from None
    loaded = _load_policy(spec, policy, options)
    splits = tuple(s.strip() for s in split.split(",") if s.strip()) if split else (spec.play.eval_splits or ("",))
    n_workers = auto_workers(spec, loaded) if workers is None else workers
    try:
        settings = PlaySettings(
            splits=splits, games=parse_games(games), n=n, start=start, max_steps=max_steps,
            history_length=history_length, data_dir=str(data_dir) if data_dir else None,
            data=str(data) if data else None, env_args=parse_env_args(env_arg), workers=n_workers,
            concurrency=concurrency or max(n_workers, loaded.concurrency, 1), progress=progress and not as_json)
    except PlayError as exc:
        loaded.close()
        raise fail(str(exc)) from None
    bank_path = None if no_skills else (bank or loaded.bank_path or default_bank(spec.name))
    defaults = dict(loaded.skills)
    skills = SkillSettings(
        bank_path=str(bank_path) if bank_path else None,
        retrieval_mode=retrieval or defaults.get("retrieval_mode", "template"),
        top_k=top_k if top_k is not None else int(defaults.get("top_k", 6)),
        task_specific_top_k=task_specific_top_k if task_specific_top_k is not None else defaults.get("task_specific_top_k"),
        max_skill_tokens=defaults.get("max_skill_tokens"),
        embedding_model_path=embedding_model or defaults.get("embedding_model_path"),
    )
    out = output or DEFAULT_OUTPUT_DIR / f"{spec.name}-{_slug(loaded.name)}.json"
    result = run_eval(spec, loaded, settings, skills, out, force=force, retry_errors=retry_errors)
    if as_json:
        print_json({k: result[k] for k in ("run", "summary", "table")})
        return
    _print_result(result, out)
