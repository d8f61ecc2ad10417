"""The report page: one self-contained HTML document (inline CSS, images as base64 data URIs,
no scripts, no external requests). Every piece of text from the run is HTML-escaped.

Tables carry stable ids so that tools and tests can find them: ``summary``, ``cycles``,
``bank-v<N>`` (the bank at version N), ``retired``, ``usage-won``, ``usage-lost``, ``usage-all``,
``checkpoints``, and the ids of :attr:`RunReport.tables`.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from skillrl.report.build import top_usage
from skillrl.report.model import BankVersion, EvolutionCycle, RunReport, SkillUsage, Table
from skillrl.report.plots import Plot

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#1f2328;line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
h3{margin-top:20px}.muted{color:#59636e;font-size:.9em}
table{border-collapse:collapse;margin:8px 0 16px;font-size:.88em;width:100%}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}tr:nth-child(even) td{background:#fbfcfd}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:8px;margin:8px 0 12px}
.fact{border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;background:#f6f8fa}
.fact .label{color:#59636e;font-size:.8em}.fact .value{font-weight:600;overflow-wrap:anywhere}.op-add{color:#1a7f37;font-weight:600}.op-update{color:#9a6700;font-weight:600}
.op-retire{color:#cf222e;font-weight:600}.tag{display:inline-block;border-radius:10px;padding:0 6px;
font-size:.8em;background:#ddf4ff}.tag.new{background:#dafbe1}.tag.updated{background:#fff8c5}
.notes{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 16px;margin:12px 0}
.warn{background:#ffebe9;border-color:#cf222e}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px;align-items:start}
figure{margin:12px 0 20px}figure.wide{grid-column:1/-1}figure img{max-width:100%;border:1px solid #d0d7de;border-radius:4px}
figcaption{color:#59636e;font-size:.9em}details{margin:6px 0}summary{cursor:pointer;font-weight:600}
code{background:#f6f8fa;padding:0 4px;border-radius:4px}
"""


def esc(value: Any) -> str:
    """``value`` as escaped HTML text (None -> '')."""
    return "" if value is None else html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{_fmt(value)}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{esc(value)}</td>"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "table"


def table_html(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, table_id: str = "",
               raw_columns: Sequence[int] = ()) -> str:
    """A ``<table>``; cells are escaped, except the columns in ``raw_columns`` (already HTML)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = [f"<td>{v}</td>" if i in raw_columns else _cell(v) for i, v in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt(value: Any) -> str:
    """Numbers for people: rates (below 10) with 3 decimals, larger values (token counts) with 1."""
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return "" if value is None else str(value)


def _summary(report: RunReport) -> str:
    s = report.summary
    facts: list[tuple[str, Any]] = [("kind", s.kind), ("environment", s.env_name or "unknown")]
    if s.steps is not None:
        facts.append(("last step", s.steps))
    facts.append(("evolution cycles", len(report.cycles)))
    facts.append(("evolution source", s.evolution_source or "not recorded"))
    facts.extend((k, v) for k, v in s.headline.items())
    if s.skills_source:
        facts.append(("bank the run started from", s.skills_source))
    cards = "".join(f'<div class="fact"><div class="label">{esc(k)}</div><div class="value">{esc(_fmt(v))}</div></div>'
                    for k, v in facts)
    out = f'<h2>Run summary</h2><div class="facts" id="summary">{cards}</div>'
    if s.config:
        out += (f"<details><summary>Configuration ({len(s.config)} settings)</summary>"
                + table_html(["setting", "value"], [(k, _fmt(v)) for k, v in s.config.items()], table_id="config")
                + "</details>")
    return out


def _notes(report: RunReport) -> str:
    out = ""
    if report.missing:
        out += ('<div class="notes" id="missing"><strong>Not in this run</strong><ul>'
                + "".join(f"<li>{esc(m)}</li>" for m in report.missing) + "</ul></div>")
    if report.warnings:
        out += ('<div class="notes warn" id="warnings"><strong>Files that could not be read</strong><ul>'
                + "".join(f"<li>{esc(w)}</li>" for w in report.warnings) + "</ul></div>")
    return out


def _plots(plots: Sequence[Plot]) -> str:
    if not plots:
        return "<h2>Plots</h2><p class=\"muted\">No plottable metrics or bank versions.</p>"
    figs = []
    for p in plots:
        data = base64.b64encode(p.png).decode("ascii")
        wide = ' class="wide"' if p.wide else ""
        figs.append(f'<figure id="plot-{esc(p.name)}"{wide}><img class="plot" alt="{esc(p.title)}" '
                    f'src="data:image/png;base64,{data}"><figcaption><strong>{esc(p.title)}.</strong> '
                    f"{esc(p.caption)}</figcaption></figure>")
    return '<h2>Plots</h2><div class="plots">' + "".join(figs) + "</div>"


def _episodes(ids: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" … (+{len(ids) - limit} more)" if len(ids) > limit else "")


def _cycles(report: RunReport) -> str:
    out = ["<h2>Bank evolution</h2>"]
    if not report.cycles:
        out.append('<p class="muted">No bank changes were recorded in this run.</p>')
        return "".join(out)
    titles = {it.item_id: it.title for v in report.bank_versions for it in v.items}
    titles.update({it.item_id: it.title for it, _, _ in report.retired})
    rows = []
    for i, c in enumerate(report.cycles, 1):
        for e in c.entries:
            op = f'<span class="op-{esc(e.op)}">{esc(e.op)}</span>'
            rows.append((i, "" if c.step is None else c.step, e.source, f"v{c.version_before}→v{c.version_after}", op,
                         e.item_id, e.category or _section_label(e.section), titles.get(e.item_id, ""),
                         e.reason, _episodes(e.episode_ids)))
    counts = "; ".join(f"cycle {i}: +{len(c.of('add'))} added, {len(c.of('update'))} updated, "
                       f"{len(c.of('retire'))} retired" for i, c in enumerate(report.cycles, 1))
    out.append(f'<p class="muted">{esc(counts)}</p>')
    out.append(table_html(["cycle", "step", "source", "versions", "op", "id", "category", "title", "reason",
                           "episodes"], rows, table_id="cycles", raw_columns=(4,)))
    updates = [e for c in report.cycles for e in c.entries if e.op == "update" and e.previous]
    if updates:
        out.append("<h3>Text before each update</h3>")
        out.append(table_html(["id", "version", "before"],
                              [(e.item_id, e.version, _item_text(e.previous)) for e in updates], table_id="updates"))
    return "".join(out)


def _item_text(d: Any) -> str:
    if not isinstance(d, dict):
        return ""
    parts = [d.get("title") or d.get("description"), d.get("principle") or d.get("how_to_avoid")]
    return " — ".join(str(p) for p in parts if p)


def _section_label(section: str) -> str:
    return {"general_skills": "general", "common_mistakes": "mistakes"}.get(section, section)


def _bank_table(v: BankVersion, previous: BankVersion | None, cycles: Sequence[EvolutionCycle]) -> str:
    changed: dict[str, str] = {}
    if previous is not None:
        for c in cycles:
            if previous.version < c.version_after <= v.version:
                for e in c.entries:
                    if e.op in ("add", "update"):
                        changed[e.item_id] = "new" if e.op == "add" else changed.get(e.item_id, "updated")
    rows = []
    for it in v.items:
        status = changed.get(it.item_id, "")
        tag = f'<span class="tag {status}">{status}</span>' if status else ""
        if it.item_id in v.inexact_ids:
            tag += ' <span class="tag">text of a later version</span>'
        rows.append((it.item_id, it.group, it.title, it.text, it.when, tag))
    return table_html(["id", "category", "title / description", "principle / how to avoid",
                       "when to apply / why it happens", ""], rows, table_id=f"bank-v{v.version}", raw_columns=(5,))


def _banks(report: RunReport) -> str:
    out = ["<h2>The bank at each version</h2>"]
    if not report.bank_versions:
        out.append('<p class="muted">No skill bank in this run.</p>')
        return "".join(out)
    versions = list(report.bank_versions)
    for i in range(len(versions) - 1, -1, -1):
        v = versions[i]
        prev = versions[i - 1] if i > 0 else None
        sizes = ", ".join(f"{g} {n}" for g, n in v.sizes().items())
        when = f", step {v.step}" if v.step is not None else ""
        head = (f"Version {v.version}{when}: {len(v.items)} items ({sizes})"
                + ("" if v.exact else " — partly reconstructed"))
        body = f'<p class="muted">from {esc(v.origin)}</p>' + _bank_table(v, prev, report.cycles)
        if i == len(versions) - 1:
            out.append(f"<h3>{esc(head)} — latest</h3>{body}")
        else:
            out.append(f"<details><summary>{esc(head)}</summary>{body}</details>")
    if report.retired:
        out.append("<h3>Retired items</h3>")
        out.append(table_html(["id", "category", "title / description", "retired at version", "reason"],
                              [(it.item_id, it.group, it.title, ver, reason) for it, ver, reason in report.retired],
                              table_id="retired"))
    return "".join(out)


def _usage_rows(rows: Sequence[SkillUsage]) -> list[tuple[Any, ...]]:
    return [(u.item_id, u.group, u.title, u.times_retrieved, u.episodes_won, u.episodes_lost,
             u.win_rate if u.win_rate is not None else "") for u in rows]


def _usage(report: RunReport) -> str:
    out = ["<h2>Skills injected in won vs lost episodes</h2>"]
    if not report.usage:
        out.append('<p class="muted">No usage counters in this run.</p>')
        return "".join(out)
    out.append(f'<p class="muted">Cumulative counters from {esc(report.usage_file)}: episodes into which each '
               "item was injected, and how they ended.</p>")
    cols = ["id", "category", "title", "injected", "won", "lost", "win rate"]
    out.append("<h3>Most often injected in won episodes</h3>")
    out.append(table_html(cols, _usage_rows(top_usage(report.usage, "won")), table_id="usage-won"))
    out.append("<h3>Most often injected in lost episodes</h3>")
    out.append(table_html(cols, _usage_rows(top_usage(report.usage, "lost")), table_id="usage-lost"))
    out.append(f"<details><summary>All {len(report.usage)} items with counters</summary>"
               + table_html(cols, _usage_rows(report.usage), table_id="usage-all") + "</details>")
    return "".join(out)


def _extra_tables(tables: Sequence[Table]) -> str:
    out = []
    for t in tables:
        out.append(f"<h2>{esc(t.title)}</h2>")
        if t.caption:
            out.append(f'<p class="muted">{esc(t.caption)}</p>')
        out.append(table_html(t.columns, t.rows, table_id=t.table_id or _slug(t.title)))
    return "".join(out)


def _checkpoints(report: RunReport) -> str:
    out = ["<h2>Files</h2>"]
    if report.checkpoints:
        out.append(table_html(["step", "checkpoint", "bank version", "model weights"],
                              [(c.step, c.path, "" if c.bank_version is None else c.bank_version,
                                "yes" if c.has_model else "no") for c in report.checkpoints],
                              table_id="checkpoints"))
    if report.metrics.sources:
        out.append("<p>Metrics read from: " + ", ".join(f"<code>{esc(s)}</code>" for s in report.metrics.sources)
                   + "</p>")
    return "".join(out)


def render_html(report: RunReport, plots: Sequence[Plot], *, generated_at: datetime | None = None) -> str:
    """The whole page as a string (pure: same inputs, same page)."""
    when = (generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    title = f"SkillRL run report — {report.summary.env_name or report.summary.kind}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no network: images are data URIs, styles inline, and the policy forbids anything else
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(report.summary.run_dir)} · generated {esc(when)} by <code>skillrl report</code></p>',
        _notes(report),
        _summary(report),
        _plots(plots),
        _extra_tables(report.tables),
        _cycles(report),
        _banks(report),
        _usage(report),
        _checkpoints(report),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
