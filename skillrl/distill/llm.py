"""LLM access for distillation: one chat protocol, an OpenAI-SDK implementation, JSON replies.

- :class:`ChatModel` is the one thing a distiller needs from a language model: ``chat(messages)
  -> ChatReply``. :class:`OpenAIChatModel` implements it over the ``openai`` SDK for any
  OpenAI-compatible endpoint (OpenAI, a vLLM/SGLang server, a proxy) and for Azure OpenAI; the
  policy being trained can implement it too (its rollout server's OpenAI-compatible endpoint is
  just another ``base_url``; a local policy wraps its ``generate``), so the distiller's model is
  swappable for the policy.
- :class:`LLMClient` wraps a ``ChatModel``: it records every call as an :class:`LLMCall`
  (messages, reply, token usage, cost, and token ids when the model reports them, so that a later
  recipe can train on the policy's own distillation calls), logs usage and cost, and asks for
  JSON: :meth:`LLMClient.complete_json` extracts JSON from the reply (fenced or bare), validates
  it with the caller's validator, sends the validation error back once for a repair, then raises
  :class:`LLMOutputError`.

Endpoints and keys come from the environment (never from config files):

========== ================================================================================
provider   variables
========== ================================================================================
``openai`` ``OPENAI_API_KEY`` (may be unset when a ``base_url`` points at a local server),
           ``OPENAI_BASE_URL`` (default: the OpenAI API); ``LLMConfig.base_url`` wins
``azure``  ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT`` (``LLMConfig.base_url`` wins),
           ``AZURE_OPENAI_API_VERSION`` (``LLMConfig.api_version`` wins; default
           :data:`DEFAULT_AZURE_API_VERSION`); ``LLMConfig.model`` is the deployment name
========== ================================================================================

Timeouts and retries are the SDK's own (``timeout_s``, ``max_retries``: exponential backoff on
429, 5xx and connection errors, honouring ``Retry-After``). Failures surface as
:class:`LLMError` subclasses whose messages never contain a key: every text that leaves this
module (exceptions, logs, recorded calls) goes through :func:`redact`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from skillrl.skills.config import LLMConfig  # the settings are defined with the skill settings
from skillrl.utils.registry import Registry

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""Azure OpenAI data-plane API version used when neither config nor environment names one."""

_KEY_VARS = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
_REDACTED = "***"


# ----------------------------------------------------------------------------- errors


class LLMError(RuntimeError):
    """An LLM call failed. The message is one line, names the endpoint, and holds no secret."""


class LLMConfigError(LLMError):
    """The endpoint is not configured (missing variable, bad setting)."""


class LLMUnavailableError(LLMError):
    """The endpoint could not be reached or kept failing after the SDK's retries."""


class LLMTimeoutError(LLMUnavailableError):
    """The request timed out (after the SDK's retries)."""


class LLMStatusError(LLMUnavailableError):
    """The endpoint answered with an HTTP error status (after the SDK's retries for 429/5xx).

    Attributes:
        status: the HTTP status code.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class LLMOutputError(LLMError):
    """The reply was not usable JSON of the expected shape, even after one repair round-trip.

    Attributes:
        reason: the last validation error.
        reply: the last reply text (redacted, truncated to 2,000 characters).
    """

    def __init__(self, message: str, *, reason: str, reply: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.reply = reply


# ----------------------------------------------------------------------------- secrets


_SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(r"(?i)(api[-_]?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9_\-\.=]{8,}"),
)
_extra_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Make :func:`redact` hide ``value`` from now on (values shorter than 6 chars are ignored)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _extra_secrets.add(value)


def redact(text: str) -> str:
    """``text`` with API keys replaced by ``***``.

    Hides the values of ``OPENAI_API_KEY`` / ``AZURE_OPENAI_API_KEY`` (read now), any value given
    to :func:`register_secret`, and key-looking tokens (``sk-…``, ``Bearer …``, ``api-key: …``).

    >>> redact("failed: Authorization: Bearer abcdefghijkl")
    'failed: Authorization: Bearer ***'
    """
    if not text:
        return text
    secrets = {os.environ.get(v, "") for v in _KEY_VARS}
    with _secrets_lock:
        secrets |= _extra_secrets
    for s in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        text = text.replace(s, _REDACTED)
    for pat in _SECRET_PATTERNS:
        text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + _REDACTED, text)
    return text


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass(frozen=True)
class ChatReply:
    """What a :class:`ChatModel` returns for one request."""

    text: str
    """The assistant message ('' when the model sent none)."""
    usage: TokenUsage = TokenUsage()
    """Tokens counted by the server (zeros when it reported none)."""
    model: str = ""
    """Model that answered (as the server names it)."""
    prompt_ids: tuple[int, ...] = ()
    """Prompt token ids, when the model is the local policy (empty for remote endpoints)."""
    response_ids: tuple[int, ...] = ()
    """Reply token ids, when the model is the local policy."""


@dataclass(frozen=True)
class LLMCall:
    """One recorded request/reply (the unit a later recipe can train on)."""

    purpose: str
    """What the call was for (``memory``, ``general_skills``, ``evolve:heat`` …)."""
    attempt: int
    """0 for the first ask, 1 for the repair round-trip."""
    model: str
    messages: tuple[Mapping[str, str], ...]
    """The chat messages sent (``role``, ``content``), redacted."""
    reply: str
    """The reply text, redacted ('' when the call failed)."""
    usage: TokenUsage
    cost_usd: float | None
    """USD cost (None when no prices are configured)."""
    latency_s: float
    error: str | None = None
    """Set when the call failed (the :class:`LLMError` message)."""
    prompt_ids: tuple[int, ...] = ()
    response_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["messages"] = [dict(m) for m in self.messages]
        return out


@dataclass
class UsageTotals:
    """Running totals of an :class:`LLMClient`."""

    calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def add(self, call: LLMCall) -> None:
        self.calls += 1
        self.failed_calls += 1 if call.error else 0
        self.input_tokens += call.usage.input_tokens
        self.output_tokens += call.usage.output_tokens
        if call.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + call.cost_usd


# ----------------------------------------------------------------------------- the protocol


Message = Mapping[str, str]


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: the only thing distillers need from an LLM.

    Implementations raise :class:`LLMError` (never an SDK exception) when the call fails.
    """

    @property
    def model_name(self) -> str:
        """Name used in records and logs."""
        ...

    def chat(self, messages: Sequence[Message]) -> ChatReply:
        """Send ``messages`` (``{"role", "content"}``), return the reply."""
        ...


#: provider name -> ``(config, env) -> (sdk_client, endpoint_text)``; the SDK client has
#: ``chat.completions.create``. ``env`` maps variable names to values (``os.environ`` by default).
SDK_CLIENTS: Registry[Callable[[LLMConfig, Mapping[str, str]], tuple[Any, str]]] = Registry("LLM provider")


def _openai_sdk(config: LLMConfig, env: Mapping[str, str]) -> tuple[Any, str]:
    import openai

    base_url = config.base_url or env.get("OPENAI_BASE_URL") or None
    key = env.get("OPENAI_API_KEY") or ""
    if not key:
        if not base_url:
            raise LLMConfigError(
                "OPENAI_API_KEY is not set (set it, or point OPENAI_BASE_URL / llm.base_url at a local "
                "OpenAI-compatible server)"
            )
        key = "EMPTY"  # local vLLM/SGLang servers accept any key
    register_secret(key)
    client = openai.OpenAI(api_key=key, base_url=base_url, timeout=config.timeout_s, max_retries=config.max_retries)
    return client, base_url or "https://api.openai.com/v1"


def _azure_sdk(config: LLMConfig, env: Mapping[str, str]) -> tuple[Any, str]:
    import openai

    key = env.get("AZURE_OPENAI_API_KEY") or ""
    endpoint = config.base_url or env.get("AZURE_OPENAI_ENDPOINT") or ""
    missing = [n for n, v in (("AZURE_OPENAI_API_KEY", key), ("AZURE_OPENAI_ENDPOINT", endpoint)) if not v]
    if missing:
        raise LLMConfigError(f"Azure OpenAI needs {' and '.join(missing)} to be set")
    version = config.api_version or env.get("AZURE_OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION
    register_secret(key)
    client = openai.AzureOpenAI(
        api_key=key,
        azure_endpoint=endpoint,
        api_version=version,
        timeout=config.timeout_s,
        max_retries=config.max_retries,
    )
    return client, f"{endpoint.rstrip('/')} (azure, api-version {version})"


SDK_CLIENTS.register("openai", _openai_sdk)
SDK_CLIENTS.register("azure", _azure_sdk)


class OpenAIChatModel:
    """:class:`ChatModel` over the ``openai`` SDK (OpenAI-compatible endpoints and Azure OpenAI).

    Args:
        config: the model and request settings (``config.provider`` picks the SDK client from
            :data:`SDK_CLIENTS`).
        env: where to read keys and endpoints (default ``os.environ``).

    Raises:
        LLMConfigError: a required variable is missing, or the provider is unknown.
    """

    def __init__(self, config: LLMConfig, *, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        try:
            make = SDK_CLIENTS.get(config.provider)
        except KeyError as exc:
            raise LLMConfigError(str(exc)) from None
        self._client, self.endpoint = make(config, os.environ if env is None else env)

    @property
    def model_name(self) -> str:
        return self.config.model

    def __repr__(self) -> str:
        return f"OpenAIChatModel(provider={self.config.provider!r}, model={self.config.model!r}, endpoint={self.endpoint!r})"

    def _fail(self, what: str) -> str:
        return redact(f"{self.config.provider} endpoint {self.endpoint}, model {self.config.model!r}: {what}")

    def chat(self, messages: Sequence[Message]) -> ChatReply:
        import openai

        kwargs: dict[str, Any] = {"max_completion_tokens": self.config.max_tokens}
        if self.config.temperature is not None:
            kwargs["temperature"] = self.config.temperature
        try:
            resp = self._client.chat.completions.create(
                model=self.config.model, messages=[dict(m) for m in messages], **kwargs
            )
        except openai.APITimeoutError:
            raise LLMTimeoutError(
                self._fail(f"request timed out after {self.config.timeout_s:g}s ({self.config.max_retries} retries)")
            ) from None
        except openai.APIConnectionError as exc:
            raise LLMUnavailableError(
                self._fail(f"cannot connect ({type(exc).__name__}; {self.config.max_retries} retries)")
            ) from None
        except openai.APIStatusError as exc:
            detail = _status_detail(exc)
            raise LLMStatusError(self._fail(f"HTTP {exc.status_code}: {detail}"), exc.status_code) from None
        except openai.OpenAIError as exc:
            raise LLMError(self._fail(f"{type(exc).__name__}: {str(exc)[:300]}")) from None
        if not getattr(resp, "choices", None):
            raise LLMError(self._fail("reply has no choices"))
        text = resp.choices[0].message.content or ""
        usage = getattr(resp, "usage", None)
        return ChatReply(
            text=text,
            usage=TokenUsage(int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)),
            model=str(getattr(resp, "model", "") or self.config.model),
        )


def _status_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    msg = ""
    if isinstance(body, Mapping):
        err = body.get("error", body)
        msg = str(err.get("message", "") if isinstance(err, Mapping) else err)
    if not msg:
        msg = str(getattr(exc, "message", "") or exc)
    msg = " ".join(msg.split())
    return redact(msg[:300]) or "(no detail)"


#: provider name -> ChatModel factory; one signature ``(config) -> ChatModel``.
CHAT_MODELS: Registry[Callable[[LLMConfig], ChatModel]] = Registry("chat model provider")
CHAT_MODELS.register("openai", OpenAIChatModel)
CHAT_MODELS.register("azure", OpenAIChatModel)


def build_chat_model(config: LLMConfig) -> ChatModel:
    """The :class:`ChatModel` for ``config.provider``.

    Raises:
        LLMConfigError: unknown provider or missing variables.
    """
    try:
        factory = CHAT_MODELS.get(config.provider)
    except KeyError as exc:
        raise LLMConfigError(str(exc)) from None
    return factory(config)


# ----------------------------------------------------------------------------- JSON replies


class JSONExtractionError(ValueError):
    """No JSON value could be read from a reply."""


_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON value in a model reply: a fenced block (```json … ```) or the bare value.

    Tries, in order: the whole text; each fenced block; the first ``{`` or ``[`` from which a
    complete value decodes (text around it is ignored).

    >>> extract_json('Here you go:\\n```json\\n{"a": 1}\\n```')
    {'a': 1}
    >>> extract_json('Sure! [1, 2] hope it helps')
    [1, 2]

    Raises:
        JSONExtractionError: nothing decodes; the message says why (line/column of the error).
    """
    stripped = (text or "").strip()
    if not stripped:
        raise JSONExtractionError("the reply is empty")
    candidates = [stripped] + [m.group(1).strip() for m in _FENCE.finditer(stripped)]
    first_error: json.JSONDecodeError | None = None
    for cand in candidates:
        try:
            return json.loads(cand)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
    decoder = json.JSONDecoder()
    for cand in candidates:
        for i, ch in enumerate(cand):
            if ch in "{[":
                try:
                    value, _ = decoder.raw_decode(cand, i)
                    return value
                except json.JSONDecodeError as exc:
                    first_error = first_error or exc
                    continue
    if not any(ch in stripped for ch in "{["):
        raise JSONExtractionError("no JSON object or array found in the reply")
    assert first_error is not None
    raise JSONExtractionError(
        f"invalid JSON at line {first_error.lineno}, column {first_error.colno}: {first_error.msg}"
    )


REPAIR_TEMPLATE = (
    "Your previous reply could not be used: {reason}\n"
    "Reply again with only the corrected JSON (same schema as asked), without any other text."
)


class LLMClient:
    """Records, logs and costs the calls made through a :class:`ChatModel`; asks for JSON.

    Args:
        model: the chat model.
        config: prices for the cost figure (and the model settings, for the record).
        record_path: if set, every call is appended there as one JSON line (redacted).
    """

    def __init__(self, model: ChatModel, *, config: LLMConfig | None = None, record_path: str | os.PathLike[str] | None = None) -> None:
        self.model = model
        self.config = config or LLMConfig()
        self.record_path = Path(record_path) if record_path is not None else None
        self.calls: list[LLMCall] = []
        """Every call made, in order."""
        self.totals = UsageTotals()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LLMClient(model={self.model!r}, calls={self.totals.calls})"

    def _record(self, call: LLMCall) -> None:
        with self._lock:
            self.calls.append(call)
            self.totals.add(call)
            if self.record_path is not None:
                self.record_path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.record_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(call.to_dict(), ensure_ascii=False) + "\n")
        cost = f" ${call.cost_usd:.4f}" if call.cost_usd is not None else ""
        if call.error:
            log.warning("llm %s (attempt %d) failed after %.1fs: %s", call.purpose, call.attempt, call.latency_s, call.error)
        else:
            log.info(
                "llm %s (attempt %d): model=%s in=%d out=%d tokens%s %.1fs",
                call.purpose, call.attempt, call.model, call.usage.input_tokens, call.usage.output_tokens, cost, call.latency_s,
            )

    def complete(self, messages: Sequence[Message], *, purpose: str, attempt: int = 0) -> str:
        """One chat call, recorded. Returns the reply text.

        Raises:
            LLMError: the call failed (recorded with its error).
        """
        safe_messages = tuple({"role": m["role"], "content": redact(m["content"])} for m in messages)
        t0 = time.monotonic()
        try:
            reply = self.model.chat(messages)
        except LLMError as exc:
            self._record(LLMCall(purpose, attempt, self.model.model_name, safe_messages, "", TokenUsage(), None,
                                 time.monotonic() - t0, error=redact(str(exc))))
            raise
        self._record(LLMCall(
            purpose=purpose,
            attempt=attempt,
            model=reply.model or self.model.model_name,
            messages=safe_messages,
            reply=redact(reply.text),
            usage=reply.usage,
            cost_usd=self.config.cost(reply.usage.input_tokens, reply.usage.output_tokens),
            latency_s=time.monotonic() - t0,
            prompt_ids=reply.prompt_ids,
            response_ids=reply.response_ids,
        ))
        return reply.text

    def complete_json(self, messages: Sequence[Message], validate: Callable[[Any], T], *, purpose: str) -> T:
        """Ask, extract JSON, validate; on a bad reply ask once more with the error, then fail.

        ``validate`` turns the decoded JSON into the caller's value and raises ``ValueError``
        (``SkillBankError`` is one) with a useful message when it is not acceptable.

        Raises:
            LLMOutputError: the reply (and the repaired reply) failed extraction or validation.
            LLMError: a call failed.
        """
        convo = [dict(m) for m in messages]
        reason = ""
        reply = ""
        for attempt in range(2):
            reply = self.complete(convo, purpose=purpose, attempt=attempt)
            try:
                return validate(extract_json(reply))
            except (ValueError, TypeError, KeyError) as exc:
                reason = redact(str(exc)) or type(exc).__name__
                log.info("llm %s: reply rejected (attempt %d): %s", purpose, attempt, reason)
            convo += [{"role": "assistant", "content": reply}, {"role": "user", "content": REPAIR_TEMPLATE.format(reason=reason)}]
        raise LLMOutputError(
            f"{purpose}: the model's reply was not valid JSON of the expected shape after one repair: {reason}",
            reason=reason,
            reply=redact(reply)[:2000],
        )

    def usage_line(self) -> str:
        """``12 calls (1 failed), 3,400 in / 900 out tokens, $0.0123`` for logs and CLI summaries."""
        t = self.totals
        cost = f", ${t.cost_usd:.4f}" if t.cost_usd is not None else ""
        failed = f" ({t.failed_calls} failed)" if t.failed_calls else ""
        return f"{t.calls} calls{failed}, {t.input_tokens:,} in / {t.output_tokens:,} out tokens{cost}"


def client_for(config: LLMConfig, *, record_path: str | os.PathLike[str] | None = None) -> LLMClient:
    """An :class:`LLMClient` over the SDK chat model for ``config``."""
    return LLMClient(build_chat_model(config), config=config, record_path=record_path)


__all__ = [
    "CHAT_MODELS",
    "DEFAULT_AZURE_API_VERSION",
    "SDK_CLIENTS",
    "ChatModel",
    "ChatReply",
    "JSONExtractionError",
    "LLMCall",
    "LLMClient",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "LLMOutputError",
    "LLMStatusError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "OpenAIChatModel",
    "TokenUsage",
    "UsageTotals",
    "build_chat_model",
    "client_for",
    "extract_json",
    "redact",
    "register_secret",
]
