"""Result tables in the SkillRL paper's layout, and side-by-side comparisons of runs.

Layouts (values in percent, one decimal):

- ALFWorld: success per task type — Pick, Look, Clean, Heat, Cool, Pick2 — and All;
- WebShop: Score (mean reward × 100) and Succ. (success rate);
- Search: exact match per data set — NQ, TriviaQA, PopQA, HotpotQA, 2Wiki, MuSiQue, Bamboogle —
  and Avg. (the unweighted mean over the data sets played), as far as the run has them;
- any other env: success per task type and All.

:data:`TABLE_LAYOUTS` maps an env name to its layout; :func:`compare` renders several runs (the
``OUT.json`` of ``skillrl eval``) side by side as text, Markdown or CSV.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skillrl.utils.registry import Registry

Summary = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """One column: its header and how to read its value (percent) from a summary."""

    name: str
    """The header (``Pick``, ``Score``, ``NQ`` …)."""
    value: Callable[[Summary], float | None]
    """The value, or None when the run has no episode for it."""


@dataclass(frozen=True)
class Layout:
    """A results table layout."""

    title: str
    """The table's caption."""
    columns: Callable[[Summary], Sequence[Column]]
    """The columns for a run (fixed for ALFWorld and WebShop, the data sets played for Search)."""


def _type_rate(task_type: str) -> Callable[[Summary], float | None]:
    def read(summary: Summary) -> float | None:
        entry = (summary.get("by_type") or {}).get(task_type)
        return 100.0 * entry["success_rate"] if entry and entry.get("total") else None

    return read


def _all(summary: Summary) -> float | None:
    return 100.0 * summary["success_rate"] if summary.get("episodes") else None


ALFWORLD_COLUMNS = (("Pick", "pick_and_place"), ("Look", "look_at_obj_in_light"), ("Clean", "clean"),
                    ("Heat", "heat"), ("Cool", "cool"), ("Pick2", "pick_two_obj_and_place"))
SEARCH_COLUMNS = (("NQ", "nq"), ("TriviaQA", "triviaqa"), ("PopQA", "popqa"), ("HotpotQA", "hotpotqa"),
                  ("2Wiki", "2wiki"), ("MuSiQue", "musique"), ("Bamboogle", "bamboogle"))


def _alfworld(summary: Summary) -> Sequence[Column]:
    return [Column(name, _type_rate(t)) for name, t in ALFWORLD_COLUMNS] + [Column("All", _all)]


def _webshop(summary: Summary) -> Sequence[Column]:
    def score(s: Summary) -> float | None:
        return 100.0 * s["mean_reward"] if s.get("episodes") else None

    return [Column("Score", score), Column("Succ.", _all)]


def _search(summary: Summary) -> Sequence[Column]:
    by_type = summary.get("by_type") or {}
    known = [t for _, t in SEARCH_COLUMNS]
    cols = [Column(name, _type_rate(t)) for name, t in SEARCH_COLUMNS if t in by_type]
    cols += [Column(t, _type_rate(t)) for t in sorted(by_type) if t not in known]

    def avg(s: Summary) -> float | None:
        rates = [100.0 * e["success_rate"] for e in (s.get("by_type") or {}).values() if e.get("total")]
        return statistics.fmean(rates) if rates else None

    return cols + [Column("Avg.", avg)]


def _generic(summary: Summary) -> Sequence[Column]:
    return [Column(t, _type_rate(t)) for t in sorted(summary.get("by_type") or {})] + [Column("All", _all)]


#: env name -> its results layout (other envs get success per task type and All)
TABLE_LAYOUTS: Registry[Layout] = Registry("table layout")
TABLE_LAYOUTS.register("alfworld", Layout("ALFWorld success rate (%)", _alfworld))
TABLE_LAYOUTS.register("webshop", Layout("WebShop score and success rate (%)", _webshop))
TABLE_LAYOUTS.register("search", Layout("Search exact match (%)", _search))
GENERIC = Layout("success rate (%)", _generic)


def layout_for(env_name: str) -> Layout:
    return TABLE_LAYOUTS.get(env_name) if env_name in TABLE_LAYOUTS else GENERIC


def table_row(env_name: str, summary: Summary) -> dict[str, Any]:
    """The run's row in its env's layout: ``{"title", "columns", "values": {column: percent|None}}``."""
    layout = layout_for(env_name)
    cols = layout.columns(summary)
    return {"title": layout.title if layout is not GENERIC else f"{env_name} {layout.title}",
            "columns": [c.name for c in cols],
            "values": {c.name: (round(v, 2) if (v := c.value(summary)) is not None else None) for c in cols}}


def run_label(result: Mapping[str, Any], fallback: str) -> str:
    """``policy · skills vN`` / ``policy · no skills`` for a result of ``skillrl eval``."""
    run = result.get("run") or {}
    policy = str(run.get("policy") or fallback)
    skills = run.get("skills")
    if skills:
        return f"{policy} · skills v{skills.get('bank_version')} ({skills.get('retrieval_mode')})"
    return f"{policy} · no skills"


@dataclass(frozen=True)
class Comparison:
    """Runs of one env side by side."""

    env: str
    """The env the runs played."""
    title: str
    """The layout's caption."""
    columns: list[str]
    """The union of the runs' columns, the closing one (All / Avg.) last."""
    rows: list[tuple[str, dict[str, float | None], int]]
    """``(label, values, episodes)`` per run."""


def comparisons(results: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Comparison]:
    """Group ``(name, result)`` pairs by env and line their rows up on the union of columns.

    Labels come from :func:`run_label`; a label used twice gets the run's name appended.
    """
    by_env: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for name, result in results:
        by_env.setdefault(str((result.get("run") or {}).get("env") or "?"), []).append((name, result))
    out: list[Comparison] = []
    for env, runs in by_env.items():
        labels = [run_label(r, n) for n, r in runs]
        rows = []
        columns: list[str] = []
        title = layout_for(env).title
        for (name, result), label in zip(runs, labels):
            row = table_row(env, result["summary"])
            title = row["title"]
            for c in row["columns"]:
                if c not in columns:
                    columns.append(c)
            if labels.count(label) > 1:
                label = f"{label} [{name}]"
            rows.append((label, row["values"], int(result["summary"].get("episodes", 0))))
        # keep the layout's closing column (All / Avg. / Succ.) last
        for closing in ("All", "Avg."):
            if closing in columns:
                columns.remove(closing)
                columns.append(closing)
        out.append(Comparison(env, title, columns, rows))
    return out


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def render(comparison: Comparison, fmt: str = "text") -> str:
    """One comparison as ``text`` (aligned columns), ``markdown`` or ``csv``.

    >>> c = Comparison("webshop", "WebShop", ["Score", "Succ."], [("oracle", {"Score": 99.2, "Succ.": 97.0}, 500)])
    >>> print(render(c, "markdown"))
    **WebShop**
    <BLANKLINE>
    | run | Score | Succ. | episodes |
    |---|---:|---:|---:|
    | oracle | 99.2 | 97.0 | 500 |
    """
    header = ["run", *comparison.columns, "episodes"]
    body = [[label, *(_cell(values.get(c)) for c in comparison.columns), str(n)] for label, values, n in comparison.rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["env", *header])
        for label, values, n in comparison.rows:
            writer.writerow([comparison.env, label, *("" if values.get(c) is None else f"{values[c]:.2f}"
                                                      for c in comparison.columns), n])
        return buf.getvalue().rstrip("\n")
    if fmt == "markdown":
        lines = [f"**{comparison.title}**", "", "| " + " | ".join(header) + " |",
                 "|---|" + "|".join("---:" for _ in header[1:]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    if fmt != "text":
        raise ValueError(f"unknown table format {fmt!r}; choose text, markdown or csv")
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt_row = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([comparison.title, fmt_row(header), "  ".join("-" * w for w in widths), *map(fmt_row, body)])


def compare(results: Sequence[tuple[str, Mapping[str, Any]]], fmt: str = "text") -> str:
    """Every env's comparison of ``results`` rendered in ``fmt`` (CSV: one header per env block)."""
    return "\n\n".join(render(c, fmt) for c in comparisons(results))
