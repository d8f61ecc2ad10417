"""SFT examples: one (prompt, target) pair per teacher turn, and the facts kept with it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SFTExample:
    """One supervised turn."""

    prompt: str
    """The prompt, exactly as RL builds it (skills included when a bank is used)."""
    target: str
    """The output to learn: ``<think>…</think><action>…</action>`` (or the env's format)."""
    action: str
    """The env's projection of ``target`` (what exact-action accuracy compares)."""
    env_name: str
    task_type: str
    game_id: str
    turn: int
    teacher: str
    admissible: tuple[str, ...] | None = None
    """The turn's admissible actions (None: the env has no closed action set)."""
    bank_version: int | None = None
    """Version of the bank the skill block came from (None: no skills)."""
    seed: int | None = None
    """The env seed of the game."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["admissible"] = list(self.admissible) if self.admissible is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SFTExample":
        adm = data.get("admissible")
        return cls(prompt=str(data["prompt"]), target=str(data["target"]), action=str(data.get("action", "")),
                   env_name=str(data.get("env_name", "")), task_type=str(data.get("task_type", "")),
                   game_id=str(data.get("game_id", "")), turn=int(data.get("turn", 0)),
                   teacher=str(data.get("teacher", "")), admissible=tuple(adm) if adm is not None else None,
                   bank_version=data.get("bank_version"), seed=data.get("seed"))
