"""``openai:MODEL`` evaluations against a local chat-completions server (127.0.0.1, the real
``openai`` client): a server that plays the toy task perfectly, one that answers 500 on some
requests, one that stalls on some — the failing episodes end with the reason, the rest complete."""

from __future__ import annotations

import json
import re
import time

import pytest
from typer.testing import CliRunner

from agent_system.environments import get_env_spec
from skillrl.cli import app
from skillrl.eval import PlaySettings, SkillSettings, evaluate
from skillrl.policies import PolicyLoadError, PolicyOptions, load_policy
from support.openai_server import FakeOpenAIServer, Hang, Reply, Status

TOY = get_env_spec("toy")
_TASK = re.compile(r"Your task is to: take the (\w+) from the (\w+)")
_ADMISSIBLE = re.compile(r"^Admissible actions: (.*)$", re.MULTILINE)
_ENDPOINT_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch):
    for var in _ENDPOINT_VARS:
        monkeypatch.delenv(var, raising=False)


def play_toy(body: dict) -> Reply:
    """The toy oracle, reading only the prompt it was sent."""
    prompt = body["messages"][-1]["content"]
    goal, place = _TASK.search(prompt).groups()
    admissible = _ADMISSIBLE.search(prompt).group(1)
    action = f"go to {place}" if f"[go to {place}]" in admissible else f"take {goal}"
    return Reply(f"<action>{action}</action>", prompt_tokens=100, completion_tokens=5, delay_s=0.02)


def _goal(body: dict) -> str:
    return _TASK.search(body["messages"][-1]["content"]).group(1)


def _eval(server, tmp_path, *, games=12, timeout_s=10.0, max_retries=0, concurrency=4):
    options = PolicyOptions(base_url=server.base_url, timeout_s=timeout_s, max_retries=max_retries, concurrency=concurrency)
    policy = load_policy(TOY, "openai:fake-model", options)
    try:
        return evaluate(TOY, policy, PlaySettings(games=games, concurrency=concurrency, progress=False), SkillSettings(),
                        output=tmp_path / "out.json")
    finally:
        policy.close()


def test_a_scripted_server_wins_every_episode(tmp_path):
    with FakeOpenAIServer(responder=play_toy) as server:
        result = _eval(server, tmp_path, concurrency=4)
    s = result["summary"]
    assert s["episodes"] == 12 and s["won"] == 12 and s["errors"] == 0 and s["mean_turns"] == 2.0
    assert len(server.requests) == 24 and all(r.body["model"] == "fake-model" for r in server.requests)
    assert 1 < server.max_in_flight <= 4  # episodes ran concurrently, never more than the bound
    stats = result["run"]["policy_stats"]
    assert stats["requests"] == 24 and stats["failed_requests"] == 0 and stats["endpoint_prompt_tokens"] == 2400
    assert result["run"]["policy_info"]["endpoint"] == server.base_url


def test_server_errors_fail_those_episodes_only(tmp_path):
    def flaky(body):
        return Status(500, "scripted outage") if _goal(body) == "key" else play_toy(body)

    with FakeOpenAIServer(responder=flaky) as server:
        result = _eval(server, tmp_path, games=24)
    eps = result["episodes"]
    failed = [e for e in eps if e["error"]]
    assert failed and all(e["task"].startswith("take the key") for e in failed)
    assert all("HTTP 500" in e["error"] and "scripted outage" in e["error"] and e["error"].startswith("policy: ")
               for e in failed)
    assert all(e["won"] for e in eps if not e["error"]) and len(eps) == 24
    assert result["summary"]["errors"] == len(failed) and result["summary"]["won"] == 24 - len(failed)


def test_stalled_requests_time_out_and_the_run_goes_on(tmp_path):
    def stalls(body):
        return Hang(30) if _goal(body) == "apple" else play_toy(body)

    started = time.perf_counter()
    with FakeOpenAIServer(responder=stalls) as server:
        result = _eval(server, tmp_path, games=16, timeout_s=0.5)
    eps = result["episodes"]
    stalled = [e for e in eps if e["task"].startswith("take the apple")]
    assert stalled and all(e["error"] and "timed out after 0.5s" in e["error"] for e in stalled)
    assert all(e["won"] and e["error"] is None for e in eps if e not in stalled)
    assert time.perf_counter() - started < 25  # nobody waited for the 30 s stall


def test_retries_recover_from_a_transient_429(tmp_path):
    with FakeOpenAIServer([Status(429, retry_after_ms=1)], responder=play_toy) as server:
        result = _eval(server, tmp_path, games=2, max_retries=2, concurrency=1)
    assert result["summary"]["won"] == 2 and result["summary"]["errors"] == 0 and len(server.requests) == 5


def test_missing_endpoint_settings_are_one_error():
    with pytest.raises(PolicyLoadError, match="openai:m: OPENAI_API_KEY is not set"):
        load_policy(TOY, "openai:m")
    with pytest.raises(PolicyLoadError, match="AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT"):
        load_policy(TOY, "azure:dep")


def test_cli_smoke_openai(tmp_path):
    with FakeOpenAIServer(responder=play_toy) as server:
        res = CliRunner().invoke(app, ["eval", "--env", "toy", "--policy", "openai:fake", "--base-url", server.base_url,
                                       "--games", "6", "--output", str(tmp_path / "o.json"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["summary"]["won"] == 6 and out["run"]["policy"] == "openai:fake" and out["table"]["values"]["All"] == 100.0
