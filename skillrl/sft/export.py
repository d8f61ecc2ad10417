"""Write SFT examples for other trainers, read them back, and describe them.

Two layouts (one folder each, written atomically: ``DIR.tmp`` renamed into place):

- ``llamafactory``: LLaMA-Factory's *sharegpt* format — ``<name>.json`` (a list of
  ``{"conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": target}]}``)
  and ``<name>_val.json``, with their ``dataset_info.json`` entries (``formatting: sharegpt``,
  ``columns.messages: conversations``, the role tags). Point LLaMA-Factory's ``dataset_dir`` at
  the folder and set ``dataset: <name>``.
- ``verl``: what verl 0.9.1's SFT trainer (``python -m verl.trainer.sft_trainer``, the
  ``sft_trainer_engine`` config) reads through ``verl.utils.dataset.multiturn_sft_dataset.
  MultiTurnSFTDataset``: ``train.parquet`` / ``val.parquet`` with a ``messages`` column (a list of
  ``{"role", "content"}``: one user turn, one assistant turn) — ``data.train_files``,
  ``data.val_files``, ``data.messages_key=messages``.

Both folders also hold ``examples.jsonl`` (every :class:`~skillrl.sft.examples.SFTExample` with
its facts: action, admissible actions, task type, game, bank version — what ``skillrl train
--local --cold-start DIR`` reads) and ``export.json`` (what was exported, from which teacher,
bank and version, and the statistics printed at export).

Validation examples are whole games (never a turn of a training game).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skillrl.sft.examples import SFTExample

FORMATS = ("llamafactory", "verl")
EXAMPLES_FILE = "examples.jsonl"
MANIFEST_FILE = "export.json"
DATASET_INFO_FILE = "dataset_info.json"


class ExportError(ValueError):
    """An export that cannot be written or read (one line, names the path)."""


@dataclass(frozen=True)
class ExportStats:
    """What an export holds (printed at the end of ``skillrl sft export``)."""

    examples: int
    train_examples: int
    val_examples: int
    games: int
    turns_per_game: float
    prompt_tokens_mean: float
    prompt_tokens_max: int
    target_tokens_mean: float
    target_tokens_max: int
    tokenizer: str
    """What counted the tokens."""
    by_task_type: dict[str, list[int]]
    """``{task_type: [examples, games]}``."""
    projection_valid: float
    """Share of targets the env's projection accepts (with the turn's admissible actions)."""
    dropped_episodes: int = 0
    dropped_turns: int = 0

    def lines(self) -> list[str]:
        out = [f"examples: {self.examples} ({self.train_examples} train, {self.val_examples} val) "
               f"from {self.games} games, {self.turns_per_game:.1f} turns per game",
               f"tokens per example ({self.tokenizer}): prompt {self.prompt_tokens_mean:.0f} mean / "
               f"{self.prompt_tokens_max} max, target {self.target_tokens_mean:.1f} mean / {self.target_tokens_max} max",
               "task types (examples / games): " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in self.by_task_type.items()),
               f"targets the env's projection accepts: {100 * self.projection_valid:.1f} %"]
        if self.dropped_episodes or self.dropped_turns:
            out.append(f"left out: {self.dropped_episodes} episodes (lost or failed), "
                       f"{self.dropped_turns} turns (output the env rejected)")
        return out


def split_by_game(examples: Sequence[SFTExample], val_games: int) -> tuple[list[SFTExample], list[SFTExample]]:
    """The last ``val_games`` games (in order of appearance) become validation examples."""
    order = list(dict.fromkeys(ex.game_id + f"#{ex.seed}" for ex in examples))
    held = set(order[len(order) - val_games:]) if val_games > 0 else set()
    train = [ex for ex in examples if ex.game_id + f"#{ex.seed}" not in held]
    val = [ex for ex in examples if ex.game_id + f"#{ex.seed}" in held]
    return train, val


def describe(examples: Sequence[SFTExample], *, val_examples: int, count_tokens: Callable[[str], int],
             tokenizer_name: str, project: Callable[[str, Sequence[str] | None], Any],
             dropped_episodes: int = 0, dropped_turns: int = 0) -> ExportStats:
    """Statistics of ``examples``; ``project(target, admissible)`` is the env's projection."""
    games = {ex.game_id + f"#{ex.seed}" for ex in examples}
    prompt_toks = [count_tokens(ex.prompt) for ex in examples]
    target_toks = [count_tokens(ex.target) for ex in examples]
    by_type: dict[str, list[int]] = {}
    type_games: dict[str, set[str]] = {}
    for ex in examples:
        by_type.setdefault(ex.task_type or "unknown", [0, 0])[0] += 1
        type_games.setdefault(ex.task_type or "unknown", set()).add(ex.game_id + f"#{ex.seed}")
    for k, g in type_games.items():
        by_type[k][1] = len(g)
    valid = sum(bool(project(ex.target, ex.admissible).valid) for ex in examples)
    n = len(examples)
    return ExportStats(
        examples=n, train_examples=n - val_examples, val_examples=val_examples, games=len(games),
        turns_per_game=n / len(games) if games else 0.0,
        prompt_tokens_mean=sum(prompt_toks) / n if n else 0.0, prompt_tokens_max=max(prompt_toks, default=0),
        target_tokens_mean=sum(target_toks) / n if n else 0.0, target_tokens_max=max(target_toks, default=0),
        tokenizer=tokenizer_name, by_task_type=dict(sorted(by_type.items())),
        projection_valid=valid / n if n else 0.0, dropped_episodes=dropped_episodes, dropped_turns=dropped_turns)


def _sharegpt(ex: SFTExample) -> dict[str, Any]:
    return {"conversations": [{"from": "human", "value": ex.prompt}, {"from": "gpt", "value": ex.target}]}


def _messages(ex: SFTExample) -> list[dict[str, str]]:
    return [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": ex.target}]


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    """LLaMA-Factory's ``dataset_info.json`` entry of a sharegpt file."""
    return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "conversations"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"}}


def write_export(output: str | Path, fmt: str, train: Sequence[SFTExample], val: Sequence[SFTExample], *,
                 name: str, manifest: dict[str, Any]) -> Path:
    """Write ``train``/``val`` in layout ``fmt`` into the folder ``output`` (replaced if it exists).

    Raises:
        ExportError: unknown format, or ``output`` is a file.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise ExportError(f"output {str(out)!r} is a file, not a folder")
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    files: dict[str, str] = {}
    if fmt == "llamafactory":
        info = {}
        for part, rows, fname in (("train", train, f"{name}.json"), ("val", val, f"{name}_val.json")):
            if not rows and part == "val":
                continue
            (tmp / fname).write_text(json.dumps([_sharegpt(ex) for ex in rows], ensure_ascii=False, indent=1) + "\n",
                                     encoding="utf-8")
            info[name if part == "train" else f"{name}_val"] = dataset_info_entry(fname)
            files[part] = fname
        (tmp / DATASET_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    else:
        import pandas as pd

        for part, rows in (("train", train), ("val", val)):
            if not rows and part == "val":
                continue
            frame = pd.DataFrame({"messages": [_messages(ex) for ex in rows],
                                  "task_type": [ex.task_type for ex in rows],
                                  "game_id": [ex.game_id for ex in rows]})
            frame.to_parquet(tmp / f"{part}.parquet", index=False)
            files[part] = f"{part}.parquet"
    with open(tmp / EXAMPLES_FILE, "w", encoding="utf-8") as fh:
        for split_name, rows in (("train", train), ("val", val)):
            for ex in rows:
                fh.write(json.dumps({**ex.to_dict(), "split": split_name}, ensure_ascii=False) + "\n")
    (tmp / MANIFEST_FILE).write_text(json.dumps({**manifest, "format": fmt, "name": name, "files": files},
                                                indent=2, default=str) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


@dataclass
class ExportedData:
    """An export folder read back."""

    train: list[SFTExample] = field(default_factory=list)
    val: list[SFTExample] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def read_export(folder: str | Path) -> ExportedData:
    """Read the examples of an export folder (either layout).

    Raises:
        ExportError: not a folder written by :func:`write_export` (no ``examples.jsonl``), or a
            bad line (the line number is named).
    """
    path = Path(folder).expanduser()
    file = path / EXAMPLES_FILE
    if not file.is_file():
        raise ExportError(f"{str(path)!r} is not an SFT export folder (no {EXAMPLES_FILE}; "
                          f"write one with `skillrl sft export`)")
    data = ExportedData()
    manifest = path / MANIFEST_FILE
    if manifest.is_file():
        data.manifest = json.loads(manifest.read_text(encoding="utf-8"))
    for i, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ex = SFTExample.from_dict(row)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ExportError(f"{file}:{i}: not an SFT example ({type(exc).__name__}: {exc})") from None
        (data.val if row.get("split") == "val" else data.train).append(ex)
    return data


def stats_dict(stats: ExportStats) -> dict[str, Any]:
    return asdict(stats)


def task_type_counts(examples: Sequence[SFTExample]) -> Counter[str]:
    return Counter(ex.task_type for ex in examples)
