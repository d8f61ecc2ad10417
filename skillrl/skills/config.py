"""The skill-bank settings, defined once.

:class:`SkillsConfig` is the ``env.skills_only_memory`` section of the Hydra configs (the flag
names of the original SkillRL), the ``env.skills_only_memory`` part of the local trainer's
``LocalTrainConfig`` and what the verl agent loop reads. A new skill setting is one new field
here (with its docstring and, where needed, a check in ``__post_init__``); Hydra's schema, the
local trainer and the verl agent loop all see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skillrl.skills.retrieval import DEFAULT_EMBEDDING_MODEL, RETRIEVERS
from skillrl.utils.config import check_choice, check_int, check_number, require


@dataclass(frozen=True)
class SkillsConfig:
    """How skills are loaded, retrieved into prompts and evolved.

    Switched on by the env section's ``use_skills_only_memory``; these values matter only then.

    Raises:
        skillrl.utils.config.ConfigError: a value outside what is allowed (the message names the
            field, the value and what is allowed).
    """

    skills_json_path: str | None = None
    """SkillBank JSON (``general_skills`` / ``task_specific_skills`` / ``common_mistakes``)."""
    retrieval_mode: str = "template"
    """Retriever, a name registered in ``skillrl.skills.RETRIEVERS``: ``template`` (by task type)
    or ``embedding`` (sentence-embedding similarity)."""
    embedding_model_path: str = DEFAULT_EMBEDDING_MODEL
    """Sentence-transformers model (hub id or local path) for ``retrieval_mode=embedding``."""
    top_k: int = 6
    """General skills per prompt."""
    task_specific_top_k: int | None = None
    """Task-specific skills per prompt (None: every skill of the task type)."""
    max_skill_tokens: int | None = None
    """Token budget of the rendered skill block (None: unlimited)."""
    enable_dynamic_update: bool = False
    """Let validation failures evolve the bank (through ``evolution_hook``)."""
    update_threshold: float = 0.4
    """A task type whose validation success rate is below this is evolved."""
    max_new_skills: int = 3
    """Most new skills added per evolution round."""
    evolution_hook: str | None = None
    """Evolution hook factory as ``"module:factory"`` (None: log per-task-type success only)."""
    bank_actor_name: str = "skillrl_skill_bank"
    """Name of the Ray actor that serves the bank to the verl agent-loop workers."""

    def __post_init__(self) -> None:
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
