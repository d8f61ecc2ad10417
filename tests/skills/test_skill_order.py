"""What evolution adds reaches the prompt (section order), content-keyed skill embeddings, and a
token budget whose cost follows what is shown, not the bank size."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from skillbank_helpers import mistake, skill, small_bank, taxonomy

from skillrl.skills import SkillBank, build_retriever
from skillrl.skills.bank import ADDED_AT_VERSION, added_at_version, recency_order
from skillrl.skills.render import estimate_tokens, fit_budget
from skillrl.skills.schema import Skill

HEAT = "Your task is to: put a hot apple in fridge."


def big_bank(n_general: int = 15, n_heat: int = 8, n_mistakes: int = 9) -> SkillBank:
    """A seed bank with more items per section than the default slots (like the ALFWorld bank)."""
    data = small_bank()
    data["general_skills"] = [skill(f"gen_{i:03d}", f"General {i}", f"principle {i}") for i in range(1, n_general + 1)]
    data["task_specific_skills"]["heat"] = [skill(f"heat_{i:03d}", f"Heat {i}", f"heat rule {i}") for i in range(1, n_heat + 1)]
    data["common_mistakes"] = [mistake(f"err_{i:03d}", f"mistake {i}") for i in range(1, n_mistakes + 1)]
    return SkillBank.from_dict(data)


class HashEncoder:
    """Deterministic bag-of-words embeddings (no model); records the texts of every call."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.skill_texts: list[str] = []
        self.calls = 0

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        self.calls += 1
        if not is_query:
            self.skill_texts.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                out[row, sum(map(ord, word)) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


# --- the order of a section -------------------------------------------------------------------


def test_adds_are_stamped_with_their_version(tmp_path) -> None:
    bank = big_bank()
    assert all(added_at_version(s) == 0 for s in bank.general_skills)  # seed items carry nothing
    v = bank.version
    s = bank.add_skill(None, skill("gen_900", "New", "p"), source="evolution@step3")
    m = bank.add_mistake(mistake("err_900"), source="evolution@step3")
    assert (s.extra[ADDED_AT_VERSION], m.extra[ADDED_AT_VERSION]) == (v + 1, v + 2)
    bank.update_skill("gen_900", {"principle": "sharper"})
    assert added_at_version(bank.get("gen_900")) == v + 1  # an update keeps the add's version
    again = SkillBank.load(bank.save(tmp_path / "b.json"))
    assert added_at_version(again.get("gen_900")) == v + 1 and added_at_version(again.get("err_900")) == v + 2


def test_recency_order_ignores_bad_stamps() -> None:
    a = Skill("a", "A", "p", extra={ADDED_AT_VERSION: "7"})
    b = Skill("b", "B", "p", extra={ADDED_AT_VERSION: True})
    c = Skill("c", "C", "p", extra={ADDED_AT_VERSION: 2})
    assert [s.skill_id for s in recency_order([a, b, c])] == ["c", "a", "b"]


def test_template_shows_an_added_general_skill_even_past_top_k() -> None:
    bank = big_bank()
    r = build_retriever(bank, taxonomy=taxonomy("alfworld"), top_k=6)
    before = r.retrieve(HEAT)
    assert before.general == tuple(f"gen_{i:03d}" for i in range(1, 7))  # seed order
    bank.add_skill(None, skill("gen_900", "Evolved", "new lesson"), source="evolution@step1")
    after = r.retrieve(HEAT)
    assert after.general[0] == "gen_900" and len(after.general) == 6
    assert after.general[1:] == before.general[:5]  # the seed order stays behind it
    assert "**Evolved**" in after.text
    # a later cycle's item comes first; seven evolved items fill the six slots newest first
    for i in range(901, 907):
        bank.add_skill(None, skill(f"gen_{i}", f"Evolved {i}", "p"), source="evolution@step2")
    assert r.retrieve(HEAT).general == ("gen_906", "gen_905", "gen_904", "gen_903", "gen_902", "gen_901")


def test_template_task_specific_and_mistakes_follow_the_same_order() -> None:
    bank = big_bank()
    r = build_retriever(bank, taxonomy=taxonomy("alfworld"), task_specific_top_k=3, mistakes_k=5)
    assert r.retrieve(HEAT).task_specific == ("heat_001", "heat_002", "heat_003")
    bank.add_skill("heat", skill("heat_900", "Evolved heat", "p"), source="evolution@step1")
    bank.add_mistake(mistake("err_900", "evolved mistake"), source="evolution@step1")
    res = r.retrieve(HEAT)
    assert res.task_specific == ("heat_900", "heat_001", "heat_002")
    assert res.mistakes == ("err_900", "err_001", "err_002", "err_003", "err_004")
    # without a cap every skill of the category is shown, the evolved one first
    assert build_retriever(bank, taxonomy=taxonomy("alfworld")).retrieve(HEAT).task_specific[0] == "heat_900"


def test_budget_drops_seed_items_before_evolved_ones_of_a_section() -> None:
    bank = big_bank()
    bank.add_skill(None, skill("gen_900", "Evolved", "new lesson"), source="evolution@step1")
    full = build_retriever(bank, taxonomy=taxonomy("alfworld"), task_specific_top_k=0, mistakes_k=0).retrieve(HEAT)
    for budget in range(full.tokens, 0, -1):
        res = build_retriever(bank, taxonomy=taxonomy("alfworld"), task_specific_top_k=0, mistakes_k=0,
                              max_skill_tokens=budget).retrieve(HEAT)
        assert res.general == full.general[: len(res.general)]
        if res.general:
            assert res.general[0] == "gen_900"


# --- embedding mode: the documented semantics of the original ------------------------------------


def test_embedding_keeps_top_k_general_and_task_specific_top_k_separately() -> None:
    bank = big_bank()
    enc = HashEncoder()
    res = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding", encoder=enc, top_k=6,
                          task_specific_top_k=5).retrieve(HEAT)
    assert len(res.general) == 6 and len(res.task_specific) == 5 and len(res.mistakes) == 5
    assert res.mistakes == tuple(f"err_{i:03d}" for i in range(1, 6))  # not ranked, as the original
    none = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding", encoder=enc, top_k=4).retrieve(HEAT)
    assert len(none.general) == 4 and len(none.task_specific) == 4  # task_specific_top_k None -> top_k
    merged = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding_merged", encoder=enc, top_k=6,
                             task_specific_top_k=5).retrieve(HEAT)
    assert len(merged.general) + len(merged.task_specific) == 6 and len(merged.task_specific) <= 5


def test_embedding_merged_respects_the_task_specific_cap() -> None:
    bank = big_bank(n_general=2, n_heat=8)
    res = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding_merged", encoder=HashEncoder(),
                          top_k=6, task_specific_top_k=1).retrieve("heat rule heat rule")
    assert len(res.task_specific) == 1 and len(res.general) == 2


def test_embedding_ties_keep_section_order() -> None:
    """Identical texts tie; the recent item wins the tie, then seed order."""
    data = small_bank()
    data["general_skills"] = [skill(f"gen_{i}", "Same", "same text") for i in range(1, 5)]
    bank = SkillBank.from_dict(data)
    bank.add_skill(None, skill("gen_9", "Same", "same text"), source="evolution@step1")
    res = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding", encoder=HashEncoder(),
                          top_k=3).retrieve("same text")
    assert res.general == ("gen_9", "gen_1", "gen_2")


# --- skill embeddings cached by content ------------------------------------------------------------


def test_a_new_bank_version_encodes_only_the_changed_skills() -> None:
    bank = big_bank()
    enc = HashEncoder()
    r = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding", encoder=enc)
    r.retrieve(HEAT)
    n_skills = len(bank.general_skills) + sum(len(v) for v in bank.task_specific_skills.values())
    assert len(enc.skill_texts) == n_skills == r.skill_texts_encoded
    enc.skill_texts.clear()
    bank.add_skill("heat", skill("heat_900", "Heat twice", "heat it again with microwave 1"), source="evolution@step1")
    bank.add_mistake(mistake("err_900"), source="evolution@step1")  # mistakes are not embedded in this mode
    assert "heat_900" in r.retrieve("heat twice with microwave").skill_ids
    assert enc.skill_texts == ["Heat twice. heat it again with microwave 1. W"]
    enc.skill_texts.clear()
    bank.update_skill("gen_001", {"principle": "sharper"})
    r.retrieve(HEAT)
    assert enc.skill_texts == ["General 1. sharper. W"]
    enc.skill_texts.clear()
    bank.retire_skill("heat_900")
    assert "heat_900" not in r.retrieve("heat twice with microwave").skill_ids
    assert enc.skill_texts == []  # nothing new to encode
    bank.update_skill("gen_001", {"principle": "principle 1"})  # back to an earlier text: still cached
    r.retrieve(HEAT)
    assert enc.skill_texts == []


def test_a_retriever_rebuilt_for_a_new_version_reuses_the_encoders_cache() -> None:
    """The verl workers build one retriever per bank version (from the service's JSON)."""
    bank = big_bank()
    enc = HashEncoder()
    build_retriever(SkillBank.from_dict(bank.to_dict()), taxonomy=taxonomy("alfworld"), mode="embedding",
                    encoder=enc).retrieve(HEAT)
    enc.skill_texts.clear()
    bank.add_skill("heat", skill("heat_900", "Heat twice", "again"), source="evolution@step1")
    r2 = build_retriever(SkillBank.from_dict(bank.to_dict()), taxonomy=taxonomy("alfworld"), mode="embedding",
                         encoder=enc)
    assert r2.retrieve(HEAT).task_specific[0] == "heat_900"
    assert enc.skill_texts == ["Heat twice. again. W"] and r2.skill_texts_encoded == 1


def test_the_default_encoder_is_shared_per_model_path() -> None:
    from skillrl.skills.retrieval import shared_encoder

    bank = big_bank()
    a = build_retriever(bank, taxonomy=None, mode="embedding", embedding_model_path="/no/such/model")
    b = build_retriever(bank, taxonomy=None, mode="embedding", embedding_model_path="/no/such/model")
    assert a.encoder is b.encoder is shared_encoder("/no/such/model") and a.encoder._model is None


def test_merged_mode_embeds_mistakes_once_too() -> None:
    bank = big_bank()
    enc = HashEncoder()
    r = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding_merged", encoder=enc)
    r.retrieve(HEAT)
    first = len(enc.skill_texts)
    bank.add_mistake(mistake("err_900", "burnt food", how="watch it"), source="evolution@step1")
    r.retrieve(HEAT)
    assert len(enc.skill_texts) == first + 1 and enc.skill_texts[-1] == "burnt food. watch it"


# --- the budget: cost follows what is shown ---------------------------------------------------------


@pytest.mark.parametrize("n", [10, 300, 3000])
def test_budget_renders_a_logarithmic_number_of_prefixes(n: int) -> None:
    ranked = [("task_specific", Skill(f"s{i}", f"Skill {i}", f"do thing {i} carefully")) for i in range(n)]
    calls: list[int] = []

    def counter(text: str) -> int:
        calls.append(len(text))
        return estimate_tokens(text)

    kept, text, tokens = fit_budget(ranked, task_type="heat", max_tokens=200, count_tokens=counter)
    assert tokens <= 200 and estimate_tokens(text) == tokens and kept == ranked[: len(kept)]
    k = len(kept)
    # the next item would not have fitted
    _, _, over = fit_budget(ranked[: k + 1], task_type="heat", max_tokens=None)
    assert k == n or over > 200
    assert len(calls) <= 2 * math.ceil(math.log2(k + 2)) + 2
    assert max(calls) <= 2 * len(text) + 200  # never rendered much more than what is kept


def test_budget_results_match_the_drop_one_at_a_time_definition() -> None:
    ranked = [("general", Skill(f"g{i}", f"G {i}", "word " * (i % 7 + 1))) for i in range(40)]
    ranked += [("mistakes", m) for m in SkillBank.from_dict(small_bank()).common_mistakes]
    for budget in range(0, 400, 7):
        kept, text, tokens = fit_budget(ranked, task_type="x", max_tokens=budget)
        # reference: drop the last item until the block fits
        ref = list(ranked)
        while ref and fit_budget(ref, task_type="x", max_tokens=None)[2] > budget:
            ref.pop()
        assert kept == ref, budget


def test_embedding_shows_evolved_items_of_the_tasks_category_first() -> None:
    bank = big_bank()
    enc = HashEncoder()
    r = build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding", encoder=enc, top_k=3,
                        task_specific_top_k=3)
    # unrelated words: similarity alone would never pick these
    bank.add_skill("heat", skill("heat_900", "Zyx", "qwv"), source="evolution@step1")
    bank.add_skill("cool", skill("cool_900", "Zyx", "qwv"), source="evolution@step1")
    bank.add_skill(None, skill("gen_900", "Zyx", "qwv"), source="evolution@step1")
    res = r.retrieve("heat rule 3 heat rule 4", "heat")
    assert res.task_specific[0] == "heat_900" and "cool_900" not in res.task_specific
    assert len(res.task_specific) == 3 and all(x.startswith("heat_0") for x in res.task_specific[1:])  # by similarity
    assert res.general[0] == "gen_900" and len(res.general) == 3
    cool = r.retrieve("Your task is to: put a cool tomato in microwave.", "cool")
    assert cool.task_specific[0] == "cool_900" and "heat_900" not in cool.task_specific
