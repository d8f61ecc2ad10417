"""``skillrl sft export``: SFT data from teachers, for LLaMA-Factory or verl's SFT trainer.

Prompts come from the env's prompt builder with the skill block retrieved from ``--bank`` at
its version (the same prompts RL sees); targets are ``<think>…</think><action>…</action>`` from
the teacher (see :mod:`skillrl.sft.teachers`). The folder layouts are in
:mod:`skillrl.sft.export`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from skillrl.cli.common import fail, parse_env_args, print_json

app = typer.Typer(help="Supervised fine-tuning data from teachers.", no_args_is_help=True)

#: the project's skill banks (``memory_data/<env>/skills.json``); household reads ALFWorld's
_BANK_OF = {"household": "alfworld"}


def default_bank(env: str) -> str | None:
    """``memory_data/<env>/skills.json`` of the project (household: ALFWorld's), when it exists."""
    from skillrl.trainer.config import PROJECT_ROOT

    path = Path(PROJECT_ROOT) / "memory_data" / _BANK_OF.get(env, env) / "skills.json"
    return str(path) if path.is_file() else None


@app.command("export")
def export(
    env: str = typer.Option(..., "--env", help="Environment: alfworld, household, webshop, search."),
    teacher: str = typer.Option(..., "--teacher", help="expert (alfworld, household), search (household), "
                                "oracle (webshop, search), or openai:MODEL (any env)."),
    games: int = typer.Option(..., "--games", min=1, help="Teacher games to play."),
    output: str = typer.Option(..., "--output", help="Folder to write (replaced if it exists)."),
    fmt: str = typer.Option("llamafactory", "--format", help="llamafactory (sharegpt + dataset_info.json) or "
                            "verl (parquet with a messages column, for verl.trainer.sft_trainer)."),
    bank: str = typer.Option(None, "--bank", help="Skill bank whose block goes into the prompts (default: "
                             "memory_data/<env>/skills.json; household: ALFWorld's)."),
    no_skills: bool = typer.Option(False, "--no-skills", help="Prompts without a skill block."),
    split: str = typer.Option(None, "--split", help="Env split of the teacher games (default: the env's "
                              "training split: household train, alfworld valid_train, webshop train; search has "
                              "none in the bundled data and plays bamboogle_test, an eval split)."),
    seed: int = typer.Option(0, "--seed", help="First game seed (games SEED .. SEED+GAMES-1)."),
    max_steps: int = typer.Option(30, "--max-steps", min=1, help="Turns per game."),
    history_length: int = typer.Option(2, "--history-length", min=0, help="Recent turns in each prompt "
                                       "(env.history_length of the RL run)."),
    top_k: int = typer.Option(6, "--top-k", min=0, help="General skills per prompt (skills_only_memory.top_k)."),
    max_skill_tokens: int = typer.Option(None, "--max-skill-tokens", min=1, help="Token budget of the skill block."),
    val_games: int = typer.Option(0, "--val-games", min=0, help="Games (of --games) held out as validation data."),
    rationale: str = typer.Option("full", "--rationale", help="Think text of scripted teachers: full (task, "
                                  "sub-goal and reason, the skill that applies) or short (the sub-goal)."),
    keep_failed: bool = typer.Option(False, "--keep-failed", help="Also keep games the teacher did not win."),
    data_dir: str = typer.Option(None, "--data-dir", help="Env data folder (see README, Data)."),
    env_arg: list[str] = typer.Option([], "--env-arg", help="Env factory setting KEY=VALUE (repeatable), e.g. "
                                      "corpus=PATH.jsonl or retriever_url=URL for search (default: BM25 over "
                                      "the data folder's corpus, in process)."),
    tokenizer: str = typer.Option(None, "--tokenizer", help="HF tokenizer that counts tokens (default: "
                                  "MiniLM's WordPiece, offline)."),
    concurrency: int = typer.Option(None, "--concurrency", min=1, help="Games at once (default: 1 for scripted "
                                    "teachers, 8 for a model)."),
    base_url: str = typer.Option(None, "--base-url", help="Endpoint of an openai: teacher (else OPENAI_BASE_URL)."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Sampling temperature of a model teacher."),
    max_tokens: int = typer.Option(1024, "--max-tokens", min=1, help="Reply budget of a model teacher."),
    record_calls: str = typer.Option(None, "--record-calls", help="JSONL file keeping a model teacher's calls."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Play teacher games and write their turns as SFT data (`--format llamafactory|verl`).

    Prints turns, tokens per example, the task-type balance and the share of targets the env's
    projection accepts (100 %: a rejected output never becomes a target)."""
    from skillrl.sft.export import FORMATS, ExportError
    from skillrl.sft.pipeline import ExportRequest, export_sft
    from skillrl.sft.rationale import STYLES
    from skillrl.sft.teachers import TeacherError, TeacherOptions
    from skillrl.skills.schema import SkillBankError
    from skillrl.utils.registry import RegistryError

    if fmt not in FORMATS:
        raise fail(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if rationale not in STYLES:
        raise fail(f"unknown --rationale {rationale!r}; choose one of {', '.join(STYLES)}")
    if bank and no_skills:
        raise fail("--bank and --no-skills exclude each other")
    if val_games >= games:
        raise fail(f"--val-games ({val_games}) must be smaller than --games ({games})")
    bank_path = None if no_skills else (bank or default_bank(env))
    if bank_path is not None and not Path(bank_path).is_file():
        raise fail(f"skill bank {bank_path!r} not found")
    model_teacher = ":" in teacher
    retrieval: dict[str, object] = {"top_k": top_k}
    if max_skill_tokens is not None:
        retrieval["max_skill_tokens"] = max_skill_tokens
    req = ExportRequest(
        env=env, teacher=teacher, games=games, output=output, fmt=fmt, split=split, bank=bank_path,
        retrieval=retrieval, seed=seed, max_steps=max_steps, history_length=history_length, val_games=val_games,
        rationale=rationale, only_won=not keep_failed, data_dir=data_dir, env_args=parse_env_args(env_arg),
        tokenizer=tokenizer,
        concurrency=concurrency or (8 if model_teacher else 1),
        teacher_options=TeacherOptions(rationale=rationale, temperature=temperature, max_tokens=max_tokens,
                                       base_url=base_url, record_calls=record_calls))
    try:
        result = export_sft(req, progress=not json_out)
    except (TeacherError, ExportError, SkillBankError, RegistryError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc).strip("'\"")) from None
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if result.stats.examples == 0:
        typer.echo(f"error: no examples: the teacher won none of {games} games "
                   f"(--keep-failed keeps lost games)", err=True)
        raise typer.Exit(code=1)
    if json_out:
        print_json({"output": str(result.output), "seconds": round(result.seconds, 2), **result.manifest})
        return
    typer.echo(f"{result.manifest['teacher']} on {env}: won {result.manifest['won']}/{result.manifest['played']} "
               f"games in {result.seconds:.1f}s; bank: {bank_path or '(no skills)'}"
               + (f" (version {result.manifest['bank_version']})" if bank_path else ""))
    for line in result.stats.lines():
        typer.echo(line)
    typer.echo(f"written: {result.output} ({fmt})")
