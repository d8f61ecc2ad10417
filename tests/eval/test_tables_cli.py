"""The paper-layout tables, ``skillrl eval --compare`` (text, Markdown, CSV), CLI errors and token counting."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from skillrl.cli import app
from skillrl.eval.tables import compare, comparisons, table_row
from skillrl.eval.tokens import offline_counter

runner = CliRunner()


def _summary(by_type, mean_reward=None):
    won = sum(w for w, _ in by_type.values())
    total = sum(t for _, t in by_type.values())
    return {"episodes": total, "success_rate": won / total, "mean_reward": won / total if mean_reward is None else mean_reward,
            "by_type": {k: {"won": w, "total": t, "success_rate": w / t, "mean_reward": w / t} for k, (w, t) in by_type.items()}}


ALF = _summary({"pick_and_place": [9, 10], "look_at_obj_in_light": [4, 4], "clean": [5, 10], "heat": [1, 2],
                "cool": [0, 3], "pick_two_obj_and_place": [3, 4]})


def test_alfworld_layout_is_the_papers():
    row = table_row("alfworld", ALF)
    assert row["columns"] == ["Pick", "Look", "Clean", "Heat", "Cool", "Pick2", "All"]
    assert row["values"] == {"Pick": 90.0, "Look": 100.0, "Clean": 50.0, "Heat": 50.0, "Cool": 0.0, "Pick2": 75.0,
                             "All": round(100 * 22 / 33, 2)}


def test_webshop_and_search_layouts():
    shop = table_row("webshop", _summary({"fashion": [3, 4]}, mean_reward=0.9))
    assert shop["columns"] == ["Score", "Succ."] and shop["values"] == {"Score": 90.0, "Succ.": 75.0}
    search = table_row("search", _summary({"bamboogle": [1, 2], "nq": [3, 4], "mystery": [0, 1]}))
    assert search["columns"] == ["NQ", "Bamboogle", "mystery", "Avg."]  # the paper's order, only data sets played
    assert search["values"]["Avg."] == pytest.approx((75 + 50 + 0) / 3, abs=0.01)
    assert table_row("toy", _summary({"tool": [1, 1]}))["columns"] == ["tool", "All"]


def _result(env, policy, summary, skills=None):
    return {"run": {"env": env, "policy": policy, "skills": skills}, "summary": summary}


def test_compare_lines_up_runs_and_renders_three_formats():
    runs = [("a", _result("alfworld", "ckpt:x", ALF, {"bank_version": 3, "retrieval_mode": "template"})),
            ("b", _result("alfworld", "ckpt:x", _summary({"pick_and_place": [1, 10]}))),
            ("c", _result("webshop", "oracle", _summary({"beauty": [1, 1]})))]
    [alf, shop] = comparisons(runs)
    assert [r[0] for r in alf.rows] == ["ckpt:x · skills v3 (template)", "ckpt:x · no skills"]
    assert alf.rows[1][1]["Look"] is None and alf.columns[-1] == "All" and shop.env == "webshop"
    text = compare(runs)
    assert "ALFWorld success rate (%)" in text and "–" in text and "WebShop score and success rate (%)" in text
    md = compare(runs, "markdown")
    assert "| ckpt:x · no skills | 10.0 | – | – | – | – | – | 10.0 | 10 |" in md
    rows = list(csv.reader(io.StringIO(compare(runs[:2], "csv"))))
    assert rows[0] == ["env", "run", "Pick", "Look", "Clean", "Heat", "Cool", "Pick2", "All", "episodes"]
    assert rows[2][:3] == ["alfworld", "ckpt:x · no skills", "10.00"] and rows[2][3] == ""
    same = [("x", _result("toy", "oracle", _summary({"tool": [1, 1]})))] * 2
    assert [r[0] for r in comparisons(same)[0].rows] == ["oracle · no skills [x]"] * 2


def test_cli_compare_and_its_errors(tmp_path):
    for name, policy in (("on", "oracle"), ("off", "random")):
        res = runner.invoke(app, ["eval", "--env", "toy", "--policy", policy, "--games", "8", "--output",
                                  str(tmp_path / f"{name}.json"), "--no-progress"])
        assert res.exit_code == 0, res.output
    files = [str(tmp_path / "on.json"), str(tmp_path / "off.json")]
    res = runner.invoke(app, ["eval", "--compare", *files, "--markdown"])
    assert res.exit_code == 0, res.output
    assert "| oracle · no skills | " in res.stdout and "| random · no skills | " in res.stdout
    res = runner.invoke(app, ["eval", "--compare", *files, "--csv"])
    assert res.exit_code == 0 and res.stdout.splitlines()[0].startswith("env,run,")
    (tmp_path / "bad.json").write_text("{}")
    for args, message in (
        (["--compare", str(tmp_path / "bad.json")], "not an eval result"),
        (["--compare", str(tmp_path / "nope.json")], "file not found"),
        (["--compare"], "--compare needs"),
        (["--compare", *files, "--csv", "--markdown"], "exclude each other"),
        ([], "missing --env"),
        (["--env", "chess"], "unknown environment 'chess'"),
        (["--env", "toy", "--policy", "expert"], "unknown toy policy 'expert'"),
        (["--env", "toy"], "generated from the seed"),  # --games defaults to all
        (["--env", "toy", "--games", "x"], "--games must be a number or 'all'"),
        (["--env", "toy", "--games", "2", "--env-arg", "novalue"], "--env-arg wants KEY=VALUE"),
        (["--env", "toy", "--games", "2", "--env-arg", "colour=red"], "unknown toy env setting 'colour'"),
        (["--env", "alfworld", "--split", "valid_nowhere", "--games", "1"], "unknown ALFWorld split 'valid_nowhere'"),
        (["--env", "search", "--split", "no_such_test", "--games", "1"], "no QA split 'no_such_test'"),
        ([str(tmp_path / "on.json")], "result files are read with --compare"),
    ):
        res = runner.invoke(app, ["eval", *args, "--output", str(tmp_path / "x.json")] if args and args[0] != "--compare"
                            else ["eval", *args])
        assert res.exit_code == 2 and message in res.output and res.output.count("error:") == 1, (args, res.output)


def test_env_play_is_a_view_of_the_same_path():
    res = runner.invoke(app, ["env", "play", "toy", "--games", "6", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["policy"] == "oracle" and out["won"] == out["games"] == 6 and out["mean_turns"] == 2.0
    res = runner.invoke(app, ["env", "play", "toy", "--policy", "random", "--games", "20"])
    assert res.exit_code == 0 and "toy · policy=random" in res.stdout


def test_offline_token_counter_is_minilm_wordpiece_without_padding_or_truncation():
    counter = offline_counter()
    assert "MiniLM WordPiece" in counter.name
    assert counter.count("hi") == 1 and counter.count("go to countertop 1") == 5
    assert counter.count("hello " * 600) == 600  # no 128-token padding or truncation
