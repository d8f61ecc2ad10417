"""Metric sinks of the local trainer: verl's ``Tracking`` plus an appendable JSON-lines file.

``jsonl`` is our own sink: ``OUTPUT_DIR/metrics.jsonl``, one ``{"step": N, "<key>": value, …}``
per line (what ``skillrl report`` reads); a resumed run first drops the lines of steps after
its checkpoint, then appends. Every other sink is one of verl's ``Tracking`` backends, with
verl's own behaviour and variables: ``console`` (verl's one-line print, here of the main keys),
``tensorboard`` (under ``OUTPUT_DIR/tensorboard`` unless ``TENSORBOARD_DIR`` is set),
``wandb`` (``WANDB_*`` variables; ``WANDB_MODE=offline`` works without a network), ``mlflow``
(``MLFLOW_TRACKING_URI``), ``swanlab``, ``clearml``, ``trackio``, ``file``. What verl prints
(the console line, "Saving tensorboard log to …") goes to stderr, so a command's stdout stays
its own (``skillrl train --local --json`` prints one JSON object there).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JSONL = "jsonl"
#: the verl ``Tracking`` backends a local run may use
VERL_BACKENDS = ("console", "tensorboard", "wandb", "mlflow", "swanlab", "clearml", "trackio", "file")
LOGGERS = (JSONL, *VERL_BACKENDS)
METRICS_FILE = "metrics.jsonl"
#: keys the console line shows (the rest go to the other sinks only)
CONSOLE_KEYS = ("train/reward_mean", "train/success_rate", "train/valid_action_rate", "actor/pg_loss",
                "sft/loss", "sft/heldout_action_accuracy", "val/success_rate", "skills/bank_version", "time/step_s")


@contextlib.contextmanager
def _env_default(name: str, value: str) -> Iterator[None]:
    """Set ``name`` to ``value`` for the block unless the user has set it."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def trim_metrics_file(path: Path, last_step: int) -> int:
    """Drop the lines of ``path`` whose ``step`` is after ``last_step`` (what an interrupted run
    logged past the checkpoint it is resumed from). Returns how many lines were dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            step = json.loads(line).get("step", 0)
        except (json.JSONDecodeError, AttributeError):
            dropped += 1
            continue
        if isinstance(step, (int, float)) and step > last_step:
            dropped += 1
        else:
            kept.append(line)
    if dropped:
        path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
    return dropped


class MetricLogger:
    """Writes ``{step: metrics}`` to every sink in ``sinks`` (module docstring).

    Args:
        output_dir: the run's output folder.
        sinks: names from :data:`LOGGERS`.
        project, experiment: verl's ``project_name`` / ``experiment_name`` (W&B project and run
            name, MLflow experiment and run name).
        config: the run's config as plain data (W&B/MLflow record it).
        resume_step: when resuming, the checkpoint's step (``metrics.jsonl`` is trimmed to it).
    """

    def __init__(self, output_dir: str | Path, sinks: Sequence[str], *, project: str = "skillrl",
                 experiment: str = "local", config: Mapping[str, Any] | None = None,
                 resume_step: int | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.sinks = tuple(sinks)
        self.jsonl_path = self.output_dir / METRICS_FILE if JSONL in self.sinks else None
        if self.jsonl_path is not None and resume_step is not None:
            dropped = trim_metrics_file(self.jsonl_path, resume_step)
            if dropped:
                log.info("resuming at step %d: %d metric line(s) after it dropped from %s", resume_step, dropped,
                         self.jsonl_path)
        self._backends = [s for s in self.sinks if s in VERL_BACKENDS]
        self._tracking: Any = None
        if self._backends:
            from skillrl.trainer._verl import Tracking

            # verl's W&B backend reads config["trainer"]; MLflow flattens the whole config
            cfg = {**dict(config or {}), "trainer": {"project_name": project, "experiment_name": experiment}}
            with contextlib.redirect_stdout(sys.stderr), \
                    _env_default("TENSORBOARD_DIR", str(self.output_dir / "tensorboard")), \
                    _env_default("WANDB_DIR", str(self.output_dir)), \
                    _env_default("VERL_FILE_LOGGER_PATH", str(self.output_dir / "verl_metrics.jsonl")):
                self._tracking = Tracking(project_name=project, experiment_name=experiment,
                                          default_backend=list(self._backends), config=cfg)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Send ``metrics`` (numbers; anything else is dropped) for ``step`` to every sink."""
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self.jsonl_path is not None:
            self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.jsonl_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": step, **numeric}) + "\n")
        if self._tracking is None or not numeric:
            return
        others = [b for b in self._backends if b != "console"]
        if others:
            self._tracking.log(numeric, step, backend=others)
        if "console" in self._backends:
            shown = {k: round(numeric[k], 4) for k in CONSOLE_KEYS if k in numeric}
            if shown:
                with contextlib.redirect_stdout(sys.stderr):
                    self._tracking.log(shown, step, backend=["console"])

    def log_sft(self, sft_step: int, metrics: Mapping[str, Any]) -> None:
        """Cold-start metrics: ``metrics.jsonl`` rows at step 0 carrying ``sft/step`` (the RL steps
        stay 1..N), the trackers at ``sft_step`` (their ``sft/*`` keys are the cold start's own)."""
        numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self.jsonl_path is not None:
            self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.jsonl_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": 0, "sft/step": sft_step, **numeric}) + "\n")
        if self._tracking is None or not numeric:
            return
        others = [b for b in self._backends if b != "console"]
        if others:
            self._tracking.log(numeric, sft_step, backend=others)

    def close(self) -> None:
        """Flush and close every backend (once)."""
        if self._tracking is not None:
            with contextlib.redirect_stdout(sys.stderr):
                self._tracking.finish()
            self._tracking = None
