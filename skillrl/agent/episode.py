"""Records that cross layers: one generation, one turn, one episode."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Generation:
    """One policy call."""

    text: str
    """Decoded model output (special tokens removed)."""
    prompt_ids: tuple[int, ...] = ()
    """Token ids of the full prompt as the policy saw it (empty for scripted policies)."""
    response_ids: tuple[int, ...] = ()
    """Generated token ids, EOS included when the model emitted it."""
    logprobs: tuple[float, ...] = ()
    """Log-probabilities of ``response_ids`` under the sampling policy (may be empty)."""
    forced: tuple[bool, ...] = ()
    """Per response token, whether a decoding constraint left only that token: it carries no
    decision, so it gets no policy-gradient loss (empty: no token was forced)."""


@dataclass(frozen=True)
class Step:
    """One turn of an episode."""

    turn: int
    """0-based turn index."""
    prompt: str
    """The user prompt built for this turn (skill block included when skills are on)."""
    generation: Generation
    """What the policy produced."""
    action: str
    """The projected action ('' when the output was malformed)."""
    is_action_valid: bool
    """Whether the env accepted the action."""
    observation: str
    """The env's answer to this action."""
    reward: float
    """Reward returned by this step."""
    done: bool
    """Whether the episode ended with this step."""


@dataclass
class Episode:
    """A finished (or truncated) episode."""

    env_name: str
    game_id: str
    """Env-specific id of the game played (path, goal index, question id)."""
    task: str
    """Natural-language goal."""
    task_type: str
    """Category used for retrieval and per-type metrics."""
    seed: int | None
    steps: list[Step] = field(default_factory=list)
    won: bool = False
    reward: float = 0.0
    """Episode score: the sum of step rewards (ALFWorld 1.0 on success, WebShop purchase
    reward, Search exact match)."""
    skill_ids: tuple[str, ...] = ()
    """Ids of the skills injected into this episode's prompts."""
    bank_version: int | None = None
    """Version of the SkillBank the skills came from (None when skills are off)."""
    truncated: bool = False
    """True when ``max_steps`` ran out before the env ended the episode."""
    error: str | None = None
    """Set when the episode was aborted by an environment error (the batch goes on), or by a
    policy error where the caller asked for that (``run_episode(end_on_policy_error=True)``)."""
    history_cuts: int = 0
    """Turns whose prompt showed fewer history turns than asked, to stay within the policy's
    prompt budget."""
    prompt_overflows: int = 0
    """Turns whose prompt exceeded the budget even without history (the policy side cut it)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Labels the caller attaches (JSON-safe): the policy that played, the failure kind a
    perturbed policy injected (``failure_kind``), the eval split, the sample index …"""

    @property
    def num_turns(self) -> int:
        return len(self.steps)

    def transcript(self, max_chars: int = 4000) -> str:
        """A compact text transcript (task, then action -> observation per turn)."""
        lines = [f"Task: {self.task}"]
        for s in self.steps:
            flag = "" if s.is_action_valid else " [invalid]"
            lines.append(f"> {s.action or s.generation.text[:80]}{flag}\n{s.observation[:300]}")
        lines.append(f"Outcome: {'success' if self.won else 'failure'} (reward {self.reward:g})")
        text = "\n".join(lines)
        return text if len(text) <= max_chars else text[: max_chars - 3] + "..."

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary without prompts and token ids."""
        return {
            "env_name": self.env_name,
            "game_id": self.game_id,
            "task": self.task,
            "task_type": self.task_type,
            "seed": self.seed,
            "won": self.won,
            "reward": self.reward,
            "turns": self.num_turns,
            "skill_ids": list(self.skill_ids),
            "bank_version": self.bank_version,
            "truncated": self.truncated,
            "error": self.error,
            "history_cuts": self.history_cuts,
            "prompt_overflows": self.prompt_overflows,
            "actions": [s.action for s in self.steps],
            "metadata": dict(self.metadata),
        }

    def to_json(self) -> str:
        return json.dumps({**self.summary(), "transcript": self.transcript()})

    def to_dict(self) -> dict[str, Any]:
        """Full record, prompts and generations included."""
        return asdict(self)
