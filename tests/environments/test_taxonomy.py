"""Task taxonomies of the envs: aliases, hints and text classifiers (checked against the real
datasets), and the generic :class:`TaskTaxonomy`."""

from __future__ import annotations

import doctest
import json
import re

import pytest

import agent_system.environments.alfworld.taxonomy as alfworld_taxonomy
import agent_system.environments.search.taxonomy as search_taxonomy
import agent_system.environments.taxonomy as taxonomy
import agent_system.environments.webshop.taxonomy as webshop_taxonomy
from agent_system.environments import get_env_spec
from agent_system.environments.alfworld.taxonomy import TASK_TYPES as ALFWORLD_TYPES
from agent_system.environments.search.taxonomy import KINDS as SEARCH_KINDS
from agent_system.environments.taxonomy import FALLBACK, TaskTaxonomy
from agent_system.environments.webshop.taxonomy import CATEGORIES as WEBSHOP_CATEGORIES
from skillrl.skills.taxonomy import FALLBACK as SKILLS_FALLBACK
from skillrl.skills.taxonomy import TaskClassifier
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir


def canonical_category(env: str, name):
    return get_env_spec(env).taxonomy.canonical(name)


def classify_task(env: str, text, hint=None) -> str:
    return get_env_spec(env).taxonomy.classify(text, hint)


@pytest.mark.parametrize("module", [taxonomy, alfworld_taxonomy, webshop_taxonomy, search_taxonomy])
def test_doctests(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0


@pytest.mark.parametrize("env", ["alfworld", "webshop", "search", "toy"])
def test_every_env_spec_has_a_taxonomy_meeting_the_skills_protocol(env: str) -> None:
    tax = get_env_spec(env).taxonomy
    assert isinstance(tax, TaskTaxonomy) and isinstance(tax, TaskClassifier)
    assert tax.categories and all(tax.canonical(c) == c for c in tax.categories)
    assert tax.classify("", None) == FALLBACK == SKILLS_FALLBACK


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pick_and_place_simple", "pick_and_place"),
        ("pick_clean_then_place_in_recep", "clean"),
        ("pick_heat_then_place_in_recep", "heat"),
        ("pick_cool_then_place_in_recep", "cool"),
        ("look_at_obj_in_light", "look_at_obj_in_light"),
        ("pick_two_obj_and_place", "pick_two_obj_and_place"),
        ("examine", "look_at_obj_in_light"),
        ("Examine", "look_at_obj_in_light"),
        ("pick_two", "pick_two_obj_and_place"),
        ("heat", "heat"),
        ("unknown_type", None),
        (None, None),
    ],
)
def test_alfworld_names(name, expected) -> None:
    assert canonical_category("alfworld", name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("put a hot apple in fridge", "heat"),
        ("Your task is to: heat some egg and put it in garbagecan.", "heat"),
        ("examine the book with the desklamp", "look_at_obj_in_light"),
        ("look at cd under the desklamp", "look_at_obj_in_light"),
        ("put two cellphone in bed", "pick_two_obj_and_place"),
        ("find two book and put them in desk.", "pick_two_obj_and_place"),
        ("put a clean plate in countertop", "clean"),
        ("clean some cloth and put it in drawer", "clean"),
        ("put a cool tomato in microwave", "cool"),  # the microwave is the target, not the heater
        ("cool some pan and put it in diningtable", "cool"),
        ("put some pencil on dresser", "pick_and_place"),
        ("put a tomato in microwave", "pick_and_place"),
        ("", FALLBACK),
        ("xyzzy", FALLBACK),
    ],
)
def test_alfworld_text(text: str, expected: str) -> None:
    assert classify_task("alfworld", text) == expected


def test_hint_wins_for_alfworld_and_webshop() -> None:
    assert classify_task("alfworld", "put a hot apple in fridge", hint="pick_cool_then_place_in_recep") == "cool"
    assert classify_task("alfworld", "put a hot apple in fridge", hint="garbage") == "heat"  # unknown hint: text
    assert classify_task("webshop", "men's running shoes", hint="beauty") == "beauty"
    assert classify_task("webshop", "men's running shoes", hint="food") == "grocery"  # alias


def test_alfworld_classifier_matches_every_game_folder() -> None:
    try:
        root = resolve_data_dir("alfworld") / "json_2.1.1"
    except DataNotFoundError:
        pytest.skip("alfworld data not available")
    n = 0
    for game in sorted(root.glob("valid_*/*/*/game.tw-pddl")):
        text = game.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"Your task is to: ([^\"\\]*)", text)
        assert m, game
        expected = canonical_category("alfworld", game.parts[-3].split("-")[0])
        assert expected is not None, game
        assert classify_task("alfworld", m.group(1)) == expected, (game, m.group(1))
        n += 1
    assert n == 474  # valid_seen + valid_unseen + valid_train goal texts: every one agrees


def test_webshop_categories_are_the_catalogue_values() -> None:
    try:
        products = json.loads((resolve_data_dir("webshop") / "products_1k.json").read_text())
    except DataNotFoundError:
        pytest.skip("webshop data not available")
    assert {p["category"] for p in products} == set(WEBSHOP_CATEGORIES)


def test_webshop_keyword_classifier_accuracy() -> None:
    try:
        d = resolve_data_dir("webshop")
    except DataNotFoundError:
        pytest.skip("webshop data not available")
    category = {p["asin"]: p["category"] for p in json.loads((d / "products_1k.json").read_text())}
    goals = [(v["instruction"], category[a]) for a, v in json.loads((d / "items_ins_v2_1000.json").read_text()).items() if "instruction" in v]
    correct = sum(classify_task("webshop", text) == cat for text, cat in goals)
    assert (correct, len(goals)) == (376, 415)  # 0.906 of the 1k-product instructions: the classifier is unchanged


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i need a long lasting 6.76 fl oz bottle of perfume, and price lower than 100.00 dollars", "beauty"),
        ("i want noise cancelling bluetooth headphones", "electronics"),
        ("i am looking for a women's slim fit dress in navy blue, size large", "fashion"),
        ("find me a twin size mattress with box spring", "garden"),
        ("gluten free snack crackers, pack of 12", "grocery"),
        ("something nice", FALLBACK),
    ],
)
def test_webshop_text(text: str, expected: str) -> None:
    assert classify_task("webshop", text) == expected


@pytest.mark.parametrize(
    ("question", "hint", "expected"),
    [
        ("Were Scott Derrickson and Ed Wood of the same nationality?", "hotpotqa", "comparison"),
        ("Who is older, Annie Morton or Terry Richardson?", None, "comparison"),
        ("Who founded the company that distributed the film UHF?", "musique", "multi_hop"),
        ("Who is the spouse of the Green performer?", None, "multi_hop"),
        ("how many seasons of vampire diaries are there", "nq", "numeric"),
        ("when did the eagles win last super bowl", "nq", "temporal"),
        ("What year did the Berlin wall fall?", None, "temporal"),
        ("who wrote he ain't heavy he's my brother lyrics", "nq", "single_hop_fact"),
        ("Question: who sings hotel california?\n", None, "single_hop_fact"),
        ("Jane Doe invented what?", "bamboogle", "multi_hop"),  # undecided: the source tips it
        ("", None, FALLBACK),
    ],
)
def test_search_kinds(question: str, hint, expected: str) -> None:
    assert classify_task("search", question, hint) == expected


def test_search_hint_is_weak() -> None:
    # a clear single-hop question stays single-hop even from a multi-hop dataset's ... unless undecided
    assert classify_task("search", "how many players are on a soccer team", hint="hotpotqa") == "numeric"
    assert classify_task("search", "who sings hotel california", hint="nq") == "single_hop_fact"
    assert classify_task("search", "who sings hotel california", hint="hotpotqa") == "multi_hop"


def test_garbage_never_crashes_and_categories_are_the_envs() -> None:
    assert classify_task("alfworld", "") == FALLBACK
    assert classify_task("alfworld", None) == FALLBACK  # type: ignore[arg-type]
    assert classify_task("webshop", "anything", hint=42) == FALLBACK  # type: ignore[arg-type]
    assert get_env_spec("alfworld").taxonomy.categories == ALFWORLD_TYPES
    assert get_env_spec("search").taxonomy.categories == SEARCH_KINDS
    assert get_env_spec("webshop").taxonomy.categories == WEBSHOP_CATEGORIES
    assert canonical_category("alfworld", "fruit") is None and canonical_category("toy", "fruit") == "fruit"


def test_toy_taxonomy_follows_the_hint_only() -> None:
    assert classify_task("toy", "take the key from the garden", "tool") == "tool"
    assert classify_task("toy", "take the key from the garden") == FALLBACK


def test_generic_taxonomy_rules() -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        TaskTaxonomy(("a", "b"), {"x": "c"})

    def broken(text, hint):
        raise RuntimeError("classifier bug")

    tax = TaskTaxonomy(("a", "b"), {"alpha": "a"}, classify_text=broken)
    assert tax.classify("anything") == FALLBACK  # a classifier bug never breaks an episode
    assert tax.classify("anything", hint="Alpha") == "a"
    weak = TaskTaxonomy(("a", "b"), classify_text=lambda text, hint: "b" if text else None, hint_is_authoritative=False)
    assert weak.classify("x", hint="a") == "b" and weak.classify("", hint="a") == FALLBACK
    odd = TaskTaxonomy(("a",), classify_text=lambda text, hint: "not-a-category")
    assert odd.classify("x") == FALLBACK
