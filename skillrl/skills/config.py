"""The skill-bank settings, defined once.

:class:`SkillsConfig` is the ``env.skills_only_memory`` section of the Hydra configs (the flag
names of the original SkillRL), the ``env.skills_only_memory`` part of the local trainer's
``LocalTrainConfig`` and what the verl agent loop reads. A new skill setting is one new field
here (with its docstring and, where needed, a check in ``__post_init__``); Hydra's schema, the
local trainer and the verl agent loop all see it.

The evolution settings beyond the original flags (:class:`EvolutionSettings`: ``distiller``,
``llm.*``, ``evolution_source``, ``dedup_threshold``, ``max_skills_per_category``,
``retire_*``, ``timeout_s`` ...) are a base class of :class:`SkillsConfig`, so they sit beside
the original flags (``env.skills_only_memory.distiller=openai``,
``env.skills_only_memory.llm.model=gpt-4o-mini``) and a ``SkillsConfig`` is what the
evolution hook (:class:`skillrl.distill.DistillingEvolutionHook`) takes as its settings.
They are plain data here (this layer knows no LLM); :mod:`skillrl.distill` acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skillrl.skills.retrieval import DEFAULT_EMBEDDING_MODEL, RETRIEVERS
from skillrl.utils.config import check_choice, check_int, check_number, require

#: where evolution takes its failed episodes from
EVOLUTION_SOURCES = ("train", "validation")
#: default de-duplication thresholds (cosine): embedding model, lexical fallback
DEFAULT_EMBEDDING_THRESHOLD = 0.85
DEFAULT_LEXICAL_THRESHOLD = 0.6
#: LLM providers known to the OpenAI SDK client
LLM_PROVIDERS = ("openai", "azure")


@dataclass(frozen=True)
class LLMConfig:
    """Which model to ask and how. Holds no key: keys come from the environment only."""

    provider: str = "openai"
    """``openai`` (any OpenAI-compatible endpoint) or ``azure`` (Azure OpenAI)."""
    model: str = "gpt-4o-mini"
    """Model name (the deployment name on Azure; the served model name on vLLM/SGLang)."""
    base_url: str | None = None
    """Endpoint; overrides ``OPENAI_BASE_URL`` / ``AZURE_OPENAI_ENDPOINT``."""
    api_version: str | None = None
    """Azure API version; overrides ``AZURE_OPENAI_API_VERSION``."""
    timeout_s: float = 60.0
    """Per-request timeout in seconds (the SDK's)."""
    max_retries: int = 3
    """Retries of one request on 429 / 5xx / connection errors (the SDK's backoff)."""
    temperature: float | None = None
    """Sampling temperature; None leaves it to the server (reasoning models reject other values)."""
    max_tokens: int = 4096
    """Cap on reply tokens (sent as ``max_completion_tokens``)."""
    price_input_per_1m: float | None = None
    """USD per 1M input tokens, for the cost figure (None: cost not computed)."""
    price_output_per_1m: float | None = None
    """USD per 1M output tokens."""

    def __post_init__(self) -> None:
        # keys relative to this section: the loader prefixes ``env.skills_only_memory.llm``
        require(isinstance(self.provider, str) and bool(self.provider.strip()), "provider", self.provider,
                "a provider name (" + ", ".join(LLM_PROVIDERS) + ")")
        require(isinstance(self.model, str) and bool(self.model.strip()), "model", self.model,
                "a non-empty model (or Azure deployment) name")
        check_number("timeout_s", self.timeout_s, minimum=0.0, exclusive_minimum=True)
        check_int("max_retries", self.max_retries, minimum=0)
        check_int("max_tokens", self.max_tokens, minimum=1)
        check_number("temperature", self.temperature, minimum=0.0, optional=True)
        for name in ("price_input_per_1m", "price_output_per_1m"):
            check_number(name, getattr(self, name), minimum=0.0, optional=True)

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """USD cost of a call, or None when no prices are set.

        >>> LLMConfig(price_input_per_1m=1.0, price_output_per_1m=2.0).cost(1_000_000, 500_000)
        2.0
        """
        if self.price_input_per_1m is None and self.price_output_per_1m is None:
            return None
        return (input_tokens * (self.price_input_per_1m or 0.0) + output_tokens * (self.price_output_per_1m or 0.0)) / 1e6


@dataclass(frozen=True)
class EvolutionSettings:
    """How the bank evolves during RL, beyond the original flags.

    The original flags (``enable_dynamic_update``, ``update_threshold``, ``max_new_skills``) are
    fields of :class:`SkillsConfig`, which extends this class.

    Raises:
        skillrl.utils.config.ConfigError: a value outside what is allowed.
    """

    distiller: str = "heuristic"
    """Registered distiller: ``heuristic`` (no LLM), ``openai``, ``azure``."""
    llm: LLMConfig = field(default_factory=LLMConfig)
    """Model settings of the LLM distillers (``llm.model``, ``llm.base_url``, ...; keys come
    from the environment)."""
    evolution_source: str = "train"
    """Where failed episodes come from: ``train`` rollouts (default: validation games never
    leak into the bank) or ``validation`` (as the original)."""
    dedup_threshold: float = DEFAULT_EMBEDDING_THRESHOLD
    """Cosine at or above which a new item duplicates an existing one (embedding model)."""
    lexical_dedup_threshold: float = DEFAULT_LEXICAL_THRESHOLD
    """The same for the lexical fallback."""
    dedup_model: str | None = "auto"
    """Embedding model for de-duplication: a path or hub id; ``auto`` = the shipped MiniLM when
    installed, else lexical; null or ``lexical`` = lexical."""
    max_skills_per_category: int = 12
    """Cap on active items per section/category after an evolution cycle."""
    retire_min_episodes: int = 20
    """Finished episodes an item must have been injected in before it can be retired."""
    retire_margin: float = 0.15
    """Win-rate gap below the baseline that retires an item."""
    retire_max_per_cycle: int = 1
    """Retirements per cycle (0: never retire)."""
    timeout_s: float = 120.0
    """Upper bound on one cycle's distillation and planning; past it the cycle is dropped and
    training goes on with the bank unchanged."""
    max_failures_per_type: int = 16
    """Most recent failed episodes sent to the distiller per task type."""
    max_successes_per_type: int = 4
    """Successful episodes sent per task type, for contrast."""
    train_buffer_per_type: int = 128
    """Training episodes remembered per task type (``evolution_source=train``)."""
    llm_record_path: str | None = None
    """JSONL file where the distiller's LLM calls are recorded (prompt, reply, usage); null:
    not recorded."""

    def __post_init__(self) -> None:
        require(isinstance(self.distiller, str) and bool(self.distiller.strip()), "distiller", self.distiller,
                "a registered distiller name (heuristic, openai, azure)")
        require(isinstance(self.llm, LLMConfig), "llm", self.llm, "the llm settings (llm.model, llm.base_url, ...)")
        check_choice("evolution_source", self.evolution_source, EVOLUTION_SOURCES)
        for name in ("dedup_threshold", "lexical_dedup_threshold"):
            check_number(name, getattr(self, name), minimum=0.0, maximum=1.0, exclusive_minimum=True)
        require(self.dedup_model is None or (isinstance(self.dedup_model, str) and bool(self.dedup_model)),
                "dedup_model", self.dedup_model, "auto, lexical, null or an embedding model path / hub id")
        check_int("max_skills_per_category", self.max_skills_per_category, minimum=1)
        check_int("retire_min_episodes", self.retire_min_episodes, minimum=1)
        check_number("retire_margin", self.retire_margin, minimum=0.0, maximum=1.0)
        check_int("retire_max_per_cycle", self.retire_max_per_cycle, minimum=0)
        check_number("timeout_s", self.timeout_s, minimum=0.0, exclusive_minimum=True)
        for name in ("max_failures_per_type", "train_buffer_per_type"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("max_successes_per_type", self.max_successes_per_type, minimum=0)
        require(self.llm_record_path is None or (isinstance(self.llm_record_path, str) and bool(self.llm_record_path)),
                "llm_record_path", self.llm_record_path, "null or a JSONL file path")


@dataclass(frozen=True)
class SkillsConfig(EvolutionSettings):
    """How skills are loaded, retrieved into prompts and evolved.

    Switched on by the env section's ``use_skills_only_memory``; these values matter only then.
    The evolution settings (``distiller``, ``llm.*``, ``evolution_source``, ...) are inherited
    from :class:`EvolutionSettings`.

    Raises:
        skillrl.utils.config.ConfigError: a value outside what is allowed (the message names the
            field, the value and what is allowed).
    """

    skills_json_path: str | None = None
    """SkillBank JSON (``general_skills`` / ``task_specific_skills`` / ``common_mistakes``)."""
    retrieval_mode: str = "template"
    """Retriever, a name registered in ``skillrl.skills.RETRIEVERS``: ``template`` (by task type),
    ``embedding`` (sentence-embedding similarity, general and task-specific skills ranked
    separately) or ``embedding_merged`` (one ranking of both, ``top_k`` in total)."""
    embedding_model_path: str = DEFAULT_EMBEDDING_MODEL
    """Sentence-transformers model (hub id or local path) for the embedding modes."""
    top_k: int = 6
    """General skills per prompt (``embedding_merged``: general and task-specific together)."""
    task_specific_top_k: int | None = None
    """Task-specific skills per prompt (null: template mode shows every skill of the task's
    category, embedding mode ``top_k``)."""
    max_skill_tokens: int | None = None
    """Token budget of the rendered skill block (null: unlimited)."""
    enable_dynamic_update: bool = False
    """Evolve the bank during training: after each validation, task types below
    ``update_threshold`` are distilled into new / sharpened / retired skills."""
    update_threshold: float = 0.4
    """A task type whose validation success rate is below this is evolved."""
    max_new_skills: int = 3
    """Most new skills and mistakes added per evolution cycle."""
    evolution_hook: str | None = None
    """Custom evolution hook factory as ``"module:factory"`` (null: the built-in distilling hook
    when ``enable_dynamic_update`` is on)."""
    bank_actor_name: str = "skillrl_skill_bank"
    """Name of the Ray actor that serves the bank to the verl agent-loop workers."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("retrieval_mode", self.retrieval_mode, RETRIEVERS.names())
        check_int("top_k", self.top_k, minimum=0)
        check_int("task_specific_top_k", self.task_specific_top_k, minimum=0, optional=True)
        check_int("max_skill_tokens", self.max_skill_tokens, minimum=0, optional=True)
        check_number("update_threshold", self.update_threshold, minimum=0.0, maximum=1.0)
        check_int("max_new_skills", self.max_new_skills, minimum=0)
        require(isinstance(self.embedding_model_path, str) and bool(self.embedding_model_path),
                "embedding_model_path", self.embedding_model_path, "a model name or path")
        hook = self.evolution_hook
        require(hook is None or (isinstance(hook, str) and hook.count(":") == 1 and all(hook.split(":"))),
                "evolution_hook", hook, "null or 'module:factory'")
        require(isinstance(self.bank_actor_name, str) and bool(self.bank_actor_name),
                "bank_actor_name", self.bank_actor_name, "a non-empty name")

    def retriever_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`skillrl.skills.build_retriever` taken from these settings.

        >>> SkillsConfig(top_k=2).retriever_kwargs()["top_k"]
        2
        """
        return {
            "mode": self.retrieval_mode,
            "top_k": self.top_k,
            "task_specific_top_k": self.task_specific_top_k,
            "max_skill_tokens": self.max_skill_tokens,
            "embedding_model_path": self.embedding_model_path,
        }
