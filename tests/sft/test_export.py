"""``skillrl sft export``: both layouts on disk, read back by their consumers (verl 0.9.1's own
multi-turn SFT dataset class; LLaMA-Factory's sharegpt entry), the statistics printed, and one
clear line for bad input."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from agent_system.environments.base import get_env_spec
from skillrl.cli import app
from skillrl.sft.export import ExportError, read_export
from skillrl.sft.pipeline import ExportRequest, export_sft
from skillrl.trainer.config import PROJECT_ROOT

runner = CliRunner()
BANK = f"{PROJECT_ROOT}/memory_data/alfworld/skills.json"
#: a plain chat template (the consumers only need one; no download)
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} [EOS] {% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)


def _export(tmp_path, fmt, games=6, val_games=2, bank=BANK):
    return export_sft(ExportRequest(env="household", teacher="search", games=games, output=str(tmp_path / fmt),
                                    fmt=fmt, bank=bank, retrieval={"top_k": 3, "max_skill_tokens": 200},
                                    max_steps=20, val_games=val_games))


def test_verl_layout_is_read_by_verls_multiturn_sft_dataset(tmp_path):
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    from skillrl.trainer.local.tiny import build_word_tokenizer

    result = _export(tmp_path, "verl")
    out = result.output
    assert sorted(p.name for p in out.iterdir()) == ["examples.jsonl", "export.json", "train.parquet", "val.parquet"]
    data = read_export(out)
    assert len(data.train) == result.stats.train_examples and len(data.val) == result.stats.val_examples > 0
    assert {ex.game_id for ex in data.train}.isdisjoint({ex.game_id for ex in data.val})  # whole games held out
    texts = [ex.prompt for ex in data.train + data.val] + [ex.target for ex in data.train + data.val]
    tok = build_word_tokenizer(texts + ["user assistant :"])
    tok.chat_template = CHAT_TEMPLATE
    cfg = OmegaConf.create({"messages_key": "messages", "max_length": 4096, "truncation": "error"})
    ds = MultiTurnSFTDataset(str(out / "train.parquet"), tok, cfg)
    assert len(ds) == len(data.train)
    for i in (0, len(ds) - 1):
        item = ds[i]
        ids, mask = item["input_ids"], item["loss_mask"]
        trained = tok.decode(ids[mask.bool()].tolist())
        # the loss covers the teacher's output (the assistant turn), never the prompt
        action = re.search(r"<action>(.*)</action>", data.train[i].target).group(1)
        assert " ".join(action.split()) in " ".join(trained.split())
        assert "Your admissible actions" not in trained
        assert 0 < int(mask.sum()) < int(item["attention_mask"].sum())
    frame = pd.read_parquet(out / "val.parquet")
    assert set(frame["messages"][0][0]) == {"role", "content"}
    assert [m["role"] for m in frame["messages"][0]] == ["user", "assistant"]


def test_llamafactory_layout_and_manifest(tmp_path):
    result = _export(tmp_path, "llamafactory")
    out = result.output
    info = json.loads((out / "dataset_info.json").read_text())
    name = "skillrl_household_search"
    assert set(info) == {name, f"{name}_val"}
    entry = info[name]
    assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "conversations"}
    assert entry["tags"] == {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}
    rows = json.loads((out / entry["file_name"]).read_text())
    val_rows = json.loads((out / info[f"{name}_val"]["file_name"]).read_text())
    assert len(rows) == result.stats.train_examples and len(val_rows) == result.stats.val_examples
    first = rows[0]["conversations"]
    assert [m["from"] for m in first] == ["human", "gpt"]
    assert "## Skills from past experience" in first[0]["value"]  # the RL prompt, skill block included
    assert re.fullmatch(r"<think>.+</think><action>.+</action>", first[1]["value"], re.S)
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["bank_version"] == result.manifest["bank_version"] is not None
    assert manifest["stats"]["projection_valid"] == 1.0
    # every target is one the env's projection accepts, with the action recorded
    spec = get_env_spec("household")
    for ex in read_export(out).train:
        parsed = spec.project_action(ex.target, ex.admissible)
        assert parsed.valid and parsed.action == ex.action


def test_no_skills_export_has_no_skill_block(tmp_path):
    result = _export(tmp_path, "llamafactory", games=2, val_games=0, bank=None)
    data = read_export(result.output)
    assert data.train and not data.val
    assert all("Skills from past experience" not in ex.prompt and ex.bank_version is None for ex in data.train)
    assert result.manifest["bank"] is None


def test_cli_prints_the_statistics(tmp_path):
    out = tmp_path / "cli"
    res = runner.invoke(app, ["sft", "export", "--env", "household", "--teacher", "expert", "--games", "5",
                              "--val-games", "1", "--format", "verl", "--output", str(out)])
    assert res.exit_code == 0, res.output
    text = res.output
    assert "won 5/5 games" in text
    assert re.search(r"examples: (\d+) \(\d+ train, \d+ val\) from 5 games", text)
    assert re.search(r"tokens per example .*: prompt \d+ mean / \d+ max, target [\d.]+ mean", text)
    assert "task types (examples / games):" in text
    assert "targets the env's projection accepts: 100.0 %" in text
    assert (out / "train.parquet").is_file() and (out / "val.parquet").is_file()
    res = runner.invoke(app, ["sft", "export", "--env", "household", "--teacher", "expert", "--games", "2",
                              "--output", str(tmp_path / "j"), "--json", "--no-skills"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got["won"] == 2 and got["stats"]["projection_valid"] == 1.0 and got["bank"] is None


@pytest.mark.parametrize("args, message", [
    (["--teacher", "oracle"], "oracle"),
    (["--teacher", "expert", "--format", "alpaca"], "unknown --format 'alpaca'"),
    (["--teacher", "expert", "--bank", "/nope/bank.json"], "skill bank '/nope/bank.json' not found"),
    (["--teacher", "expert", "--val-games", "3"], "--val-games (3) must be smaller than --games (3)"),
])
def test_bad_input_is_one_error_line(tmp_path, args, message):
    res = runner.invoke(app, ["sft", "export", "--env", "household", "--games", "3",
                              "--output", str(tmp_path / "x"), *args])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.output
    assert not (tmp_path / "x").exists()


def test_read_export_rejects_a_foreign_folder(tmp_path):
    with pytest.raises(ExportError, match="not an SFT export folder"):
        read_export(tmp_path)
    (tmp_path / "examples.jsonl").write_text('{"prompt": "p"}\n')
    with pytest.raises(ExportError, match=r"examples.jsonl:1: not an SFT example"):
        read_export(tmp_path)


def test_default_split_is_the_envs_training_split(tmp_path):
    result = _export(tmp_path, "verl", games=2, val_games=0)
    assert result.manifest["split"] == get_env_spec("household").play.train_split == "train"


def test_search_export_needs_no_retriever_server(tmp_path):
    """Without ``--env-arg corpus=…/retriever_url=…`` the search env searches the data folder's
    corpus in process (the play setup ``skillrl env play`` and ``skillrl eval`` use)."""
    res = runner.invoke(app, ["sft", "export", "--env", "search", "--teacher", "oracle", "--games", "2",
                              "--output", str(tmp_path / "s"), "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output[res.output.index("{"):])
    assert got["won"] == 2 and got["split"] == "bamboogle_test" and got["stats"]["projection_valid"] == 1.0
    # a named server is used as named: nothing listens on port 9, so every game fails in the env
    res = runner.invoke(app, ["sft", "export", "--env", "search", "--teacher", "oracle", "--games", "1",
                              "--output", str(tmp_path / "t"), "--env-arg", "retriever_url=http://127.0.0.1:9/retrieve",
                              "--env-arg", "retries=0"])
    assert res.exit_code == 1 and "RetrieverUnavailableError" in res.output, res.output
    assert not (tmp_path / "t").exists()
    res = runner.invoke(app, ["sft", "export", "--env", "search", "--teacher", "oracle", "--games", "1",
                              "--output", str(tmp_path / "u"), "--env-arg", "colour=red"])
    assert res.exit_code == 2 and "colour" in res.output, res.output
