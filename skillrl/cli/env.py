"""``skillrl env …``: list environments, play them with scripted policies, score outcomes.

What each command offers comes from the environment registry: ``play`` takes the envs whose
spec has scripted policies (``EnvSpec.play``) and their names (it is a thin view of ``skillrl
eval``: the same play path), ``score`` the envs with a scorer (``EnvSpec.score``). Specs are imported only when a command needs them (an env's optional
dependencies are not needed to run another env's command); shell completion lists the same
choices.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from skillrl.cli.common import fail, plain, print_json

app = typer.Typer(help="List, play and score environments without training.", no_args_is_help=True)


def _spec(name: str) -> Any:
    from agent_system.environments import get_env_spec
    from skillrl.utils.registry import RegistryError

    try:
        return get_env_spec(name)
    except RegistryError as exc:
        raise fail(str(exc)) from None
    except ImportError as exc:
        raise fail(f"environment {name!r} cannot be loaded ({exc}); install its extra: pip install 'skillrl[{name}]'") from None


def _names_with(capability: Callable[[Any], bool]) -> list[str]:
    """Registered envs whose spec has ``capability`` (envs that fail to import are left out)."""
    from agent_system.environments import ENVIRONMENTS

    out = []
    for name in ENVIRONMENTS.names():
        try:
            spec = ENVIRONMENTS.get(name)
        except ImportError:
            continue
        if capability(spec):
            out.append(name)
    return out


def _playable(spec: Any) -> bool:
    return spec.play is not None


def _scorable(spec: Any) -> bool:
    return spec.score is not None


def _pick(name: str, capability: Callable[[Any], bool], what: str) -> Any:
    spec = _spec(name)
    if not capability(spec):
        choices = ", ".join(_names_with(capability)) or "none"
        raise fail(f"environment {name!r} has no {what}; choose one of: {choices}")
    return spec


def _complete_playable(incomplete: str) -> list[str]:
    return [n for n in _names_with(_playable) if n.startswith(incomplete)]


def _complete_scorable(incomplete: str) -> list[str]:
    return [n for n in _names_with(_scorable) if n.startswith(incomplete)]


def _complete_policy(ctx: typer.Context, incomplete: str) -> list[str]:
    from agent_system.environments import get_env_spec

    try:
        play = get_env_spec(str(ctx.params.get("env") or "")).play
    except Exception:  # no env typed yet, or an unknown one: nothing to offer
        return []
    return [p for p in (play.scripts if play else ()) if p.startswith(incomplete)]


def _policies_cell(names: list[str]) -> str:
    """Scripted policy names, the ``perturbed:KIND`` ones folded into one entry."""
    plain_names = [n for n in names if ":" not in n]
    kinds = [n.split(":", 1)[1] for n in names if ":" in n]
    if kinds:
        plain_names.append(f"perturbed:{{{'|'.join(kinds)}}}")
    return ", ".join(plain_names) or "-"


@app.command("list")
def list_envs(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """List the registered environments: task types, scripted policies (default first), scoring."""
    from agent_system.environments import ENVIRONMENTS

    rows: dict[str, dict[str, Any]] = {}
    for name in ENVIRONMENTS.names():
        try:
            spec = ENVIRONMENTS.get(name)
        except ImportError as exc:
            rows[name] = {"error": f"cannot be loaded: {exc}"}
            continue
        rows[name] = {
            "task_types": list(spec.task_types),
            "skill_categories": list(spec.taxonomy.categories) if spec.taxonomy else [],
            "policies": list(spec.play.scripts) if spec.play else [],
            "score": spec.score is not None,
        }
    if as_json:
        print_json(rows)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="environments")
    for col in ("env", "task types", "scripted policies", "score"):
        table.add_column(col)
    for name, row in rows.items():
        if "error" in row:
            table.add_row(name, escape(row["error"]), "", "")
            continue
        table.add_row(name, ", ".join(row["task_types"]), _policies_cell(row["policies"]), "yes" if row["score"] else "-")
    Console().print(table)


@app.command("play")
def play(
    env: str = typer.Argument(..., help="Environment with scripted runs (see: skillrl env list).", metavar="ENV",
                              autocompletion=_complete_playable, show_default=False),
    policy: Optional[str] = typer.Option(None, help="Scripted policy (default: the environment's first, see: skillrl "
                                         "env list) or a model: hf:PATH, ckpt:DIR, openai:MODEL.",
                                         autocompletion=_complete_policy),
    games: int = typer.Option(10, min=1, help="Number of games to play."),
    split: Optional[str] = typer.Option(None, help="Data split (alfworld: train, valid_seen, valid_unseen)."),
    data: Optional[Path] = typer.Option(None, help="Data file (search: a QA jsonl/parquet)."),
    data_dir: Optional[Path] = typer.Option(None, help="Environment data directory."),
    workers: Optional[int] = typer.Option(None, min=0, help="Env worker processes (default: one per core for "
                                          "alfworld, none otherwise)."),
    seed: int = typer.Option(0, help="Seed of the first game."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Play GAMES episodes of ENV with a scripted policy and report success by task type.

    A thin view of `skillrl eval` (same play path, no skills, nothing written): see it for
    more policies, splits, skills and saved results.
    """
    from skillrl.cli.eval import env_spec, run_eval
    from skillrl.eval import PlayError, PlaySettings, SkillSettings
    from skillrl.eval.play import auto_workers
    from skillrl.policies import PolicyLoadError, load_policy

    spec = env_spec(env)
    try:
        loaded = load_policy(spec, policy)
    except PolicyLoadError as exc:
        raise fail(str(exc)) from None
    n_workers = min(auto_workers(spec, loaded) if workers is None else workers, games)
    try:
        settings = PlaySettings(splits=(split or "",), games=games, start=seed, data=str(data) if data else None,
                                data_dir=str(data_dir) if data_dir else None, workers=n_workers,
                                concurrency=max(n_workers, loaded.concurrency, 1), progress=not as_json)
    except PlayError as exc:
        raise fail(str(exc)) from None
    result = run_eval(spec, loaded, settings, SkillSettings(), None)
    s, episodes = result["summary"], result["episodes"]
    turns = sum(e["turns"] for e in episodes)
    view = {
        "env": spec.name,
        "split": result["run"]["splits"][0],
        "policy": loaded.name,
        "games": s["episodes"],
        "won": s["won"],
        "success_rate": s["success_rate"],
        "mean_reward": s["mean_reward"],
        "by_type": {t: [v["won"], v["total"]] for t, v in s["by_type"].items()},
        "mean_turns": s["mean_turns"],
        "mean_turn_ms": 1000 * sum(e["wall_s"] for e in episodes) / turns if turns else 0.0,
        "invalid_action_rate": s["invalid_action_rate"],
        "errors": [e["error"] for e in episodes if e["error"]],
        "failed_games": sorted(e["game_id"] for e in episodes if not e["won"]),
        "wall_s": result["run"]["wall_s"],
        "workers": n_workers,
    }
    if s.get("failure_kinds"):
        view["failure_kinds"] = s["failure_kinds"]
    if as_json:
        print_json(view)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{env} · policy={loaded.name}")
    table.add_column("task type")
    table.add_column("won", justify="right")
    table.add_column("total", justify="right")
    for task_type, (won, total) in sorted(view["by_type"].items()):
        table.add_row(plain(task_type), str(won), str(total))
    console.print(table)
    console.print({k: v for k, v in view.items() if k != "by_type"})


@app.command("score")
def score(
    env: str = typer.Argument(..., help="Environment with outcome scoring (see: skillrl env list).", metavar="ENV",
                              autocompletion=_complete_scorable, show_default=False),
    cases: Path = typer.Option(..., help='JSON file {"cases": [...]}.'),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score given outcomes without playing (WebShop: the reward of purchases on goals)."""
    scorer = _pick(env, _scorable, "outcome scoring").score
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
