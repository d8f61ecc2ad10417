"""The report page in a real browser: headless Chromium (Debian's ``chromium`` package, installed
by ``scripts/install_browser.sh``, which ``scripts/test.sh`` runs) driven over the DevTools
protocol. Without Chromium this test FAILS (CI must run it); ``SKILLRL_SKIP_BROWSER=1`` skips it
for local development."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from skillrl.report import make_report

from headless_chromium import HeadlessChromium, find_chromium
from synthetic_run import EVIL_TITLE, make_local_run


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; skips under SKILLRL_SKIP_BROWSER=1, fails loudly when it is missing."""
    if os.environ.get("SKILLRL_SKIP_BROWSER") == "1":
        pytest.skip("SKILLRL_SKIP_BROWSER=1: the report page's browser test is skipped (CI runs it)")
    binary = find_chromium()
    if binary is None:
        pytest.fail("Chromium not found (/usr/bin/chromium): run `bash scripts/install_browser.sh` as root "
                    "(Debian package `chromium`), or set SKILLRL_SKIP_BROWSER=1 to skip this test locally")
    return binary


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


IMAGES_JS = "Array.from(document.images).map(i => ({complete: i.complete, w: i.naturalWidth, alt: i.alt}))"
TABLE_IDS_JS = "Array.from(document.querySelectorAll('#{table} tbody tr td:first-child')).map(td => td.textContent)"


def test_report_page_renders_in_chromium(chromium, toy_run, tmp_path: Path) -> None:
    report, files = make_report(toy_run["out"], tmp_path / "toy")
    final = json.loads((toy_run["out"] / "checkpoints" / "global_step_2" / "skill_bank.json").read_text())
    bank_ids = [s["skill_id"] for s in final["general_skills"]]
    bank_ids += [s["skill_id"] for skills in final["task_specific_skills"].values() for s in skills]
    bank_ids += [m["mistake_id"] for m in final["common_mistakes"]]
    evil = make_local_run(tmp_path / "evil", evil=True)
    _, evil_files = make_report(evil["run"], tmp_path / "evil_report")

    with HeadlessChromium(chromium, tmp_path / "browser") as page:
        page.navigate(files.html.resolve().as_uri())
        images = page.evaluate(IMAGES_JS)
        assert len(images) == len(files.plots) == 4
        assert all(img["complete"] and img["w"] > 0 for img in images), images  # every image decoded
        version = report.final_bank.version
        shown = page.evaluate(TABLE_IDS_JS.format(table=f"bank-v{version}"))
        assert sorted(shown) == sorted(bank_ids)  # the latest bank table lists the bank's skills
        assert "mis_order" in page.evaluate(TABLE_IDS_JS.format(table="cycles").replace("td:first-child",
                                                                                        "td:nth-child(6)"))
        assert page.evaluate("document.title").startswith("SkillRL run report")
        shot = page.screenshot(tmp_path / "report.png")
        width, height = _png_size(shot)
        assert width == 1280 and height > 1600  # the whole page, not just the first screen

        # user text full of markup stays text: no script element, no request to example.com
        page.navigate(evil_files.html.resolve().as_uri())
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        cells = page.evaluate(TABLE_IDS_JS.format(table="bank-v6").replace("td:first-child", "td:nth-child(3)"))
        assert EVIL_TITLE in cells
        assert all(img["w"] > 0 for img in page.evaluate(IMAGES_JS))
        page.screenshot(tmp_path / "evil.png", full_page=False)

    outside = [u for u in page.requests if not u.startswith(("file://", "data:"))]
    assert outside == []  # the page is self-contained
    assert page.console_errors == []
