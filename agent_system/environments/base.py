"""The text-environment protocol shared by every environment.

An environment holds no model and no tokenizer. It takes the *raw* model output, projects
it to an action with a pure per-env function, and answers with an observation.

Contract (checked for every env by :func:`agent_system.environments.contract.check_env`):

``reset(seed=None, task=None) -> (observation, info)``
    Starts an episode. ``seed`` picks the game deterministically (the same seed always gives
    the same game: all ``n`` rollouts of a GRPO group pass the same seed); ``task`` names a
    game explicitly (an env-specific id such as a game path or a goal index) and wins over
    ``seed``.
``step(action_text) -> (observation, reward, done, info)``
    ``action_text`` is the raw model output. Malformed output never raises: it is an invalid
    action (``info["is_action_valid"] = False``), the observation says why, reward is 0, and
    the turn still counts. Stepping a finished episode raises :class:`EpisodeFinishedError`.
``admissible_actions() -> list[str] | None``
    The currently valid actions, or ``None`` where the env has no closed action set.
``close()``
    Frees resources; idempotent.

``info`` always carries the keys in :data:`INFO_KEYS`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from skillrl.utils.registry import Registry

#: keys every ``info`` dict returned by ``reset``/``step`` carries
INFO_KEYS = ("won", "task_type", "is_action_valid", "task", "game_id")


class EpisodeFinishedError(RuntimeError):
    """``step`` was called after the episode ended; call ``reset`` first."""


@dataclass(frozen=True)
class ParsedAction:
    """Result of projecting raw model output onto an environment action."""

    action: str
    """The extracted action text ('' when nothing usable was found)."""
    valid: bool
    """Whether the output was well-formed and (where the env knows) admissible."""
    reason: str = ""
    """Why the action is invalid; empty when valid."""


@dataclass(frozen=True)
class PromptContext:
    """Everything a prompt builder may use for one turn."""

    task: str
    """The natural-language goal of the episode."""
    observation: str
    """The current observation."""
    history: Sequence[tuple[str, str]] = ()
    """Earlier turns as (observation, action) pairs, oldest first (the builder keeps the last
    ``history_length``)."""
    admissible_actions: Sequence[str] | None = None
    """The valid actions now, when the env has them."""
    skill_block: str = ""
    """Rendered skills for this episode ('' when skills are off); shown on every turn."""
    turn: int = 0
    """0-based index of this turn."""
    history_length: int = 2
    """How many recent turns to show."""


class TextEnv(abc.ABC):
    """Base class of SkillRL text environments (see the module docstring for the contract)."""

    env_name: ClassVar[str] = ""

    @abc.abstractmethod
    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode; return ``(observation, info)``."""

    @abc.abstractmethod
    def step(self, action_text: str) -> tuple[str, float, bool, dict[str, Any]]:
        """Apply raw model output; return ``(observation, reward, done, info)``."""

    def admissible_actions(self) -> list[str] | None:
        """Valid actions in the current state, or None if the env has no closed action set."""
        return None

    def close(self) -> None:
        """Release resources. Safe to call twice."""

    def __enter__(self) -> "TextEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class EnvSpec:
    """How to build, prompt and parse one environment kind."""

    name: str
    make: Callable[..., TextEnv]
    """Factory taking env-specific keyword arguments (``data_dir``, ``split``, ...)."""
    build_prompt: Callable[[PromptContext], str]
    """Pure function: one turn's user prompt."""
    project_action: Callable[..., ParsedAction]
    """Pure function ``(text, admissible_actions=None) -> ParsedAction``."""
    task_types: tuple[str, ...] = ()
    """The task types ``info["task_type"]`` may take (for per-type metrics)."""
    extra: dict[str, Any] = field(default_factory=dict)


#: every environment kind, by name; packages register lazily so that listing is cheap
ENVIRONMENTS: Registry[EnvSpec] = Registry("environment")
ENVIRONMENTS.register_lazy("alfworld", "agent_system.environments.alfworld:SPEC")
ENVIRONMENTS.register_lazy("webshop", "agent_system.environments.webshop:SPEC")
ENVIRONMENTS.register_lazy("search", "agent_system.environments.search:SPEC")
ENVIRONMENTS.register_lazy("toy", "agent_system.environments.toy:SPEC")
ENVIRONMENTS.register_lazy("household", "agent_system.environments.household:SPEC")


def get_env_spec(name: str) -> EnvSpec:
    """Look up an environment kind; unknown names raise with the list of known ones."""
    return ENVIRONMENTS.get(name)
