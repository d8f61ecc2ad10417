"""The retrieval server: FastAPI app speaking the Search-R1 ``/retrieve`` protocol.

``POST /retrieve`` body (other keys are ignored)::

    {"queries": ["q1", ...] | "query": "q", "topk": 3, "return_scores": false}

Exactly one of ``queries`` (non-empty) and ``query`` must be given; ``topk >= 1``. The reply
always has one list per query (a single ``query`` gives a one-element outer list)::

    return_scores=true:  {"result": [[{"document": {"id", "contents"}, "score": s}, ...]]}
    return_scores=false: {"result": [[{"id", "contents"}, ...]]}

Every request's work is bounded (:class:`ServerLimits`, ``skillrl retriever serve --max-…``):

============================  =========  ===================================================
limit                         default    beyond it
============================  =========  ===================================================
``max_body_bytes``            1 MiB      413, refused from the ``Content-Length`` header
                                         before any of the body is read; the rest is
                                         discarded unparsed (:class:`BodyLimit`)
``max_queries``               4096       422 (counted before the queries are validated)
``max_topk``                  100        422
``max_query_chars``           8192       422
``max_passages``              16384      422 when ``queries × topk`` is larger
============================  =========  ===================================================

Errors: a malformed body is answered with HTTP 422 and a ``detail`` (FastAPI's error list for
type errors, one sentence naming the limit and the flag for limits); a backend failure with
HTTP 500 ``{"detail": "retrieval failed: ..."}``. Large replies are streamed in chunks of about
64 KiB, so a reply is never held in memory as one string.

``GET /health`` answers ``{"status": "ok", "backend": name, "passages": n}``; ``GET /limits`` the
limits above as one object.

Start one with ``skillrl retriever serve`` (binds 127.0.0.1 unless told otherwise), or in a
thread with :class:`ServerThread` (tests, benchmarks).
"""

import asyncio
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from agent_system.environments.search.data import Passage
from agent_system.environments.search.retrievers import Retriever

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_TOPK = 100
_CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class ServerLimits:
    """Bounds on the work one request may ask for (see the module docstring)."""

    max_body_bytes: int = 1 << 20
    """Largest request body in bytes (HTTP 413 beyond it, before the body is read)."""
    max_queries: int = 4096
    """Most queries in one request."""
    max_topk: int = MAX_TOPK
    """Largest ``topk``."""
    max_query_chars: int = 8192
    """Longest query, in characters."""
    max_passages: int = 16384
    """Most passages in one reply (``queries × topk``)."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"server limit {name} must be a positive integer, got {value!r}")

    def check(self, payload: Any) -> str | None:
        """Why ``payload`` (decoded JSON) asks for too much, or None (pure; types are not checked here).

        >>> ServerLimits(max_queries=2).check({"queries": ["a", "b", "c"]})
        'too many queries: 3 (the limit is 2, --max-queries); split them over several requests'
        """
        if not isinstance(payload, dict):
            return None
        queries = payload.get("queries")
        texts: list[Any] = []
        if isinstance(queries, list):
            if len(queries) > self.max_queries:
                return f"too many queries: {len(queries)} (the limit is {self.max_queries}, --max-queries); split them over several requests"
            texts = queries
        elif "query" in payload:
            texts = [payload["query"]]
        for i, text in enumerate(texts):
            if isinstance(text, str) and len(text) > self.max_query_chars:
                return f"query {i} is {len(text)} characters long (the limit is {self.max_query_chars}, --max-query-chars)"
        topk = payload.get("topk", 3)
        if isinstance(topk, int) and not isinstance(topk, bool):
            if topk > self.max_topk:
                return f"topk {topk} is over the limit of {self.max_topk} (--max-topk)"
            n = max(1, len(texts))
            if n * topk > self.max_passages:
                return (f"{n} queries x topk {topk} = {n * topk} passages, over the limit of {self.max_passages} "
                        f"(--max-passages); ask for fewer queries or a smaller topk")
        return None


class RetrieveRequest(BaseModel):
    """Body of ``POST /retrieve`` (limits are checked apart, by :meth:`ServerLimits.check`)."""

    queries: list[str] | None = None
    """Several queries, answered in order."""
    query: str | None = None
    """One query (alternative to ``queries``)."""
    topk: int = Field(3, ge=1)
    """Passages per query."""
    return_scores: bool = False
    """Wrap each passage as ``{"document", "score"}`` instead of returning the bare document."""

    @model_validator(mode="after")
    def _one_source(self) -> "RetrieveRequest":
        if (self.queries is None) == (self.query is None):
            raise ValueError("give exactly one of 'queries' (a list) or 'query' (a string)")
        if self.queries is not None and not self.queries:
            raise ValueError("'queries' must not be empty")
        return self

    def texts(self) -> list[str]:
        return list(self.queries) if self.queries is not None else [str(self.query)]


def encode_result(hits: Sequence[Sequence[Passage]], with_scores: bool, chunk_bytes: int = _CHUNK_BYTES) -> Iterator[bytes]:
    """The JSON reply ``{"result": [...]}`` in pieces of about ``chunk_bytes`` (pure)."""
    parts: list[str] = ['{"result":[']
    size = 0
    for i, row in enumerate(hits):
        if with_scores:
            items = [{"document": {"id": p.id, "contents": p.contents}, "score": p.score} for p in row]
        else:
            items = [{"id": p.id, "contents": p.contents} for p in row]
        piece = ("," if i else "") + json.dumps(items, ensure_ascii=False)
        parts.append(piece)
        size += len(piece)
        if size >= chunk_bytes:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("]}")
    yield "".join(parts).encode("utf-8")


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes``, never holding it.

    A ``Content-Length`` over the limit is refused from the headers: the 413 status line goes
    out at once, then the rest of the body is read and thrown away chunk by chunk (at most
    ``drain_bytes`` or ``drain_seconds``, as production servers' "lingering close" does), so
    that a client that sends its whole body before reading the answer gets the 413 rather than
    a reset connection. A body without ``Content-Length`` (chunked) is buffered only up to the
    limit. Memory per refused request is one network chunk; nothing is parsed.
    """

    def __init__(self, app: Any, max_bytes: int, drain_bytes: int = 64 << 20, drain_seconds: float = 10.0) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.drain_bytes = int(drain_bytes)
        self.drain_seconds = float(drain_seconds)

    async def _drain(self, receive: Any, seen: int) -> None:
        async def discard() -> None:
            nonlocal seen
            while seen <= self.drain_bytes:
                message = await receive()
                if message["type"] != "http.request":
                    return
                seen += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return

        try:
            await asyncio.wait_for(discard(), self.drain_seconds)
        except asyncio.TimeoutError:
            pass

    async def _refuse(self, receive: Any, send: Any, size: str, seen: int, more: bool) -> None:
        body = json.dumps({"detail": f"request body of {size} bytes is over the server's limit of "
                                     f"{self.max_bytes} bytes (--max-body-bytes)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        if more:
            await self._drain(receive, seen)
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self._refuse(receive, send, str(declared), 0, True)
                return
            await self.app(scope, receive, send)  # the server enforces Content-Length framing
            return
        # no Content-Length: buffer up to the limit, then replay to the app
        messages: list[dict[str, Any]] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                messages.clear()
                await self._refuse(receive, send, f"more than {self.max_bytes}", total, bool(message.get("more_body")))
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> dict[str, Any]:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, replayed, send)


def create_app(retriever: Retriever, *, backend: str = "", limits: ServerLimits | None = None) -> Any:
    """A FastAPI app serving ``retriever`` within ``limits`` (searches run in worker threads)."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response, StreamingResponse
    from starlette.concurrency import run_in_threadpool

    limits = limits or ServerLimits()
    app = FastAPI(title="SkillRL retrieval server")
    name = backend or getattr(retriever, "name", type(retriever).__name__)

    @app.get("/health")
    def health() -> dict[str, Any]:
        size = len(retriever) if hasattr(retriever, "__len__") else None  # type: ignore[arg-type]
        return {"status": "ok", "backend": name, "passages": size}

    @app.get("/limits")
    def get_limits() -> dict[str, int]:
        return asdict(limits)

    @app.post(
        "/retrieve",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": RetrieveRequest.model_json_schema()}}}},
    )
    async def retrieve(http_request: Request) -> Any:  # a runtime annotation: no `from __future__ import annotations` here
        raw = await http_request.body()  # at most limits.max_body_bytes (BodyLimit)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise HTTPException(status_code=422, detail=f"the body is not valid JSON: {str(exc)[:200]}") from None
        problem = limits.check(payload)  # before validating: counting is cheap, validating is not
        if problem:
            raise HTTPException(status_code=422, detail=problem)
        try:
            request = RetrieveRequest.model_validate(payload)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False), body=None) from None
        texts = request.texts()
        try:
            hits = await run_in_threadpool(retriever.search_batch, texts, request.topk)
        except Exception as exc:  # a clean 500 (the client retries) instead of a dropped connection
            log.exception("retrieval failed for %d queries", len(texts))
            raise HTTPException(status_code=500, detail=f"retrieval failed: {type(exc).__name__}: {exc}") from None
        chunks = encode_result(hits, request.return_scores)
        first = next(chunks)
        second = next(chunks, None)
        if second is None:
            return Response(first, media_type="application/json")
        return StreamingResponse(itertools.chain([first, second], chunks), media_type="application/json")

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    return app


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve(
    retriever: Retriever,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    backend: str = "",
    log_level: str = "info",
    limits: ServerLimits | None = None,
) -> None:
    """Serve ``retriever`` with uvicorn until interrupted (blocks)."""
    import uvicorn

    uvicorn.run(create_app(retriever, backend=backend, limits=limits), host=host, port=port, log_level=log_level)


class ServerThread:
    """Run the server in a daemon thread; a context manager that starts and stops it.

    >>> # with ServerThread(retriever) as server: RetrieverClient(server.url).search_batch(["q"], 3)
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        backend: str = "",
        limits: ServerLimits | None = None,
    ) -> None:
        import uvicorn

        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(create_app(retriever, backend=backend, limits=limits), host=host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"retriever:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        """The ``/retrieve`` endpoint."""
        return f"http://{self.host}:{self.port}/retrieve"

    def start(self, timeout: float = 30.0) -> "ServerThread":
        """Start and wait until the server accepts connections.

        Raises:
            RuntimeError: it did not start within ``timeout`` seconds.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"retrieval server on {self.host}:{self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
