"""The offline pipeline and its entry points: episodes -> memories -> bank, resumable, clear errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import distill_episodes as E
import pytest
from support.openai_server import Reply, Status
from typer.testing import CliRunner

from skillrl.cli import app
from skillrl.distill import JsonCache, LLMConfig, LLMStatusError, Trajectory, build_bank, build_distiller, distill_memories
from skillrl.distill.memory import read_memories
from skillrl.skills import SkillBank

ROOT = Path(__file__).resolve().parents[2]


def all_episodes():
    eps = [E.heat_success(seed=i) for i in range(3)] + [E.heat_skipped(seed=10 + i) for i in range(3)]
    eps += [E.alfworld_loop(seed=20), E.wrong_object(seed=21), E.repeated(seed=22), E.invalid(seed=23)]
    eps += [E.episode("alfworld", "put a mug in shelf.", "pick_and_place",
                      ["go to desk 1", "take mug 1 from desk 1", "go to shelf 1", "move mug 1 to shelf 1"],
                      won=True, seed=30 + i, game_id=f"pp-{i}") for i in range(2)]
    return eps


@pytest.fixture
def episode_file(tmp_path) -> Path:
    p = tmp_path / "episodes.jsonl"
    p.write_text("".join(json.dumps(ep.to_dict()) + "\n" for ep in all_episodes()))
    return p


def test_heuristic_pipeline_builds_a_valid_bank_and_caches_per_trajectory(tmp_path):
    trajs = [Trajectory.from_episode(ep) for ep in all_episodes()]
    d = build_distiller("heuristic")
    cache = JsonCache(tmp_path / "cache")
    run = distill_memories(trajs, d, cache=cache, progress=False)
    assert len(run.memories) == len(trajs) and run.cached == 0
    again = distill_memories(trajs, d, cache=cache, progress=False)
    assert again.cached == len(trajs) and again.memories == run.memories
    bank = build_bank(run.memories, d, env_name="alfworld", categories=("pick_and_place", "heat"), progress=False)
    assert list(bank.task_specific_skills) == ["pick_and_place", "heat"]
    heat = bank.task_specific_skills["heat"]
    assert heat[0].skill_id == "hea_001" and "heat OBJECT with APPLIANCE" in heat[0].principle
    assert any("appliance the goal names" in s.title for s in heat)
    assert {m.mistake_id for m in bank.common_mistakes} >= {"err_001", "err_002"}
    meta = bank.metadata
    assert meta["total_memories_analyzed"] == len(trajs)
    assert meta["task_distribution"]["heat"] == {"success": 3, "failure": 3}
    out = bank.save(tmp_path / "bank.json")
    assert SkillBank.load(out).version == 0


def scripted_memory(request):
    prompt = request["messages"][-1]["content"]
    if "Turn the episode into a memory" in prompt:
        return Reply(json.dumps({"contextual_description": "did things",
                                 "refined_trajectory": [{"action": "go to fridge 1", "reasoning": "egg is cold"}],
                                 "strategic_guidelines": {"planning_pattern": "find -> heat -> place",
                                                          "mistakes_to_avoid": []}}))
    if "GENERAL skills" in prompt:
        return Reply('[{"title": "Plan first", "principle": "List sub-goals.", "when_to_apply": "start"}]')
    if "Task type:" in prompt:
        return Reply('```json\n[{"title": "Heat it", "principle": "Microwave the object.", "when_to_apply": ""}]\n```')
    return Reply('[{"description": "Skipping a step.", "why_it_happens": "haste", "how_to_avoid": "Check the goal."}]')


def test_llm_pipeline_is_resumable_after_an_outage(fake_openai, tmp_path):
    trajs = [Trajectory.from_episode(ep) for ep in all_episodes()[:4]]
    d = build_distiller("openai", LLMConfig(model="m", max_retries=0))
    cache = JsonCache(tmp_path / "cache")
    fake_openai.push(*[scripted_memory({"messages": [{"content": "Turn the episode into a memory"}]})] * 2,
                     Status(503, "maintenance"))
    with pytest.raises(LLMStatusError, match="HTTP 503"):
        distill_memories(trajs, d, cache=cache, progress=False)
    assert len(fake_openai.requests) == 3
    fake_openai.responder = scripted_memory
    run = distill_memories(trajs, d, cache=cache, progress=False)
    assert run.cached == 2 and len(run.memories) == 4
    assert len(fake_openai.requests) == 3 + 2  # only the two missing trajectories were asked again
    bank = build_bank(run.memories, d, env_name="alfworld", cache=cache, progress=False)
    n = len(fake_openai.requests)
    assert [s.skill_id for s in bank.general_skills] == ["gen_001"] and bank.common_mistakes[0].mistake_id == "err_001"
    build_bank(run.memories, d, env_name="alfworld", cache=cache, progress=False)
    assert len(fake_openai.requests) == n  # every section came from the cache


def run_cli(*args):
    return CliRunner().invoke(app, list(args))


def test_cli_bank_from_episodes_validates(episode_file, tmp_path):
    out = tmp_path / "bank.json"
    mem = tmp_path / "mem.json"
    r = run_cli("distill", "bank", "--env", "alfworld", "--episodes", str(episode_file), "--output-path", str(out),
                "--llm", "heuristic", "--cache-dir", str(tmp_path / "c"), "--save-memories", str(mem), "--no-progress")
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output
    v = run_cli("skills", "validate", str(out))
    assert v.exit_code == 0 and "is a valid skill bank" in v.output
    assert len(read_memories(mem)) == len(all_episodes())
    again = run_cli("distill", "bank", "--env", "alfworld", "--memory-path", str(mem), "--output-path", str(out))
    assert again.exit_code == 2 and "exists; pass --force" in again.output


def test_cli_memories_then_bank(episode_file, tmp_path):
    mem = tmp_path / "mem.json"
    r = run_cli("distill", "memories", "--env", "alfworld", "--episodes", str(episode_file),
                "--output-path", str(mem), "--no-cache", "--no-progress")
    assert r.exit_code == 0, r.output
    recs = json.loads(mem.read_text())
    assert {rec["tags"]["outcome"] for rec in recs} == {"Success", "Failure"}
    r = run_cli("distill", "bank", "--env", "alfworld", "--memory-path", str(mem), "--output-path",
                str(tmp_path / "b.json"), "--no-cache", "--no-progress")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args,message", [
    (["--episodes", "missing.jsonl"], "missing.jsonl: file not found"),
    (["--episodes-from", "oracle"], "unknown alfworld policy 'oracle'; choose one of: expert, random"),
    (["--episodes-from", "openai:gpt-4o"], "--episodes-from openai:gpt-4o: openai:gpt-4o: OPENAI_API_KEY is not set"),
    ([], "no episodes given"),
    (["--episodes", "EP", "--llm", "openai"], "--llm openai: OPENAI_API_KEY is not set"),
    (["--episodes", "EP", "--llm", "claude"], "unknown distiller 'claude'"),
    (["--episodes", "EP", "--env", "nethack"], "unknown environment 'nethack'"),
])
def test_cli_errors_are_one_line(episode_file, tmp_path, args, message):
    args = [str(episode_file) if a == "EP" else a for a in args]
    env = [] if "--env" in args else ["--env", "alfworld"]
    r = run_cli("distill", "memories", *env, *args, "--output-path", str(tmp_path / "m.json"), "--no-cache",
                "--no-progress")
    assert r.exit_code == 2
    assert message in r.output and r.output.count("error:") == 1


def test_cli_bad_episode_line(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text('{"task": "t", "actions": ["look"]}\n{"task": \n')
    r = run_cli("distill", "memories", "--env", "alfworld", "--episodes", str(p), "--output-path", str(tmp_path / "m.json"),
                "--no-cache")
    assert r.exit_code == 2 and "e.jsonl: line 2: invalid JSON" in r.output


def test_cli_llm_down_says_so(fake_openai, episode_file, tmp_path):
    fake_openai.default = Status(502, "bad gateway", retry_after_ms=1)
    r = run_cli("distill", "memories", "--env", "alfworld", "--episodes", str(episode_file), "--output-path",
                str(tmp_path / "m.json"), "--llm", "openai", "--max-retries", "0", "--cache-dir", str(tmp_path / "c"),
                "--no-progress")
    assert r.exit_code == 2 and "HTTP 502" in r.output and "rerun to resume" in r.output


def test_skill_generation_script_keeps_the_original_interface(tmp_path, episode_file):
    mem = tmp_path / "generated_memories_alfworld.json"
    run = distill_memories(read_episodes_file(episode_file), build_distiller("heuristic"), progress=False)
    from skillrl.distill import write_memories

    write_memories(mem, run.memories)
    out = tmp_path / "claude_style_skills.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, str(ROOT / "skill_generation" / "alfworld.py"), "--memory_path", str(mem),
                        "--output_path", str(out), "--no_progress"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert re.search(r"General skills: \d+", p.stdout) and f"Saved to: {out}" in p.stdout
    bank = SkillBank.load(out)
    assert "heat" in bank.task_specific_skills and bank.metadata["total_memories_analyzed"] == len(run.memories)
    bad = subprocess.run([sys.executable, str(ROOT / "skill_generation" / "alfworld.py"), "--memory_path",
                          str(tmp_path / "nope.json"), "--output_path", str(out)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert bad.returncode == 2 and "nope.json: file not found" in bad.stderr


def read_episodes_file(p):
    from skillrl.distill import read_episodes

    return read_episodes(p)
