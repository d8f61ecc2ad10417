"""Helpers for the bank reliability tests: a starting bank, a crashing child process, checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from skillrl.skills import SkillBank
from skillrl.skills.bank import check_history

REPO = Path(__file__).resolve().parents[2]


def skill(sid: str, principle: str = "Do the thing.", **extra: Any) -> dict[str, Any]:
    return {"skill_id": sid, "title": f"Title {sid}", "principle": principle, "when_to_apply": "", **extra}


def start_bank(path: Path, version: int = 1) -> Path:
    """A small bank at ``version`` without history."""
    data = {
        "general_skills": [skill("gen_001"), skill("gen_002")],
        "task_specific_skills": {"heat": [skill("heat_001")]},
        "common_mistakes": [],
        "metadata": {"version": version},
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this tree first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True, text=True, timeout=timeout)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def assert_consistent(path: Path, first_version: int) -> dict[str, Any]:
    """The bank loads and its history has exactly one record per version in
    ``(first_version, bank.version]`` (anything newer only as orphans). Returns what was found."""
    bank = SkillBank.load(path)
    check = check_history(path)
    versions = [r.version for r in check.records]
    assert versions == list(range(first_version + 1, bank.version + 1)), (
        f"bank at v{bank.version}, history records {versions[:3]}…{versions[-3:]}")
    assert check.invalid_lines == (), check.invalid_lines
    assert all(r.version > bank.version for r in check.orphans)
    assert check.bank_version == bank.version
    return {"version": bank.version, "orphans": len(check.orphans), "torn": check.torn_tail}
