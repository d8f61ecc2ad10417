"""Credentials in a retriever URL are sent, never shown: errors, logs, repr, pickles, ``--help``."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_system.environments.search.client import RetrieverClient, RetrieverError, RetrieverUnavailableError, redact_url, scrub
from agent_system.environments.search.retrievers import BM25Retriever
from agent_system.environments.search.server import ServerLimits, ServerThread, free_port
from skillrl.cli import app

SECRETS = ("hunter22pass", "alice-the-user", "tok_5ecr3t_value", "s%C3%A9same")


def _url(port: int, path: str = "/retrieve") -> str:
    return f"http://alice-the-user:hunter22pass@127.0.0.1:{port}{path}?token=tok_5ecr3t_value&x=s%C3%A9same"


def _assert_clean(text: str) -> None:
    for secret in (*SECRETS, "sésame"):
        assert secret not in text, f"{secret!r} leaked into: {text}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@h:1/r?a=1&b=2#f", "http://***@h:1/r?a=***&b=***#***"),
        ("https://tokenonly@host/retrieve", "https://***@host/retrieve"),
        ("http://127.0.0.1:8000/retrieve", "http://127.0.0.1:8000/retrieve"),
        ("http://h/r?justatoken", "http://h/r?***"),
        ("http://h/r?a=1&&b", "http://h/r?a=***&***&***"),
        ("http://h/r?=", "http://h/r?=***"),
        ("http://[::1]:8000/retrieve?k=v", "http://[::1]:8000/retrieve?k=***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_removes_raw_and_decoded_pieces() -> None:
    url = _url(1)
    text = f"failed for {url}: user alice-the-user, password hunter22pass, value sésame"
    _assert_clean(scrub(text, url))
    assert "http://***@127.0.0.1:1/retrieve?token=***&x=***" in scrub(text, url)


def test_unreachable_server_error_logs_repr_and_pickle_are_clean(caplog: pytest.LogCaptureFixture) -> None:
    url = _url(free_port())
    caplog.set_level(logging.DEBUG)
    client = RetrieverClient(url, timeout=0.5, retries=2, backoff=0.01)
    _assert_clean(repr(client))
    with pytest.raises(RetrieverUnavailableError) as info:
        client.search_batch(["q"], 3)
    err = info.value
    assert "after 3 attempt(s)" in str(err) and "127.0.0.1" in str(err)
    for text in (str(err), repr(err), err.url, err.cause, str(pickle.loads(pickle.dumps(err))), caplog.text):
        _assert_clean(text)
    assert "attempt 1 failed" in caplog.text  # the retries are logged, redacted


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    path = tmp_path_factory.mktemp("c") / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "contents": '"A"\nalpha beta'}) + "\n" + json.dumps({"id": "b", "contents": '"B"\ngamma'}) + "\n")
    with ServerThread(BM25Retriever.build(path, use_cache=False), limits=ServerLimits(max_topk=2)) as srv:
        yield srv


def test_credentials_work_and_4xx_messages_are_clean(server: ServerThread) -> None:
    url = _url(server.port)
    with RetrieverClient(url, retries=0) as client:
        assert client.search_batch(["alpha"], 1)[0][0].id == "a"  # the URL with credentials is used as given
        with pytest.raises(RetrieverError) as info:
            client.search_batch(["alpha"], 5)
    assert "HTTP 422" in str(info.value) and "--max-topk" in str(info.value)
    _assert_clean(str(info.value))


@pytest.mark.parametrize("url", ["ftp://alice-the-user:hunter22pass@h/r", "http://alice-the-user:hunter22pass@h:port/r", "nonsense?token=tok_5ecr3t_value"])
def test_bad_urls_are_value_errors_without_secrets(url: str) -> None:
    with pytest.raises(ValueError) as info:
        RetrieverClient(url)
    _assert_clean(str(info.value))


runner = CliRunner()


def test_cli_help_and_errors_never_show_the_url_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = _url(free_port())
    monkeypatch.setenv("SKILLRL_RETRIEVER_URL", url)
    result = runner.invoke(app, ["retriever", "query", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--url" in result.output
    _assert_clean(result.output)
    result = runner.invoke(app, ["retriever", "query", "--retries", "0", "--timeout", "0.5", "who"])
    assert result.exit_code == 2
    assert result.output.count("error:") == 1 and "127.0.0.1" in result.output
    _assert_clean(result.output)
    result = runner.invoke(app, ["retriever", "query", "--url", "ftp://alice-the-user:hunter22pass@h/x", "who"])
    assert result.exit_code == 2 and "error:" in result.output and "ftp://***@h/x" in result.output
    _assert_clean(result.output)
