"""What a policy kind hands the play/eval path: :class:`LoadedPolicy`, and the settings it is built from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skillrl.agent.loop import ObservingPolicy, Policy


class PolicyLoadError(ValueError):
    """A policy could not be built (bad name, missing checkpoint, unusable endpoint settings).

    The message is one line and names what was asked for.
    """


@dataclass(frozen=True)
class PolicyOptions:
    """Settings of model-backed policies (scripted policies ignore them)."""

    temperature: float = 0.0
    """Sampling temperature (0: greedy, the evaluation default). None for an endpoint leaves it to
    the server."""
    max_new_tokens: int | None = None
    """Tokens per turn (None: 256 for HF models, the checkpoint's setting for ``ckpt:``, 1024 for
    endpoints)."""
    max_prompt_tokens: int | None = None
    """Prompts longer than this keep their last tokens (HF models; None: the checkpoint's / no limit)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda`` (HF models)."""
    max_batch_size: int = 64
    """Most prompts per ``generate`` call (HF models)."""
    concurrency: int = 8
    """Requests in flight at once (endpoints)."""
    base_url: str | None = None
    """Endpoint (``openai:``: overrides ``OPENAI_BASE_URL``; ``azure:``: ``AZURE_OPENAI_ENDPOINT``)."""
    api_version: str | None = None
    """Azure API version."""
    timeout_s: float = 60.0
    """Seconds per request (the SDK's timeout)."""
    max_retries: int = 2
    """SDK retries on 429 / 5xx / connection errors (exponential back-off)."""
    seed: int = 0
    """Seeds the sampler of HF models."""

    def __post_init__(self) -> None:
        if self.temperature is not None and self.temperature < 0:
            raise PolicyLoadError(f"temperature must be >= 0, got {self.temperature}")
        for name in ("max_batch_size", "concurrency"):
            if int(getattr(self, name)) < 1:
                raise PolicyLoadError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.timeout_s <= 0:
            raise PolicyLoadError(f"timeout must be > 0 seconds, got {self.timeout_s}")
        if self.max_retries < 0:
            raise PolicyLoadError(f"max_retries must be >= 0, got {self.max_retries}")


@dataclass
class LoadedPolicy:
    """A policy ready to play: what the play path needs from any policy kind."""

    name: str
    """How runs name it (``expert``, ``perturbed``, ``hf:PATH``, ``openai:MODEL`` …)."""
    kind: str
    """The policy kind (``scripted``, ``hf``, ``ckpt``, ``openai``, ``azure``)."""
    for_episode: Callable[[int], Policy | ObservingPolicy]
    """The policy of one episode, from the episode's seed: a fresh actor for scripted policies
    (they keep per-episode state), the shared batching model for the others."""
    describe: dict[str, Any] = field(default_factory=dict)
    """JSON-safe facts recorded in the run's summary (model path, temperature, endpoint …)."""
    count_tokens: Callable[[str], int] | None = None
    """The policy's own tokenizer as a counter, where one is loaded."""
    tokenizer_name: str | None = None
    """What :attr:`count_tokens` is (e.g. ``Qwen2TokenizerFast of /ckpt``)."""
    bank_path: str | None = None
    """The skill bank that belongs to the policy (a ``skillrl train --local`` checkpoint's, at its version)."""
    skills: Mapping[str, Any] = field(default_factory=dict)
    """Retrieval settings the policy was trained with (``retrieval_mode``, ``top_k`` …), used when
    the caller sets none."""
    episode: Mapping[str, int] = field(default_factory=dict)
    """Episode settings the policy was trained with (``max_steps``, ``history_length``)."""
    concurrency: int = 1
    """Episodes worth running at once for this policy (the batch a model fills; 1 for scripts)."""
    scripted: bool = False
    """True for the env's scripted policies (they need no skills and no tokenizer)."""
    stats: Callable[[], dict[str, Any]] = dict
    """Counters the policy keeps (endpoint requests and token usage, generate calls …), JSON-safe."""
    close: Callable[[], None] = lambda: None
    """Frees what the policy holds (thread pools, models)."""
