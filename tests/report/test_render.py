"""Plots and the HTML page of a report (pure rendering, checked on the text)."""

from __future__ import annotations

import base64
import dataclasses
import html.parser
import re
from datetime import datetime, timezone
from pathlib import Path

from skillrl.report import Table, write_report
from skillrl.report.build import build_report
from skillrl.report.html import render_html
from skillrl.report.model import Metrics, RunReport, RunSummary
from skillrl.report.plots import render_plots

from synthetic_run import EVIL_TITLE, make_local_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Collector(html.parser.HTMLParser):
    """Tags, attributes and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(page)
    return c


def test_plots_are_pngs_for_a_full_run(tmp_path: Path) -> None:
    rep = build_report(make_local_run(tmp_path)["run"])
    plots = render_plots(rep)
    assert [p.name for p in plots] == ["success_by_type", "bank_size", "prompt_tokens", "training"]
    for p in plots:
        assert p.png.startswith(PNG_MAGIC) and len(p.png) > 5000


def test_no_data_no_plots() -> None:
    rep = RunReport(RunSummary("/x", "metrics"), Metrics())
    assert render_plots(rep) == []
    page = render_html(rep, [])
    assert "No plottable metrics" in page and "No skill bank in this run" in page


def test_page_is_self_contained_and_escapes_user_text(tmp_path: Path) -> None:
    rep = build_report(make_local_run(tmp_path, evil=True)["run"])
    page = render_html(rep, render_plots(rep), generated_at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    doc = _parse(page)
    tags = [t for t, _ in doc.tags]
    assert "script" not in tags and "link" not in tags  # the evil title stayed text
    imgs = [a for t, a in doc.tags if t == "img"]
    assert len(imgs) == 4
    for a in imgs:  # every image is an embedded PNG
        assert a["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(a["src"].split(",", 1)[1]).startswith(PNG_MAGIC)
    # nothing on the page may point outside it
    urls = [v for _, a in doc.tags for k, v in a.items() if k in ("src", "href") and v]
    assert all(u.startswith("data:") for u in urls)
    assert not re.search(r"url\(|@import|https?://(?!example)", page.split("<body>")[0])
    assert EVIL_TITLE in "".join(doc.text)  # shown as text, escaped in the source
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "2026-01-02 00:00 UTC" in page


def test_page_tables_list_every_item_and_change(tmp_path: Path) -> None:
    facts = make_local_run(tmp_path)
    rep = build_report(facts["run"])
    page = render_html(rep, [])
    ids = {a.get("id") for _, a in _parse(page).tags if a.get("id")}
    assert {"summary", "cycles", "bank-v1", "bank-v4", "bank-v6", "retired", "usage-won", "usage-lost",
            "usage-all", "checkpoints"} <= ids
    final_table = page.split('id="bank-v6"')[1].split("</table>")[0]
    for item_id in facts["final_ids"]:
        assert f"<td>{item_id}</td>" in final_table
    assert "<td>gen_002</td>" not in final_table  # retired before v6
    cycles = page.split('id="cycles"')[1].split("</table>")[0]
    assert cycles.count('class="op-add"') == 3 and cycles.count('class="op-retire"') == 1
    assert "injected in 3 lost episodes, 0 won" in cycles
    won = page.split('id="usage-won"')[1].split("</table>")[0]
    assert won.index("gen_001") < won.index("mis_001")  # 3 wins before 1


def test_extra_tables_from_other_tools(tmp_path: Path) -> None:
    rep = build_report(make_local_run(tmp_path)["run"])
    rep = dataclasses.replace(rep, tables=(Table("Eval: ALFWorld", ("type", "success"), (("heat", 0.5), ("<b>", 1))),))
    page = render_html(rep, [])
    assert 'id="eval-alfworld"' in page and '<td class="num">0.500</td>' in page and "<td>&lt;b&gt;</td>" in page


def test_write_report_files(tmp_path: Path) -> None:
    rep = build_report(make_local_run(tmp_path)["run"])
    files = write_report(rep, tmp_path / "out")
    assert files.html == tmp_path / "out" / "report.html"
    assert sorted(p.name for p in files.plots) == ["bank_size.png", "prompt_tokens.png", "success_by_type.png",
                                                   "training.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in files.plots)
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_cycle_rows_show_episode_ids_and_replaced_text() -> None:
    from skillrl.report.build import group_cycles
    from skillrl.report.model import HistoryEntry

    ids = tuple(f"alfworld/valid_seen/game_{i}" for i in range(8))
    history = (HistoryEntry("update", "gen_001", "general_skills", None, 40, "evolution@step40", "sharper", 7,
                            episode_ids=ids, previous={"skill_id": "gen_001", "title": "Old title",
                                                       "principle": "Old <principle>"}),)
    rep = RunReport(RunSummary("/x", "local"), Metrics(), cycles=tuple(group_cycles(history)), history=history)
    page = render_html(rep, [])
    cycles = page.split('id="cycles"')[1].split("</table>")[0]
    assert "game_0, " in cycles and "game_5" in cycles and "game_6" not in cycles and "(+2 more)" in cycles
    updates = page.split('id="updates"')[1].split("</table>")[0]
    assert "Old title — Old &lt;principle&gt;" in updates
