"""The original recipe's facts agree with the fixture README's table (written from the original's
launch scripts), and the bound style applies the per-env skill defaults."""

from __future__ import annotations

import re

import pytest
from original_helpers import ENVS, GOLDEN, ORIGINAL_REPO

from skillrl.agent.original import ORIGINAL_RECIPES, load_original_style, original_recipe


def _table_row(label: str) -> list[str]:
    """The three env cells (ALFWorld, WebShop, Search) of a row of the README's facts table."""
    text = (GOLDEN / "README.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells[1:4]
    raise AssertionError(f"row {label!r} not in the fixture README")


def _numbers(cell: str) -> list[float]:
    # drop the `file:line` references in backticks that contain a colon
    cell = re.sub(r"`[^`]*:[^`]*`", "", cell)
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)]


def test_recipes_cover_the_three_envs():
    assert sorted(ORIGINAL_RECIPES) == sorted(ENVS)
    with pytest.raises(KeyError, match="known: alfworld, search, webshop"):
        original_recipe("toy")


def test_penalties_match_the_facts_table():
    cells = _table_row("invalid-action penalty")
    assert [original_recipe(e).invalid_action_penalty for e in ENVS] == [_numbers(c)[0] for c in cells]


def test_lengths_and_truncation_match_the_facts_table():
    cells = _table_row("max prompt / response tokens, truncation")
    for env, cell in zip(ENVS, cells):
        r = original_recipe(env)
        prompt, response = _numbers(cell)[:2]
        assert (r.max_prompt_length, r.max_response_length) == (prompt, response)
        assert f"`{r.truncation}`" in cell


def test_steps_and_history_match_the_facts_table():
    cells = _table_row("max steps, history length")
    for env, cell in zip(ENVS, cells):
        steps, history = _numbers(cell)[:2]
        assert (original_recipe(env).max_steps, original_recipe(env).history_length) == (steps, history)


def test_rewards_match_the_facts_table():
    cells = _table_row("env reward")
    assert "10.0 * won" in cells[0] and original_recipe("alfworld").success_reward == 10.0
    assert "`10.0` iff done" in cells[1] and original_recipe("webshop").success_reward == 10.0
    assert "exact match" in cells[2] and original_recipe("search").success_reward == 1.0


def test_skill_settings_match_the_facts_table():
    cells = _table_row("skills")
    for env, cell in zip(ENVS, cells):
        r = original_recipe(env)
        assert f"top_k={r.skills.top_k}" in cell or (env == "webshop" and cell.startswith("same"))
        assert (ORIGINAL_REPO / "memory_data" / r.skills.skills_json).is_file()
    assert original_recipe("alfworld").validation_split == "valid_seen"
    assert original_recipe("webshop").max_prompt_chars == 13_000


def _bank(n_general: int, n_specific: int) -> dict:
    skill = lambda i, p: {"skill_id": f"{p}_{i}", "title": f"{p}{i}", "principle": "x", "when_to_apply": ""}  # noqa: E731
    return {
        "general_skills": [skill(i, "gen") for i in range(n_general)],
        "task_specific_skills": {"pick_and_place": [skill(i, "pic") for i in range(n_specific)],
                                 "apparel": [skill(i, "app") for i in range(n_specific)]},
        "common_mistakes": [],
    }


@pytest.mark.parametrize("env, expected", [("alfworld", 10), ("webshop", 6), ("search", 10)])
def test_top_k_default_when_unset_is_per_env(env, expected):
    style = load_original_style(env, ORIGINAL_REPO)
    assert len(style.select_skills(_bank(12, 0), "put x in y", top_k=None).general) == expected
    assert len(style.select_skills(_bank(12, 0), "put x in y", top_k=3).general) == 3


def test_search_ignores_task_specific_top_k_as_the_original_did():
    bank = {**_bank(0, 4), "task_specific_skills": {"direct_retrieval": _bank(0, 4)["task_specific_skills"]["apparel"]}}
    search = load_original_style("search", ORIGINAL_REPO)
    assert len(search.select_skills(bank, "who", top_k=0, task_specific_top_k=1).task_specific) == 4
    alfworld = load_original_style("alfworld", ORIGINAL_REPO)
    assert len(alfworld.select_skills(_bank(0, 4), "put x", top_k=0, task_specific_top_k=1).task_specific) == 1
