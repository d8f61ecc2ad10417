"""Reading the original's templates from a checkout: by file path, never by import; one clear
error for every way the checkout can be wrong."""

from __future__ import annotations

import shutil
import sys

import pytest
from original_helpers import ENVS, ORIGINAL_REPO

from agent_system.environments.original_style import get_original_style
from agent_system.environments.original_templates import (
    OriginalRepoError,
    bank_file,
    string_constants,
    template_fields,
)
from skillrl.agent.original import load_original_style
from skillrl.utils.registry import RegistryError

PROMPTS = "agent_system/environments/prompts"


@pytest.fixture()
def repo_copy(tmp_path):
    """A writable copy of the fixture checkout."""
    dst = tmp_path / "SkillRL"
    shutil.copytree(ORIGINAL_REPO, dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    dst.chmod(0o755)
    return dst


@pytest.mark.parametrize("env", ENVS)
def test_templates_are_the_files_string_constants(env):
    style = load_original_style(env, ORIGINAL_REPO)
    constants = string_constants(ORIGINAL_REPO / PROMPTS / f"{env}.py")
    prefix = env.upper()
    assert style.templates.no_history == constants[f"{prefix}_TEMPLATE_NO_HIS"]
    assert style.templates.history == constants[f"{prefix}_TEMPLATE"]
    assert style.templates.with_memory == constants[f"{prefix}_TEMPLATE_WITH_MEMORY"]
    assert style.templates.source.endswith(f"{env}.py")


def test_the_original_package_is_never_imported(repo_copy):
    # a template file whose import would fail still loads: it is parsed, not executed
    path = repo_copy / PROMPTS / "search.py"
    path.write_text("import module_that_does_not_exist\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    before = set(sys.modules)
    style = load_original_style("search", repo_copy)
    assert "{task_description}" in style.templates.no_history
    assert not any("module_that_does_not_exist" in m for m in set(sys.modules) - before)


def test_implicitly_concatenated_and_annotated_constants_are_read(tmp_path):
    f = tmp_path / "t.py"
    f.write_text('A = ("x" "y")\nB: str = "z"\nC = 3\nD = f"{A}"\n', encoding="utf-8")
    assert string_constants(f) == {"A": "xy", "B": "z"}


def test_template_fields():
    assert template_fields("{a} and {b.c} and {d[0]} {{literal}}") == {"a", "b", "d"}


@pytest.mark.parametrize("repo", [None, ""])
def test_unset_repo_is_one_clear_error(repo):
    with pytest.raises(OriginalRepoError, match="original_repo.*aiming-lab/SkillRL"):
        load_original_style("alfworld", repo)


def test_missing_repo_names_the_path(tmp_path):
    with pytest.raises(OriginalRepoError, match=f"not found at {tmp_path / 'nope'}"):
        load_original_style("webshop", tmp_path / "nope")


def test_missing_template_file_names_it(repo_copy):
    (repo_copy / PROMPTS / "webshop.py").unlink()
    with pytest.raises(OriginalRepoError, match=r"prompts/webshop\.py: missing from the original SkillRL checkout"):
        load_original_style("webshop", repo_copy)
    load_original_style("alfworld", repo_copy)  # the other envs are unaffected


def test_missing_constant_names_it(repo_copy):
    path = repo_copy / PROMPTS / "alfworld.py"
    path.write_text(path.read_text(encoding="utf-8").replace("ALFWORLD_TEMPLATE_WITH_MEMORY", "RENAMED"), encoding="utf-8")
    with pytest.raises(OriginalRepoError, match="no string constant ALFWORLD_TEMPLATE_WITH_MEMORY"):
        load_original_style("alfworld", repo_copy)


def test_unparsable_file_is_reported(repo_copy):
    (repo_copy / PROMPTS / "search.py").write_text("SEARCH_TEMPLATE = '''unterminated\n", encoding="utf-8")
    with pytest.raises(OriginalRepoError, match="cannot read the original templates"):
        load_original_style("search", repo_copy)


def test_unknown_template_field_fails_at_load_not_mid_rollout(repo_copy):
    path = repo_copy / PROMPTS / "search.py"
    text = path.read_text(encoding="utf-8").replace("Your question: {task_description}", "Q: {task_description} {mood}", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OriginalRepoError, match=r"uses field\(s\) mood"):
        load_original_style("search", repo_copy)


def test_bank_file_is_relative_to_memory_data(repo_copy):
    assert bank_file(repo_copy, "alfworld/claude_style_skills.json") == repo_copy / "memory_data/alfworld/claude_style_skills.json"
    with pytest.raises(OriginalRepoError, match="memory_data/alfworld/other.json: missing"):
        bank_file(repo_copy, "alfworld/other.json")
    with pytest.raises(OriginalRepoError, match="skill banks such as x.json come from a checkout"):
        bank_file(None, "x.json")


def test_unknown_env_lists_the_known_ones():
    with pytest.raises(RegistryError, match="known: alfworld, search, webshop"):
        get_original_style("toy")
