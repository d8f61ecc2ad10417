"""``skillrl retriever …`` and ``skillrl env play search`` smoke tests (127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent_system.environments.search.server import free_port
from skillrl.cli import app
from skillrl.utils.paths import resolve_data_dir

runner = CliRunner()

PASSAGES = [
    ("a", '"Eiffel Tower"\nThe Eiffel Tower is a lattice tower in Paris.'),
    ("b", '"Mount Everest"\nMount Everest is the highest mountain on Earth.'),
]


@pytest.fixture()
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SKILLRL_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": i, "contents": c}) + "\n" for i, c in PASSAGES))
    return path


def test_help() -> None:
    result = runner.invoke(app, ["retriever", "serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--corpus", "--backend", "--host", "--port", "--model"):
        assert flag in result.stdout
    assert "127.0.0.1" in result.stdout


def test_build_twice_uses_the_cache(corpus: Path) -> None:
    first = runner.invoke(app, ["retriever", "build", "--corpus", str(corpus), "--json"])
    assert first.exit_code == 0, first.output
    info = json.loads(first.stdout)
    assert info["passages"] == 2 and info["from_cache"] is False
    assert info["index"].startswith(os.environ["SKILLRL_CACHE"])
    second = json.loads(runner.invoke(app, ["retriever", "build", "--corpus", str(corpus), "--json"]).stdout)
    assert second["from_cache"] is True and second["index"] == info["index"]


def test_corpus_is_positional_and_the_flag_still_works(corpus: Path) -> None:
    positional = runner.invoke(app, ["retriever", "build", str(corpus), "--json"])
    assert positional.exit_code == 0, positional.output
    flagged = runner.invoke(app, ["retriever", "build", "--corpus", str(corpus), "--json"])
    assert json.loads(flagged.stdout)["index"] == json.loads(positional.stdout)["index"]
    assert json.loads(positional.stdout)["corpus"] == str(corpus)
    both = runner.invoke(app, ["retriever", "build", str(corpus), "--corpus", str(corpus.parent / "other.jsonl")])
    assert both.exit_code == 2 and "CORPUS given twice" in both.output
    missing = runner.invoke(app, ["retriever", "serve", str(corpus.parent / "none.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "/nonexistent/corpus.jsonl"], "does not exist"),
        (["--backend", "nope"], "unknown backend 'nope'; known: bm25, dense"),
    ],
)
def test_serve_bad_input_exits_2(corpus: Path, args: list[str], message: str) -> None:
    full = ["retriever", "serve", *(args if "--corpus" in args else ["--corpus", str(corpus), *args])]
    result = runner.invoke(app, full)
    assert result.exit_code == 2
    assert message in result.output


def test_query_a_dead_server_exits_2() -> None:
    url = f"http://127.0.0.1:{free_port()}/retrieve"
    result = runner.invoke(app, ["retriever", "query", "x", "--url", url, "--retries", "0", "--timeout", "1"])
    assert result.exit_code == 2
    assert url in result.output and "skillrl retriever serve" in result.output


def test_serve_subprocess_smoke(corpus: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-c", "from skillrl.cli import main; main()", "retriever", "serve",
           "--corpus", str(corpus), "--backend", "bm25", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1, trust_env=False).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health == {"status": "ok", "backend": "bm25", "passages": 2}, proc.poll()
        result = runner.invoke(app, ["retriever", "query", "highest mountain", "--url", f"http://127.0.0.1:{port}/retrieve", "--topk", "1"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["result"][0][0]["id"] == "b"
        proc.send_signal(signal.SIGINT)  # Ctrl-C: a graceful stop, exit status 0, the port closed
        assert proc.wait(timeout=15) == 0, proc.stdout.read() if proc.stdout else ""
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1, trust_env=False)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("policy", "reward", "won"), [("oracle", 1.0, 50), ("wrong", 0.0, 0)])
def test_env_play_search(policy: str, reward: float, won: int) -> None:
    data = resolve_data_dir("search") / "qa" / "bamboogle_test.jsonl"
    result = runner.invoke(app, ["env", "play", "search", "--data", str(data), "--policy", policy, "--games", "50", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["games"] == 50 and out["mean_reward"] == reward and out["won"] == won
    assert out["by_type"] == {"bamboogle": [won, 50]}
    assert out["mean_turn_ms"] > 0 and out["errors"] == [] and out["mean_turns"] == 2.0  # searched, then answered


def test_env_play_search_unknown_policy_exits_2() -> None:
    result = runner.invoke(app, ["env", "play", "search", "--policy", "expert", "--games", "1"])
    assert result.exit_code == 2 and "unknown search policy" in result.output
