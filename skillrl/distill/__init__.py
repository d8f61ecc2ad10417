"""Distillation: trajectories -> memories -> skills, and the bank evolving during RL.

Layer rules: LLM I/O and pure logic only — no verl, torch or environment imports. Episodes are
read as :class:`~skillrl.distill.trajectory.Trajectory` (from ``Episode`` records or their JSON);
environment knowledge (task taxonomies) arrives as plain arguments from the entry points.

- :mod:`.llm` — ``ChatModel`` protocol, the OpenAI-SDK implementation (OpenAI-compatible and
  Azure), ``LLMClient`` (JSON replies with one repair, usage/cost, recorded calls), secrets redaction;
- :mod:`.trajectory`, :mod:`.memory` — inputs and the original memory record format;
- :mod:`.base` — the ``Distiller`` interface and the registry (``heuristic``, ``openai``, ``azure``);
- :mod:`.heuristic`, :mod:`.llm_distiller` — the two kinds of distiller;
- :mod:`.ops`, :mod:`.planning`, :mod:`.similarity` — typed evolution ops, the pure planner,
  de-duplication;
- :mod:`.hook` — ``DistillingEvolutionHook`` (the trainers' EvolutionHook) and ``EvolutionSettings``;
- :mod:`.pipeline` — the offline pipeline with its resumable cache.
"""

from skillrl.distill.base import (
    DISTILLERS,
    BankRequest,
    Distiller,
    EvolutionRequest,
    TaskClassifier,
    build_distiller,
    distiller_names,
)
from skillrl.distill.hook import DistillingEvolutionHook, EvolutionOutcome, EvolutionSettings, dedup_similarity, plan_limits
from skillrl.distill.llm import (
    ChatModel,
    ChatReply,
    LLMCall,
    LLMClient,
    LLMConfig,
    LLMConfigError,
    LLMError,
    LLMOutputError,
    LLMStatusError,
    LLMTimeoutError,
    LLMUnavailableError,
    OpenAIChatModel,
    TokenUsage,
    build_chat_model,
    client_for,
    extract_json,
    redact,
)
from skillrl.distill.memory import Memory, MemoryFormatError, MemoryMistake, MemoryStep, read_memories, write_memories
from skillrl.distill.ops import AddMistake, AddSkill, EvolutionOp, RetireSkill, UpdateSkill, apply_ops
from skillrl.distill.pipeline import JsonCache, MemoryRun, build_bank, distill_memories
from skillrl.distill.planning import Plan, PlanLimits, Rejected, plan_ops, utility_retirements
from skillrl.distill.similarity import EmbeddingSimilarity, LexicalSimilarity, Similarity, build_similarity
from skillrl.distill.trajectory import Trajectory, TrajectoryError, TrajStep, read_episodes, write_episodes

__all__ = [
    "DISTILLERS",
    "AddMistake",
    "AddSkill",
    "BankRequest",
    "ChatModel",
    "ChatReply",
    "Distiller",
    "DistillingEvolutionHook",
    "EmbeddingSimilarity",
    "EvolutionOp",
    "EvolutionOutcome",
    "EvolutionRequest",
    "EvolutionSettings",
    "JsonCache",
    "LLMCall",
    "LLMClient",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "LLMOutputError",
    "LLMStatusError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "LexicalSimilarity",
    "Memory",
    "MemoryFormatError",
    "MemoryMistake",
    "MemoryRun",
    "MemoryStep",
    "OpenAIChatModel",
    "Plan",
    "PlanLimits",
    "Rejected",
    "RetireSkill",
    "Similarity",
    "TaskClassifier",
    "TokenUsage",
    "TrajStep",
    "Trajectory",
    "TrajectoryError",
    "UpdateSkill",
    "apply_ops",
    "build_bank",
    "build_chat_model",
    "build_distiller",
    "build_similarity",
    "dedup_similarity",
    "client_for",
    "distill_memories",
    "distiller_names",
    "extract_json",
    "plan_limits",
    "plan_ops",
    "read_episodes",
    "read_memories",
    "redact",
    "utility_retirements",
    "write_episodes",
    "write_memories",
]
