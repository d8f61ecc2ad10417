"""The layering of DESIGN.md, checked on the source: dependencies point one way, and verl is
imported in exactly one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: folder -> module prefixes its code must never import
#: the layers above the agent: policies (every way of acting) and evaluation (the play path)
_ABOVE_AGENT = ("skillrl.policies", "skillrl.eval", "skillrl.cli")

FORBIDDEN = {
    "skillrl/skills": ("torch", "verl", "transformers", "agent_system", "skillrl.trainer", "skillrl.agent", *_ABOVE_AGENT),
    "agent_system": ("verl", "torch", "transformers", "skillrl.trainer", "skillrl.skills", "skillrl.agent",
                     "skillrl.distill", *_ABOVE_AGENT),
    "skillrl/agent": ("verl", "torch", "skillrl.trainer", *_ABOVE_AGENT),
    "skillrl/distill": ("verl", "torch", "transformers", "agent_system", "skillrl.trainer", "skillrl.agent", *_ABOVE_AGENT),
    "skillrl/utils": ("verl", "torch", "agent_system", "skillrl.skills", "skillrl.agent", "skillrl.trainer", *_ABOVE_AGENT),
    # reports read the files a run wrote; they never load a model, an env or the trainers
    "skillrl/report": ("verl", "torch", "transformers", "agent_system", "skillrl.trainer", "skillrl.agent", *_ABOVE_AGENT),
    # policies sit above the agent (model-backed ones reuse the local trainer's batching policy)
    "skillrl/policies": ("verl", "skillrl.eval", "skillrl.cli"),
    # evaluation plays policies through the agent loop; it never touches models itself
    "skillrl/eval": ("verl", "torch", "transformers", "skillrl.cli"),
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


def test_model_policies_import_torch_only_when_used():
    """The policy registry and the scripted policies load without torch (light installs, fast CLI)."""
    light = ("torch", "transformers", "openai")
    for path in ("skillrl/policies/__init__.py", "skillrl/policies/base.py", "skillrl/policies/scripted.py"):
        assert not [m for m in imported_modules(ROOT / path) if any(m == b or m.startswith(b + ".") for b in light)]
