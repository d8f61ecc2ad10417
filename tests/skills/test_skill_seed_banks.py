"""The hand-written first banks in memory_data/ validate and cover every category."""

from __future__ import annotations

import pytest
from skillbank_helpers import SEED_BANKS, taxonomy

from skillrl.skills import SkillBank, build_retriever


@pytest.mark.parametrize("env", sorted(SEED_BANKS))
def test_seed_bank_is_complete(env: str) -> None:
    bank = SkillBank.load(SEED_BANKS[env])
    assert bank.version == 1
    assert bank.metadata.get("description")
    assert len(bank.general_skills) >= 10
    assert len(bank.common_mistakes) >= 8
    by_cat = {taxonomy(env).canonical(c): s for c, s in bank.task_specific_skills.items()}
    assert None not in by_cat, "every bank category belongs to the taxonomy"
    for cat in taxonomy(env).categories:
        assert len(by_cat.get(cat, ())) >= 4, f"{env}: category {cat} has fewer than 4 skills"
    titles = [s.title.lower() for s in bank.general_skills] + [s.title.lower() for c in bank.task_specific_skills.values() for s in c]
    assert len(titles) == len(set(titles)), "titles repeat"
    principles = [s.principle for c in bank.task_specific_skills.values() for s in c] + [s.principle for s in bank.general_skills]
    assert len(principles) == len(set(principles))


def test_alfworld_bank_is_large_enough_for_the_benchmark() -> None:
    assert len(SkillBank.load(SEED_BANKS["alfworld"])) >= 60


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ("alfworld", ["go to", "open", "take", "move", "heat", "with microwave", "cool", "with fridge", "clean", "with sinkbasin", "use desklamp", "examine", "inventory", "look"]),
        ("webshop", ["search[", "click[", "buy now", "< prev", "back to search", "next >", "price"]),
        ("search", ["<search>", "<information>", "<answer>"]),
    ],
)
def test_seed_bank_speaks_the_action_language(env: str, words: list[str]) -> None:
    text = SEED_BANKS[env].read_text().lower()
    for w in words:
        assert w in text, f"{env} bank never mentions {w!r}"


SEARCH_EXAMPLES = {
    "single_hop_fact": "who wrote the song hotel california",
    "multi_hop": "Who founded the company that distributed the film UHF?",
    "comparison": "Who is older, Annie Morton or Terry Richardson?",
    "temporal": "when did the eagles win their last super bowl",
    "numeric": "how many seasons of vampire diaries are there",
}


@pytest.mark.parametrize("env", sorted(SEED_BANKS))
def test_every_category_retrieves_its_skills(env: str) -> None:
    r = build_retriever(SkillBank.load(SEED_BANKS[env]), taxonomy=taxonomy(env))
    for cat in taxonomy(env).categories:
        res = r.retrieve(SEARCH_EXAMPLES[cat], "nq") if env == "search" else r.retrieve("some task", cat)
        assert res.task_type == cat
        assert len(res.task_specific) >= 4 and len(res.general) == 6 and len(res.mistakes) == 5
