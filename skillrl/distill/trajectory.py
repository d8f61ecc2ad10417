"""What distillation reads: a finished episode reduced to task, outcome and steps.

:class:`Trajectory` is built from any of the shapes episodes travel in, without importing the
agent or environment layers (they are read by attribute / key):

- an :class:`skillrl.agent.episode.Episode` (or anything with its attributes);
- ``Episode.to_dict()`` (full record: ``steps`` with ``action``, ``is_action_valid``,
  ``observation``, ``generation.text``);
- ``Episode.summary()`` / ``Episode.to_json()`` (``actions``, and ``transcript`` whose per-turn
  ``> action [invalid]`` lines and observations are parsed back by :func:`parse_transcript`);
- the failure summaries of :class:`skillrl.trainer.evolution.ValidationReport` (``task``,
  ``transcript``, ``skill_ids``, optionally ``won``/``task_type``/``actions``).

Episode ids: the ``episode_id`` key/attribute when present, else
``<env>:<game_id>:<seed>:<hash of the actions>`` (stable across runs, distinct for copies of a
game that acted differently).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)


class TrajectoryError(ValueError):
    """An episode record could not be read (the message names the file/line or key)."""


@dataclass(frozen=True)
class TrajStep:
    """One turn."""

    action: str
    """The projected action ('' when the output was malformed)."""
    valid: bool = True
    """Whether the env accepted it."""
    observation: str = ""
    """The env's answer (may be truncated)."""
    thought: str = ""
    """The model's reasoning for this turn (``<think>`` text), when recorded."""


@dataclass(frozen=True)
class Trajectory:
    """One episode as distillation sees it."""

    episode_id: str
    """Stable id (see the module docstring); history records name it."""
    env_name: str
    task: str
    """The natural-language goal."""
    task_type: str
    """Category of the task ('' when unknown; the pipeline classifies it then)."""
    won: bool
    reward: float = 0.0
    steps: tuple[TrajStep, ...] = ()
    skill_ids: tuple[str, ...] = ()
    """Skills injected into the episode's prompts."""
    truncated: bool = False
    """The step limit ended the episode."""
    game_id: str = ""
    hint: str = ""
    """The env's task-type hint (e.g. the Search data source), '' when none."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Other keys of the source record (kept, not interpreted)."""

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(s.action for s in self.steps)

    def fingerprint(self) -> str:
        """Content hash (id, task, outcome, steps): the cache key of per-trajectory work."""
        payload = json.dumps(
            [self.episode_id, self.game_id, self.env_name, self.task, self.task_type, self.won, self.reward,
             [asdict(s) for s in self.steps]],
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (``Trajectory.from_dict`` reads it back)."""
        out = asdict(self)
        out["steps"] = [
            {"action": s.action, "is_action_valid": s.valid, "observation": s.observation, "thought": s.thought}
            for s in self.steps
        ]
        out["extra"] = dict(self.extra)
        return out

    def transcript(self, max_chars: int = 3000, obs_chars: int = 160) -> str:
        """Compact text for prompts: task, numbered actions with short observations, outcome."""
        lines = [f"Task: {self.task}"]
        for i, s in enumerate(self.steps):
            flag = " [invalid]" if not s.valid else ""
            obs = " ".join(s.observation.split())[:obs_chars]
            lines.append(f"{i + 1}. > {s.action or '(no action)'}{flag}" + (f"\n   {obs}" if obs else ""))
        end = "truncated (step limit)" if self.truncated and not self.won else ("success" if self.won else "failure")
        lines.append(f"Outcome: {end} (reward {self.reward:g})")
        text = "\n".join(lines)
        return text if len(text) <= max_chars else text[: max_chars - 3] + "..."

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_any(cls, obj: Any, *, env_name: str = "", task_type: str | None = None, won: bool | None = None) -> Trajectory:
        """Build from an Episode, a Trajectory, or a dict in one of the shapes above.

        ``env_name``/``task_type``/``won`` fill in what the record lacks (a failure summary has
        no ``won``: pass ``won=False``).

        Raises:
            TrajectoryError: the record has no task.
        """
        if isinstance(obj, Trajectory):
            return obj
        if isinstance(obj, Mapping):
            return cls.from_dict(obj, env_name=env_name, task_type=task_type, won=won)
        if hasattr(obj, "steps") and hasattr(obj, "task"):
            return cls.from_episode(obj, task_type=task_type)
        raise TrajectoryError(f"cannot read an episode from {type(obj).__name__}")

    @classmethod
    def from_episode(cls, ep: Any, *, task_type: str | None = None) -> Trajectory:
        """From an ``Episode`` (read by attribute)."""
        steps = tuple(
            TrajStep(
                action=str(s.action or ""),
                valid=bool(s.is_action_valid),
                observation=str(s.observation or ""),
                thought=_thought(getattr(getattr(s, "generation", None), "text", "") or ""),
            )
            for s in ep.steps
        )
        return cls._make(
            episode_id=getattr(ep, "episode_id", None),
            env_name=str(ep.env_name),
            task=str(ep.task),
            task_type=task_type if task_type is not None else str(ep.task_type or ""),
            won=bool(ep.won),
            reward=float(ep.reward or 0.0),
            steps=steps,
            skill_ids=tuple(ep.skill_ids or ()),
            truncated=bool(getattr(ep, "truncated", False)),
            game_id=str(getattr(ep, "game_id", "") or ""),
            seed=getattr(ep, "seed", None),
            hint="",
            extra={"metadata": dict(ep.metadata)} if getattr(ep, "metadata", None) else {},
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, env_name: str = "", task_type: str | None = None, won: bool | None = None) -> Trajectory:
        """From ``Episode.to_dict()``, ``summary()``, ``to_json()`` or a failure summary."""
        task = d.get("task")
        if not isinstance(task, str) or not task.strip():
            raise TrajectoryError("episode record has no 'task' text")
        steps: tuple[TrajStep, ...]
        if isinstance(d.get("steps"), list):
            steps = tuple(_step_from_dict(s) for s in d["steps"])
        elif isinstance(d.get("transcript"), str):
            steps = parse_transcript(d["transcript"])
            if isinstance(d.get("actions"), list) and len(d["actions"]) == len(steps):
                steps = tuple(TrajStep(str(a), s.valid, s.observation, s.thought) for a, s in zip(d["actions"], steps))
        elif isinstance(d.get("actions"), list):
            steps = tuple(TrajStep(action=str(a)) for a in d["actions"])
        else:
            steps = ()
        is_won = d.get("won")
        if is_won is None:
            is_won = won if won is not None else _won_from_transcript(d.get("transcript"))
        known = {"episode_id", "env_name", "game_id", "task", "task_type", "seed", "steps", "won", "reward",
                 "skill_ids", "truncated", "transcript", "actions", "hint", "data_source", "turns", "bank_version",
                 "error", "extra"}
        return cls._make(
            episode_id=d.get("episode_id"),
            env_name=str(d.get("env_name") or env_name),
            task=task,
            task_type=task_type if task_type is not None else str(d.get("task_type") or ""),
            won=bool(is_won),
            reward=float(d.get("reward") or 0.0),
            steps=steps,
            skill_ids=tuple(str(x) for x in (d.get("skill_ids") or ())),
            truncated=bool(d.get("truncated", False)),
            game_id=str(d.get("game_id") or ""),
            seed=d.get("seed"),
            hint=str(d.get("hint") or d.get("data_source") or ""),
            extra={**(d.get("extra") if isinstance(d.get("extra"), Mapping) else {}),
                   **{k: v for k, v in d.items() if k not in known}},
        )

    @classmethod
    def _make(cls, *, episode_id: Any, seed: Any, **kw: Any) -> Trajectory:
        if not episode_id:
            digest = hashlib.sha1("\x1f".join(s.action for s in kw["steps"]).encode("utf-8")).hexdigest()[:8]
            game = kw["game_id"] or hashlib.sha1(kw["task"].encode("utf-8")).hexdigest()[:8]
            episode_id = f"{kw['env_name'] or 'env'}:{game}:{seed if seed is not None else '-'}:{digest}"
        return cls(episode_id=str(episode_id), **kw)


def _thought(text: str) -> str:
    m = _THINK.search(text)
    return " ".join(m.group(1).split())[:400] if m else ""


def _step_from_dict(s: Any) -> TrajStep:
    if not isinstance(s, Mapping):
        return TrajStep(action=str(s))
    gen = s.get("generation")
    thought = s.get("thought") or (_thought(gen.get("text", "")) if isinstance(gen, Mapping) else "")
    return TrajStep(
        action=str(s.get("action") or ""),
        valid=bool(s.get("is_action_valid", s.get("valid", True))),
        observation=str(s.get("observation") or ""),
        thought=str(thought or ""),
    )


_OUTCOME = re.compile(r"^Outcome: (success|failure)\b", re.MULTILINE)


def _won_from_transcript(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    m = _OUTCOME.search(text)
    return bool(m and m.group(1) == "success")


def parse_transcript(text: str) -> tuple[TrajStep, ...]:
    """Steps back from ``Episode.transcript()`` text.

    The format is ``Task: …`` then, per turn, a line ``> ACTION`` (``" [invalid]"`` appended when
    the env rejected it) followed by the observation lines, and a final ``Outcome: …`` line.
    An observation line that itself starts with ``> `` would be read as a new turn.

    >>> [(s.action, s.valid) for s in parse_transcript("Task: t\\n> go to desk 1\\nYou see a pen.\\n> fly [invalid]\\nNothing happens.\\nOutcome: failure (reward 0)")]
    [('go to desk 1', True), ('fly', False)]
    """
    steps: list[TrajStep] = []
    action: str | None = None
    valid = True
    obs: list[str] = []

    def flush() -> None:
        if action is not None:
            steps.append(TrajStep(action=action, valid=valid, observation="\n".join(obs).strip()))

    for line in (text or "").splitlines():
        if line.startswith("> "):
            flush()
            body = line[2:]
            valid = not body.endswith(" [invalid]")
            action = body[: -len(" [invalid]")] if not valid else body
            obs = []
        elif line.startswith("Outcome: ") or (line.startswith("Task: ") and action is None):
            continue
        elif action is not None:
            obs.append(line)
    flush()
    return tuple(steps)


def read_episodes(path: str | os.PathLike[str], *, env_name: str = "") -> list[Trajectory]:
    """Episodes from a JSONL file (one record a line, any shape above) or a JSON array file.

    Raises:
        TrajectoryError: missing file, bad JSON (file and line named), or a record without a task.
    """
    return list(iter_episodes(path, env_name=env_name))


def read_text_file(p: Path, error: type[Exception], kind: str) -> str:
    """The UTF-8 text of ``p``; ``error`` with one line naming the file when it is missing, a
    directory (``kind`` says what was expected) or not UTF-8."""
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{p}: file not found") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory, not {kind}") from None
    except UnicodeDecodeError:
        raise error(f"{p}: not UTF-8 text") from None


def iter_episodes(path: str | os.PathLike[str], *, env_name: str = "") -> Iterator[Trajectory]:
    """Like :func:`read_episodes`, lazily."""
    p = Path(path)
    text = read_text_file(p, TrajectoryError, "an episode file")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrajectoryError(f"{p}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        for i, rec in enumerate(records):
            yield _read_record(rec, f"{p}: item {i}", env_name)
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrajectoryError(f"{p}: line {lineno}: invalid JSON at column {exc.colno}: {exc.msg}") from None
        yield _read_record(rec, f"{p}: line {lineno}", env_name)


def _read_record(rec: Any, where: str, env_name: str) -> Trajectory:
    if not isinstance(rec, Mapping):
        raise TrajectoryError(f"{where}: expected a JSON object (an episode), got {type(rec).__name__}")
    try:
        return Trajectory.from_dict(rec, env_name=env_name)
    except TrajectoryError as exc:
        raise TrajectoryError(f"{where}: {exc}") from None


def write_episodes(path: str | os.PathLike[str], trajectories: Iterable[Trajectory]) -> Path:
    """Write trajectories as JSONL (``read_episodes`` reads them back)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as fh:
        for t in trajectories:
            fh.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")
    return p


def as_trajectories(items: Sequence[Any], *, env_name: str = "", task_type: str | None = None, won: bool | None = None) -> list[Trajectory]:
    """:meth:`Trajectory.from_any` over a sequence."""
    return [Trajectory.from_any(x, env_name=env_name, task_type=task_type, won=won) for x in items]
