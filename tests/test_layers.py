"""The layering of DESIGN.md, checked on the source: dependencies point one way, and verl is
imported in exactly one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: folder -> module prefixes its code must never import
FORBIDDEN = {
    "skillrl/skills": ("torch", "verl", "transformers", "agent_system", "skillrl.trainer", "skillrl.agent"),
    "agent_system": ("verl", "torch", "transformers", "skillrl.trainer", "skillrl.skills", "skillrl.agent"),
    "skillrl/agent": ("verl", "torch", "skillrl.trainer"),
    "skillrl/distill": ("verl", "torch", "transformers", "agent_system", "skillrl.trainer", "skillrl.agent"),
    "skillrl/utils": ("verl", "torch", "agent_system", "skillrl.skills", "skillrl.agent", "skillrl.trainer"),
    # reports read the files a run wrote; they never load a model, an env or the trainers
    "skillrl/report": ("verl", "torch", "transformers", "agent_system", "skillrl.trainer", "skillrl.agent"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _violations(folder: str, banned: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for mod in imported_modules(path):
            if any(mod == b or mod.startswith(b + ".") for b in banned):
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    return bad


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(folder):
    assert (ROOT / folder).is_dir()
    assert _violations(folder, FORBIDDEN[folder]) == []


def test_only_the_adapter_imports_verl():
    importers = set()
    for pkg in ("skillrl", "agent_system"):
        for path in (ROOT / pkg).rglob("*.py"):
            if any(m == "verl" or m.startswith("verl.") for m in imported_modules(path)):
                importers.add(str(path.relative_to(ROOT)))
    assert importers == {"skillrl/trainer/_verl.py"}


def test_checker_sees_imports():
    # the checker itself must be able to fail
    assert "verl.trainer.ppo" in imported_modules(ROOT / "skillrl/trainer/_verl.py") or any(
        m.startswith("verl") for m in imported_modules(ROOT / "skillrl/trainer/_verl.py"))
    assert _violations("skillrl/trainer", ("verl",)) != []
