"""The arithmetic of a verl launch, checked before any GPU is touched.

One training step of the verl path plays ``data.train_batch_size`` games ``rollout.n`` times,
and every env step of every episode becomes one training row. The functions here turn a
composed config into what the run will do, with verl's own rules:

- :func:`step_plan` — steps per epoch and in total (verl's ``_init_dataloader``: rows //
  ``train_batch_size`` with ``drop_last``, times ``total_epochs``, unless
  ``total_training_steps`` is set);
- :func:`update_plan` — optimizer updates per step. verl's v1 trainer counts PPO mini-batches
  in rows (``ppo_mini_batch_size * rollout.n`` rows each), so with one row per env step the
  number of updates would follow episode length. SkillRL's trainer splits each step's rows
  into ``train_batch_size / ppo_mini_batch_size`` mini-batches instead (verl's meaning of the
  setting for single-turn data), so a step always makes ``ppo_epochs`` times that many updates;
- :func:`prompt_plan` — the prompt budget (``rollout.prompt_length``), which the agent loop
  keeps by showing fewer history turns, never by cutting the prompt's start;
- :func:`checkpoint_plan` — where and how often checkpoints (model + skill bank) are written.

``python -m skillrl.trainer.launch --config-name grpo_alfworld [overrides]`` prints the resolved
config as the run would get it (paths made absolute, as ``python -m skillrl.main`` does before
Ray starts), runs verl's ``validate_config`` on it and prints the plan as ``#`` comment lines
(the launch scripts' ``DRY_RUN``).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class LaunchPlanError(ValueError):
    """The config's sizes disagree (data vs steps, batch vs mini-batch); the message says how."""


# --- steps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepPlan:
    """How many training steps a run makes."""

    train_rows: int
    """Rows (games) in the training parquet file."""
    train_batch_size: int
    """Games per step (``data.train_batch_size``)."""
    steps_per_epoch: int
    """``train_rows // train_batch_size`` (verl drops the last partial batch)."""
    total_epochs: int
    """``trainer.total_epochs``."""
    total_steps: int
    """Steps the run makes."""


def step_plan(train_rows: int, train_batch_size: int, total_epochs: int,
              total_training_steps: int | None = None) -> StepPlan:
    """The step count verl's v1 trainer will use (``PPOTrainer._init_dataloader`` and the loop
    of ``fit``).

    Raises:
        LaunchPlanError: fewer rows than one batch, or ``total_training_steps`` larger than the
            data gives over ``total_epochs`` (verl would stop early, with its learning-rate
            schedule sized for steps that never come).

    >>> step_plan(2400, 16, 1).total_steps
    150
    >>> step_plan(1024, 16, 150).total_steps
    9600
    >>> step_plan(1024, 16, 150, total_training_steps=150).total_steps
    150
    """
    if train_batch_size < 1 or train_rows < train_batch_size:
        raise LaunchPlanError(
            f"the training data has {train_rows} rows, fewer than one batch of data.train_batch_size="
            f"{train_batch_size}: write more rows (prepare.train_size)")
    per_epoch = train_rows // train_batch_size
    available = per_epoch * int(total_epochs)
    if total_training_steps is None:
        total = available
    else:
        total = int(total_training_steps)
        if total > available:
            raise LaunchPlanError(
                f"trainer.total_training_steps={total} but {train_rows} rows / {train_batch_size} per step x "
                f"{total_epochs} epoch(s) give only {available} steps: raise trainer.total_epochs or write "
                f"{total * train_batch_size} rows (prepare.train_size)")
    return StepPlan(train_rows, train_batch_size, per_epoch, int(total_epochs), total)


# --- optimizer updates ---------------------------------------------------------------------


@dataclass(frozen=True)
class UpdatePlan:
    """How many optimizer updates one training step makes."""

    mini_batches: int
    """Mini-batches per PPO epoch: ``train_batch_size / ppo_mini_batch_size``."""
    ppo_epochs: int
    """Passes over the step's rows."""

    @property
    def updates_per_step(self) -> int:
        return self.mini_batches * self.ppo_epochs

    def row_multiple(self, dp_size: int) -> int:
        """Rows per step are padded to a multiple of this, so that every mini-batch has the same
        number of rows and splits evenly over the ``dp_size`` data-parallel ranks."""
        return self.mini_batches * int(dp_size)

    def rows_per_mini_batch(self, padded_rows: int) -> int:
        """Rows of each mini-batch for a step of ``padded_rows`` rows (a multiple of
        :meth:`row_multiple`)."""
        if padded_rows % self.mini_batches:
            raise ValueError(f"{padded_rows} rows do not split into {self.mini_batches} mini-batches")
        return padded_rows // self.mini_batches


def update_plan(train_batch_size: int, ppo_mini_batch_size: int, ppo_epochs: int = 1) -> UpdatePlan:
    """Mini-batches per step as verl means ``ppo_mini_batch_size`` (games per mini-batch).

    Raises:
        LaunchPlanError: ``ppo_mini_batch_size`` does not divide ``train_batch_size``.

    >>> update_plan(16, 2).updates_per_step
    8
    """
    if ppo_mini_batch_size < 1 or train_batch_size % ppo_mini_batch_size:
        raise LaunchPlanError(
            f"actor_rollout_ref.actor.ppo_mini_batch_size={ppo_mini_batch_size} must divide "
            f"data.train_batch_size={train_batch_size} (games per mini-batch)")
    return UpdatePlan(train_batch_size // ppo_mini_batch_size, int(ppo_epochs))


def verl_row_updates(rows: int, ppo_mini_batch_size: int, rollout_n: int, ppo_epochs: int = 1) -> int:
    """What verl's own v1 trainer would make of ``rows`` step-level rows: one update per
    ``ppo_mini_batch_size * rollout.n`` rows (after padding to that multiple).

    >>> verl_row_updates(6400, 16, 8)
    50
    """
    per = ppo_mini_batch_size * rollout_n
    return math.ceil(rows / per) * ppo_epochs


# --- prompt budget ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptPlan:
    """Token budget of one turn."""

    prompt_length: int
    """``rollout.prompt_length``: the longest prompt (chat template included) sent to the server."""
    response_length: int
    """``rollout.response_length``: tokens generated per turn."""
    history_length: int
    """Turns of history shown when they fit (``env.history_length``); older turns are dropped
    first when a prompt would exceed ``prompt_length``."""
    history_action_chars: int
    """A reply without a parsable action enters the history cut to this many characters
    (``env.max_history_reply_chars``)."""


# --- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointPlan:
    """Where and when the run saves."""

    save_freq: int
    """A checkpoint every this many steps (and at the last step); <= 0: never."""
    local_dir: str
    """``trainer.default_local_dir`` (absolute after the launch preflight)."""
    remote_dir: str | None
    """``trainer.default_hdfs_dir``: a copy of each checkpoint, bank included."""
    keep: int | None
    """``trainer.max_actor_ckpt_to_keep``."""
    resume_mode: str
    """``auto`` (latest checkpoint in ``local_dir``), ``resume_path`` or ``disable``."""

    def saves(self, total_steps: int) -> list[int]:
        """The steps that write a checkpoint (verl: every ``save_freq`` and the last step).

        >>> CheckpointPlan(50, "c", None, 3, "auto").saves(150)
        [50, 100, 150]
        """
        if self.save_freq <= 0:
            return []
        return sorted({s for s in range(1, total_steps + 1) if s % self.save_freq == 0} | {total_steps})


# --- the whole plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchPlan:
    """Everything :func:`launch_plan` derives from one config."""

    steps: StepPlan
    updates: UpdatePlan
    prompt: PromptPlan
    checkpoints: CheckpointPlan
    rollout_n: int
    max_steps: int
    ppo_mini_batch_size: int
    n_gpus: int
    rows_source: str
    """Where ``steps.train_rows`` came from (the parquet file or the recipe's ``prepare``)."""

    def lines(self) -> list[str]:
        """The plan as short lines (printed as ``#`` comments by the dry run)."""
        s, u, p, c = self.steps, self.updates, self.prompt, self.checkpoints
        games = s.train_batch_size * self.rollout_n
        lo, hi = games, games * self.max_steps
        saves = c.saves(s.total_steps)
        shown = ", ".join(map(str, saves[:4])) + (", ..." if len(saves) > 4 else "")
        return [
            f"steps: {s.total_steps} ({s.train_rows} rows from {self.rows_source} / {s.train_batch_size} games per "
            f"step = {s.steps_per_epoch} per epoch, x {s.total_epochs} epoch(s))",
            f"rows per step: {games} episodes ({s.train_batch_size} games x group {self.rollout_n}), one row per env "
            f"step: {lo}..{hi} rows",
            f"optimizer updates per step: {u.updates_per_step} ({u.mini_batches} mini-batches x {u.ppo_epochs} "
            f"epoch(s)) whatever the episode length, each on 1/{u.mini_batches} of the step's rows "
            f"({math.ceil(lo / u.mini_batches)}..{math.ceil(hi / u.mini_batches)} rows); verl's own row counting "
            f"would make {verl_row_updates(lo, self.ppo_mini_batch_size, self.rollout_n, u.ppo_epochs)}.."
            f"{verl_row_updates(hi, self.ppo_mini_batch_size, self.rollout_n, u.ppo_epochs)}",
            f"prompt budget: {p.prompt_length} tokens per turn (chat template included), {p.response_length} per "
            f"reply; history up to {p.history_length} turn(s), older turns dropped first to fit (counted in "
            f"metrics), replies without an action kept to {p.history_action_chars} characters",
            f"checkpoints: every {c.save_freq} steps ({len(saves)} saves: {shown}) to {c.local_dir}"
            + (f", copied to {c.remote_dir}" if c.remote_dir else "")
            + f", model + skill bank, last {c.keep} kept, resume_mode={c.resume_mode}"
            if c.save_freq > 0 else "checkpoints: none (trainer.save_freq <= 0)",
            f"GPUs: {self.n_gpus}",
        ]


def count_parquet_rows(path: str) -> int | None:
    """Rows of a parquet file (from its footer), or None when the file does not exist."""
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def launch_plan(cfg: Any, train_rows: int | None = None) -> LaunchPlan:
    """The plan of a composed verl config (``configs/grpo_<env>.yaml`` and the like).

    ``train_rows``: rows of the training data; None reads the footer of ``data.train_files``
    (a single file) or, when it does not exist yet, takes the recipe's ``prepare.train_size``
    (what the launch script would write).

    Raises:
        LaunchPlanError: see :func:`step_plan` and :func:`update_plan`; no row count at all.
    """
    from omegaconf import OmegaConf

    source = "the caller"
    if train_rows is None:
        files = cfg.data.train_files
        single = files if isinstance(files, str) else (list(files)[0] if len(files) == 1 else None)
        counted = count_parquet_rows(str(single)) if single else None
        if counted is not None:
            train_rows, source = counted, str(single)
        elif OmegaConf.select(cfg, "prepare.train_size") is not None:
            train_rows, source = int(cfg.prepare.train_size), "prepare.train_size"
        else:
            raise LaunchPlanError("cannot count the training rows: data.train_files does not exist and the "
                                  "config has no prepare.train_size")
    trainer, actor, rollout = cfg.trainer, cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    steps = step_plan(int(train_rows), int(cfg.data.train_batch_size), int(trainer.total_epochs),
                      trainer.get("total_training_steps"))
    updates = update_plan(int(cfg.data.train_batch_size), int(actor.ppo_mini_batch_size), int(actor.ppo_epochs))
    prompt = PromptPlan(int(rollout.prompt_length), int(rollout.response_length), int(cfg.env.history_length),
                        int(cfg.env.max_history_reply_chars))
    checkpoints = CheckpointPlan(int(trainer.save_freq), str(trainer.default_local_dir),
                                 trainer.get("default_hdfs_dir"), trainer.get("max_actor_ckpt_to_keep"),
                                 str(trainer.resume_mode))
    return LaunchPlan(steps, updates, prompt, checkpoints, int(rollout.n), int(cfg.env.max_steps),
                      int(actor.ppo_mini_batch_size), int(trainer.n_gpus_per_node) * int(trainer.nnodes), source)


def main(argv: Sequence[str] | None = None) -> int:
    """Dry run: print the resolved config, check it with verl, print the plan as comments.

    Exit status 2 with one ``error:`` line on a bad setting, a failed verl check or sizes that
    disagree."""
    from hydra._internal.utils import get_args_parser
    from omegaconf import OmegaConf

    from skillrl.main import DEFAULT_CONFIG, absolute_paths, precheck, typed_config
    from skillrl.trainer.config import compose

    args = list(sys.argv[1:] if argv is None else argv)
    problem = precheck(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    parsed = get_args_parser().parse_args(args)
    cfg = absolute_paths(compose(parsed.config_name or DEFAULT_CONFIG, parsed.overrides))
    try:
        typed_config(cfg)
        plan = launch_plan(cfg)
        from skillrl.trainer import _verl

        _verl.validate_trainer_config(cfg, quiet=True)
    except (LaunchPlanError, AssertionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(OmegaConf.to_yaml(cfg, resolve=True), end="")
    for line in plan.lines():
        print(f"# {line}")
    print("# verl validate_config: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
