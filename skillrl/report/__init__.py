"""Run reports: what a training run did, as PNG plots and one self-contained HTML page.

:func:`skillrl.report.build.build_report` reads a run directory into a typed
:class:`~skillrl.report.model.RunReport` (pure data); :mod:`skillrl.report.plots` and
:mod:`skillrl.report.html` render it; :func:`write_report` writes the files. The ``skillrl report``
command is a thin view of :func:`make_report`.

This package reads files only: it never imports torch, verl or the environments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

from skillrl.report.build import NotARunError, build_report
from skillrl.report.model import RunReport, Table

__all__ = ["NotARunError", "ReportFiles", "RunReport", "Table", "build_report", "make_report", "write_report"]

#: the page's file name inside the output dir
HTML_NAME = "report.html"


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    """The self-contained page."""
    plots: tuple[Path, ...]
    """One PNG per plot the run had data for."""


def write_report(report: RunReport, output_dir: str | Path) -> ReportFiles:
    """Render ``report`` into ``output_dir`` (created): ``report.html`` and ``<plot>.png`` files.

    Files are written to a temporary name and renamed, so a failure never leaves a half page.
    """
    from skillrl.report.html import render_html
    from skillrl.report.plots import render_plots

    out = Path(output_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    plots = render_plots(report)
    paths = []
    for p in plots:
        paths.append(_write(out / f"{p.name}.png", p.png))
    html_path = _write(out / HTML_NAME, render_html(report, plots).encode("utf-8"))
    return ReportFiles(html_path, tuple(paths))


def make_report(run_dir: str | Path, output_dir: str | Path | None = None,
                metrics_paths: Sequence[str | Path] = ()) -> tuple[RunReport, ReportFiles]:
    """Build and write the report of ``run_dir`` (default output: ``RUN_DIR/report``).

    Raises:
        NotARunError: ``run_dir`` is not a run. FileNotFoundError: a metrics path is missing.
    """
    report = build_report(run_dir, metrics_paths)
    target = Path(output_dir) if output_dir is not None else Path(report.summary.run_dir) / "report"
    return report, write_report(report, target)


def _write(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
