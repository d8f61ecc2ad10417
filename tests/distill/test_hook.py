"""DistillingEvolutionHook: triggers, sources, the heuristic and the LLM path, failures and timeouts."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import distill_episodes as E
import pytest
from support.openai_server import Hang, Reply, Status

from skillrl.distill import (
    DistillingEvolutionHook,
    EvolutionSettings,
    LexicalSimilarity,
    LLMConfig,
    build_distiller,
    dedup_similarity,
)
from skillrl.skills import SkillBank, read_history


@dataclass(frozen=True)
class Report:  # the shape of skillrl.trainer.evolution.ValidationReport
    step: int
    success_by_type: dict[str, list[int]]
    failures_by_type: dict[str, list[dict[str, Any]]]
    successes_by_type: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def summary(ep) -> dict[str, Any]:
    """What the local trainer puts into failures_by_type."""
    return {**ep.summary(), "transcript": ep.transcript()}


def seed_bank(tmp_path) -> SkillBank:
    b = SkillBank.from_dict({
        "general_skills": [{"skill_id": "gen_001", "title": "Look around", "principle": "Read the observation first.",
                            "when_to_apply": ""}],
        "task_specific_skills": {"heat": [{"skill_id": "hea_001", "title": "Find the object",
                                           "principle": "Search the likely receptacles for the goal object.",
                                           "when_to_apply": ""}]},
        "common_mistakes": [],
        "metadata": {"version": 1},
    })
    b.save(tmp_path / "bank.json")
    return SkillBank.load(tmp_path / "bank.json")


def settings(**kw) -> EvolutionSettings:
    return EvolutionSettings(**{"dedup_model": "lexical", "timeout_s": 30.0, **kw})


def hook(bank, **kw) -> DistillingEvolutionHook:
    s = kw.pop("settings", None) or settings(evolution_source=kw.pop("source", "validation"))
    return DistillingEvolutionHook(bank, env_name="alfworld", update_threshold=0.4, max_new_skills=3, settings=s, **kw)


def heat_report(step=40, n_fail=3) -> Report:
    return Report(step=step, success_by_type={"heat": [1, 4], "cool": [3, 3]},
                  failures_by_type={"heat": [summary(E.heat_skipped(seed=i)) for i in range(n_fail)]},
                  successes_by_type={"heat": [summary(E.heat_success(seed=99))]})


def test_heuristic_cycle_adds_task_skills_with_step_and_episodes(tmp_path):
    b = seed_bank(tmp_path)
    h = hook(b)
    version = h.on_validation(heat_report())
    assert version == b.version and version > 1
    out = h.last_outcome
    assert out.source == "validation" and out.triggered == {"heat": 0.25} and out.episodes_used == {"heat": 3}
    assert len(out.applied) == 3  # max_new_skills
    added = [a for a in out.applied if a["op"] == "add"]
    assert any(a["category"] == "heat" and "appliance the goal names" in a["item"]["title"] for a in added)
    # saved, valid, with history naming the step, the source and the episodes
    again = SkillBank.load(tmp_path / "bank.json")
    assert again.version == version and len(again.task_specific_skills["heat"]) >= 2
    hist = [r for r in read_history(tmp_path / "bank.json") if r.source == "evolution@step40"]
    assert len(hist) == 3 and all(r.step == 40 and r.episode_ids for r in hist)
    games = {f":heat-{i}:" for i in (0, 1, 2, 99)}  # the report's failures, and its success for the routine
    assert all(any(g in e for g in games) for r in hist for e in r.episode_ids)


def test_types_at_or_above_threshold_do_nothing(tmp_path):
    b = seed_bank(tmp_path)
    h = hook(b)
    assert h.on_validation(Report(3, {"heat": [2, 4]}, {"heat": [summary(E.heat_skipped())]})) is None
    assert b.version == 1 and h.last_outcome.triggered == {}


def test_train_source_uses_training_episodes_never_validation_ones(tmp_path):
    b = seed_bank(tmp_path)
    h = hook(b, source="train")
    train_eps = [E.heat_skipped(seed=100 + i) for i in range(2)] + [E.heat_success(seed=200)]
    assert h.observe(train_eps) == 3
    h.on_validation(heat_report())
    out = h.last_outcome
    assert out.source == "train" and out.episodes_used == {"heat": 2} and out.changed
    used = {e for a in out.applied for e in a["episode_ids"]}
    assert used and all(":heat-10" in e or ":heat-200" in e for e in used)  # train games only
    assert not any(":heat-0:" in e or ":heat-1:" in e or ":heat-2:" in e for e in used)


def test_train_source_without_train_failures_changes_nothing(tmp_path):
    b = seed_bank(tmp_path)
    h = hook(b, source="train")
    assert h.on_validation(heat_report()) is None
    assert b.version == 1 and "no failed train episodes" in h.last_outcome.notes[0]


def test_a_second_cycle_does_not_add_the_same_lessons_again(tmp_path):
    b = seed_bank(tmp_path)
    h = hook(b, settings=settings(evolution_source="validation"))
    h.on_validation(heat_report(step=1))
    v1 = b.version
    h2 = DistillingEvolutionHook(b, env_name="alfworld", max_new_skills=10, settings=settings(evolution_source="validation"))
    h2.on_validation(heat_report(step=2))
    titles = [s.title for s in b.task_specific_skills["heat"]] + [s.title for s in b.general_skills]
    assert len(titles) == len(set(titles))
    assert any("near-duplicate" in r["rejected"] for r in h2.last_outcome.rejected)
    assert b.version >= v1


# -- the LLM path through the real openai client ---------------------------------------------


def evolve_reply(request: dict[str, Any]) -> Reply:
    prompt = request["messages"][-1]["content"]
    import re

    ids = re.findall(r"^\[([^\]]+)\]$", prompt, re.MULTILINE)
    return Reply(json.dumps({
        "task_specific_skills": {"heat": [{"title": "Heat before placing", "principle":
                                           "Use the microwave on the goal object before the final put.",
                                           "when_to_apply": "Holding the object in a heat task.",
                                           "reason": "all failures skipped heating", "episode_ids": ids[:2]}]},
        "common_mistakes": [{"description": "Placing the object without heating it.", "why_it_happens": "forgot",
                             "how_to_avoid": "Heat it first.", "reason": "same"}],
        "updates": [{"skill_id": "hea_001", "principle": "Search fridge, countertops and cabinets for the goal object.",
                     "reason": "too vague"}],
    }), prompt_tokens=900, completion_tokens=120)


def llm_hook(bank, timeout_s=30.0, llm_timeout=5.0, retries=1, source="validation"):
    d = build_distiller("openai", LLMConfig(model="m", timeout_s=llm_timeout, max_retries=retries,
                                            price_input_per_1m=1.0, price_output_per_1m=2.0))
    return hook(bank, distiller=d, settings=settings(evolution_source=source, timeout_s=timeout_s, distiller="openai"))


def test_llm_cycle_applies_validated_ops(fake_openai, tmp_path):
    fake_openai.responder = evolve_reply
    b = seed_bank(tmp_path)
    h = llm_hook(b)
    assert h.on_validation(heat_report()) == b.version
    out = h.last_outcome
    assert [a["op"] for a in out.applied] == ["update", "add", "add"]
    assert b.get("hea_001").principle.startswith("Search fridge") and "hea_002" in b and "err_001" in b
    hist = read_history(tmp_path / "bank.json")
    upd = next(r for r in hist if r.op == "update")
    assert upd.previous["principle"] == "Search the likely receptacles for the goal object."
    add = next(r for r in hist if r.skill_id == "hea_002")
    assert len(add.episode_ids) == 2 and add.reason == "all failures skipped heating"
    assert out.llm_usage.startswith("1 calls, 900 in / 120 out") and "$0.0011" in out.llm_usage
    prompt = fake_openai.requests[0].last_user
    assert "hea_001" in prompt and "heat some egg" in prompt and "25%" in prompt


def test_llm_malformed_then_repaired(fake_openai, tmp_path):
    fake_openai.push(Reply('{"task_specific_skills": {"cool": []}}'))  # wrong type key: rejected, repaired
    fake_openai.responder = evolve_reply
    b = seed_bank(tmp_path)
    h = llm_hook(b)
    assert h.on_validation(heat_report()) is not None
    assert "only 'heat' may be given" in fake_openai.requests[1].last_user


@pytest.mark.parametrize("script", [
    [Status(500, "down", retry_after_ms=5)] * 2,                  # 5xx after the SDK's retry
    [Reply("no json at all"), Reply("still none")],                # bad output after one repair
    [Reply('{"updates": [{"skill_id": "ghost", "title": "x"}]}')] * 2,  # ids not in the bank
])
def test_llm_failures_leave_the_bank_unchanged(fake_openai, tmp_path, script, caplog):
    fake_openai.push(*script)
    b = seed_bank(tmp_path)
    before, text = b.to_dict(), (tmp_path / "bank.json").read_text()
    h = llm_hook(b)
    assert h.on_validation(heat_report()) is None
    assert b.to_dict() == before and (tmp_path / "bank.json").read_text() == text
    assert h.last_outcome.error and "bank unchanged" in caplog.text


def test_hook_returns_within_its_timeout_and_changes_nothing(fake_openai, tmp_path):
    fake_openai.push(Hang(6.0))
    b = seed_bank(tmp_path)
    before = b.to_dict()
    h = llm_hook(b, timeout_s=0.8, llm_timeout=30.0, retries=0)
    t0 = time.monotonic()
    assert h.on_validation(heat_report()) is None
    assert time.monotonic() - t0 < 2.5
    assert h.last_outcome.timed_out and "timed out after 0.8s" in h.last_outcome.error
    assert b.to_dict() == before
    time.sleep(0.2)
    assert b.to_dict() == before  # the abandoned worker never touches the bank


def test_settings_validation():
    with pytest.raises(ValueError, match=r"evolution_source: 'test' \(allowed: one of train, validation\)"):
        EvolutionSettings(evolution_source="test")
    with pytest.raises(ValueError, match="dedup_threshold"):
        EvolutionSettings(dedup_threshold=1.5)
    assert isinstance(dedup_similarity(EvolutionSettings(dedup_model=None)), LexicalSimilarity)


ORIGINAL_BANK = "/work/shared/fixtures/original_skillrl/memory_data/alfworld/claude_style_skills.json"


class FolderNames:
    """A taxonomy stub: ALFWorld data-folder names -> the bank's categories."""

    def canonical(self, name):
        return {"pick_heat_then_place_in_recep": "heat", "heat": "heat"}.get(name)


def test_evolving_the_original_bank_follows_its_id_convention(tmp_path):
    import shutil
    from pathlib import Path

    if not Path(ORIGINAL_BANK).exists():
        pytest.skip("original fixtures not available")
    shutil.copy(ORIGINAL_BANK, tmp_path / "claude_style_skills.json")
    b = SkillBank.load(tmp_path / "claude_style_skills.json")
    h = DistillingEvolutionHook(b, env_name="alfworld", max_new_skills=2, taxonomy=FolderNames(),
                                settings=settings(evolution_source="validation"))
    report = Report(step=5, success_by_type={"pick_heat_then_place_in_recep": [0, 3]},
                    failures_by_type={"pick_heat_then_place_in_recep": [summary(E.heat_skipped(seed=i)) for i in range(3)]})
    assert h.on_validation(report) == b.version
    added = sorted(a["item"].get("skill_id") or a["item"].get("mistake_id") for a in h.last_outcome.applied)
    assert added == ["err_012", "hea_006"]  # next free numbers of the original's prefixes, in its 'heat' category
    assert [s.skill_id for s in b.task_specific_skills["heat"]][-1] == "hea_006"
    assert "examine" in b.task_specific_skills  # unknown categories of the original survive the save
    assert SkillBank.load(tmp_path / "claude_style_skills.json").metadata["source"].startswith("generated from ALFWorld")
