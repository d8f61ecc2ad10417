"""The evolution hook: what validation hands to skill-bank evolution.

Both backends call :meth:`EvolutionHook.on_validation` after each validation with the failed
episodes grouped by task type. The distillation component implements the
protocol (:class:`skillrl.distill.hook.DistillingEvolutionHook`); :class:`LoggingEvolutionHook`
only reports per-type success.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationReport:
    """One validation round, as the evolution component sees it."""

    step: int
    """Global training step at which validation ran."""
    success_by_type: Mapping[str, list[int]]
    """``{task_type: [won, total]}``."""
    failures_by_type: Mapping[str, Sequence[Mapping[str, Any]]]
    """Failed episodes per task type: summaries with at least ``task``, ``transcript``,
    ``skill_ids``."""
    successes_by_type: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    """Successful episodes per task type (same summaries), for contrast; may be empty."""


class EvolutionHook(Protocol):
    def on_validation(self, report: ValidationReport) -> int | None:
        """Consume a validation report; return the new bank version if the bank changed."""


class LoggingEvolutionHook:
    """No-op evolution: logs per-task-type success and the number of failures collected."""

    def on_validation(self, report: ValidationReport) -> int | None:
        parts = [f"{t}={w}/{n}" for t, (w, n) in sorted(report.success_by_type.items())]
        n_fail = sum(len(v) for v in report.failures_by_type.values())
        log.info("validation@step%d success by type: %s; %d failed episodes collected (evolution off)",
                 report.step, ", ".join(parts) or "-", n_fail)
        return None
