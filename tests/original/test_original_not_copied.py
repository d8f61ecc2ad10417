"""The original's prompt templates and banks are read from the user's checkout, never stored in
this project: no tracked file holds a template, a distinctive template line, or bank text."""

from __future__ import annotations

import json
import subprocess

from original_helpers import ORIGINAL_REPO, ROOT

from agent_system.environments.original_templates import string_constants

#: template lines at least this long count as distinctive (shorter ones, like a role sentence or
#: "Now it's your turn to take an action.", also occur in the project's own native prompts)
MIN_LINE_CHARS = 80
#: bank texts at least this long count as distinctive
MIN_BANK_CHARS = 60


def _tracked_texts() -> dict[str, str]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: the project's own folders
        names = [str(p.relative_to(ROOT)) for d in ("agent_system", "skillrl", "tests", "configs", "examples", "memory_data", "bench", "scripts")
                 for p in (ROOT / d).rglob("*") if p.is_file()] + ["README.md"]
    out = {}
    for name in filter(None, names):
        try:
            out[name] = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
    return out


def _template_texts() -> dict[str, str]:
    out = {}
    for path in sorted((ORIGINAL_REPO / "agent_system/environments/prompts").glob("*.py")):
        out.update(string_constants(path))
    assert len(out) >= 9
    return out


def _bank_texts() -> set[str]:
    texts: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and len(node) >= MIN_BANK_CHARS:
            texts.add(node)

    for path in (ORIGINAL_REPO / "memory_data").rglob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return texts


def _distinctive_template_lines() -> set[str]:
    return {ln.strip() for t in _template_texts().values() for ln in t.splitlines() if len(ln.strip()) >= MIN_LINE_CHARS}


def _copies(tracked: dict[str, str], needles: set[str]) -> list[tuple[str, str]]:
    return [(name, needle[:60]) for name, text in tracked.items() for needle in needles if needle in text]


def test_no_template_or_template_line_is_stored_in_the_project():
    tracked = _tracked_texts()
    assert "agent_system/environments/alfworld/original.py" in tracked  # the scan sees our code
    lines = _distinctive_template_lines()
    assert len(lines) >= 10
    whole = {t.strip() for t in _template_texts().values()}
    assert _copies(tracked, lines | whole) == []


def test_no_original_bank_text_is_stored_in_the_project():
    texts = _bank_texts()
    assert len(texts) > 100
    assert _copies(_tracked_texts(), texts) == []


def test_the_scan_flags_a_copied_line():
    line = sorted(_distinctive_template_lines())[0]
    fake = {"ok.py": "PROMPT = 'our own words'", "copy.py": "TEXT = [\n" + line + "\n]"}
    assert _copies(fake, _distinctive_template_lines()) == [("copy.py", line[:60])]
