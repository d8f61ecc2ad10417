"""HTTP client of a ``/retrieve`` server (the Search-R1 retriever protocol).

Request: ``POST {url}`` with ``{"queries": [...], "topk": k, "return_scores": true}``.
Reply: ``{"result": [[{"document": {"id", "contents"}, "score": s}, ...], ...]}`` — one list per
query; without scores each item may be the document itself. Documents carrying ``title`` and
``text`` instead of ``contents`` are accepted too.

Failures: transport errors (refused connection, timeout) and 5xx answers are retried
``retries`` times with exponential back-off (``tenacity``); then
:class:`RetrieverUnavailableError` is raised, naming the URL and how to start a server. A 4xx
answer or an unreadable reply raises :class:`RetrieverError` at once (retrying would not help).

Secrets: a URL may carry credentials (``http://user:pass@host/retrieve``, ``?token=…``). They
are sent, but never shown: every message, log line and ``repr`` uses :func:`redact_url`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from agent_system.environments.search.data import Passage

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000/retrieve"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_REDACTED = "***"


def redact_url(url: str) -> str:
    """``url`` safe to print: user info, query values and fragment become ``***`` (pure).

    >>> redact_url("https://bob:s3cret@search.example.com:8443/retrieve?token=abc&v=1#frag")
    'https://***@search.example.com:8443/retrieve?token=***&v=***#***'
    >>> redact_url("http://127.0.0.1:8000/retrieve")
    'http://127.0.0.1:8000/retrieve'
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<a URL that cannot be parsed>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_REDACTED}@{netloc.rsplit('@', 1)[1]}"
    # key=value keeps the key; a bare piece (``?abc123``) may itself be the token
    query = "&".join(f"{p.split('=', 1)[0]}={_REDACTED}" if "=" in p else _REDACTED for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, _REDACTED if parts.fragment else ""))


def _secrets(url: str) -> list[str]:
    """The secret pieces of ``url`` (raw and percent-decoded), longest first."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return [str(url)]
    found = {str(url)}
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found.update([userinfo, *userinfo.split(":", 1)])
    for piece in parts.query.split("&"):
        found.add(piece.split("=", 1)[-1])
    found.update([parts.query, parts.fragment])
    found.update([unquote(x) for x in list(found)])
    return sorted((x for x in found if len(x) >= 3), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` and its secret pieces replaced (for error messages from libraries)."""
    text = str(text).replace(str(url), redact_url(url))
    for secret in _secrets(url):
        if secret != redact_url(url):
            text = text.replace(secret, _REDACTED)
    return text


class RetrieverError(RuntimeError):
    """The retrieval server answered, but with an error or a reply we cannot read."""


class RetrieverUnavailableError(RetrieverError):
    """The retrieval server could not be reached (after the configured retries).

    ``url`` is kept redacted (:func:`redact_url`).
    """

    def __init__(self, url: str, attempts: int, cause: str) -> None:
        safe = redact_url(url)
        cause = scrub(cause, url)
        parts = urlsplit(safe)
        try:
            port = parts.port or 8000
        except ValueError:
            port = 8000
        super().__init__(
            f"retrieval server {safe} is unavailable after {attempts} attempt(s): {cause}. "
            f"Start one with `skillrl retriever serve --corpus CORPUS.jsonl --backend bm25 "
            f"--port {port}` (or point retriever_url at a running server, or give the env an "
            f"in-process retriever)."
        )
        self.url = safe
        self.attempts = attempts
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:  # survives pickling (worker processes)
        return (type(self), (self.url, self.attempts, self.cause))


class _Retryable(Exception):
    """An attempt failed in a way another attempt may fix (transport error, HTTP 5xx)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def _document(item: Any) -> tuple[Mapping[str, Any], float | None]:
    if not isinstance(item, Mapping):
        raise RetrieverError(f"expected a document object, got {type(item).__name__}")
    if "document" in item:
        score = item.get("score")
        return item["document"], float(score) if score is not None else None
    return item, None


def parse_result(payload: Any, n_queries: int) -> list[list[Passage]]:
    """Read a ``/retrieve`` reply into passages (pure; raises :class:`RetrieverError` on bad shape)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("result"), list):
        raise RetrieverError("reply has no 'result' list")
    result = payload["result"]
    if len(result) != n_queries:
        raise RetrieverError(f"reply has {len(result)} result lists for {n_queries} queries")
    out: list[list[Passage]] = []
    for hits in result:
        if not isinstance(hits, list):
            raise RetrieverError("each result must be a list of documents")
        row: list[Passage] = []
        for item in hits:
            doc, score = _document(item)
            contents = doc.get("contents")
            if contents is None and "text" in doc:
                contents = f'"{doc.get("title", "")}"\n{doc["text"]}'
            if not isinstance(contents, str):
                raise RetrieverError("document has no 'contents' text")
            row.append(Passage(id=str(doc.get("id", "")), contents=contents, score=score))
        out.append(row)
    return out


class RetrieverClient:
    """Talks to a ``/retrieve`` server; satisfies the :class:`~.retrievers.Retriever` protocol.

    Args:
        url: the full ``/retrieve`` endpoint (credentials in it are sent, never printed).
        timeout: seconds per HTTP attempt.
        retries: extra attempts after a transport error or a 5xx answer.
        backoff: seconds before the first retry, doubled each time.

    Raises:
        ValueError: ``retries < 0`` or ``url`` is not an http(s) URL.
    """

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 30.0, retries: int = 2, backoff: float = 0.5) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError:
            raise ValueError(f"retriever URL {redact_url(url)} is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"retriever URL {redact_url(url)} must be http(s)://HOST[:PORT]/retrieve")
        self.url = url
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self._http: Any = None

    def __repr__(self) -> str:
        return f"RetrieverClient({redact_url(self.url)!r}, timeout={self.timeout}, retries={self.retries})"

    def _client(self) -> Any:
        if self._http is None:
            import httpx

            host = urlsplit(self.url).hostname or ""
            # a proxy from the environment must not capture loopback traffic
            self._http = httpx.Client(timeout=self.timeout, trust_env=host not in _LOOPBACK)
        return self._http

    def _attempt(self, url: str, body: dict[str, Any] | None) -> Any:
        """One HTTP exchange: the decoded reply, or :class:`_Retryable` / :class:`RetrieverError`."""
        import httpx

        try:
            response = self._client().post(url, json=body) if body is not None else self._client().get(url)
        except httpx.TransportError as exc:
            cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise _Retryable(scrub(cause, url)) from None
        if response.status_code >= 500:
            raise _Retryable(scrub(f"HTTP {response.status_code}: {response.text[:200]}", url))
        if response.status_code >= 400:
            raise RetrieverError(scrub(
                f"retrieval server {redact_url(url)} rejected the request: HTTP {response.status_code}: {response.text[:300]}", url))
        try:
            return response.json()
        except ValueError:
            raise RetrieverError(f"retrieval server {redact_url(url)} sent a reply that is not JSON") from None

    def _post(self, url: str, body: dict[str, Any] | None) -> Any:
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        def note(state: Any) -> None:
            log.debug("retriever %s attempt %d failed: %s", redact_url(url), state.attempt_number, state.outcome.exception())

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff, exp_base=2, min=0),
            retry=retry_if_exception_type(_Retryable),
            before_sleep=note,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, body)
        except _Retryable as exc:
            raise RetrieverUnavailableError(url, self.retries + 1, exc.cause) from None

    def search_batch(self, queries: Sequence[str], topk: int) -> list[list[Passage]]:
        """One POST for all ``queries``; returns their passages in order.

        Raises:
            ValueError: ``topk < 1``.
            RetrieverUnavailableError: the server cannot be reached after the retries.
            RetrieverError: the server rejected the request or sent an unreadable reply.
        """
        if int(topk) < 1:
            raise ValueError(f"topk must be >= 1, got {topk}")
        if not queries:
            return []
        payload = self._post(self.url, {"queries": list(queries), "topk": int(topk), "return_scores": True})
        return parse_result(payload, len(queries))

    def health(self) -> dict[str, Any]:
        """GET ``/health`` next to the ``/retrieve`` endpoint (same retry rules)."""
        base = self.url.rsplit("/", 1)[0] if self.url.rstrip("/").endswith("retrieve") else self.url.rstrip("/")
        return dict(self._post(base + "/health", None))

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> "RetrieverClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
