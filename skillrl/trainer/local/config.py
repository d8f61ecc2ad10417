"""Typed configuration of the local (single-process) training backend.

One dataclass with a docstring per field (CleanRL style). Its ``env`` section is the same
:class:`~skillrl.trainer.config.EnvConfig` the verl path reads (original flag names:
``env.max_steps``, ``env.rollout.n``, ``env.skills_only_memory.top_k``, ...); the other fields
are the local trainer's own. It is also the Hydra schema of the local configs
(``configs/local_quickstart.yaml``, ``configs/main_job.yaml``), so ``python -m skillrl.main
--config-name local_quickstart lr=1e-3`` and ``skillrl train --local lr=1e-3`` set the same
field. The trainer turns it into components with builder functions; the components only ever
see plain arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from skillrl.trainer.config import EnvConfig
from skillrl.utils.config import check_choice, check_int, check_number, require

LOGGERS = ("console", "jsonl", "tensorboard")
#: verl's loss aggregation modes (``verl.trainer.ppo.core_algos.agg_loss``)
LOSS_AGG_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def toy_env() -> EnvConfig:
    """The built-in toy task (no data needed), as in ``configs/env/toy.yaml``."""
    return EnvConfig(env_name="toy", max_steps=2, train_split="train", val_split="test")


@dataclass(frozen=True)
class LocalTrainConfig:
    """Everything the local GRPO trainer needs. Defaults learn the built-in ``toy`` task on CPU.

    Raises:
        skillrl.utils.config.ConfigError: a value outside what is allowed (the message names
            the field, the value and what is allowed).
    """

    # --- environment, episodes, skills (shared with the verl path) ---------------------
    env: EnvConfig = field(default_factory=toy_env)
    """The env section: env kind and factory settings, ``max_steps``/``history_length``,
    ``rollout.n`` (the GRPO group), ``seed``, and the skill bank (``use_skills_only_memory``,
    ``skills_only_memory.*``)."""
    num_env_workers: int = 0
    """0 runs envs in this process; >0 runs them in that many worker processes through
    ``agent_system.environments.manager.EnvironmentManager``."""

    # --- policy ------------------------------------------------------------------------
    model_path: str | None = None
    """HF checkpoint (local path or hub id, loaded offline-friendly); None builds the tiny
    random-init Qwen2 policy with a word-level tokenizer made from the env's text."""
    max_new_tokens: int = 16
    """Generation budget per turn (tokens)."""
    temperature: float = 1.0
    """Sampling temperature for training rollouts."""
    warmup_steps: int | None = None
    """Supervised format warm-up steps on uniformly random admissible actions before RL
    (teaches only the ``<action>…</action>`` format). None: 300 for the tiny policy, 0 for a
    checkpoint."""
    warmup_episodes: int = 64
    """Random-action episodes sampled for the warm-up data and the tiny tokenizer's vocabulary."""
    max_prompt_tokens: int | None = None
    """Prompts longer than this keep their last tokens (None: no limit)."""

    # --- GRPO / PPO --------------------------------------------------------------------
    train_batch_size: int = 16
    """Distinct tasks per training step (each played ``env.rollout.n`` times)."""
    total_training_steps: int = 100
    """Training steps (one rollout batch + PPO update each)."""
    lr: float | None = None
    """AdamW learning rate (None: 3e-4 for the tiny policy, 1e-6 for a checkpoint)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    ppo_epochs: int = 2
    """Passes over each rollout batch."""
    ppo_mini_batches: int = 2
    """Mini-batches per PPO epoch (one optimizer step each)."""
    clip_ratio: float = 0.2
    """PPO clip range."""
    kl_coef: float = 0.0
    """Weight of the low-variance KL penalty against a frozen reference copy (0: no
    reference model is kept)."""
    grad_clip: float = 1.0
    """Max global gradient norm."""
    micro_batch_size: int = 64
    """Rows per forward/backward pass (gradient accumulation inside a mini-batch)."""
    loss_agg_mode: str = "token-mean"
    """verl loss aggregation (``token-mean``, ``seq-mean-token-sum``, ...)."""

    # --- validation / checkpoints / logging -------------------------------------------
    val_before_train: bool = False
    """Validate once before the first step."""
    test_freq: int = 0
    """Validate every N steps (0: only at the end)."""
    val_batch_size: int = 32
    """Validation episodes (tasks) per round."""
    val_temperature: float = 0.0
    """Validation sampling temperature (0: greedy)."""
    save_freq: int = 0
    """Checkpoint every N steps (0: only at the end)."""
    output_dir: str = "outputs/local"
    """Where checkpoints, metrics.jsonl and TensorBoard logs go."""
    loggers: tuple[str, ...] = ("console", "jsonl")
    """Metric sinks, any of ``console``, ``jsonl``, ``tensorboard``."""
    progress: bool = True
    """Show a tqdm progress bar."""

    # --- runtime -----------------------------------------------------------------------
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    cpu_threads: int | None = None
    """``torch.set_num_threads`` for CPU runs (None: torch's default). On a busy machine 1 is
    often several times faster than oversubscribed threads."""

    def __post_init__(self) -> None:
        require(isinstance(self.env, EnvConfig), "env", self.env, "an EnvConfig")
        loggers = self.loggers
        require(isinstance(loggers, (list, tuple)), "loggers", loggers, "a list of " + ", ".join(LOGGERS))
        object.__setattr__(self, "loggers", tuple(loggers))
        for name in self.loggers:
            require(name in LOGGERS, "loggers", list(self.loggers), "a list of " + ", ".join(LOGGERS))
        for name in ("train_batch_size", "ppo_epochs", "ppo_mini_batches", "max_new_tokens", "val_batch_size",
                     "micro_batch_size", "warmup_episodes"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("total_training_steps", "test_freq", "save_freq", "num_env_workers"):
            check_int(name, getattr(self, name), minimum=0)
        check_int("warmup_steps", self.warmup_steps, minimum=0, optional=True)
        check_int("max_prompt_tokens", self.max_prompt_tokens, minimum=1, optional=True)
        check_int("cpu_threads", self.cpu_threads, minimum=1, optional=True)
        check_number("lr", self.lr, minimum=0.0, exclusive_minimum=True, optional=True)
        for name in ("temperature", "val_temperature", "weight_decay", "kl_coef"):
            check_number(name, getattr(self, name), minimum=0.0)
        for name in ("clip_ratio", "grad_clip"):
            check_number(name, getattr(self, name), minimum=0.0, exclusive_minimum=True)
        check_choice("loss_agg_mode", self.loss_agg_mode, LOSS_AGG_MODES)
        require(isinstance(self.device, str) and _DEVICE.fullmatch(self.device) is not None, "device", self.device,
                "auto, cpu, cuda, cuda:N or mps")
        require(isinstance(self.output_dir, str) and bool(self.output_dir), "output_dir", self.output_dir,
                "a folder path")
        require(self.model_path is None or (isinstance(self.model_path, str) and bool(self.model_path)),
                "model_path", self.model_path, "null or an HF checkpoint folder / hub id")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
