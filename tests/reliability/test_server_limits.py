"""The retrieval server bounds the work of every request: 413 unread, 422 with the limit named.

A real uvicorn server on 127.0.0.1 (in a thread) in front of a real BM25 index; the retriever is
wrapped to count searches, so "an over-limit request costs the server nothing" is checked as
"no search ran, the body was never decoded and no body-sized memory was allocated".
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

import agent_system.environments.search.server as server_mod
from agent_system.environments.search.data import Passage
from agent_system.environments.search.retrievers import BM25Retriever
from agent_system.environments.search.server import ServerLimits, ServerThread, encode_result, free_port

PASSAGES = [(f"d{i}", f'"Title {i}"\nPassage number {i} about topic {i % 7} and the word common.') for i in range(60)]
LIMITS = ServerLimits(max_body_bytes=200_000, max_queries=50, max_topk=10, max_query_chars=300, max_passages=120)


class CountingRetriever:
    """The BM25 index, counting the searches it ran."""

    def __init__(self, inner: BM25Retriever) -> None:
        self.inner, self.calls = inner, 0

    def __len__(self) -> int:
        return len(self.inner)

    def search_batch(self, queries: Sequence[str], topk: int) -> list[list[Passage]]:
        self.calls += 1
        return self.inner.search_batch(queries, topk)


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> CountingRetriever:
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": i, "contents": c}) + "\n" for i, c in PASSAGES))
    return CountingRetriever(BM25Retriever.build(path, use_cache=False))


@pytest.fixture(scope="module")
def server(retriever: CountingRetriever) -> Iterator[ServerThread]:
    with ServerThread(retriever, backend="bm25", limits=LIMITS) as srv:
        yield srv


def _post(server: ServerThread, body: object, client: httpx.Client | None = None) -> httpx.Response:
    if client is not None:
        return client.post(server.url, json=body)
    return httpx.post(server.url, json=body, timeout=30, trust_env=False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"queries": ["q"] * 51}, "too many queries: 51 (the limit is 50, --max-queries)"),
        ({"query": "x", "topk": 11}, "topk 11 is over the limit of 10 (--max-topk)"),
        ({"query": "x" * 301}, "query 0 is 301 characters long (the limit is 300, --max-query-chars)"),
        ({"queries": ["a", "b" * 301]}, "query 1 is 301 characters long"),
        ({"queries": ["q"] * 13, "topk": 10}, "13 queries x topk 10 = 130 passages, over the limit of 120 (--max-passages)"),
    ],
)
def test_over_limit_is_422_naming_the_limit_and_runs_no_search(
    server: ServerThread, retriever: CountingRetriever, body: dict, message: str
) -> None:
    before = retriever.calls
    response = _post(server, body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert retriever.calls == before


@pytest.mark.parametrize(
    "body",
    [
        {"queries": ["topic 3"] * 12, "topk": 10},  # 120 passages: exactly at max_passages
        {"queries": ["q"] * 50, "topk": 2},  # exactly max_queries
        {"query": "topic " + "x" * 294, "topk": 10},  # exactly max_query_chars, max_topk
    ],
)
def test_at_the_limits_is_answered(server: ServerThread, body: dict) -> None:
    response = _post(server, body)
    assert response.status_code == 200, response.text
    rows = response.json()["result"]
    assert len(rows) == len(body.get("queries", [None]))
    assert all(len(row) == body["topk"] for row in rows)


def test_type_errors_stay_fastapi_422(server: ServerThread) -> None:
    response = _post(server, {"queries": [1, 2], "topk": "three"})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)  # FastAPI's error list, with locations
    assert _post(server, {"query": "x", "topk": 0}).status_code == 422
    deep = b"[" * 100_001 + b"]" * 100_001
    response = httpx.post(server.url, content=deep, headers={"content-type": "application/json"}, trust_env=False)
    assert response.status_code == 413  # 200,002 bytes: over this server's 200,000-byte limit


def test_deeply_nested_json_within_the_body_limit_is_422(server: ServerThread) -> None:
    deep = b'{"query": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = httpx.post(server.url, content=deep, headers={"content-type": "application/json"}, trust_env=False)
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]


def _huge_body(n: int = 50_000) -> bytes:
    return json.dumps({"queries": [f"who wrote book {i}" for i in range(n)], "topk": 100}).encode()


def _raw_post(server: ServerThread, body: bytes) -> tuple[int, dict]:
    """POST over a plain socket, sending ``body`` without copying it (so that only the server
    allocates while we measure); returns (status, decoded JSON reply)."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        head = (f"POST /retrieve HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        sock.sendall(head)
        sock.sendall(memoryview(body))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    header, _, payload = reply.partition(b"\r\n\r\n")
    return int(header.split()[1]), json.loads(payload)


def test_body_over_the_limit_is_413_unread_and_costs_nothing(
    server: ServerThread, retriever: CountingRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _huge_body()  # the request: ~1.2 MB, 50,000 queries, topk 100
    ten_times = _huge_body(500_000)  # ~12 MB
    assert len(body) > 1_000_000 and len(ten_times) > 10_000_000
    decoded = []
    real_loads = json.loads
    monkeypatch.setattr(server_mod.json, "loads", lambda s, *a, **k: decoded.append(len(s)) or real_loads(s, *a, **k))
    before = retriever.calls
    peaks = {}
    for name, payload in (("1.2 MB", body), ("12 MB", ten_times)):
        tracemalloc.start()
        try:
            for _ in range(3):
                status, reply = _raw_post(server, payload)
                assert status == 413
                assert reply["detail"] == (
                    f"request body of {len(payload)} bytes is over the server's limit of 200000 bytes (--max-body-bytes)")
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert retriever.calls == before  # no search ran
    assert all(n < 1000 for n in decoded)  # no big body was ever decoded
    # the server never holds a body: its memory is a few 256 KiB network reads, whatever the body size
    assert peaks["12 MB"] < 2 * 2**20 and peaks["12 MB"] < peaks["1.2 MB"] + 2**19, peaks
    # an ordinary client (sends everything, then reads) sees the 413, and its connection stays usable
    with httpx.Client(timeout=30, trust_env=False) as client:
        response = client.post(server.url, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert client.post(server.url, json={"query": "topic 1", "topk": 1}).status_code == 200


def test_chunked_body_over_the_limit_is_413_after_reading_only_the_limit(server: ServerThread, retriever: CountingRetriever) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        nonlocal sent
        for i in range(0, 1_200_000, 10_000):
            sent += 10_000
            yield b" " * 10_000

    before = retriever.calls
    response = httpx.post(server.url, content=chunks(), headers={"content-type": "application/json"}, trust_env=False, timeout=30)
    assert response.status_code == 413
    assert "more than 200000 bytes" in response.json()["detail"]
    assert retriever.calls == before
    small = json.dumps({"query": "topic 2", "topk": 2}).encode()
    response = httpx.post(server.url, content=iter([small[:5], small[5:]]), headers={"content-type": "application/json"}, trust_env=False)
    assert response.status_code == 200 and len(response.json()["result"][0]) == 2  # chunked bodies under the limit work


def test_large_replies_are_streamed(tmp_path: Path) -> None:
    long_passages = [(f"p{i}", f'"T{i}"\n' + f"common words number {i} " * 200) for i in range(40)]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps({"id": i, "contents": c}) + "\n" for i, c in long_passages))
    index = BM25Retriever.build(path, use_cache=False)
    with ServerThread(index, limits=ServerLimits(max_passages=2000)) as srv:
        with httpx.stream("POST", srv.url, json={"queries": ["common words"] * 20, "topk": 40}, trust_env=False, timeout=60) as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers  # sent in pieces, not built as one string
            pieces = list(response.iter_raw())
        result = json.loads(b"".join(pieces))["result"]
        assert len(result) == 20 and all(len(row) == 40 for row in result)
        small = httpx.post(srv.url, json={"query": "common", "topk": 1}, trust_env=False)
        assert small.headers["content-length"] == str(len(small.content))  # small replies in one piece


def test_encode_result_is_valid_json_in_bounded_pieces() -> None:
    hits = [[Passage(id=f"{r}-{i}", contents="x" * 1000 + '"\n\u00e9', score=float(i)) for i in range(10)] for r in range(30)]
    pieces = list(encode_result(hits, True, chunk_bytes=4096))
    assert len(pieces) > 10 and max(len(p) for p in pieces) < 4096 + 15_000  # at most one row over
    decoded = json.loads(b"".join(pieces))
    assert decoded["result"][29][9] == {"document": {"id": "29-9", "contents": "x" * 1000 + '"\n\u00e9'}, "score": 9.0}
    assert json.loads(b"".join(encode_result([], False))) == {"result": []}


def test_limits_endpoint_and_validation(server: ServerThread) -> None:
    limits = httpx.get(server.url.replace("/retrieve", "/limits"), trust_env=False).json()
    assert limits == {"max_body_bytes": 200_000, "max_queries": 50, "max_topk": 10, "max_query_chars": 300, "max_passages": 120}
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_queries must be a positive integer"):
            ServerLimits(max_queries=bad)  # type: ignore[arg-type]


def test_serve_flags_set_the_limits(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "contents": c}) + "\n" for i, c in PASSAGES[:5]))
    port = free_port()
    env = {**os.environ, "SKILLRL_CACHE": str(tmp_path / "cache"), "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-c", "from skillrl.cli import main; main()", "retriever", "serve", "--corpus", str(corpus),
           "--port", str(port), "--log-level", "warning", "--max-topk", "4", "--max-queries", "3",
           "--max-body-bytes", "5000", "--max-query-chars", "50", "--max-passages", "9"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        base = f"http://127.0.0.1:{port}"
        limits = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                limits = httpx.get(base + "/limits", timeout=1, trust_env=False).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert limits == {"max_body_bytes": 5000, "max_queries": 3, "max_topk": 4, "max_query_chars": 50, "max_passages": 9}
        response = httpx.post(base + "/retrieve", json={"query": "x", "topk": 5}, trust_env=False)
        assert response.status_code == 422 and "--max-topk" in response.json()["detail"]
        response = httpx.post(base + "/retrieve", content=b" " * 6000, headers={"content-type": "application/json"}, trust_env=False)
        assert response.status_code == 413
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
