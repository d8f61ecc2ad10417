"""Heuristic mining on hand-built Episode records: each failure kind alone, schemas, memories."""

from __future__ import annotations

import distill_episodes as E
import pytest

from skillrl.distill import Trajectory, build_distiller, distiller_names
from skillrl.distill.base import DISTILLERS, EvolutionRequest
from skillrl.distill.heuristic import (
    FAILURE_DETECTORS,
    HeuristicDistiller,
    action_template,
    mine_failures,
    schema,
)
from skillrl.distill.memory import parse_memory
from skillrl.distill.ops import AddMistake, AddSkill, UpdateSkill
from skillrl.skills import SkillBank
from skillrl.utils.registry import RegistryError


def kinds(ep) -> list[str]:
    return sorted(f.kind for f in mine_failures(Trajectory.from_episode(ep)))


@pytest.mark.parametrize("make,expected", [
    (E.repeated, ["repeated_action"]),
    (E.invalid, ["invalid_action"]),
    (E.alfworld_loop, ["loop_two_locations"]),
    (E.wrong_object, ["wrong_object"]),
    (E.webshop_wrong_product, ["wrong_object"]),
    (E.heat_skipped, ["skipped_appliance"]),
    (E.closed_container, ["closed_container_skipped"]),
    (E.premature_purchase, ["premature_purchase"]),
    (E.answer_without_search, ["answer_without_search"]),
    (E.exhausted, ["exhausted_steps"]),
])
def test_each_failure_kind_is_found_alone(make, expected):
    assert kinds(make()) == expected


def test_successful_routines_show_no_failure_pattern():
    for ep in (E.heat_success(), E.webshop_success()):
        assert kinds(ep) == []


def test_every_registered_kind_has_a_test():
    tested = {"repeated_action", "invalid_action", "loop_two_locations", "wrong_object", "skipped_appliance",
              "closed_container_skipped", "premature_purchase", "answer_without_search", "exhausted_steps"}
    assert set(FAILURE_DETECTORS.names()) == tested


def test_exhausted_is_only_a_fallback():
    ep = E.episode("alfworld", "put a mug in shelf.", "pick_and_place",
                   ["go to desk 1", "go to shelf 1", "go to desk 1", "go to shelf 1"], truncated=True)
    assert kinds(ep) == ["loop_two_locations"]


def test_options_selected_before_buying_is_not_premature():
    ep = E.webshop_success()
    ep.won = False  # a wrong product bought with its options chosen: not this kind
    assert "premature_purchase" not in kinds(ep)


def test_answer_after_search_is_fine():
    ep = E.episode("search", "q?", "multi_hop", ["<search>q</search>", "<answer>a</answer>"])
    assert kinds(ep) == []


def test_schemas_abstract_objects_into_roles():
    assert schema(Trajectory.from_episode(E.heat_success())) == (
        "search PLACEs", "take OBJECT from PLACE", "go to APPLIANCE", "heat OBJECT with APPLIANCE",
        "go to TARGET", "put OBJECT in/on TARGET")
    assert schema(Trajectory.from_episode(E.webshop_success())) == (
        "search[QUERY]", "click[PRODUCT]", "click[OPTION]", "click[buy now]")
    assert action_template("<search>who wrote vertigo</search>") == "<search>QUERY</search>"


def test_memory_is_in_the_original_record_format():
    d = HeuristicDistiller()
    fail = d.memory(Trajectory.from_episode(E.heat_skipped()))
    rec = fail.to_dict()
    assert rec["tags"]["outcome"] == "Failure" and rec["content"]["task_meta"]["original_goal"].startswith("heat some egg")
    mistakes = rec["content"]["strategic_guidelines"]["mistakes_to_avoid"]
    assert [m["kind"] for m in mistakes] == ["skipped_appliance"]
    assert {"trigger_condition", "bad_action", "correction"} <= set(mistakes[0])
    assert rec["content"]["refined_trajectory"]["refined_trajectory"][0]["action"] == "go to fridge 1"
    ok = d.memory(Trajectory.from_episode(E.heat_success())).to_dict()
    assert ok["tags"]["outcome"] == "Success"
    assert ok["content"]["strategic_guidelines"]["planning_pattern"].startswith("search PLACEs -> take OBJECT")
    assert parse_memory(rec) == fail  # reads back identically


def test_evolution_proposals_cover_kinds_with_evidence():
    fails = tuple(Trajectory.from_episode(E.heat_skipped(seed=i)) for i in range(3))
    succ = (Trajectory.from_episode(E.heat_success(seed=9)),)
    ops = HeuristicDistiller().propose(EvolutionRequest("alfworld", "heat", fails, succ, bank=SkillBank.empty()))
    skill_adds = [op for op in ops if isinstance(op, AddSkill)]
    assert {op.category for op in skill_adds} == {"heat"}
    remedy = next(op for op in skill_adds if "appliance the goal names" in op.skill.title)
    assert "heat <object> with <appliance>" in remedy.skill.principle and remedy.episode_ids == tuple(t.episode_id for t in fails)
    assert "3/3 failed heat episodes" in remedy.reason
    assert any(isinstance(op, AddMistake) for op in ops)
    routine = next(op for op in skill_adds if op.skill.title.startswith("Routine"))
    assert routine.episode_ids == (succ[0].episode_id,) and "heat OBJECT with APPLIANCE" in routine.skill.principle


def test_general_scope_kinds_become_general_skills():
    ops = HeuristicDistiller().propose(EvolutionRequest(
        "alfworld", "pick_and_place", (Trajectory.from_episode(E.alfworld_loop()),), bank=SkillBank.empty()))
    assert [op.category for op in ops if isinstance(op, AddSkill)] == [None]


def test_a_vague_injected_skill_is_sharpened_not_duplicated():
    bank = SkillBank.from_dict({"task_specific_skills": {"heat": [
        {"skill_id": "hea_001", "title": "Heat the object", "principle": "Use the microwave to heat the goal object.",
         "when_to_apply": "heat tasks"}]}})
    fails = tuple(Trajectory.from_episode(E.heat_skipped(seed=i, skill_ids=["hea_001"])) for i in range(2))
    ops = HeuristicDistiller().propose(EvolutionRequest("alfworld", "heat", fails, bank=bank))
    upd = [op for op in ops if isinstance(op, UpdateSkill)]
    assert len(upd) == 1 and upd[0].skill_id == "hea_001"
    assert upd[0].changes["principle"].startswith("Use the microwave to heat the goal object. Concretely:")
    assert set(upd[0].episode_ids) == {t.episode_id for t in fails}


def test_registry_has_one_signature_and_rejects_duplicates():
    assert {"heuristic", "openai", "azure"} <= set(distiller_names())
    assert build_distiller("heuristic").name == "heuristic"
    with pytest.raises(RegistryError, match="already registered"):
        DISTILLERS.register("heuristic", lambda llm, record_path=None: None)
    with pytest.raises(RegistryError, match="unknown distiller 'gpt'"):
        build_distiller("gpt")
