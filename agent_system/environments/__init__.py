"""Text environments (ALFWorld, WebShop, Search, a toy task) behind one small protocol."""

from agent_system.environments.base import (
    ENVIRONMENTS,
    INFO_KEYS,
    ContractCase,
    EnvSpec,
    EpisodeFinishedError,
    GameRef,
    Outcome,
    ParsedAction,
    PromptContext,
    Play,
    Script,
    StepInfo,
    TextEnv,
    TurnView,
    UnknownEnvSettingError,
    get_env_spec,
    task_index,
)
from agent_system.environments.taxonomy import FALLBACK, TaskTaxonomy

__all__ = [
    "ENVIRONMENTS",
    "FALLBACK",
    "INFO_KEYS",
    "ContractCase",
    "EnvSpec",
    "EpisodeFinishedError",
    "GameRef",
    "Outcome",
    "ParsedAction",
    "PromptContext",
    "Play",
    "Script",
    "StepInfo",
    "TaskTaxonomy",
    "TextEnv",
    "TurnView",
    "UnknownEnvSettingError",
    "get_env_spec",
    "task_index",
]
