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
from skillrl.trainer.local.tracking import LOGGERS
from skillrl.utils.config import check_choice, check_int, check_number, require

#: the cold start that needs no teacher (random admissible actions: the output format only)
FORMAT_COLD_START = "format"
#: no cold start at all
NO_COLD_START = "none"
RATIONALE_STYLES = ("short", "full")
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
    model_hidden_size: int = 128
    """Width of the tiny policy (``model_path=null``)."""
    model_num_layers: int = 2
    """Depth of the tiny policy."""
    model_num_heads: int = 4
    """Attention heads of the tiny policy (must divide ``model_hidden_size``)."""
    max_prompt_tokens: int | None = None
    """Prompts longer than this keep their last tokens (None: no limit)."""
    constrained_actions: bool = False
    """Constrain the text inside ``<action>…</action>`` to the turn's admissible actions (a token
    trie in generation; every action is valid, learning is about which one). An option for small
    local policies (the main job turns it on); off by default, and best left off for real
    checkpoints."""

    # --- cold start (SFT before GRPO) --------------------------------------------------
    cold_start: str = FORMAT_COLD_START
    """What the policy learns before RL: ``format`` (uniformly random admissible actions: the
    output format only), a teacher that plays the env now (``expert``, ``search``, ``oracle``,
    ``openai:MODEL``; see ``skillrl.sft.teachers``), a folder written by ``skillrl sft export``,
    or ``none``."""
    warmup_steps: int | None = None
    """Cold-start SFT steps. None: ``format`` 300 for the tiny policy and 0 for a checkpoint;
    a teacher or folder 400."""
    warmup_episodes: int = 64
    """Games the cold start plays (random actions or the teacher; ``train_split``); they also give
    the tiny tokenizer its vocabulary."""
    warmup_val_games: int = 8
    """Teacher games held out of the cold-start data to measure exact-action accuracy."""
    warmup_batch_size: int = 32
    """Examples per SFT step."""
    warmup_lr: float | None = None
    """SFT learning rate (None: 1e-3 for the tiny policy, 1e-5 for a checkpoint)."""
    warmup_eval_every: int = 100
    """Measure held-out accuracy every N SFT steps (0: only at the end)."""
    warmup_rationale: str = "short"
    """Think text of scripted teachers: ``short`` (the sub-goal) or ``full`` (task, sub-goal and
    reason, the skill that applies)."""

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
    filter_groups: bool = False
    """Leave out of the update the episodes whose advantage is 0 (groups whose rewards are all
    equal), as DAPO's dynamic sampling does, without re-sampling: the update costs only the
    informative groups and its loss averages over their tokens alone (False: verl's GRPO, every
    turn in the batch)."""

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
    resume_from: str | None = None
    """Resume from a checkpoint folder (``OUTPUT_DIR/checkpoints/global_step_N``), or ``auto``
    (the latest checkpoint under ``output_dir``; a fresh start when there is none): model,
    optimizer, RNG states, step, the bank at its version with its history and usage, and the
    cold-start state."""
    loggers: tuple[str, ...] = ("console", "jsonl")
    """Metric sinks: ``jsonl`` (``OUTPUT_DIR/metrics.jsonl``) and verl's ``Tracking`` backends
    ``console``, ``tensorboard``, ``wandb``, ``mlflow``, ``swanlab``, ``clearml``, ``trackio``,
    ``file``."""
    project_name: str = "skillrl"
    """verl's ``project_name`` (W&B project, MLflow experiment)."""
    experiment_name: str | None = None
    """verl's ``experiment_name`` (W&B/MLflow run name; None: ``local_<env>``)."""
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
                     "micro_batch_size", "warmup_episodes", "warmup_batch_size", "model_hidden_size",
                     "model_num_layers", "model_num_heads"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("total_training_steps", "test_freq", "save_freq", "num_env_workers", "warmup_val_games",
                     "warmup_eval_every"):
            check_int(name, getattr(self, name), minimum=0)
        check_int("warmup_steps", self.warmup_steps, minimum=0, optional=True)
        check_int("max_prompt_tokens", self.max_prompt_tokens, minimum=1, optional=True)
        check_int("cpu_threads", self.cpu_threads, minimum=1, optional=True)
        check_number("lr", self.lr, minimum=0.0, exclusive_minimum=True, optional=True)
        check_number("warmup_lr", self.warmup_lr, minimum=0.0, exclusive_minimum=True, optional=True)
        require(self.model_hidden_size % self.model_num_heads == 0, "model_num_heads", self.model_num_heads,
                f"a divisor of model_hidden_size ({self.model_hidden_size})")
        require(isinstance(self.cold_start, str) and bool(self.cold_start.strip()), "cold_start", self.cold_start,
                "format, none, a teacher (expert, search, oracle, openai:MODEL) or an export folder")
        check_choice("warmup_rationale", self.warmup_rationale, RATIONALE_STYLES)
        require(isinstance(self.constrained_actions, bool), "constrained_actions", self.constrained_actions,
                "true or false")
        require(self.resume_from is None or (isinstance(self.resume_from, str) and bool(self.resume_from)),
                "resume_from", self.resume_from, "null, auto or a checkpoint folder")
        require(isinstance(self.project_name, str) and bool(self.project_name), "project_name", self.project_name,
                "a non-empty name")
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
