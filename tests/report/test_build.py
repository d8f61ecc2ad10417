"""The pure builders of ``skillrl.report.build`` and the report of synthetic run dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillrl.report.build import (
    BANK_FILE,
    BANK_VERSION_FILE,
    NotARunError,
    SavedBank,
    build_report,
    find_run_files,
    group_cycles,
    merge_history,
    merge_metric_records,
    parse_history_lines,
    parse_metric_lines,
    parse_usage,
    reconstruct_versions,
    success_by_type_series,
    top_usage,
    usage_table,
)
from skillrl.report.model import HistoryEntry, Metrics, SkillUsage

from synthetic_run import EVIL_TITLE, SEED_BANK, make_local_run, write_bank_checkpoint


# ------------------------------------------------------------------------------ metrics


def test_metric_lines_both_forms_and_bad_lines() -> None:
    lines = ['{"step": 1, "train/reward_mean": 0.5, "flag": true, "name": "x"}',
             '{"step": 2, "data": {"val-core/skillrl/success_rate/heat": 1, "x": "s"}}',
             "", '{"step": 3, "train/reward_mean": 0.7', '{"op": "add"}', '{"step": 4, "v": NaN}']
    records, bad = parse_metric_lines(lines)
    assert records == [(1, {"train/reward_mean": 0.5}), (2, {"val-core/skillrl/success_rate/heat": 1.0}), (4, {})]
    assert bad == 2  # the truncated line and the non-metric one


def test_merge_last_value_wins_and_final_fills_validation() -> None:
    series = merge_metric_records([(1, {"a": 1.0}), (1, {"a": 2.0}), (3, {"a": 5.0}),
                                   (2, {"val/success_rate/heat": 0.5}), (4, {"final/val/success_rate/heat": 1.0})])
    assert series["a"].steps == (1, 3) and series["a"].values == (2.0, 5.0)
    assert series["val/success_rate/heat"].steps == (2, 4) and series["val/success_rate/heat"].values == (0.5, 1.0)


def test_success_series_from_both_trainers() -> None:
    m = Metrics(merge_metric_records([(1, {"val/success_rate/heat": 0.5, "train/success_rate/cool": 0.1,
                                           "val-core/skillrl/success_rate/pick": 1.0, "val/success_rate": 0.5})]))
    s = success_by_type_series(m)
    assert set(s) == {"validation", "train"}
    assert set(s["validation"]) == {"heat", "pick"} and set(s["train"]) == {"cool"}


# ------------------------------------------------------------------------------ history and versions


def _h(op: str, item: str, version: int, step: int | None = 2, source: str = "evolution@step2", **kw) -> HistoryEntry:
    section = kw.pop("section", "general_skills")
    return HistoryEntry(op, item, section, kw.pop("category", None), step, source, kw.pop("reason", ""), version, **kw)


def test_history_lines_tolerate_old_and_new_records() -> None:
    lines = [json.dumps({"op": "add", "skill_id": "a", "section": "general_skills", "category": None, "step": 3,
                         "source": "evolution@step3", "reason": "r", "version": 2, "timestamp": "t"}),
             json.dumps({"op": "update", "skill_id": "b", "version": 3, "episode_ids": ["e1", "e2"],
                         "previous": {"skill_id": "b", "title": "old", "principle": "p"}, "unknown": 1}),
             json.dumps({"op": "retire", "mistake_id": "m", "version": "x"}), "not json", ""]
    entries, bad = parse_history_lines(lines, "f")
    assert bad == 2
    assert [(e.op, e.item_id, e.version, e.step) for e in entries] == [("add", "a", 2, 3), ("update", "b", 3, None)]
    assert entries[1].episode_ids == ("e1", "e2") and entries[1].previous["title"] == "old"


def test_merge_history_dedupes_copies_and_sorts() -> None:
    a = [_h("add", "x", 2), _h("add", "y", 3)]
    b = [_h("add", "y", 3), _h("retire", "x", 4, step=5, source="evolution@step5")]
    merged = merge_history(b, a)
    assert [(e.version, e.item_id) for e in merged] == [(2, "x"), (3, "y"), (4, "x")]


def test_cycles_split_on_step_source_and_version_gaps() -> None:
    h = [_h("add", "a", 2), _h("update", "b", 3), _h("add", "c", 4, step=6, source="evolution@step6"),
         _h("add", "d", 7, step=6, source="evolution@step6")]
    cycles = group_cycles(h)
    assert [(c.step, c.version_before, c.version_after) for c in cycles] == [(2, 1, 3), (6, 3, 4), (6, 6, 7)]
    assert [e.item_id for e in cycles[0].of("add")] == ["a"] and [e.item_id for e in cycles[0].of("update")] == ["b"]


def _doc(general: list[tuple[str, str]], heat: list[tuple[str, str]] = (), retired=(), version: int = 1) -> dict:
    return {"general_skills": [{"skill_id": i, "title": t, "principle": f"p {t}", "when_to_apply": ""} for i, t in general],
            "task_specific_skills": {"heat": [{"skill_id": i, "title": t, "principle": f"p {t}"} for i, t in heat]},
            "common_mistakes": [], "retired_skills": list(retired), "metadata": {"version": version}}


def test_reconstruct_undoes_add_retire_and_update_with_previous() -> None:
    # v1: g1 "one", g2 "two", h1; v2 add h2; v3 update g1 (previous recorded); v4 retire g2
    latest = _doc([("g1", "ONE")], [("h1", "heat"), ("h2", "heat2")], version=4, retired=[
        {"section": "general_skills", "category": None, "item": {"skill_id": "g2", "title": "two", "principle": "p two"},
         "retired_at_version": 4, "reason": "bad"}])
    history = [_h("add", "h2", 2, section="task_specific_skills", category="heat"),
               _h("update", "g1", 3, previous={"skill_id": "g1", "title": "one", "principle": "p one"}),
               _h("retire", "g2", 4)]
    versions = reconstruct_versions([SavedBank(4, latest, "ckpt", step=8)], history, [1, 2, 4])
    assert [v.version for v in versions] == [1, 2, 4]
    v1, v2, v4 = versions
    assert v1.ids() == ("g1", "g2", "h1") and v1.exact
    assert {it.item_id: it.title for it in v1.items}["g1"] == "one"  # the update was undone
    assert v2.ids() == ("g1", "g2", "h1", "h2")  # bank order: general first, then heat
    assert v4.origin == "ckpt" and v4.step == 8 and v4.ids() == ("g1", "h1", "h2")
    assert v1.sizes() == {"general": 2, "heat": 1}


def test_reconstruct_without_previous_is_marked_inexact_and_stops_at_gaps() -> None:
    latest = _doc([("g1", "ONE")], version=5)
    history = [_h("update", "g1", 5)]  # no `previous`; nothing recorded for version 4
    versions = reconstruct_versions([SavedBank(5, latest, "ckpt")], history, [2, 4, 5])
    assert [v.version for v in versions] == [4, 5]  # 2 lies below the gap at version 4
    assert not versions[0].exact and versions[0].inexact_ids == ("g1",)
    # a saved copy below the gap makes the lower version reachable again
    older = _doc([("g0", "zero")], version=2)
    versions = reconstruct_versions([SavedBank(5, latest, "a"), SavedBank(2, older, "b")], history, [2, 4, 5])
    assert [(v.version, v.origin) for v in versions] == [(2, "b"), (4, "reconstructed from history"), (5, "a")]


# ------------------------------------------------------------------------------ usage


def test_usage_parsing_and_rankings() -> None:
    version, counters = parse_usage({"bank_version": 3, "usage": {
        "a": {"times_retrieved": 5, "episodes_won": 4, "episodes_lost": 1},
        "b": {"times_retrieved": 5, "episodes_won": 1, "episodes_lost": 4},
        "c": {"times_retrieved": 2, "episodes_won": 0, "episodes_lost": 2},
        "z": {"times_retrieved": 1, "episodes_won": 1, "episodes_lost": 0}}})
    assert version == 3 and counters["b"] == (5, 1, 4)
    from skillrl.report.model import BankItem

    rows = usage_table(counters, [BankItem("a", "general_skills", None, "A", "pa")],
                       [BankItem("c", "general_skills", None, "C", "pc")])
    assert [u.item_id for u in rows] == ["a", "b", "c", "z"]
    assert (rows[0].title, rows[0].group, rows[2].group, rows[1].title) == ("A", "general", "retired", "")
    assert [u.item_id for u in top_usage(rows, "won")] == ["a", "z", "b"]  # c never won
    assert [u.item_id for u in top_usage(rows, "lost")] == ["b", "c", "a"]
    assert top_usage(rows, "won", n=1)[0].win_rate == 0.8
    with pytest.raises(ValueError):
        parse_usage({"usage": [1]})
    with pytest.raises(ValueError):
        top_usage(rows, "draw")
    assert SkillUsage("x", 0, 0, 0).win_rate is None


# ------------------------------------------------------------------------------ whole run dirs


def test_synthetic_local_run_report(tmp_path: Path) -> None:
    facts = make_local_run(tmp_path)
    rep = build_report(facts["run"])
    s = rep.summary
    assert (s.kind, s.env_name, s.steps, s.evolution_source) == ("local", "alfworld", 4, "train")
    assert s.skills_source == str(facts["src"]) and s.headline["validation success"] == 0.5
    # versions: before cycle 1 (v1), after it (v4, checkpoint at step 2), after cycle 2 (v6, step 4)
    assert [(v.version, v.step) for v in rep.bank_versions] == [(1, None), (4, 2), (6, 4)]
    seed_ids = [s_["skill_id"] for s_ in SEED_BANK["general_skills"]] + ["heat_001", "cool_001", "mis_001"]
    assert sorted(rep.bank_versions[0].ids()) == sorted(seed_ids)
    v1 = {it.item_id: it for it in rep.bank_versions[0].items}
    # gen_001 was updated in cycle 1: restored from the history's `previous` when recorded
    assert v1["gen_001"].text == "Visit receptacles one by one." or "gen_001" in rep.bank_versions[0].inexact_ids
    assert set(rep.final_bank.ids()) == facts["final_ids"] and rep.final_bank.version == facts["final_version"]
    assert rep.bank_versions[1].sizes() == {"general": 2, "heat": 2, "cool": 1, "mistakes": 2}
    # cycles with what they did and why
    assert [(c.step, len(c.of("add")), len(c.of("update")), len(c.of("retire"))) for c in rep.cycles] == \
        [(2, 2, 1, 0), (4, 1, 0, 1)]
    assert rep.cycles[1].of("retire")[0].reason == "injected in 3 lost episodes, 0 won"
    assert [it.item_id for it, _, _ in rep.retired] == ["gen_002"]
    # usage from the latest checkpoint
    by_id = {u.item_id: u for u in rep.usage}
    assert (by_id["gen_001"].times_retrieved, by_id["gen_001"].episodes_won) == (4, 3)
    assert by_id["gen_002"].group == "retired"
    assert rep.usage_file.endswith("global_step_4/skill_bank.usage.json")
    assert rep.missing == () and rep.warnings == ()


def test_history_only_in_the_source_bank_is_found(tmp_path: Path) -> None:
    facts = make_local_run(tmp_path)
    for ck in (facts["run"] / "checkpoints").iterdir():
        (ck / "skill_bank.history.jsonl").unlink()
    rep = build_report(facts["run"])
    assert len(rep.cycles) == 2  # read from <src>.history.jsonl named by trainer_state.json


def test_verl_checkpoint_dir_with_file_logger_and_tensorboard(tmp_path: Path) -> None:
    from skillrl.skills.bank import SkillBank

    root = tmp_path / "ckpts"
    bank = SkillBank.from_dict(SEED_BANK)
    for step in (5, 10):
        folder = root / f"global_step_{step}"
        (folder / "actor").mkdir(parents=True)
        (folder / BANK_FILE).write_text(json.dumps(bank.to_dict()))
        (folder / BANK_VERSION_FILE).write_text(json.dumps({"version": 7 + step}))
    (root / "latest_checkpointed_iteration.txt").write_text("10")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "exp.jsonl").write_text("".join(json.dumps({"step": i, "data": {
        "val-core/skillrl/success_rate/heat": i / 10, "val-core/skillrl/success_rate": i / 10,
        "prompt_length/mean": 500.0 + i, "critic/score/mean": 0.1 * i}}) + "\n" for i in (5, 10)))
    from torch.utils.tensorboard import SummaryWriter

    tb = tmp_path / "tb"
    writer = SummaryWriter(log_dir=str(tb))
    for i in (1, 2, 3):
        writer.add_scalar("actor/entropy", 0.5 * i, i)
    writer.close()
    rep = build_report(root, [logs / "exp.jsonl", tb])
    assert rep.summary.kind == "verl" and rep.summary.steps == 10
    assert [(c.step, c.bank_version, c.has_model) for c in rep.checkpoints] == [(5, 12, True), (10, 17, True)]
    assert [v.version for v in rep.bank_versions] == [12, 17]  # the version file wins over metadata
    assert rep.metrics.get("actor/entropy").values == (0.5, 1.0, 1.5)  # TensorBoard scalars
    assert success_by_type_series(rep.metrics)["validation"]["heat"].values == (0.5, 1.0)
    assert any("train/skill_tokens_mean" in m for m in rep.missing)  # prompt size but no skill size
    assert any("usage" in m for m in rep.missing) and any("history" in m for m in rep.missing)


def test_run_without_skills_lists_what_is_missing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "train/reward_mean": 0.5}) + "\n" + '{"step": 2, "tr')
    rep = build_report(run)
    assert rep.summary.kind == "local" and rep.bank_versions == () and rep.usage == ()
    text = " ".join(rep.missing)
    assert "No skill bank" in text and "No checkpoints" in text and "per-task-type" in text
    assert any("1 line(s) are not metric records" in w for w in rep.warnings)


def test_only_tensorboard_events(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path / "run" / "tensorboard"))
    writer.add_scalar("val/success_rate/heat", 0.25, 3)
    writer.close()
    rep = build_report(tmp_path / "run")
    assert rep.metrics.get("val/success_rate/heat").steps == (3,)


def test_invalid_bank_copy_and_usage_become_warnings(tmp_path: Path) -> None:
    facts = make_local_run(tmp_path)
    ck = facts["run"] / "checkpoints" / "global_step_4"
    (ck / "skill_bank.json").write_text('{"general_skills": [{"skill_id": "x"}]}')
    (ck / "skill_bank.usage.json").write_text("{broken")
    rep = build_report(facts["run"])
    assert any("invalid skill bank" in w for w in rep.warnings)
    assert rep.final_bank.version == 4  # the step-2 copy is still there
    assert rep.usage == () and any("usage.json" in w for w in rep.warnings)


def test_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(NotARunError, match="no such directory"):
        find_run_files(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotARunError, match="not a directory"):
        find_run_files(tmp_path / "file.txt")
    # a parent of runs, and unrelated JSON lines, are not a run
    make_local_run(tmp_path / "parent")
    (tmp_path / "parent" / "notes.jsonl").write_text(json.dumps({"step": 1, "x": 2}) + "\n")
    with pytest.raises(NotARunError, match="is not a training run"):
        find_run_files(tmp_path / "parent")
    with pytest.raises(FileNotFoundError):
        find_run_files(tmp_path / "parent" / "run", [tmp_path / "missing.jsonl"])
    with pytest.raises(NotARunError, match="not a metrics file"):
        find_run_files(tmp_path / "parent" / "run", [tmp_path / "file.txt"])


def test_checkpoint_dir_itself_is_a_run(tmp_path: Path) -> None:
    from skillrl.skills.bank import SkillBank

    write_bank_checkpoint(SkillBank.from_dict(SEED_BANK), tmp_path / "global_step_3", 3)
    rep = build_report(tmp_path / "global_step_3")
    assert [c.step for c in rep.checkpoints] == [3] and rep.final_bank.version == 1


def test_file_names_match_the_trainers() -> None:
    # read from the trainers' source (importing the verl trainer would load verl)
    import ast

    root = Path(__file__).resolve().parents[2] / "skillrl" / "trainer"
    consts = {}
    for node in ast.walk(ast.parse((root / "verl_trainer.py").read_text())):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            consts.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    assert (consts["BANK_FILE"], consts["BANK_VERSION_FILE"]) == (BANK_FILE, BANK_VERSION_FILE)
    local = (root / "local" / "checkpoint.py").read_text()
    assert f'"{BANK_FILE}"' in local and '"trainer_state.json"' in local


def test_evil_titles_reach_the_report_unchanged(tmp_path: Path) -> None:
    facts = make_local_run(tmp_path, evil=True)
    rep = build_report(facts["run"])
    assert EVIL_TITLE in {it.title for it in rep.final_bank.items}


def test_docstring_examples() -> None:
    import doctest

    from skillrl.report import build

    result = doctest.testmod(build)
    assert result.attempted >= 5 and result.failed == 0
