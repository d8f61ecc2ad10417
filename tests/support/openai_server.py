"""A local HTTP server speaking the OpenAI chat-completions protocol, for driving the real
``openai`` client in tests (no network, no key).

Bound to 127.0.0.1 on a free port, run by uvicorn in a daemon thread. It answers
``POST /v1/chat/completions`` (OpenAI-compatible: ``base_url``) and
``POST /openai/deployments/{deployment}/chat/completions`` (Azure: ``azure_endpoint``).

What it answers comes from a script of actions consumed in order (:meth:`FakeOpenAIServer.push`)
and, when the script is empty, from ``responder(request) -> action`` (e.g. a scripted policy
that reads the prompt), else ``default``:

- :class:`Reply` — a completion with the given content and token usage (after ``delay_s``);
- :class:`Status` — an HTTP error (429, 500, 401 …) with an OpenAI-style error body, optional
  ``Retry-After-Ms`` and, for secret-leak tests, the request's credentials echoed in the body;
- :class:`Hang` — sleep, then reply (for client timeouts).

Every request is kept in :attr:`FakeOpenAIServer.requests` (path, query, JSON body, and whether
credentials were sent — never their values); :attr:`FakeOpenAIServer.max_in_flight` is the most
requests it was answering at once.

    with FakeOpenAIServer([Status(429, retry_after_ms=5), Reply('{"ok": true}')]) as srv:
        client = openai.OpenAI(api_key="x", base_url=srv.base_url)
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass(frozen=True)
class Reply:
    content: str
    prompt_tokens: int = 11
    completion_tokens: int = 7
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Status:
    code: int
    message: str = "scripted error"
    retry_after_ms: int | None = None
    echo_credentials: bool = False


@dataclass(frozen=True)
class Hang:
    seconds: float
    then: Reply = Reply("{}")


Action = Reply | Status | Hang
Responder = Callable[[dict[str, Any]], Action]


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    had_credentials: bool

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def last_user(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1]["content"]) if users else ""


class FakeOpenAIServer:
    def __init__(self, script: Iterable[Action] = (), *, responder: Responder | None = None,
                 default: Action | None = None) -> None:
        self._script: deque[Action] = deque(script)
        self.responder = responder
        self.default = default
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = self._make_app()

    # -- scripting -----------------------------------------------------------------------

    def push(self, *actions: Action) -> None:
        with self._lock:
            self._script.extend(actions)

    def _next(self, body: dict[str, Any]) -> Action:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if self.responder is not None:
            return self.responder(body)
        if self.default is not None:
            return self.default
        return Status(500, "the fake server has no scripted reply left")

    # -- the app -------------------------------------------------------------------------

    def _make_app(self) -> FastAPI:
        app = FastAPI()

        async def handle(request: Request) -> Any:
            body = await request.json()
            creds = request.headers.get("authorization") or request.headers.get("api-key") or ""
            self.requests.append(SeenRequest(request.url.path, dict(request.query_params), body, bool(creds)))
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await answer(body, creds)
            finally:
                with self._lock:
                    self.in_flight -= 1

        async def answer(body: dict[str, Any], creds: str) -> Any:
            action = self._next(body)
            if isinstance(action, Hang):
                await asyncio.sleep(action.seconds)
                action = action.then
            if isinstance(action, Status):
                message = action.message + (f" (credentials: {creds})" if action.echo_credentials else "")
                headers = {"retry-after-ms": str(action.retry_after_ms)} if action.retry_after_ms is not None else {}
                return JSONResponse({"error": {"message": message, "type": "scripted", "code": action.code}},
                                    status_code=action.code, headers=headers)
            if action.delay_s:
                await asyncio.sleep(action.delay_s)
            return {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": action.content},
                             "finish_reason": action.finish_reason}],
                "usage": {"prompt_tokens": action.prompt_tokens, "completion_tokens": action.completion_tokens,
                          "total_tokens": action.prompt_tokens + action.completion_tokens},
            }

        app.post("/v1/chat/completions")(handle)
        app.post("/openai/deployments/{deployment}/chat/completions")(handle)
        return app

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``OPENAI_BASE_URL`` / ``openai.OpenAI(base_url=…)``."""
        return f"{self.root}/v1"

    @property
    def azure_endpoint(self) -> str:
        """For ``AZURE_OPENAI_ENDPOINT`` / ``openai.AzureOpenAI(azure_endpoint=…)``."""
        return self.root

    def start(self) -> FakeOpenAIServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=1, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"fake-openai-{self.port}")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
