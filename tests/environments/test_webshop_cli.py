"""``skillrl env score|play webshop`` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent_system.environments.webshop import load_catalog
from skillrl.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def goal():
    catalog = load_catalog()
    return next(g for g in catalog.goals if len(g["goal_options"]) == 2)


def _write(tmp_path, doc) -> str:
    path = tmp_path / "cases.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_score_json(tmp_path, goal):
    options = dict(goal["goal_options"])
    first = next(iter(options))
    cases = {
        "cases": [
            {"goal": goal, "purchased_asin": goal["asin"], "selected_options": options, "price": 1.0},
            # one option left out, price above the bound
            {"goal": goal, "purchased_asin": goal["asin"],
             "selected_options": {k: v for k, v in options.items() if k != first},
             "price": goal["price_upper"] + 1},
        ]
    }
    result = runner.invoke(app, ["env", "score", "webshop", "--cases", _write(tmp_path, cases), "--json"])
    assert result.exit_code == 0, result.output
    rewards = json.loads(result.stdout)["rewards"]
    assert len(rewards) == 2
    n_att = len(goal["attributes"])
    assert rewards[0]["reward"] == 1.0 and rewards[0]["r_type"] == 1.0 and rewards[0]["r_price"] == 1.0
    assert rewards[1]["r_price"] == 0.0 and rewards[1]["r_option"] == 0.5
    assert rewards[1]["reward"] == pytest.approx((n_att + 1) / (n_att + 3))


def test_score_table_output(tmp_path, goal):
    cases = {"cases": [{"goal": goal, "purchased_asin": goal["asin"], "selected_options": {}, "price": 1.0}]}
    result = runner.invoke(app, ["env", "score", "webshop", "--cases", _write(tmp_path, cases)])
    assert result.exit_code == 0, result.output
    assert "r_type" in result.stdout


@pytest.mark.parametrize(
    "doc,message",
    [
        ("{not json", "not valid JSON"),
        ({"items": []}, "cases"),
        ({"cases": [{"goal": {}, "purchased_asin": "B0", "selected_options": {}, "price": 1}]}, "goal misses"),
        ({"cases": [{"purchased_asin": "B0"}]}, "misses key"),
    ],
)
def test_score_bad_input_exits_2(tmp_path, doc, message):
    result = runner.invoke(app, ["env", "score", "webshop", "--cases", _write(tmp_path, doc), "--json"])
    assert result.exit_code == 2
    assert message in result.output


def test_score_unknown_asin_and_missing_file(tmp_path, goal):
    cases = {"cases": [{"goal": goal, "purchased_asin": "NOPE000000", "selected_options": {}, "price": 1.0}]}
    result = runner.invoke(app, ["env", "score", "webshop", "--cases", _write(tmp_path, cases), "--json"])
    assert result.exit_code == 2 and "unknown purchased_asin" in result.output
    result = runner.invoke(app, ["env", "score", "webshop", "--cases", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "not found" in result.output


def test_play_json_defaults_to_the_oracle():
    result = runner.invoke(app, ["env", "play", "webshop", "--games", "5", "--json"])  # no --policy: oracle
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["policy"] == "oracle" and out["games"] == 5 and out["mean_reward"] >= 0.8 and out["mean_turn_ms"] > 0
    assert sum(t for _, t in out["by_type"].values()) == 5 and out["errors"] == [] and out["invalid_action_rate"] == 0.0
    result = runner.invoke(app, ["env", "play", "webshop", "--policy", "expert", "--games", "1", "--json"])
    assert result.exit_code == 2 and "unknown webshop policy 'expert'; choose one of: oracle, random, wrong" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["play", "toy", "--policy", "expert"], "unknown toy policy 'expert'; choose one of: oracle, random, hf:PATH"),
        (["play", "chess"], "unknown environment 'chess'"),
        (["score", "search", "--cases", "x.json"], "environment 'search' has no outcome scoring; choose one of: webshop"),
    ],
)
def test_env_choices_come_from_the_registry(args, message):
    result = runner.invoke(app, ["env", *args])
    assert result.exit_code == 2 and message in result.output


def test_env_list_and_completion():
    result = runner.invoke(app, ["env", "list", "--json"])
    assert result.exit_code == 0, result.output
    envs = json.loads(result.stdout)
    assert envs["webshop"]["policies"][:4] == ["oracle", "random", "wrong", "perturbed"] and envs["webshop"]["score"] is True
    assert "perturbed:premature_purchase" in envs["webshop"]["policies"]
    assert envs["toy"]["policies"] == ["oracle", "random"] and envs["search"]["skill_categories"][0] == "single_hop_fact"
    from skillrl.cli import env as env_cli

    assert env_cli._complete_playable("") == ["alfworld", "household", "search", "toy", "webshop"]
    assert env_cli._complete_scorable("w") == ["webshop"]


def test_help_has_no_rest_markup():
    for command in ("play", "score", "list"):
        result = runner.invoke(app, ["env", command, "--help"])
        assert result.exit_code == 0 and "``" not in result.output and ":func:" not in result.output
