"""A model behind an OpenAI-compatible endpoint (``openai:MODEL``: OpenAI, a vLLM / SGLang server,
any proxy) or Azure OpenAI (``azure:DEPLOYMENT``): the prompt-agent baseline.

Each turn's prompt is sent as one user message through the distillers' client
(:class:`skillrl.distill.llm.OpenAIChatModel`: keys and endpoints from the environment, the SDK's
own timeout and retry/back-off on 429, 5xx and connection errors, messages with keys redacted).
At most ``concurrency`` requests are in flight (a bounded thread pool); a request that still fails
raises :class:`~skillrl.distill.llm.LLMError`, which the play path records as that episode's error.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from skillrl.agent.episode import Generation
from skillrl.policies.base import LoadedPolicy, PolicyLoadError, PolicyOptions

DEFAULT_MAX_TOKENS = 1024
"""Reply tokens per turn when nothing else says."""


class EndpointPolicy:
    """:class:`~skillrl.agent.loop.Policy` over a :class:`~skillrl.distill.llm.ChatModel`, with at
    most ``concurrency`` calls at once (each in a worker thread)."""

    def __init__(self, model: Any, concurrency: int) -> None:
        self.model = model
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="skillrl-endpoint")
        self._lock = threading.Lock()
        self.requests = 0
        self.failed = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    async def generate(self, prompt: str) -> Generation:
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(self._pool, self.model.chat, [{"role": "user", "content": prompt}])
        except Exception:
            with self._lock:
                self.requests += 1
                self.failed += 1
            raise
        with self._lock:
            self.requests += 1
            self.prompt_tokens += reply.usage.input_tokens
            self.completion_tokens += reply.usage.output_tokens
        return Generation(text=reply.text)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "failed_requests": self.failed,
                    "endpoint_prompt_tokens": self.prompt_tokens, "endpoint_completion_tokens": self.completion_tokens}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def load_endpoint(provider: str, model: str, options: PolicyOptions) -> LoadedPolicy:
    """``openai:MODEL`` / ``azure:DEPLOYMENT`` (``provider`` is the :data:`skillrl.distill.llm.SDK_CLIENTS` name).

    Raises:
        PolicyLoadError: no model name, or the endpoint is not configured (missing variables).
    """
    from skillrl.distill.llm import LLMConfig, LLMError, build_chat_model

    if not model:
        raise PolicyLoadError(f"{provider}: needs a model name, e.g. {provider}:gpt-4o-mini")
    try:
        config = LLMConfig(provider=provider, model=model, base_url=options.base_url, api_version=options.api_version,
                           timeout_s=options.timeout_s, max_retries=options.max_retries,
                           temperature=options.temperature, max_tokens=options.max_new_tokens or DEFAULT_MAX_TOKENS)
        chat = build_chat_model(config)
    except (LLMError, ValueError) as exc:
        raise PolicyLoadError(f"{provider}:{model}: {exc}") from None
    policy = EndpointPolicy(chat, options.concurrency)
    return LoadedPolicy(
        name=f"{provider}:{model}",
        kind=provider,
        for_episode=lambda seed: policy,
        describe={"model": model, "endpoint": getattr(chat, "endpoint", ""), "temperature": options.temperature,
                  "max_tokens": config.max_tokens, "timeout_s": options.timeout_s, "max_retries": options.max_retries,
                  "concurrency": options.concurrency},
        concurrency=options.concurrency,
        stats=policy.stats,
        close=policy.close,
    )
