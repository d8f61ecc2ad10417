"""Device choice and random state: seeding, and capturing/restoring every RNG a run draws from."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def pick_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU raises ``ValueError``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available (use device=auto or cpu)")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class RunRNG:
    """The generators a training run owns besides the global ones.

    ``tasks`` draws the training games of each step; ``ppo`` shuffles PPO mini-batches.
    """

    tasks: random.Random
    ppo: torch.Generator

    @classmethod
    def seeded(cls, seed: int) -> "RunRNG":
        return cls(random.Random(seed), torch.Generator().manual_seed(seed))


def capture_rng(run: RunRNG) -> dict[str, Any]:
    """Every RNG state a run depends on (global Python/NumPy/torch/CUDA and the run's own), as a
    ``torch.save``-able dict."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "tasks": run.tasks.getstate(),
        "ppo": run.ppo.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(run: RunRNG, state: dict[str, Any]) -> None:
    """Put back what :func:`capture_rng` captured (CUDA states only where CUDA is present)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    run.tasks.setstate(state["tasks"])
    run.ppo.set_state(state["ppo"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
