"""``skillrl report`` on a real tiny toy run (and ``skillrl train --local`` printing its report)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from skillrl.cli import app

runner = CliRunner()


def test_train_prints_report_path_and_logs_token_metrics(toy_run) -> None:
    out: Path = toy_run["out"]
    assert f"report: {out / 'report' / 'report.html'}" in toy_run["train_output"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "train/reward_mean" in r]
    assert len(train) == 2
    for r in train:  # the skill block is part of every prompt, so it is shorter than the prompt
        assert 0 < r["train/skill_tokens_mean"] < r["train/prompt_tokens_mean"]
        assert any(k.startswith("train/success_rate/") for k in r)
    # the checkpoint carries the bank's history (the two manual edits)
    hist = (out / "checkpoints" / "global_step_2" / "skill_bank.history.jsonl").read_text().splitlines()
    assert [json.loads(line)["op"] for line in hist] == ["add", "update"]


def test_report_command_on_the_toy_run(toy_run, tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(toy_run["out"]), "--output", str(tmp_path / "rep"), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["html"] == str(tmp_path / "rep" / "report.html")
    assert {Path(p).name for p in info["plots"]} == {"success_by_type.png", "bank_size.png", "prompt_tokens.png",
                                                     "training.png"}
    assert info["bank_versions"] == [0, 2] and info["cycles"] == 1  # v0 -> add + update -> v2
    assert info["missing"] == [] and info["warnings"] == []
    page = Path(info["html"]).read_text()
    for sid in ("gen_go", "gen_read", "tool_1", "fruit_1", "mis_order"):
        assert f"<td>{sid}</td>" in page
    assert "seen in playtests" in page and "sharper wording" in page
    # plain output: notes and the path
    res = runner.invoke(app, ["report", str(toy_run["out"]), "-o", str(tmp_path / "rep2")])
    assert res.exit_code == 0 and res.output.strip().endswith(f"report: {tmp_path / 'rep2' / 'report.html'}")


def test_report_errors_are_one_line(tmp_path: Path) -> None:
    for args, expected in (([str(tmp_path / "missing")], "no such directory"),
                           ([str(tmp_path)], "is not a training run"),
                           ([str(tmp_path), "--metrics", str(tmp_path / "m.jsonl")], "does not exist")):
        res = runner.invoke(app, ["report", *args])
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]


def test_report_of_a_run_without_skills(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "train/reward_mean": 0.25}) + "\n")
    res = runner.invoke(app, ["report", str(run)])
    assert res.exit_code == 0, res.output
    assert "note: No skill bank" in res.output and (run / "report" / "report.html").is_file()
    assert (run / "report" / "training.png").is_file() and not (run / "report" / "bank_size.png").exists()
