"""The SkillBank store: edits, versions, history, usage, atomic saves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skillbank_helpers import skill, small_bank, taxonomy

import skillrl.skills.bank as bank_mod
from skillrl.skills import SkillBank, SkillBankError, build_retriever, history_path, read_history, usage_path


def test_add_update_retire_bump_version_and_write_history(bank_path: Path) -> None:
    bank = SkillBank.load(bank_path)
    assert bank.version == 1
    bank.add_skill("heat", skill("heat_003", "Check the target", "Open the target first."), source="evolution@step40", reason="failed heat tasks", step=40)
    assert bank.version == 2
    bank.add_skill(None, skill("gen_004", "New general", "Be brief."), source="manual")
    bank.update_skill("gen_001", {"principle": "Parse the goal carefully."}, source="evolution@step80", reason="sharper", step=80)
    bank.retire_skill("cool_001", source="evolution@step80", reason="never helped", step=80)
    bank.add_mistake({"mistake_id": "err_007", "description": "d", "how_to_avoid": "h"}, reason="new")
    assert bank.version == 6
    assert len(bank.pending_history) == 5
    assert not history_path(bank_path).exists()  # history is written by save()

    bank.save()
    records = read_history(bank_path)
    assert [(r.op, r.skill_id, r.version) for r in records] == [
        ("add", "heat_003", 2),
        ("add", "gen_004", 3),
        ("update", "gen_001", 4),
        ("retire", "cool_001", 5),
        ("add", "err_007", 6),
    ]
    first = records[0]
    assert (first.source, first.reason, first.step, first.category, first.section) == (
        "evolution@step40", "failed heat tasks", 40, "heat", "task_specific_skills")
    assert first.timestamp.endswith("+00:00")
    assert bank.pending_history == ()

    reloaded = SkillBank.load(bank_path)
    assert reloaded.version == 6
    assert reloaded.get("gen_001").principle == "Parse the goal carefully."
    assert "cool_001" not in reloaded
    assert [r.item.skill_id for r in reloaded.retired] == ["cool_001"]
    assert reloaded.retired[0].reason == "never helped" and reloaded.retired[0].retired_at_version == 5
    assert reloaded.task_specific_skills["cool"] == ()

    # history is append-only: a second save adds, never rewrites
    reloaded.update_skill("heat_003", {"title": "Check the target first"})
    reloaded.save()
    assert [r.version for r in read_history(bank_path)] == [2, 3, 4, 5, 6, 7]


def test_history_file_is_jsonl_with_required_fields(bank_path: Path) -> None:
    bank = SkillBank.load(bank_path)
    bank.retire_skill("gen_003", reason="dup")
    bank.save()
    lines = history_path(bank_path).read_text().splitlines()
    assert history_path(bank_path).name == "bank.history.jsonl"
    rec = json.loads(lines[0])
    assert {"op", "skill_id", "step", "source", "reason", "version", "timestamp"} <= set(rec)
    assert rec["op"] == "retire" and rec["source"] == "manual"


def test_retired_skill_leaves_retrieval(bank_path: Path) -> None:
    bank = SkillBank.load(bank_path)
    retriever = build_retriever(bank, taxonomy=taxonomy("alfworld"))
    before = retriever.retrieve("heat some egg and put it in fridge")
    assert "heat_001" in before.task_specific and "gen_002" in before.general
    bank.retire_skill("heat_001")
    bank.retire_skill("gen_002")
    after = retriever.retrieve("heat some egg and put it in fridge")
    assert retriever.bank_version == bank.version == 3
    assert "heat_001" not in after.skill_ids and "gen_002" not in after.skill_ids
    assert "Use the microwave" not in after.text
    assert after.task_specific == ("heat_002",)


def test_invalid_edits_change_nothing(bank_path: Path) -> None:
    bank = SkillBank.load(bank_path)
    before = bank.to_dict()
    with pytest.raises(SkillBankError, match="must not be empty"):
        bank.add_skill("heat", skill("heat_009", title=""))
    with pytest.raises(SkillBankError, match="duplicate id"):
        bank.add_skill(None, skill("heat_001"))
    with pytest.raises(SkillBankError, match="must not be empty"):
        bank.update_skill("gen_001", {"principle": "   "})
    with pytest.raises(SkillBankError, match="cannot change"):
        bank.update_skill("gen_001", {"skill_id": "gen_999"})
    with pytest.raises(KeyError):
        bank.retire_skill("nope")
    bank.retire_skill("gen_003")
    with pytest.raises(SkillBankError, match="duplicate id"):  # retired ids stay taken
        bank.add_skill(None, skill("gen_003"))
    with pytest.raises(KeyError):
        bank.update_skill("gen_003", {"title": "x"})
    assert bank.version == 2 and len(bank.pending_history) == 1
    after = bank.to_dict()
    after.pop("retired_skills")
    after["general_skills"].insert(2, before["general_skills"][2])
    after["metadata"]["version"] = 1
    assert after == before


def test_nothing_written_when_validation_fails(bank_path: Path, tmp_path: Path) -> None:
    original = bank_path.read_bytes()
    bank = SkillBank.load(bank_path)
    bank.add_skill(None, skill("gen_010"))
    bank._doc.general[0] = bank._doc.general[0].__class__("gen_001", "", "p")  # corrupt in memory
    with pytest.raises(SkillBankError, match="must not be empty"):
        bank.save()
    assert bank_path.read_bytes() == original
    assert not history_path(bank_path).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.json"]


def test_crash_mid_save_keeps_old_file(bank_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = bank_path.read_bytes()
    bank = SkillBank.load(bank_path)
    bank.add_skill(None, skill("gen_010", principle="x" * 200_000))  # several write chunks

    def half_then_crash(fh, text: str) -> None:
        fh.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bank_mod, "_write_all", half_then_crash)
    with pytest.raises(OSError, match="No space left"):
        bank.save()
    assert bank_path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.json"]  # temp file removed, no history
    assert len(bank.pending_history) == 1  # still pending: a later save records it

    monkeypatch.undo()
    bank.save()
    assert SkillBank.load(bank_path).get("gen_010").principle == "x" * 200_000
    assert [r.skill_id for r in read_history(bank_path)] == ["gen_010"]


def test_crash_at_replace_keeps_old_file(bank_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = bank_path.read_bytes()
    bank = SkillBank.load(bank_path)
    bank.retire_skill("gen_001")

    def boom(src, dst):
        raise OSError("simulated crash")

    monkeypatch.setattr(bank_mod.os, "replace", boom)
    with pytest.raises(OSError):
        bank.save()
    assert bank_path.read_bytes() == original
    assert [p.name for p in bank_path.parent.iterdir()] == ["bank.json"]


def test_usage_counters_persist(bank_path: Path) -> None:
    bank = SkillBank.load(bank_path)
    bank.record_usage(["gen_001", "heat_001", "err_001"], won=True)
    bank.record_usage(["gen_001", "heat_001"], won=False)
    bank.record_usage(["gen_001", "gen_001", "unknown_id"], won=None)  # id counted once, unknown ignored
    version = bank.version
    assert bank.version == version  # usage is not a content change
    u = bank.usage("gen_001")
    assert (u.times_retrieved, u.episodes_won, u.episodes_lost) == (3, 1, 1)
    assert bank.usage("heat_001").win_rate == 0.5
    assert bank.usage("unknown_id").times_retrieved == 0
    bank.save()
    data = json.loads(usage_path(bank_path).read_text())
    assert data["usage"]["err_001"] == {"times_retrieved": 1, "episodes_won": 1, "episodes_lost": 0}
    reloaded = SkillBank.load(bank_path)
    assert reloaded.usage("gen_001") == u
    assert reloaded.version == 1
    assert not history_path(bank_path).exists()  # usage makes no history records


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", {}),
        ("[1, 2]", {}),
        ('{"usage": 5}', {}),
        ('{"usage": {"gen_001": {"times_retrieved": "3"}, "heat_001": {"times_retrieved": 2, "episodes_won": 1}}}',
         {"heat_001": (2, 1, 0)}),
        ('{"usage": {"gen_001": {"times_retrieved": true}, "heat_001": [1], "err_001": {"episodes_lost": -1}}}', {}),
    ],
)
def test_broken_usage_sidecar_warns_and_starts_fresh(
    bank_path: Path, content: str, expected: dict, caplog: pytest.LogCaptureFixture
) -> None:
    usage_path(bank_path).write_text(content)
    bank = SkillBank.load(bank_path)  # counters are best effort: loading is never blocked
    assert {k: (u.times_retrieved, u.episodes_won, u.episodes_lost) for k, u in bank.all_usage.items()} == expected
    assert "bank.usage.json" in caplog.text
    bank.record_usage(["gen_001", "heat_001"], won=True)
    assert bank.usage("gen_001").times_retrieved == 1
    bank.save()
    assert SkillBank.load(bank_path).usage("gen_001").episodes_won == 1


def test_usage_sidecar_that_is_a_directory(bank_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    usage_path(bank_path).mkdir()
    bank = SkillBank.load(bank_path)
    assert bank.all_usage == {} and "unreadable" in caplog.text
    bank.record_usage(["gen_001"], won=False)
    bank.add_skill(None, skill("gen_050"))
    bank.save()  # the bank and its history are saved; the counters only warn
    assert SkillBank.load(bank_path).version == 2
    assert [r.skill_id for r in read_history(bank_path)] == ["gen_050"]
    assert "not saved" in caplog.text and usage_path(bank_path).is_dir()


def test_from_dict_and_snapshot_are_independent() -> None:
    data = small_bank()
    bank = SkillBank.from_dict(data)
    snap = bank.snapshot()
    bank.add_skill("cool", skill("cool_002"))
    assert "cool_002" in bank and "cool_002" not in snap
    assert snap.version == 1 and bank.version == 2
    assert data["task_specific_skills"]["cool"] == [skill("cool_001", "Use the fridge", "cool X with fridge 1.")]
    with pytest.raises(ValueError, match="no path"):
        bank.save()


def test_seed_bank_without_metadata_gets_a_version(tmp_path: Path) -> None:
    data = small_bank()
    del data["metadata"]
    bank = SkillBank.from_dict(data)
    assert bank.version == 0
    bank.add_skill(None, skill("gen_100"))
    out = bank.save(tmp_path / "new.json")
    assert json.loads(out.read_text())["metadata"]["version"] == 1
