"""The local backend in the original prompt style: `skillrl train --local … recipe=skillrl_original`
runs end to end (tiny policy, WebShop), records the style in its checkpoint, scores episodes with the
recipe (10 for a perfect purchase, minus 0.1 per invalid step), and a later run of that checkpoint in
the other style is warned about."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "original"))
from original_helpers import ORIGINAL_REPO  # noqa: E402

from skillrl.utils.paths import DataNotFoundError, resolve_data_dir  # noqa: E402


def test_cli_local_webshop_in_the_original_style(tmp_path, caplog):
    try:
        resolve_data_dir("webshop")
    except DataNotFoundError:
        pytest.skip("no WebShop data")
    from skillrl.agent.original import style_warning
    from skillrl.cli import app

    out_dir = tmp_path / "orig"
    result = CliRunner().invoke(app, [
        "train", "--local", "--env", "webshop", "--steps", "1", "--output-dir", str(out_dir), "--json",
        "recipe=skillrl_original", f"env.original_repo={ORIGINAL_REPO}", "train_batch_size=1", "env.rollout.n=2",
        "env.max_steps=2", "val_batch_size=1", "warmup_steps=2", "warmup_episodes=1", "max_new_tokens=16",
        "progress=false", "cpu_threads=1"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    env = run["config"]["env"]
    assert (env["prompt_style"], env["success_reward"], env["invalid_action_penalty"]) == ("original", 10.0, 0.1)
    assert env["skills_only_memory"]["skills_json_path"].endswith("memory_data/webshop/claude_style_skills.json")
    assert run["config"]["max_prompt_tokens"] == 6000  # the recipe's budget for WebShop (local name)
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    train = next(r for r in rows if "train/score_mean" in r)
    # score = 10 x won - 0.1 x invalid steps, averaged: 10 x success - 0.1 x invalid share x turns
    expected = 10 * train["train/success_rate"] - 0.1 * (1 - train["train/valid_action_rate"]) * train["train/turns_mean"]
    assert train["train/score_mean"] == pytest.approx(expected)
    ckpt = Path(run["checkpoint_dir"])
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["config"]["env"]["prompt_style"] == "original"
    assert "trained with env.prompt_style=original" in style_warning(ckpt, "native")
    assert style_warning(ckpt, "original") is None


def test_a_release_run_in_the_native_style_is_warned(tmp_path, caplog):
    from skillrl.agent.original import release_evidence, style_warning, warn_on_style_mismatch

    card = tmp_path / "Alfworld-checkpoint"
    card.mkdir()
    (card / "config.json").write_text(json.dumps({"_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}))
    assert release_evidence(card) is None
    (card / "README.md").write_text("**SkillRL-Alfworld-SFT** is a cold-start checkpoint")
    assert release_evidence(card) == "its model card (README.md) names SkillRL"
    with caplog.at_level(logging.WARNING):
        message = warn_on_style_mismatch(card, "native")
    assert "env.prompt_style=original" in message and message in caplog.text
    assert style_warning(card, "original") is None
    for name in ("Jianwen/Alfworld-7B-SFT", "Jianwen/Webshop-7B-SFT", "someone/SkillRL-search-ckpt"):
        assert "env.prompt_style=original" in style_warning(name, "native")
    hf_cache = tmp_path / "models--Jianwen--Search-7B-SFT" / "snapshots" / "abc123"
    hf_cache.mkdir(parents=True)
    assert "models--Jianwen--Search-7B-SFT" in release_evidence(hf_cache)
    for name in ("Qwen/Qwen2.5-7B-Instruct", None, ""):
        assert style_warning(name, "native") is None
    # a folder inside a project called SkillRL is not a release by that alone
    plain = tmp_path / "SkillRL" / "models" / "qwen"
    plain.mkdir(parents=True)
    assert release_evidence(plain) is None
