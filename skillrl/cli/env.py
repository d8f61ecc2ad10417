"""``skillrl env …``: play environments with scripted policies, score WebShop purchases.

Each environment package exposes its scripted runs through ``SPEC.extra``:

- ``play(policy, games, data_dir, split, data, workers, seed, progress) -> dict``
- ``score(cases_path) -> dict`` (WebShop only)
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from skillrl.cli.common import fail, print_json

app = typer.Typer(help="Play and score environments without training.", no_args_is_help=True)


def _spec(name: str):
    from agent_system.environments import get_env_spec
    from skillrl.utils.registry import RegistryError

    try:
        return get_env_spec(name)
    except RegistryError as exc:
        raise fail(str(exc)) from None


@app.command("play")
def play(
    env: str = typer.Argument(..., help="alfworld | webshop | search | toy"),
    policy: str = typer.Option("expert", help="Scripted policy: expert (alfworld), oracle, random, wrong."),
    games: int = typer.Option(10, min=1, help="Number of games to play."),
    split: Optional[str] = typer.Option(None, help="Data split (alfworld: train, valid_seen, valid_unseen)."),
    data: Optional[Path] = typer.Option(None, help="Data file (search: a QA jsonl/parquet)."),
    data_dir: Optional[Path] = typer.Option(None, help="Environment data directory."),
    workers: int = typer.Option(0, min=0, help="Worker processes (0 = automatic)."),
    seed: int = typer.Option(0, help="Seed of the first game."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Play GAMES episodes with a scripted policy and report success by task type."""
    from skillrl.utils.paths import DataNotFoundError

    spec = _spec(env)
    runner = spec.extra.get("play")
    if runner is None:
        raise fail(f"environment {env!r} has no scripted play")
    try:
        result = runner(
            policy=policy,
            games=games,
            data_dir=str(data_dir) if data_dir else None,
            split=split,
            data=str(data) if data else None,
            workers=workers,
            seed=seed,
            progress=not as_json,
        )
    except (DataNotFoundError, ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{env} · policy={policy}")
    table.add_column("task type")
    table.add_column("won", justify="right")
    table.add_column("total", justify="right")
    for task_type, (won, total) in sorted(result.get("by_type", {}).items()):
        table.add_row(task_type, str(won), str(total))
    console.print(table)
    rest = {k: v for k, v in result.items() if k != "by_type"}
    console.print(rest)


@app.command("score")
def score(
    env: str = typer.Argument(..., help="webshop"),
    cases: Path = typer.Option(..., exists=False, help='JSON file {"cases": [...]}.'),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score purchases without playing (WebShop's reward on given goals and purchases)."""
    spec = _spec(env)
    scorer = spec.extra.get("score")
    if scorer is None:
        raise fail(f"environment {env!r} has no purchase scoring")
    try:
        result = scorer(str(cases))
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{env} purchase rewards")
    table.add_column("#", justify="right")
    for col in ("reward", "r_type", "r_att", "r_option", "r_price"):
        table.add_column(col, justify="right")
    for i, r in enumerate(result["rewards"]):
        table.add_row(str(i), *(f"{r.get(c, float('nan')):.3f}" if r.get(c) is not None else "-" for c in ("reward", "r_type", "r_att", "r_option", "r_price")))
    Console().print(table)

from skillrl.cli.original import register as _register_original  # noqa: E402  (render/project)

_register_original(app)
