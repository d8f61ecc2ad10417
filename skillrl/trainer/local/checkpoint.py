"""Checkpoints of the local trainer: what a run can be resumed (or served, or reported) from.

A checkpoint is a folder ``OUTPUT_DIR/checkpoints/global_step_N`` holding

- the model and tokenizer (``save_pretrained``: loadable by ``transformers`` alone);
- ``skill_bank.json`` with its ``.usage.json`` and ``.history.jsonl`` sidecars: the bank at its
  version, how it got there, and how often each item was injected (when skills are on);
- ``trainer_state.json``: the step, the metrics, the config, the bank version and the
  cold-start state (JSON, for people and ``skillrl report``);
- ``training_state.pt``: the optimizer state and every RNG state (for ``resume_from``).

Writes go to ``<name>.tmp`` first and are renamed into place, so a killed save never leaves a
half checkpoint under the final name.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

BANK_FILE = "skill_bank.json"
TRAINER_STATE_FILE = "trainer_state.json"
TRAINING_STATE_FILE = "training_state.pt"
CHECKPOINTS_DIR = "checkpoints"
_STEP_DIR = re.compile(r"^global_step_(\d+)$")


def step_dir(output_dir: str | Path, step: int) -> Path:
    """``OUTPUT_DIR/checkpoints/global_step_<step>``."""
    return Path(output_dir) / CHECKPOINTS_DIR / f"global_step_{step}"


def save_checkpoint(directory: Path, *, model: Any, tokenizer: Any, bank: Any, state: Mapping[str, Any],
                    training_state: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint (module docstring) into ``directory``; returns it.

    ``state`` goes to ``trainer_state.json`` (``bank_version``/``bank_file`` are added when a
    bank is given); ``training_state`` (optimizer and RNG states) to ``training_state.pt``.
    """
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    state = dict(state)
    if bank is not None:
        bank_file = tmp / BANK_FILE
        bank_file.write_text(json.dumps(bank.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            bank.save_usage(bank_file)
        except Exception as exc:  # usage counters are best-effort
            log.warning("could not write skill usage next to %s: %s", bank_file, exc)
        _copy_bank_history(bank, bank_file)
        state["bank_version"] = bank.version
        state["bank_file"] = BANK_FILE
    if training_state is not None:
        torch.save(dict(training_state), tmp / TRAINING_STATE_FILE)
    (tmp / TRAINER_STATE_FILE).write_text(json.dumps(state, indent=2, default=str) + "\n", encoding="utf-8")
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)
    return directory


def _copy_bank_history(bank: Any, bank_file: Path) -> None:
    """Write the bank's history up to its current version next to ``bank_file``: the records of
    its history file (when the bank has one) followed by the changes not saved yet, so that a
    checkpoint tells how its bank came to be (``skillrl report`` reads it)."""
    from skillrl.skills.bank import history_path

    lines: list[str] = []
    if getattr(bank, "path", None) is not None and history_path(bank.path).is_file():
        lines = [ln for ln in history_path(bank.path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    lines += [json.dumps(rec.to_dict(), ensure_ascii=False) for rec in bank.pending_history]
    if lines:
        history_path(bank_file).write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder read back."""

    path: Path
    step: int
    """``global_step`` of the checkpoint."""
    state: dict[str, Any]
    """``trainer_state.json``."""

    @property
    def bank_file(self) -> Path | None:
        """The bank copy (None when the run had no skills)."""
        name = self.state.get("bank_file")
        return self.path / name if name else None

    def training_state(self) -> dict[str, Any] | None:
        """``training_state.pt`` (optimizer and RNG states), or None when the checkpoint has none."""
        file = self.path / TRAINING_STATE_FILE
        if not file.is_file():
            return None
        return torch.load(file, map_location="cpu", weights_only=False)


class CheckpointError(ValueError):
    """A folder that cannot be resumed from (the message names it and says why)."""


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read the checkpoint at ``path``.

    Raises:
        CheckpointError: no such folder, or no ``trainer_state.json`` / model in it.
    """
    p = Path(path).expanduser()
    if not p.is_dir():
        raise CheckpointError(f"checkpoint {str(p)!r} is not a folder")
    state_file = p / TRAINER_STATE_FILE
    if not state_file.is_file() or not (p / "config.json").is_file():
        raise CheckpointError(f"{str(p)!r} is not a local-trainer checkpoint (no {TRAINER_STATE_FILE} or config.json)")
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {state_file}: {exc}") from None
    return Checkpoint(p, int(state.get("global_step", 0)), state)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The ``global_step_N`` folder with the largest N under ``OUTPUT_DIR/checkpoints`` (None: none)."""
    root = Path(output_dir).expanduser() / CHECKPOINTS_DIR
    if not root.is_dir():
        return None
    found = [(int(m.group(1)), d) for d in root.iterdir() if d.is_dir() and (m := _STEP_DIR.match(d.name))
             and (d / TRAINER_STATE_FILE).is_file()]
    return max(found)[1] if found else None


def restore_bank_files(checkpoint: Checkpoint, target: Path) -> Path | None:
    """Copy the checkpoint's bank and its sidecars (history, usage) to ``target`` so a resumed run
    continues the bank at its version without writing into the checkpoint. Returns ``target``
    (None when the checkpoint has no bank)."""
    from skillrl.skills.bank import history_path, usage_path

    src = checkpoint.bank_file
    if src is None or not src.is_file():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    for a, b in ((src, target), (history_path(src), history_path(target)), (usage_path(src), usage_path(target))):
        if a.is_file():
            shutil.copyfile(a, b)
        elif b.exists():
            b.unlink()
    return target
