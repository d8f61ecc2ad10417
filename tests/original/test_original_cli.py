"""``skillrl env render`` / ``skillrl env project`` on the golden files, and their error paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from original_helpers import ENVS, ORIGINAL_REPO, golden_file, golden_rows
from typer.testing import CliRunner

from skillrl.cli import app

runner = CliRunner()


def _run(*args: str, env: dict | None = None):
    return runner.invoke(app, ["env", *args], env=env)


def _write(tmp_path: Path, rows: list, name: str = "cases.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("env", ENVS)
def test_render_original_reproduces_every_golden_prompt_in_order(env):
    res = _run("render", "--style", "original", "--cases", str(golden_file(env)), "--original-repo", str(ORIGINAL_REPO), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"prompts": [r["prompt"] for r in golden_rows(env)]}


def test_project_original_reproduces_every_projection_case():
    res = _run("project", "--style", "original", "--cases", str(golden_file("projection")), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"results": [{"action": r["action"], "valid": r["valid"]} for r in golden_rows("projection")]}


@pytest.mark.parametrize("env", ENVS)
def test_render_native_renders_the_same_inputs_differently(env):
    rows = golden_rows(env)
    res = _run("render", "--style", "native", "--cases", str(golden_file(env)), "--original-repo", str(ORIGINAL_REPO), "--json")
    assert res.exit_code == 0, res.output
    prompts = json.loads(res.stdout)["prompts"]
    assert len(prompts) == len(rows)
    for prompt, row in zip(prompts, rows):
        assert prompt != row["prompt"]
        task = row["inputs"].get("task") or row["inputs"]["question"]
        assert task.rstrip(".") in prompt
    # native shows skills on turn 0 too; the original never does
    turn0 = [p for p, r in zip(prompts, rows) if r["turn"] == 0 and r["inputs"]["use_skills"]]
    assert turn0 and all("**" in p for p in turn0)
    assert all("**" not in r["prompt"] for r in rows if r["turn"] == 0)


def test_project_native_checks_admissibility_where_the_original_does_not():
    rows = golden_rows("projection")
    res = _run("project", "--style", "native", "--cases", str(golden_file("projection")), "--json")
    results = json.loads(res.stdout)["results"]
    by_case = {r["case"]: out for r, out in zip(rows, results)}
    assert by_case["proj_alf_non_admissible_action_still_valid"] == {"action": "fly to the moon", "valid": 0}
    assert len(results) == len(rows)


def test_table_mode_reports_matches_and_fails_on_a_difference(tmp_path):
    res = _run("render", "--style", "original", "--cases", str(golden_file("search")), "--original-repo", str(ORIGINAL_REPO))
    assert res.exit_code == 0 and "25/25 cases match" in res.stdout
    rows = golden_rows("search")[:2]
    rows[1]["prompt"] += "x"
    res = _run("render", "--style", "original", "--cases", str(_write(tmp_path, rows)), "--original-repo", str(ORIGINAL_REPO))
    assert res.exit_code == 1 and "1/2 cases match" in res.stdout and "DIFFERS" in res.stdout
    proj = golden_rows("projection")[:3]
    proj[0]["valid"] = 1 - proj[0]["valid"]
    res = _run("project", "--style", "original", "--cases", str(_write(tmp_path, proj, "p.jsonl")))
    assert res.exit_code == 1 and "2/3 cases match" in res.stdout


def _error(res) -> str:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    return lines[0]


def test_bad_json_line_is_named(tmp_path):
    rows = golden_rows("search")[:2]
    path = _write(tmp_path, [rows[0], rows[1], '{"env": "search", oops}'])
    msg = _error(_run("render", "--style", "original", "--cases", str(path), "--original-repo", str(ORIGINAL_REPO), "--json"))
    assert f"{path}:3: bad JSON" in msg


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r.pop("inputs"), "missing key(s) 'inputs' in the case"),
        (lambda r: r.pop("turn"), "missing key(s) 'turn' in the case"),
        (lambda r: r["inputs"].pop("observations"), "missing key(s) 'observations' in inputs"),
        (lambda r: r["inputs"].pop("admissible_actions"), "missing key 'admissible_actions' in inputs"),
        (lambda r: r.__setitem__("turn", 99), "turn must be an integer in [0, 3]"),
        (lambda r: r["inputs"].__setitem__("actions", []), "3 earlier turn(s) need 3 actions"),
        (lambda r: r["inputs"].__setitem__("skills_json", None), "use_skills is true but inputs.skills_json is missing"),
        (lambda r: r["inputs"].__setitem__("retrieval_mode", "embedding"), "retrieval_mode 'embedding' is not supported"),
        (lambda r: r["inputs"].__setitem__("top_k", "six"), "top_k must be a non-negative integer"),
        (lambda r: r.__setitem__("env", "minecraft"), "unknown original-style environment 'minecraft'"),
        (lambda r: r["inputs"].__setitem__("skills_json", "alfworld/none.json"), "memory_data/alfworld/none.json: missing"),
    ],
)
def test_malformed_cases_fail_with_one_line(tmp_path, mutate, expected):
    row = next(r for r in golden_rows("alfworld") if r["turn"] == 3 and r["inputs"]["use_skills"])
    mutate(row)
    path = _write(tmp_path, [row])
    msg = _error(_run("render", "--style", "original", "--cases", str(path), "--original-repo", str(ORIGINAL_REPO), "--json"))
    assert expected in msg


def test_projection_case_without_text(tmp_path):
    path = _write(tmp_path, [{"env": "search", "case": "x", "inputs": {}}])
    assert "missing key 'text' in inputs" in _error(_run("project", "--style", "original", "--cases", str(path), "--json"))


def test_missing_or_empty_case_file(tmp_path):
    assert "case file not found" in _error(_run("project", "--style", "native", "--cases", str(tmp_path / "none.jsonl")))
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    assert "no cases in the file" in _error(_run("project", "--style", "native", "--cases", str(tmp_path / "empty.jsonl")))


def test_missing_original_repo(tmp_path):
    cases = str(golden_file("webshop"))
    msg = _error(_run("render", "--style", "original", "--cases", cases, "--json", env={"SKILLRL_ORIGINAL_REPO": ""}))
    assert "checkout of the original SkillRL repository" in msg and "--original-repo" in msg
    msg = _error(_run("render", "--style", "original", "--cases", cases, "--original-repo", str(tmp_path / "gone"), "--json"))
    assert f"not found at {tmp_path / 'gone'}" in msg
    broken = tmp_path / "SkillRL"
    shutil.copytree(ORIGINAL_REPO / "agent_system", broken / "agent_system")
    msg = _error(_run("render", "--style", "original", "--cases", cases, "--original-repo", str(broken), "--json"))
    assert "memory_data/webshop/claude_style_skills.json: missing" in msg


def test_unknown_style():
    msg = _error(_run("render", "--style", "fancy", "--cases", str(golden_file("search"))))
    assert "unknown --style 'fancy'" in msg


def test_console_script_reads_the_repo_from_the_environment():
    exe = Path(sys.executable).with_name("skillrl")
    if not exe.exists():
        exe = Path(shutil.which("skillrl") or "skillrl")
    env = {**os.environ, "SKILLRL_ORIGINAL_REPO": str(ORIGINAL_REPO)}
    out = subprocess.run([str(exe), "env", "render", "--style", "original", "--cases", str(golden_file("alfworld")), "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["prompts"] == [r["prompt"] for r in golden_rows("alfworld")]
