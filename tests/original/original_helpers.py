"""Where the original-compatibility fixtures are, and the golden cases as parameters.

The fixtures live beside the checkout in ``../shared/fixtures`` (or where ``SKILLRL_FIXTURES``
points): ``original_skillrl/`` (a trimmed MIT copy of the original repository: templates and
banks) and ``original_prompts/`` (golden prompts and projection cases). They are required: a
missing folder fails the tests loudly rather than skipping them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("SKILLRL_FIXTURES") or ROOT.parent / "shared" / "fixtures")
ORIGINAL_REPO = FIXTURES / "original_skillrl"
GOLDEN = FIXTURES / "original_prompts"
ENVS = ("alfworld", "webshop", "search")


def _require(path: Path) -> Path:
    if not path.exists():
        raise RuntimeError(f"fixture {path} is missing: the original-style tests need ../shared/fixtures (or SKILLRL_FIXTURES)")
    return path


def golden_file(env: str) -> Path:
    """The golden prompt file of ``env`` (or ``projection``)."""
    return _require(GOLDEN / f"{env}.jsonl")


def golden_rows(env: str) -> list[dict]:
    return [json.loads(line) for line in golden_file(env).read_text(encoding="utf-8").splitlines() if line.strip()]


def golden_params(env: str) -> list:
    """One ``pytest.param`` per golden line, id = the case name."""
    return [pytest.param(row, id=row["case"]) for row in golden_rows(env)]


def all_prompt_params() -> list:
    return [p for env in ENVS for p in golden_params(env)]
