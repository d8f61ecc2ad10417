"""``skillrl env render`` / ``skillrl env project``: check case files in either prompt style.

Both read a case file in the format of the original-compatibility goldens (JSON Lines; see
:mod:`skillrl.agent.cases`) and print results in input order:

- ``render --style original|native --cases FILE [--original-repo PATH] --json`` →
  ``{"prompts": ["<user prompt>", ...]}``;
- ``project --style original|native --cases FILE --json`` →
  ``{"results": [{"action": "...", "valid": 0|1}, ...]}``.

Without ``--json`` a short table compares each result with the case's expected ``prompt`` /
``action``+``valid`` when the file has them, and the command exits 1 when any differs.
The commands are attached to the ``env`` group by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from skillrl.cli.common import fail, print_json

_STYLE_HELP = "Prompt style: original (the original SkillRL's, templates from --original-repo) or native."
_REPO_HELP = (
    "Checkout of the original SkillRL repository (aiming-lab/SkillRL): its prompt templates and "
    "skill banks are read from there. Needed for --style original and for cases with skills."
)


def _check_style(style: str) -> str:
    from skillrl.agent.cases import STYLES

    if style not in STYLES:
        raise fail(f"unknown --style {style!r}; choose one of: {', '.join(STYLES)}")
    return style


def render(
    style: str = typer.Option(..., "--style", help=_STYLE_HELP),
    cases: Path = typer.Option(..., "--cases", help="JSON Lines file of prompt cases (golden format)."),
    original_repo: Optional[Path] = typer.Option(None, "--original-repo", envvar="SKILLRL_ORIGINAL_REPO", help=_REPO_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"prompts": [...]} only.'),
) -> None:
    """Render the user prompt of each case at its turn, in input order."""
    from agent_system.environments.original_templates import OriginalRepoError
    from skillrl.agent.cases import CaseFileError, read_cases, render_cases
    from skillrl.utils.registry import RegistryError

    _check_style(style)
    try:
        loaded = read_cases(cases, "prompt")
        prompts = render_cases(loaded, style, original_repo)  # type: ignore[arg-type]
    except (CaseFileError, OriginalRepoError, RegistryError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"prompts": prompts})
        return
    expected = [c.raw.get("prompt") for c in loaded]
    _report([c.name for c in loaded], [p == e if isinstance(e, str) else None for p, e in zip(prompts, expected)],
            [f"{len(p)} chars" for p in prompts], f"{style} prompts · {cases}")


def project(
    style: str = typer.Option(..., "--style", help=_STYLE_HELP),
    cases: Path = typer.Option(..., "--cases", help="JSON Lines file of projection cases (golden format)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"results": [...]} only.'),
) -> None:
    """Project each case's model output onto an action, in input order."""
    from skillrl.agent.cases import CaseFileError, project_cases, read_cases
    from skillrl.utils.registry import RegistryError

    _check_style(style)
    try:
        loaded = read_cases(cases, "projection")
        results = project_cases(loaded, style)  # type: ignore[arg-type]
    except (CaseFileError, RegistryError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"results": results})
        return
    matches: list[bool | None] = []
    for case, result in zip(loaded, results):
        if "action" in case.raw and "valid" in case.raw:
            matches.append(result["action"] == case.raw["action"] and result["valid"] == int(case.raw["valid"]))
        else:
            matches.append(None)
    _report([c.name for c in loaded], matches, [f"{r['action'][:40]!r} valid={r['valid']}" for r in results],
            f"{style} projection · {cases}")


def _report(names: list[str], matches: list[bool | None], details: list[str], title: str) -> None:
    """Print one row per case (match with the expected output when the case has one); exit 1
    when any case differs from its expected output."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    table.add_column("case")
    table.add_column("result")
    table.add_column("expected", justify="center")
    for name, match, detail in zip(names, matches, details):
        mark = "-" if match is None else ("[green]match[/green]" if match else "[red]DIFFERS[/red]")
        table.add_row(escape(name), escape(detail), mark)
    console = Console()
    console.print(table)
    checked = [m for m in matches if m is not None]
    if checked:
        console.print(f"{sum(checked)}/{len(checked)} cases match their expected output")
    if not all(checked):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Attach ``render`` and ``project`` to the ``env`` command group."""
    app.command("render")(render)
    app.command("project")(project)
