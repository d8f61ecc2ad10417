"""``evaluate`` on the toy task: output files, summary figures, pass@k, resume after an interruption."""

from __future__ import annotations

import dataclasses
import json

import pytest

from agent_system.environments import get_env_spec
from skillrl.eval import EvalError, Job, PlayError, PlaySettings, SkillSettings, episodes_path, evaluate, plan, summarize
from skillrl.eval.records import pass_at_k
from skillrl.policies import load_policy

TOY = get_env_spec("toy")


def _run(tmp_path, policy="oracle", name="out.json", **settings):
    settings.setdefault("games", 12)
    settings.setdefault("progress", False)
    return evaluate(TOY, load_policy(TOY, policy), PlaySettings(**settings), SkillSettings(), output=tmp_path / name)


def test_outputs_and_summary(tmp_path):
    result = _run(tmp_path)
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["summary"] == result["summary"] and out["run"]["policy"] == "oracle" and out["run"]["env"] == "toy"
    s = out["summary"]
    assert s["episodes"] == s["games"] == 12 and s["won"] == 12 and s["success_rate"] == 1.0 and s["errors"] == 0
    assert sum(v["total"] for v in s["by_type"].values()) == 12 and s["by_split"] == {"unknown": s["by_split"]["unknown"]}
    assert s["mean_turns"] == 2.0 and s["invalid_action_rate"] == 0.0 and s["skill_tokens_per_turn"] == 0.0
    assert s["prompt_tokens_per_turn"] > 20 and "MiniLM WordPiece" in s["tokenizer"]
    assert out["table"]["columns"][-1] == "All" and out["table"]["values"]["All"] == 100.0
    lines = episodes_path(tmp_path / "out.json").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["key"] for r in records] == [f"/{k}/0" for k in range(12)] and len(out["episodes"]) == 12
    first = records[0]
    assert first["won"] and first["turns"] == 2 == len(first["steps"]) == len(first["prompt_tokens"])
    assert first["steps"][0]["action"].startswith("go to ") and first["metadata"]["policy"] == "oracle"
    assert "steps" not in out["episodes"][0] and out["episodes"][0]["task"] == first["task"]


def test_skills_are_injected_and_counted(tmp_path):
    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps({"general_skills": [{"skill_id": "g1", "title": "Read the task",
                                                    "principle": "Go where the task says, then take the object.",
                                                    "when_to_apply": "always"}],
                                "task_specific_skills": {}, "common_mistakes": []}))
    result = evaluate(TOY, load_policy(TOY, "oracle"), PlaySettings(games=4, progress=False),
                      SkillSettings(bank_path=str(bank)), output=tmp_path / "s.json")
    s = result["summary"]
    assert result["run"]["skills"]["bank"] == str(bank) and all(e["skill_ids"] == ["g1"] for e in result["episodes"])
    assert 0 < s["skill_tokens_per_turn"] < s["prompt_tokens_per_turn"] and 0 < s["skill_token_share"] < 1
    with pytest.raises(EvalError, match="not found|No such|does not exist"):
        evaluate(TOY, load_policy(TOY, "oracle"), PlaySettings(games=1, progress=False),
                 SkillSettings(bank_path=str(tmp_path / "none.json")))


def test_pass_at_k_and_mean_at_k(tmp_path):
    result = _run(tmp_path, policy="random", n=4, games=10)
    s = result["summary"]
    records = [json.loads(line) for line in episodes_path(tmp_path / "out.json").read_text().splitlines()]
    assert s["episodes"] == 40 and s["games"] == 10
    by_game: dict[int, list[bool]] = {}
    for r in records:
        by_game.setdefault(r["seed"], []).append(r["won"])
    assert s["pass@4"] == sum(any(v) for v in by_game.values()) / 10
    assert s["mean@4"] == pytest.approx(sum(sum(v) / 4 for v in by_game.values()) / 10)
    assert s["mean@4"] == pytest.approx(s["success_rate"]) and s["pass@4"] >= s["mean@4"]
    assert 0 < s["mean@4"] < 1  # a random policy sometimes wins: the samples really differ
    assert len({tuple(r["steps"][0]["action"] for r in records if r["seed"] == seed) for seed in by_game}) > 1


class Interrupt(BaseException):
    """Stands in for Ctrl-C (a BaseException the play path must not swallow)."""


def test_interrupted_run_resumes_from_written_episodes(tmp_path, monkeypatch):
    import skillrl.eval.run as run_module

    calls = {"n": 0}
    real = run_module.episode_record

    def record_then_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise Interrupt()
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "episode_record", record_then_interrupt)
    with pytest.raises(Interrupt):
        _run(tmp_path, games=10)
    path = episodes_path(tmp_path / "out.json")
    assert len(path.read_text().splitlines()) == 5 and not (tmp_path / "out.json").exists()
    with open(path, "a") as fh:
        fh.write('{"key": "/9/0", "torn')  # a kill in the middle of a write
    monkeypatch.setattr(run_module, "episode_record", real)
    result = _run(tmp_path, games=10)
    assert result["run"]["resumed_episodes"] == 5 and result["summary"]["episodes"] == 10
    lines = path.read_text().splitlines()
    assert len(lines) == 10 and [json.loads(x)["key"] for x in lines] == [f"/{k}/0" for k in range(10)]
    again = _run(tmp_path, games=10)  # nothing left to play
    assert again["run"]["resumed_episodes"] == 10 and len(path.read_text().splitlines()) == 10


def test_other_settings_are_refused_unless_forced(tmp_path):
    _run(tmp_path, games=3)
    with pytest.raises(EvalError, match="other settings.*--force"):
        _run(tmp_path, games=4)
    forced = evaluate(TOY, load_policy(TOY, "oracle"), PlaySettings(games=4, progress=False), SkillSettings(),
                      output=tmp_path / "out.json", force=True)
    assert forced["run"]["resumed_episodes"] == 0 and len(episodes_path(tmp_path / "out.json").read_text().splitlines()) == 4


def test_retry_errors_replays_failed_episodes(tmp_path):
    _run(tmp_path, games=3)
    path = episodes_path(tmp_path / "out.json")
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    recs[1].update(error="policy: APITimeoutError: timed out", won=False, reward=0.0)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    kept = _run(tmp_path, games=3)
    assert kept["summary"]["errors"] == 1 and kept["summary"]["won"] == 2
    retried = evaluate(TOY, load_policy(TOY, "oracle"), PlaySettings(games=3, progress=False), SkillSettings(),
                       output=tmp_path / "out.json", retry_errors=True)
    assert retried["summary"]["errors"] == 0 and retried["summary"]["won"] == 3 and retried["run"]["resumed_episodes"] == 2


def test_plan_errors_and_caps():
    with pytest.raises(PlayError, match="generated from the seed"):
        plan(TOY, PlaySettings(games=None))
    with pytest.raises(PlayError, match="games must be >= 1"):
        PlaySettings(games=0)
    webshop = get_env_spec("webshop")
    [p] = plan(webshop, PlaySettings(games=None, n=2))
    assert p.split == "test" and p.available == 500 and len(p.jobs) == 1000
    assert p.jobs[:3] == (Job("test", 0, 0), Job("test", 0, 1), Job("test", 1, 0))
    [capped] = plan(webshop, dataclasses.replace(PlaySettings(), games=900))
    assert len(capped.jobs) == 500


def test_summarize_counts_invalid_actions_tokens_errors_and_kinds():
    recs = [
        {"key": "a", "split": "s", "seed": 0, "task_type": "x", "won": True, "reward": 1.0, "turns": 2,
         "invalid_actions": 1, "prompt_tokens": [10, 20], "skill_tokens": 5, "error": None, "wall_s": 1.0,
         "metadata": {"failure_kind": "invalid_action"}},
        {"key": "b", "split": "s", "seed": 1, "task_type": "y", "won": False, "reward": 0.0, "turns": 2,
         "invalid_actions": 0, "prompt_tokens": [30, 40], "skill_tokens": 5, "error": "policy: boom", "wall_s": 3.0,
         "metadata": {}},
    ]
    s = summarize(recs)
    assert s["invalid_action_rate"] == 0.25 and s["prompt_tokens_per_turn"] == 25.0 and s["skill_tokens_per_turn"] == 5.0
    assert s["skill_token_share"] == 20 / 100 and s["errors"] == 1 and s["error_reasons"] == {"policy: boom": 1}
    assert s["failure_kinds"] == {"invalid_action": 1} and s["by_type"]["x"]["success_rate"] == 1.0
    assert "pass@1" not in s and pass_at_k(recs) == (0.5, 0.5, 2) and s["mean_wall_s"] == 2.0
