"""``skillrl report RUN_DIR``: PNG plots and one self-contained HTML page of a training run.

RUN_DIR is the output dir of ``skillrl train --local`` or the checkpoint dir of a verl run
(``trainer.default_local_dir``); verl's metrics, when kept elsewhere (the ``file`` logger's JSON
lines, TensorBoard event files), are passed with ``--metrics``. Exits 2 with one ``error:`` line
when RUN_DIR is not a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from skillrl.cli.common import fail, print_json


def report(
    run_dir: Path = typer.Argument(..., help="Run output dir (skillrl train --local) or verl checkpoint dir."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write report.html and the "
                                          "PNG plots (default: RUN_DIR/report)."),
    metrics: list[Path] = typer.Option([], "--metrics", help="Extra metrics: a JSON-lines file (verl's file "
                                       "logger or metrics.jsonl) or a TensorBoard log dir; repeatable."),
    json_out: bool = typer.Option(False, "--json", help="Print the written paths and what is missing as JSON."),
) -> None:
    """Write a report of a training run: success per task type, bank size per version, prompt
    tokens with vs without skills, the bank at each version, what each evolution cycle changed
    and why, and the skills most injected in won vs lost episodes."""
    from skillrl.report import NotARunError, make_report

    try:
        rep, files = make_report(run_dir, output, metrics)
    except (NotARunError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    except ImportError as exc:
        raise fail(f"{exc.name or exc} is needed for the plots: pip install 'skillrl[report]'") from None
    except OSError as exc:
        raise fail(f"cannot write the report: {exc}") from None
    if json_out:
        print_json({"html": str(files.html), "plots": [str(p) for p in files.plots],
                    "missing": list(rep.missing), "warnings": list(rep.warnings),
                    "bank_versions": [v.version for v in rep.bank_versions], "cycles": len(rep.cycles)})
        return
    for note in rep.warnings:
        typer.echo(f"warning: {note}", err=True)
    for note in rep.missing:
        typer.echo(f"note: {note}")
    typer.echo(f"plots: {', '.join(p.name for p in files.plots) or '(none)'}")
    typer.echo(f"report: {files.html}")
