"""The original's prompt templates and banks are read from the user's checkout, never stored in
this project: no tracked file holds a template, a distinctive template line, or bank text."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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


def test_no_template_or_template_line_is_stored_in_the_project():
    tracked = _tracked_texts()
    assert "agent_system/environments/alfworld/original.py" in tracked  # the scan sees our code
    templates = _template_texts()
    lines = {ln.strip() for t in templates.values() for ln in t.splitlines() if len(ln.strip()) >= MIN_LINE_CHARS}
    assert len(lines) >= 10
    found = [(name, line[:60]) for name, text in tracked.items() for line in lines if line in text]
    found += [(name, key) for name, text in tracked.items() for key, t in templates.items() if t.strip() in text]
    assert found == []


def test_no_original_bank_text_is_stored_in_the_project():
    tracked = _tracked_texts()
    texts = _bank_texts()
    assert len(texts) > 100
    found = [(name, t[:60]) for name, content in tracked.items() for t in texts if t in content]
    assert found == []


def test_the_scan_would_see_a_copied_line(tmp_path):
    line = next(ln.strip() for t in _template_texts().values() for ln in t.splitlines() if len(ln.strip()) >= MIN_LINE_CHARS)
    sample = Path(tmp_path / "copy.py")
    sample.write_text(f"PROMPT = '''{line}'''\n", encoding="utf-8")
    assert line in sample.read_text(encoding="utf-8")
