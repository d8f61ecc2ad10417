"""``skillrl skills …``: inspect, validate, compare and query skill banks.

Every command exits 2 with one ``error: …`` line for bad input (missing file, invalid JSON,
invalid bank, unknown env or mode). Bank text is printed verbatim (never read as rich markup).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from skillrl.cli.common import console, fail, plain, positional_or_option, print_json

if TYPE_CHECKING:
    from skillrl.skills.bank import SkillBank

app = typer.Typer(help="Inspect, validate, compare and query skill banks.", no_args_is_help=True)


def _load(path: Path) -> "SkillBank":
    from skillrl.skills import SkillBank, SkillBankError

    try:
        return SkillBank.load(path)
    except SkillBankError as exc:
        raise fail(str(exc)) from None


@app.command("validate")
def validate(
    bank: Path = typer.Argument(..., metavar="BANK", help="Skill bank JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (also when the bank is invalid)."),
) -> None:
    """Check a bank file; exit 0 when valid, 2 with the first problem when not.

    With --json, stdout gets {"path", "valid": true, "version", "active", "retired"} or
    {"path", "valid": false, "error", "json_path", "reason"}.
    """
    from skillrl.skills import SkillBank, SkillBankError

    try:
        b = SkillBank.load(bank)
    except SkillBankError as exc:
        if as_json:
            print_json({"path": str(bank), "valid": False, "error": str(exc), "json_path": exc.json_path,
                        "reason": exc.reason})
        raise fail(str(exc)) from None
    if as_json:
        print_json({"path": str(bank), "valid": True, "version": b.version, "active": len(b), "retired": len(b.retired)})
        return
    typer.echo(f"ok: {bank} is a valid skill bank (version {b.version}, {len(b)} active items, {len(b.retired)} retired)")


@app.command("show")
def show(
    bank: Path = typer.Argument(..., metavar="BANK", help="Skill bank JSON file."),
    category: Optional[str] = typer.Option(None, help="Show only this task category's skills."),
    as_json: bool = typer.Option(False, "--json", help="Print the active items as one JSON object."),
) -> None:
    """Print the bank's skills and mistakes as tables.

    With --json: {"version", "general_skills", "task_specific_skills", "common_mistakes",
    "retired"} (retired: ids), or {"version", "task_specific_skills": {CATEGORY: [...]}} with
    --category.
    """
    from rich.table import Table

    b = _load(bank)
    if category is not None and category not in b.task_specific_skills:
        raise fail(f"no category {category!r} in {bank}; categories: {', '.join(b.task_specific_skills) or '(none)'}")
    if as_json:
        specific = {c: [s.to_dict() for s in skills] for c, skills in b.task_specific_skills.items()
                    if category is None or c == category}
        if category is not None:
            print_json({"version": b.version, "task_specific_skills": specific})
            return
        print_json({
            "version": b.version,
            "general_skills": [s.to_dict() for s in b.general_skills],
            "task_specific_skills": specific,
            "common_mistakes": [m.to_dict() for m in b.common_mistakes],
            "retired": [r.item.skill_id for r in b.retired],
        })
        return
    out = console()

    def skill_table(title: str, skills) -> Table:
        t = Table(title=plain(title), show_lines=False, title_justify="left")
        t.add_column("id", no_wrap=True, style="cyan")
        t.add_column("title", style="bold")
        t.add_column("principle")
        t.add_column("when to apply", style="dim")
        for s in skills:
            t.add_row(*map(plain, (s.skill_id, s.title, s.principle, s.when_to_apply)))
        return t

    if category is None:
        out.print(skill_table(f"General skills ({len(b.general_skills)})", b.general_skills))
    for cat, skills in b.task_specific_skills.items():
        if category is None or cat == category:
            out.print(skill_table(f"Task-specific: {cat} ({len(skills)})", skills))
    if category is None:
        t = Table(title=f"Common mistakes ({len(b.common_mistakes)})", title_justify="left")
        t.add_column("id", no_wrap=True, style="cyan")
        t.add_column("mistake", style="bold")
        t.add_column("why it happens", style="dim")
        t.add_column("how to avoid")
        for m in b.common_mistakes:
            t.add_row(*map(plain, (m.mistake_id, m.description, m.why_it_happens, m.how_to_avoid)))
        out.print(t)
        if b.retired:
            ids = ", ".join(r.item.skill_id for r in b.retired)
            out.print(plain(f"{len(b.retired)} retired item(s): {ids}"), style="dim")


@app.command("stats")
def stats(
    bank: Path = typer.Argument(..., metavar="BANK", help="Skill bank JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Counts per section and category, version, and usage counters."""
    from rich.table import Table

    b = _load(bank)
    counts: dict[str, Any] = {
        "version": b.version,
        "general_skills": len(b.general_skills),
        "task_specific_skills": {c: len(s) for c, s in b.task_specific_skills.items()},
        "common_mistakes": len(b.common_mistakes),
        "retired": len(b.retired),
        "active_total": len(b),
        "usage": {k: vars(v) for k, v in sorted(b.all_usage.items())},
    }
    if as_json:
        print_json(counts)
        return
    out = console()
    t = Table(title=plain(f"{bank} · version {b.version}"), title_justify="left")
    t.add_column("section")
    t.add_column("items", justify="right")
    t.add_row("general_skills", str(counts["general_skills"]))
    for c, n in counts["task_specific_skills"].items():
        t.add_row(plain(f"task_specific_skills.{c}"), str(n))
    t.add_row("common_mistakes", str(counts["common_mistakes"]))
    t.add_row("retired", str(counts["retired"]))
    t.add_row("[bold]active total[/bold]", f"[bold]{len(b)}[/bold]")
    out.print(t)
    if b.all_usage:
        u = Table(title="Usage (episodes the item was injected into)", title_justify="left")
        for col in ("id", "retrieved", "won", "lost", "win rate"):
            u.add_column(col, justify="left" if col == "id" else "right")
        for sid, use in sorted(b.all_usage.items(), key=lambda kv: (-kv[1].times_retrieved, kv[0])):
            rate = use.win_rate
            u.add_row(plain(sid), str(use.times_retrieved), str(use.episodes_won), str(use.episodes_lost), "-" if rate is None else f"{rate:.2f}")
        out.print(u)
    else:
        out.print("[dim]no usage recorded[/dim]")


def _flatten(b: "SkillBank") -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for s in b.general_skills:
        out[s.skill_id] = ("general_skills", s.to_dict())
    for c, skills in b.task_specific_skills.items():
        for s in skills:
            out[s.skill_id] = (f"task_specific_skills.{c}", s.to_dict())
    for m in b.common_mistakes:
        out[m.mistake_id] = ("common_mistakes", m.to_dict())
    return out


@app.command("diff")
def diff(
    a: Path = typer.Argument(..., metavar="A", help="Old bank."),
    b: Path = typer.Argument(..., metavar="B", help="New bank."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Active items added, removed and changed (content or section) from bank A to bank B.

    Exit status as diff(1): 0 when the active items are the same, 1 when they differ, 2 on
    error.
    """
    from rich.table import Table

    old, new = _flatten(_load(a)), _flatten(_load(b))
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    changed = []
    for k in old:
        if k in new and old[k] != new[k]:
            fields = sorted(f for f in set(old[k][1]) | set(new[k][1]) if old[k][1].get(f) != new[k][1].get(f))
            if old[k][0] != new[k][0]:
                fields.insert(0, f"section {old[k][0]} -> {new[k][0]}")
            changed.append((k, fields))
    differ = bool(added or removed or changed)
    if as_json:
        print_json({"added": added, "removed": removed, "changed": {k: f for k, f in changed}})
    elif not differ:
        console().print("no differences in active items")
    else:
        t = Table(title=plain(f"{a} -> {b}"), title_justify="left")
        t.add_column("change")
        t.add_column("id", style="cyan")
        t.add_column("where / what")
        for k in added:
            t.add_row("[green]added[/green]", plain(k), plain(new[k][0]))
        for k in removed:
            t.add_row("[red]removed[/red]", plain(k), plain(old[k][0]))
        for k, fields in changed:
            t.add_row("[yellow]changed[/yellow]", plain(k), plain(", ".join(fields)))
        out = console()
        out.print(t)
        out.print(f"{len(added)} added, {len(removed)} removed, {len(changed)} changed")
    if differ:
        raise typer.Exit(code=1)


def _retrieval_modes(incomplete: str) -> list[str]:
    """Shell completion of ``--mode``."""
    from skillrl.skills.retrieval import RETRIEVERS

    return [name for name in RETRIEVERS.names() if name.startswith(incomplete)]


@app.command("query")
def query(
    bank: Path = typer.Argument(..., metavar="BANK", help="Skill bank JSON file."),
    env: str = typer.Option(..., "--env", help="alfworld | webshop | search"),
    task: Optional[str] = typer.Argument(None, metavar="TASK", help="Task text (goal, instruction or question).", show_default=False),
    task_option: Optional[str] = typer.Option(None, "--task", help="Same as TASK.", show_default=False),
    task_type: Optional[str] = typer.Option(None, "--task-type", help="The env's task-type hint."),
    mode: str = typer.Option("template", "--mode", help="template | embedding", autocompletion=_retrieval_modes),
    top_k: int = typer.Option(6, "--top-k", min=0, help="General skills (template) / skills (embedding)."),
    task_specific_top_k: Optional[int] = typer.Option(None, "--task-specific-top-k", min=0, help="Cap on task-specific skills."),
    mistakes_k: int = typer.Option(5, "--mistakes-k", min=0, help="Common mistakes shown."),
    max_skill_tokens: Optional[int] = typer.Option(None, "--max-skill-tokens", min=0, help="Token budget of the block."),
    embedding_model: Optional[str] = typer.Option(None, "--embedding-model", help="Embedding model path or hub id."),
    as_json: bool = typer.Option(False, "--json", help="Print task type, ids and tokens as JSON."),
) -> None:
    """Print the skill block the agent would see for TASK."""
    task = positional_or_option("TASK", task, "--task", task_option)
    from agent_system.environments import ENVIRONMENTS
    from skillrl.skills import build_retriever
    from skillrl.skills.retrieval import RETRIEVERS

    if env.strip().lower() not in ENVIRONMENTS:
        raise fail(f"unknown env {env!r}; known: {', '.join(ENVIRONMENTS.names())}")
    if mode not in RETRIEVERS:
        raise fail(f"unknown retrieval mode {mode!r}; known: {', '.join(RETRIEVERS.names())}")
    b = _load(bank)
    retriever = build_retriever(
        b,
        taxonomy=ENVIRONMENTS.get(env.strip().lower()).taxonomy,
        mode=mode,
        top_k=top_k,
        task_specific_top_k=task_specific_top_k,
        max_skill_tokens=max_skill_tokens,
        embedding_model_path=embedding_model,
        mistakes_k=mistakes_k,
    )
    try:
        result = retriever.retrieve(task, task_type)
    except (OSError, ImportError, ValueError) as exc:  # embedding model missing / unloadable
        raise fail(f"retrieval failed ({mode}): {exc}") from None
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo(f"# task_type={result.task_type} tokens={result.tokens} ids={','.join(result.skill_ids)}", err=True)
    typer.echo(result.text)
