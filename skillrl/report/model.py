"""The typed data of a run report: what the builders read from a run directory, and what the
plots and the HTML page are drawn from.

Every record is a small frozen dataclass. A :class:`RunReport` is built by the pure functions in
:mod:`skillrl.report.build` and rendered by :mod:`skillrl.report.render`; nothing here touches a
file. Later tools (e.g. evaluation) add their results as :class:`Table` objects in
:attr:`RunReport.tables` (``dataclasses.replace(report, tables=report.tables + (t,))``) and the
page shows them without knowing where they came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``BankItem.section`` values (the bank file's section names)
GENERAL = "general_skills"
TASK_SPECIFIC = "task_specific_skills"
MISTAKES = "common_mistakes"


@dataclass(frozen=True)
class MetricSeries:
    """One scalar metric over training steps."""

    name: str
    """Metric key as logged (``val/success_rate/heat``, ``train/prompt_tokens_mean``, …)."""
    steps: tuple[int, ...]
    """Training steps, ascending, one per value."""
    values: tuple[float, ...]
    """The metric at each step (the last value logged for a step wins)."""

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None


@dataclass(frozen=True)
class Metrics:
    """All scalar metrics of a run, by key."""

    series: Mapping[str, MetricSeries] = field(default_factory=dict)
    """Key -> series."""
    sources: tuple[str, ...] = ()
    """Files the metrics were read from (JSON lines or TensorBoard event files)."""

    def get(self, name: str) -> MetricSeries | None:
        return self.series.get(name)

    def last(self, name: str) -> float | None:
        s = self.series.get(name)
        return s.last if s is not None else None

    def __bool__(self) -> bool:
        return bool(self.series)


@dataclass(frozen=True)
class BankItem:
    """A skill or a common mistake, flattened for display."""

    item_id: str
    """``skill_id`` or ``mistake_id``."""
    section: str
    """``general_skills``, ``task_specific_skills`` or ``common_mistakes``."""
    category: str | None
    """Task category of a task-specific skill, else None."""
    title: str
    """Skill title, or the mistake's description."""
    text: str
    """Skill principle, or how to avoid the mistake."""
    when: str = ""
    """Skill ``when_to_apply``, or why the mistake happens."""

    @property
    def group(self) -> str:
        """The bank-size group: ``general``, ``mistakes`` or the task category."""
        if self.section == GENERAL:
            return "general"
        if self.section == MISTAKES:
            return "mistakes"
        return self.category or "task-specific"


@dataclass(frozen=True)
class BankVersion:
    """The bank's content at one version."""

    version: int
    """``metadata.version`` of the bank."""
    items: tuple[BankItem, ...]
    """Active items, in bank order (general, task-specific by category, mistakes)."""
    origin: str
    """Where this content comes from: a saved copy's path, or ``reconstructed from history``."""
    exact: bool = True
    """False when the text of some item could not be restored (an update without its previous
    text in the history); their ids are in :attr:`inexact_ids`."""
    step: int | None = None
    """Training step at which the bank had this version, when known."""
    inexact_ids: tuple[str, ...] = ()
    """Items whose text is that of a later version."""

    def sizes(self) -> dict[str, int]:
        """Item count per group (``general``, each task category, ``mistakes``)."""
        out: dict[str, int] = {}
        for it in self.items:
            out[it.group] = out.get(it.group, 0) + 1
        return out

    def ids(self) -> tuple[str, ...]:
        return tuple(it.item_id for it in self.items)


@dataclass(frozen=True)
class HistoryEntry:
    """One change to the bank (a line of ``<bank>.history.jsonl``)."""

    op: str
    """``add``, ``update`` or ``retire`` (other values are shown as they are)."""
    item_id: str
    """The skill or mistake changed."""
    section: str
    category: str | None
    step: int | None
    """Training step of the change (None outside training)."""
    source: str
    """Who made it (``evolution@step40``, ``manual`` …)."""
    reason: str
    """Why, in words ('' when not given)."""
    version: int
    """The bank version the change produced."""
    timestamp: str = ""
    episode_ids: tuple[str, ...] = ()
    """Episodes behind the change (evolution ops), when recorded."""
    previous: Mapping[str, Any] | None = None
    """For an update: the item's JSON before the change, when recorded."""
    file: str = ""
    """The history file the record came from."""


@dataclass(frozen=True)
class EvolutionCycle:
    """Consecutive changes made by one source at one step (one evolution round)."""

    step: int | None
    source: str
    version_before: int
    """Bank version before the first change of the cycle."""
    version_after: int
    """Bank version after the last change."""
    entries: tuple[HistoryEntry, ...]

    def of(self, op: str) -> tuple[HistoryEntry, ...]:
        return tuple(e for e in self.entries if e.op == op)


@dataclass(frozen=True)
class SkillUsage:
    """Usage counters of one item (from ``<bank>.usage.json``)."""

    item_id: str
    times_retrieved: int
    """Episodes into which the item was injected."""
    episodes_won: int
    episodes_lost: int
    title: str = ""
    """The item's title when the bank has it ('' for unknown ids)."""
    group: str = ""
    """``general``, ``mistakes``, the task category, ``retired`` or '' when unknown."""

    @property
    def win_rate(self) -> float | None:
        n = self.episodes_won + self.episodes_lost
        return self.episodes_won / n if n else None


@dataclass(frozen=True)
class Checkpoint:
    """One saved checkpoint of the run."""

    step: int
    path: str
    bank_version: int | None = None
    """Version of the bank saved with it (None: no bank)."""
    has_model: bool = False
    """Whether model weights are present (a local ``save_pretrained`` dir or verl's ``actor/``)."""


@dataclass(frozen=True)
class Table:
    """A generic table shown on the page (extension point for other tools' results)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    """Cells are shown with ``str`` (floats with 3 decimals); every cell is HTML-escaped."""
    caption: str = ""
    table_id: str = ""
    """HTML id of the table ('' derives one from the title)."""


@dataclass(frozen=True)
class RunSummary:
    """Facts about the run as a whole."""

    run_dir: str
    kind: str
    """``local`` (``skillrl train --local``), ``verl`` (checkpoint dir of the verl trainer) or
    ``metrics`` (only metric files were found)."""
    env_name: str | None = None
    steps: int | None = None
    """Last training step seen in metrics or checkpoints."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """Main settings of the run (from the checkpoint's ``trainer_state.json``), when known."""
    skills_source: str | None = None
    """The bank file the run started from, when known."""
    evolution_source: str | None = None
    """``train`` or ``validation`` (where evolution took its failures from), when recorded."""
    headline: Mapping[str, float | int] = field(default_factory=dict)
    """A few final numbers (validation success, train reward, bank versions …)."""


@dataclass(frozen=True)
class RunReport:
    """Everything the report shows, built from a run directory by pure functions."""

    summary: RunSummary
    metrics: Metrics
    checkpoints: tuple[Checkpoint, ...] = ()
    bank_versions: tuple[BankVersion, ...] = ()
    """The bank before the first evolution cycle, after each cycle, and at each saved copy,
    ascending by version."""
    retired: tuple[tuple[BankItem, int, str], ...] = ()
    """Items retired during the run: ``(item, retired_at_version, reason)``."""
    cycles: tuple[EvolutionCycle, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    usage: tuple[SkillUsage, ...] = ()
    usage_file: str | None = None
    """The usage file read (the latest checkpoint's), when any."""
    missing: tuple[str, ...] = ()
    """What the run does not have, one sentence each (shown on the page)."""
    warnings: tuple[str, ...] = ()
    """Files that were present but could not be read, one sentence each."""
    tables: tuple[Table, ...] = ()
    """Extra tables added by other tools (evaluation …)."""

    @property
    def final_bank(self) -> BankVersion | None:
        return self.bank_versions[-1] if self.bank_versions else None
