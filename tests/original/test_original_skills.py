"""The original's skill block: keyword routing (quirks included), template selection, rendering."""

from __future__ import annotations

import json

import pytest
from original_helpers import ORIGINAL_REPO

from skillrl.skills.bank import SkillBank
from skillrl.skills.original import (
    NO_SKILLS_TEXT,
    as_original_bank,
    format_skill_block,
    load_original_bank,
    original_task_type,
    render_skill_block,
    select_skills,
)

ALF = ["pick_and_place", "look_at_obj_in_light", "clean", "heat", "cool", "examine"]
WEB = ["apparel", "footwear", "home_decor", "electronics", "accessories", "beauty_health", "other"]
BANKS = {
    "alfworld": ORIGINAL_REPO / "memory_data/alfworld/claude_style_skills.json",
    "webshop": ORIGINAL_REPO / "memory_data/webshop/claude_style_skills.json",
    "search": ORIGINAL_REPO / "memory_data/search/claude_style_skills_search.json",
}


@pytest.mark.parametrize(
    "task, expected",
    [
        ("put a hot egg in fridge.", "pick_and_place"),  # "hot" is not "heat"
        ("put a cool apple in microwave.", "cool"),
        ("put a clean ladle in diningtable.", "clean"),
        ("heat some egg and put it in countertop.", "heat"),
        ("find two book and put them in desk.", "examine"),  # "find"
        ("examine the bowl with the desklamp.", "examine"),  # not look_at
        ("look at alarmclock under the desklamp.", "look_at_obj_in_light"),
        ("look at the mug on the desk.", "pick_and_place"),  # "look at" without "under"
        ("put two alarmclock in dresser.", "pick_and_place"),
        ("Put A Clean Mug In Cabinet.", "clean"),  # case-insensitive
        ("clean some apple and heat it", "clean"),  # first rule wins
    ],
)
def test_alfworld_routing(task, expected):
    assert original_task_type(ALF, task) == expected


@pytest.mark.parametrize(
    "task, expected",
    [
        ("i need a pantry organizer for my kitchen", "apparel"),  # "pant"
        ("a drawstring bag for the gym", "accessories"),  # "ring" before "bag" (same list anyway)
        ("a queen size box spring", "accessories"),  # "ring"
        ("coloring books for kids", "accessories"),  # "ring"
        ("men's dress shirts, classic fit", "apparel"),
        ("running shoes size 9", "footwear"),
        ("usb c charger cable 3 pack", "electronics"),
        ("scented soy candle", "home_decor"),
        ("anti aging face cream", "beauty_health"),
        ("gluten free crackers", "other"),
        ("a leather shirt and boots", "apparel"),  # the apparel list is checked first
    ],
)
def test_webshop_routing(task, expected):
    assert original_task_type(WEB, task) == expected


def test_routing_of_other_banks():
    assert original_task_type([], "who wrote hamlet") == "unknown"
    assert original_task_type(["direct_retrieval", "comparison"], "anything") == "direct_retrieval"
    # the ALFWorld rules switch on as soon as the bank has "clean" (or "pick_and_place")
    assert original_task_type(["clean"], "heat a mug") == "heat"


def test_search_bank_shows_general_skills_and_mistakes_only():
    bank = load_original_bank(BANKS["search"])
    raw = json.loads(BANKS["search"].read_text(encoding="utf-8"))
    assert raw["query_type_skills"] and not bank.task_specific  # never read by the original
    sel = select_skills(bank, "Who was the first person on the moon?", top_k=6)
    assert sel.task_type == "unknown" and sel.task_specific == ()
    block = format_skill_block(sel)
    assert block.startswith("### General Principles\n") and "\n\n### Mistakes to Avoid\n" in block
    assert block.count("\n- **Don't**: ") + block.startswith("- **Don't**") == 5


@pytest.mark.parametrize("env", sorted(BANKS))
def test_skillbank_and_plain_json_render_the_same(env):
    data = json.loads(BANKS[env].read_text(encoding="utf-8"))
    task = {"alfworld": "heat some egg and put it in countertop.", "webshop": "red running shoes", "search": "who"}[env]
    from_dict = render_skill_block(data, task, top_k=6, task_specific_top_k=3)
    from_bank = render_skill_block(SkillBank.load(BANKS[env]), task, top_k=6, task_specific_top_k=3)
    assert from_dict == from_bank
    assert from_dict.count("- **") >= 6


def _bank(**sections):
    return {"general_skills": [], "task_specific_skills": {"pick_and_place": []}, "common_mistakes": [], **sections}


def _skill(i, prefix="gen", when=""):
    return {"skill_id": f"{prefix}_{i:03d}", "title": f"T{prefix}{i}", "principle": f"P{prefix}{i}", "when_to_apply": when}


def test_dynamic_skills_come_first_and_are_all_kept():
    bank = _bank(general_skills=[_skill(1), _skill(2), _skill(1, "dyn"), _skill(3), _skill(2, "dyn")])
    ids = [s.skill_id for s in select_skills(bank, "put x in y", top_k=3).general]
    assert ids == ["dyn_001", "dyn_002", "gen_001"]
    ids = [s.skill_id for s in select_skills(bank, "put x in y", top_k=1).general]
    assert ids == ["dyn_001", "dyn_002"]  # more dynamic skills than top_k: all shown, no static


def test_task_specific_top_k_and_title_case_heading():
    bank = _bank(task_specific_skills={"look_at_obj_in_light": [_skill(i, "loo", when="w") for i in range(4)], "clean": []})
    sel = select_skills(bank, "look at cd under the desklamp", top_k=0, task_specific_top_k=2)
    assert [s.skill_id for s in sel.task_specific] == ["loo_000", "loo_001"]
    assert format_skill_block(sel) == "### Look At Obj In Light Skills\n- **Tloo0**: Ploo0\n  _Apply when: w_\n- **Tloo1**: Ploo1\n  _Apply when: w_"
    assert len(select_skills(bank, "look at cd under the desklamp", top_k=0).task_specific) == 4  # None = all


def test_mistakes_first_five_and_incomplete_ones():
    mistakes = [{"mistake_id": f"m{i}", "description": f"D{i}", "how_to_avoid": f"H{i}"} for i in range(7)]
    mistakes[1] = {"mistake_id": "m1", "description": "", "how_to_avoid": "H1"}  # no description: skipped
    mistakes[2] = {"mistake_id": "m2", "description": "D2"}  # no fix: no Instead line
    block = render_skill_block(_bank(common_mistakes=mistakes), "x", top_k=0)
    assert block == (
        "### Mistakes to Avoid\n- **Don't**: D0\n  **Instead**: H0\n- **Don't**: D2\n"
        "- **Don't**: D3\n  **Instead**: H3\n- **Don't**: D4\n  **Instead**: H4"
    )


def test_empty_selection_says_so():
    assert render_skill_block(_bank(), "put x in y", top_k=6) == NO_SKILLS_TEXT


def test_bank_text_is_put_in_verbatim():
    bank = _bank(general_skills=[{"skill_id": "g", "title": "A  {b}", "principle": "line1\nline2 <|im_end|>"}])
    assert render_skill_block(bank, "x", top_k=1) == "### General Principles\n- **A  {b}**: line1\nline2 <|im_end|>"


@pytest.mark.parametrize(
    "bad, message",
    [
        ([], "must be a JSON object"),
        ({"general_skills": {}}, "general_skills must be a list"),
        ({"task_specific_skills": []}, "task_specific_skills must be an object"),
        ({"common_mistakes": ["x"]}, "a common mistake must be an object"),
        ({"general_skills": [3]}, "a skill must be an object"),
    ],
)
def test_malformed_banks_fail_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        as_original_bank(bad)


def test_load_original_bank_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="skill bank file not found"):
        load_original_bank(tmp_path / "none.json")
    (tmp_path / "b.json").write_text("{nope", encoding="utf-8")
    with pytest.raises(ValueError, match=r"b\.json: not a JSON skill bank"):
        load_original_bank(tmp_path / "b.json")


def test_negative_top_k_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        select_skills(_bank(), "x", top_k=-1)
