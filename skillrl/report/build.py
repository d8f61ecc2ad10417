"""Build a :class:`~skillrl.report.model.RunReport` from a run directory.

Two kinds of runs are understood:

- ``skillrl train --local``: ``OUTPUT_DIR/metrics.jsonl`` (``{"step": N, "<key>": value, …}``
  per line), ``OUTPUT_DIR/tensorboard/events.out.tfevents.*`` and
  ``OUTPUT_DIR/checkpoints/global_step_N/`` holding the model, ``trainer_state.json`` and the bank
  at its version (``skill_bank.json`` + ``skill_bank.usage.json`` + ``skill_bank.history.jsonl``);
- the verl trainer's checkpoint dir (``trainer.default_local_dir``): ``global_step_N/`` with
  ``actor/``, ``skill_bank.json`` and ``skill_bank_version.json``; its metrics are wherever
  verl's loggers put them: the ``file`` logger's JSON lines (``{"step": N, "data": {…}}``) or
  TensorBoard event files, found under the run dir or given with ``metrics_paths``.

Everything is optional except that *something* of a run must be there; what is missing is listed
in :attr:`RunReport.missing`, and files that exist but cannot be read in
:attr:`RunReport.warnings` (a report is still built). The parsing helpers are pure functions on
decoded data; :func:`build_report` is the one place that reads files.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillrl.report.model import (
    GENERAL,
    MISTAKES,
    TASK_SPECIFIC,
    BankItem,
    BankVersion,
    Checkpoint,
    EvolutionCycle,
    HistoryEntry,
    Metrics,
    MetricSeries,
    RunReport,
    RunSummary,
    SkillUsage,
)

#: file names the trainers write into a checkpoint dir (``skillrl.trainer.local.checkpoint`` and
#: ``skillrl.trainer.verl_trainer``; a test checks they agree)
BANK_FILE = "skill_bank.json"
BANK_VERSION_FILE = "skill_bank_version.json"
TRAINER_STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"

_STEP_DIR = re.compile(r"^global_step_(\d+)$")
_EVENTS = "events.out.tfevents."
#: how deep TensorBoard event files are looked for under the run dir's ``tensorboard*`` folders
#: (``tensorboard/``, verl's ``tensorboard_log/<project>/<experiment>/``)
_EVENTS_DEPTH = 3
_SEARCH_DEPTH = 4
#: config keys shown in the summary (when the run recorded its config)
SUMMARY_CONFIG_KEYS = (
    "env_name", "model_path", "use_skills", "skills_json_path", "retrieval_mode", "top_k",
    "task_specific_top_k", "max_skill_tokens", "train_batch_size", "rollout_n", "total_training_steps",
    "max_steps", "lr", "val_batch_size", "test_freq", "enable_dynamic_update", "evolution_source",
    "update_threshold", "max_new_skills", "seed",
)


class NotARunError(ValueError):
    """The directory holds nothing a training run writes."""


# --------------------------------------------------------------------------------------------
# metrics (pure)

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def parse_metric_record(record: Any) -> tuple[int, dict[str, float]] | None:
    """``(step, {key: value})`` from one decoded metrics line, or None when it is not one.

    Two forms are accepted: the local trainer's ``{"step": N, "<key>": value, …}`` and verl's
    file logger's ``{"step": N, "data": {"<key>": value, …}}``. Only finite numbers are kept.

    >>> parse_metric_record({"step": 2, "train/reward_mean": 0.5, "note": "x"})
    (2, {'train/reward_mean': 0.5})
    >>> parse_metric_record({"step": 3, "data": {"critic/score/mean": 1}})
    (3, {'critic/score/mean': 1.0})
    >>> parse_metric_record({"op": "add"}) is None
    True
    """
    if not isinstance(record, dict) or not _is_number(record.get("step")):
        return None
    body = record["data"] if isinstance(record.get("data"), dict) else record
    values = {str(k): float(v) for k, v in body.items() if k != "step" and _is_number(v)}
    return int(record["step"]), values


def parse_metric_lines(lines: Iterable[str]) -> tuple[list[tuple[int, dict[str, float]]], int]:
    """Parse JSON lines of metrics; returns ``(records, bad_lines)`` (blank lines are skipped,
    undecodable or non-metric lines counted in ``bad_lines``: a run still writing may end in a
    partial line)."""
    out: list[tuple[int, dict[str, float]]] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = parse_metric_record(json.loads(line))
        except (ValueError, RecursionError):  # bad JSON, absurd ints, deep nesting
            rec = None
        if rec is None:
            bad += 1
        else:
            out.append(rec)
    return out, bad


def merge_metric_records(records: Iterable[tuple[int, Mapping[str, float]]]) -> dict[str, MetricSeries]:
    """Key -> series over steps (the last value logged for a step wins).

    Keys logged by the local trainer's final validation as ``final/<key>`` also fill ``<key>``
    at that step when ``<key>`` has no value there, so per-type validation curves end with it.
    """
    table: dict[str, dict[int, float]] = {}
    for step, values in records:
        for k, v in values.items():
            table.setdefault(k, {})[step] = v
    for k in [k for k in table if k.startswith("final/")]:
        base = table.setdefault(k[len("final/"):], {})
        for step, v in table[k].items():
            base.setdefault(step, v)
    return {k: MetricSeries(k, tuple(sorted(d)), tuple(d[s] for s in sorted(d))) for k, d in sorted(table.items())}


_SUCCESS_PATTERNS = (
    ("validation", re.compile(r"^val/success_rate/(.+)$")),
    ("validation", re.compile(r"^val-core/skillrl/success_rate/(.+)$")),
    ("train", re.compile(r"^train/success_rate/(.+)$")),
)
_OVERALL_SUCCESS = {"validation": ("val/success_rate", "val-core/skillrl/success_rate"),
                    "train": ("train/success_rate",)}


def success_by_type_series(metrics: Metrics) -> dict[str, dict[str, MetricSeries]]:
    """``{"validation"|"train": {task_type: series}}`` from the per-type success metrics of
    either trainer (``val/success_rate/<type>``, ``val-core/skillrl/success_rate/<type>``,
    ``train/success_rate/<type>``)."""
    out: dict[str, dict[str, MetricSeries]] = {}
    for name, series in metrics.series.items():
        for split, pattern in _SUCCESS_PATTERNS:
            m = pattern.match(name)
            if m:
                out.setdefault(split, {}).setdefault(m.group(1), series)
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def overall_success_series(metrics: Metrics, split: str) -> MetricSeries | None:
    for name in _OVERALL_SUCCESS.get(split, ()):
        if name in metrics.series:
            return metrics.series[name]
    return None


#: prompt-size metrics: the local trainer's, then verl's
PROMPT_TOKENS_KEYS = ("train/prompt_tokens_mean", "prompt_length/mean")
SKILL_TOKENS_KEYS = ("train/skill_tokens_mean",)


def prompt_token_series(metrics: Metrics) -> tuple[MetricSeries | None, MetricSeries | None]:
    """``(prompt tokens per turn with skills, skill-block tokens per turn)``, either may be None."""
    prompt = next((metrics.series[k] for k in PROMPT_TOKENS_KEYS if k in metrics.series), None)
    skill = next((metrics.series[k] for k in SKILL_TOKENS_KEYS if k in metrics.series), None)
    return prompt, skill


# --------------------------------------------------------------------------------------------
# banks, history, usage (pure)

def bank_items(document: Mapping[str, Any]) -> list[BankItem]:
    """The active items of a decoded bank file, in bank order."""
    items = [_skill_item(s, GENERAL, None) for s in document.get(GENERAL) or []]
    for cat, skills in (document.get(TASK_SPECIFIC) or {}).items():
        items.extend(_skill_item(s, TASK_SPECIFIC, str(cat)) for s in skills or [])
    items.extend(_mistake_item(m) for m in document.get(MISTAKES) or [])
    return items


def retired_items(document: Mapping[str, Any]) -> list[tuple[BankItem, int, str]]:
    """``(item, retired_at_version, reason)`` for each entry of ``retired_skills``."""
    out = []
    for r in document.get("retired_skills") or []:
        if not isinstance(r, dict) or not isinstance(r.get("item"), dict):
            continue
        out.append((_any_item(r["item"], str(r.get("section") or GENERAL), r.get("category")),
                    int(r.get("retired_at_version") or 0), str(r.get("reason") or "")))
    return out


def bank_version_of(document: Mapping[str, Any]) -> int:
    meta = document.get("metadata")
    try:
        return int((meta or {}).get("version") or 0) if isinstance(meta, dict) else 0
    except (TypeError, ValueError):
        return 0


def _skill_item(s: Mapping[str, Any], section: str, category: str | None) -> BankItem:
    return BankItem(str(s.get("skill_id", "")), section, category, str(s.get("title", "")),
                    str(s.get("principle", "")), str(s.get("when_to_apply", "") or ""))


def _mistake_item(m: Mapping[str, Any]) -> BankItem:
    return BankItem(str(m.get("mistake_id", "")), MISTAKES, None, str(m.get("description", "")),
                    str(m.get("how_to_avoid", "")), str(m.get("why_it_happens", "") or ""))


def _any_item(d: Mapping[str, Any], section: str, category: Any) -> BankItem:
    if "mistake_id" in d or section == MISTAKES:
        return _mistake_item(d)
    return _skill_item(d, section, str(category) if category is not None else None)


def parse_history_record(record: Any, file: str = "") -> HistoryEntry | None:
    """One decoded history line -> :class:`HistoryEntry`, or None when it lacks ``op``, the id
    or an integer ``version``. Unknown keys are ignored and optional ones default, so records
    of older and newer bank versions are read alike.

    >>> e = parse_history_record({"op": "add", "skill_id": "s1", "version": 4, "step": 10,
    ...                           "source": "evolution@step10", "episode_ids": ["a", "b"]})
    >>> (e.op, e.item_id, e.version, e.step, e.episode_ids)
    ('add', 's1', 4, 10, ('a', 'b'))
    """
    if not isinstance(record, dict):
        return None
    item_id = record.get("skill_id", record.get("mistake_id"))
    try:
        version = int(record["version"])
    except (KeyError, TypeError, ValueError):
        return None
    if not record.get("op") or item_id is None:
        return None
    step = record.get("step")
    episode_ids = record.get("episode_ids") or ()
    previous = record.get("previous")
    return HistoryEntry(
        op=str(record["op"]), item_id=str(item_id), section=str(record.get("section") or ""),
        category=None if record.get("category") is None else str(record["category"]),
        step=int(step) if _is_number(step) else None, source=str(record.get("source") or ""),
        reason=str(record.get("reason") or ""), version=version, timestamp=str(record.get("timestamp") or ""),
        episode_ids=tuple(str(e) for e in episode_ids) if isinstance(episode_ids, (list, tuple)) else (str(episode_ids),),
        previous=previous if isinstance(previous, dict) else None, file=file,
    )


def parse_history_lines(lines: Iterable[str], file: str = "") -> tuple[list[HistoryEntry], int]:
    """``(entries, bad_lines)`` of a history file's lines."""
    out: list[HistoryEntry] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = parse_history_record(json.loads(line), file)
        except (ValueError, RecursionError):  # bad JSON, absurd ints, deep nesting
            entry = None
        if entry is None:
            bad += 1
        else:
            out.append(entry)
    return out, bad


def merge_history(*sources: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """All entries, ascending by version, the same change (``version``, ``op``, id) kept once
    (a checkpoint's copy of the history repeats the records of earlier checkpoints)."""
    seen: dict[tuple[int, str, str], HistoryEntry] = {}
    for entries in sources:
        for e in entries:
            seen.setdefault((e.version, e.op, e.item_id), e)
    return sorted(seen.values(), key=lambda e: (e.version, e.timestamp))


def group_cycles(history: Sequence[HistoryEntry]) -> list[EvolutionCycle]:
    """Consecutive entries (by version) with the same step and source form one cycle.

    >>> h = [HistoryEntry("add", "a", GENERAL, None, 5, "evolution@step5", "", 2),
    ...      HistoryEntry("retire", "b", GENERAL, None, 5, "evolution@step5", "", 3),
    ...      HistoryEntry("add", "c", GENERAL, None, 9, "evolution@step9", "", 4)]
    >>> [(c.step, c.version_before, c.version_after, len(c.entries)) for c in group_cycles(h)]
    [(5, 1, 3, 2), (9, 3, 4, 1)]
    """
    cycles: list[EvolutionCycle] = []
    current: list[HistoryEntry] = []
    for e in sorted(history, key=lambda e: e.version):
        if current and ((e.step, e.source) != (current[-1].step, current[-1].source)
                        or e.version != current[-1].version + 1):
            cycles.append(_cycle(current))
            current = []
        current.append(e)
    if current:
        cycles.append(_cycle(current))
    return cycles


def _cycle(entries: list[HistoryEntry]) -> EvolutionCycle:
    return EvolutionCycle(step=entries[0].step, source=entries[0].source, version_before=entries[0].version - 1,
                          version_after=entries[-1].version, entries=tuple(entries))


def _order(items: Iterable[BankItem], category_order: Sequence[str]) -> list[BankItem]:
    """Bank order: general, task-specific by category (``category_order`` first), mistakes."""
    rank = {c: i for i, c in enumerate(category_order)}

    def key(pair: tuple[int, BankItem]) -> tuple[int, int, int]:
        i, it = pair
        if it.section == GENERAL:
            return (0, 0, i)
        if it.section == MISTAKES:
            return (2, 0, i)
        return (1, rank.get(it.category or "", len(rank)), i)

    return [it for _, it in sorted(enumerate(items), key=key)]


@dataclass(frozen=True)
class SavedBank:
    """A bank copy found in the run (decoded), with where and when it was saved."""

    version: int
    document: Mapping[str, Any]
    origin: str
    step: int | None = None


def reconstruct_versions(saved: Sequence[SavedBank], history: Sequence[HistoryEntry],
                         wanted: Iterable[int]) -> list[BankVersion]:
    """The bank at each ``wanted`` version (ascending), from saved copies and the history.

    A version that a saved copy has is taken from it. Lower versions are rebuilt by undoing the
    history records from the nearest saved copy above, one version at a time: an ``add`` is
    removed, a ``retire`` puts the retired item back (its text is in ``retired_skills``), an
    ``update`` restores the record's ``previous`` text (without one the later text is kept and
    the version is marked inexact). A version that cannot be reached (no saved copy above it, or
    a version in between without a history record) is left out.
    """
    by_version: dict[int, SavedBank] = {}
    for s in sorted(saved, key=lambda s: (s.step is None, s.step or 0)):
        by_version.setdefault(s.version, s)  # the earliest copy of a version names its step
    wanted_set = set(wanted) | set(by_version)
    if not by_version:
        return []
    records: dict[int, list[HistoryEntry]] = {}
    for e in history:
        records.setdefault(e.version, []).append(e)
    retired_pool: dict[str, BankItem] = {}
    category_order: list[str] = []
    for s in sorted(by_version.values(), key=lambda s: -s.version):
        for it, _, _ in retired_items(s.document):
            retired_pool.setdefault(it.item_id, it)
        for it in bank_items(s.document):
            retired_pool.setdefault(it.item_id, it)
        for c in (s.document.get(TASK_SPECIFIC) or {}):
            if c not in category_order:
                category_order.append(c)

    out: dict[int, BankVersion] = {}
    top = max(by_version)
    low = min(wanted_set)
    cur: list[BankItem] | None = None
    inexact: set[str] = set()
    for v in range(top, low - 1, -1):
        if v in by_version:
            s = by_version[v]
            cur, inexact = bank_items(s.document), set()
            if v in wanted_set:
                out[v] = BankVersion(v, tuple(cur), origin=s.origin, exact=True, step=s.step)
        elif cur is not None:
            recs = records.get(v + 1)
            if not recs:
                cur = None  # a gap in the history: nothing below is reliable until the next copy
                continue
            for rec in reversed(recs):
                cur = _undo(rec, cur, retired_pool, inexact)
            if v in wanted_set:
                ordered = _order(cur, category_order)
                out[v] = BankVersion(v, tuple(ordered), origin="reconstructed from history",
                                     exact=not inexact, inexact_ids=tuple(sorted(inexact)))
    return [out[v] for v in sorted(out)]


def _undo(rec: HistoryEntry, items: list[BankItem], pool: Mapping[str, BankItem], inexact: set[str]) -> list[BankItem]:
    ids = [it.item_id for it in items]
    if rec.op == "add":
        return [it for it in items if it.item_id != rec.item_id]
    if rec.op == "retire":
        if rec.item_id in ids:
            return items
        base = pool.get(rec.item_id) or BankItem(rec.item_id, rec.section or GENERAL, rec.category, "", "")
        if rec.item_id not in pool:
            inexact.add(rec.item_id)
        return items + [base]
    if rec.op == "update" and rec.item_id in ids:
        i = ids.index(rec.item_id)
        old = items[i]
        if rec.previous:
            items = list(items)
            items[i] = _any_item(rec.previous, old.section, old.category)
        else:
            inexact.add(rec.item_id)
        return items
    inexact.add(rec.item_id)
    return items


def parse_usage(data: Any) -> tuple[int | None, dict[str, tuple[int, int, int]]]:
    """``(bank_version, {id: (times_retrieved, episodes_won, episodes_lost)})`` from a decoded
    ``<bank>.usage.json``. Raises ``ValueError`` when it is not a usage file."""
    if not isinstance(data, dict) or not isinstance(data.get("usage"), dict):
        raise ValueError("not a usage file (no 'usage' object)")
    out = {}
    for k, v in data["usage"].items():
        if not isinstance(v, dict):
            raise ValueError(f"usage of {k!r} is not an object")
        out[str(k)] = tuple(int(v.get(f) or 0) for f in ("times_retrieved", "episodes_won", "episodes_lost"))
    version = data.get("bank_version")
    return (int(version) if _is_number(version) else None), out  # type: ignore[return-value]


def usage_table(counters: Mapping[str, tuple[int, int, int]], known: Iterable[BankItem],
                retired: Iterable[BankItem] = ()) -> list[SkillUsage]:
    """Usage rows, most injected first (ties: by id), with titles and groups from the bank."""
    titles = {it.item_id: (it.title, it.group) for it in known}
    for it in retired:
        titles.setdefault(it.item_id, (it.title, "retired"))
    rows = [SkillUsage(k, *v, title=titles.get(k, ("", ""))[0], group=titles.get(k, ("", ""))[1])
            for k, v in counters.items()]
    return sorted(rows, key=lambda u: (-u.times_retrieved, u.item_id))


def top_usage(rows: Sequence[SkillUsage], by: str, n: int = 10) -> list[SkillUsage]:
    """The ``n`` items injected into the most won (``by="won"``) or lost (``by="lost"``)
    episodes, ties broken by the rate of that outcome, then id; items with 0 such episodes are
    left out."""
    if by not in ("won", "lost"):
        raise ValueError("by must be 'won' or 'lost'")
    attr = "episodes_won" if by == "won" else "episodes_lost"

    def key(u: SkillUsage) -> tuple[int, float, str]:
        n_out = u.episodes_won + u.episodes_lost
        return (-getattr(u, attr), -(getattr(u, attr) / n_out if n_out else 0.0), u.item_id)

    return sorted((u for u in rows if getattr(u, attr) > 0), key=key)[:n]


# --------------------------------------------------------------------------------------------
# the run directory (reads files)

@dataclass(frozen=True)
class RunFiles:
    """What was found in a run directory."""

    run_dir: Path
    checkpoints: tuple[tuple[int, Path], ...] = ()
    """``(step, dir)`` ascending."""
    metric_files: tuple[Path, ...] = ()
    """JSON-lines metric files."""
    event_files: tuple[Path, ...] = ()
    """TensorBoard event files."""
    history_files: tuple[Path, ...] = ()
    """``*.history.jsonl`` files under the run dir."""
    notes: tuple[str, ...] = field(default=())


def _walk(root: Path, depth: int) -> Iterable[Path]:
    """Files under ``root`` down to ``depth`` levels, skipping model weight folders' contents."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return
    for p in entries:
        if p.is_file():
            yield p
        elif p.is_dir() and depth > 0 and not p.name.endswith(".tmp"):
            yield from _walk(p, depth - 1)


def _looks_like_metrics(path: Path, *, any_form: bool = True) -> bool:
    """Whether the first line of ``path`` is a metrics record; unless ``any_form``, a file not
    named ``metrics.jsonl`` must be in verl's ``{"step", "data"}`` form (so that other JSON lines
    lying in a run dir are not taken for metrics)."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    if parse_metric_record(record) is None:
                        return False
                    return any_form or path.name == METRICS_FILE or isinstance(record.get("data"), dict)
    except (OSError, ValueError, RecursionError):
        return False
    return False


def find_run_files(run_dir: str | Path, metrics_paths: Sequence[str | Path] = ()) -> RunFiles:
    """Locate checkpoints, metric files and bank histories of a run.

    Raises:
        NotARunError: ``run_dir`` is missing, not a directory, or holds none of the files a
            run writes (and no ``metrics_paths`` were given).
        FileNotFoundError: a path in ``metrics_paths`` does not exist.
    """
    root = Path(run_dir).expanduser()
    if not root.exists():
        raise NotARunError(f"{root}: no such directory")
    if not root.is_dir():
        raise NotARunError(f"{root}: not a directory (give the run's output dir or checkpoint dir)")
    ckpts: dict[int, Path] = {}
    m = _STEP_DIR.match(root.name)
    if m:
        ckpts[int(m.group(1))] = root
    for base in (root, root / "checkpoints"):
        if base.is_dir():
            for p in base.iterdir():
                mm = _STEP_DIR.match(p.name)
                if mm and p.is_dir():
                    ckpts[int(mm.group(1))] = p
    metric_files: list[Path] = []
    event_files: list[Path] = []
    history_files: list[Path] = []
    # metrics at the top of the run dir, TensorBoard events at the top or in its tensorboard*
    # folders (a parent of several runs is not a run), bank histories at the top and in checkpoints
    for top in sorted(root.iterdir()):
        found = _walk(top, _EVENTS_DEPTH) if top.is_dir() and top.name.startswith("tensorboard") else [top]
        event_files.extend(p for p in found if p.name.startswith(_EVENTS) and p.is_file())
    for folder in (root, *(d for _, d in sorted(ckpts.items()))):
        for p in _walk(folder, 0):
            if p.name.endswith(".history.jsonl"):
                history_files.append(p)
            elif folder == root and p.suffix == ".jsonl" and _looks_like_metrics(p, any_form=False):
                metric_files.append(p)
    for extra in metrics_paths:
        q = Path(extra).expanduser()
        if not q.exists():
            raise FileNotFoundError(f"metrics path {q} does not exist")
        found = [q] if q.is_file() else list(_walk(q, _SEARCH_DEPTH))
        for p in found:
            if p.name.startswith(_EVENTS):
                event_files.append(p)
            elif p.suffix == ".jsonl" and _looks_like_metrics(p):
                metric_files.append(p)
            elif p == q:
                raise NotARunError(f"{q}: not a metrics file (JSON lines with a 'step' key, or TensorBoard events)")
    if not ckpts and not metric_files and not event_files:
        raise NotARunError(
            f"{root} is not a training run: no checkpoints (global_step_N/ or checkpoints/global_step_N/), "
            f"no {METRICS_FILE} or verl file-logger JSON lines, no TensorBoard event files")
    return RunFiles(root, tuple(sorted(ckpts.items())), tuple(dict.fromkeys(metric_files)),
                    tuple(dict.fromkeys(event_files)), tuple(dict.fromkeys(history_files)))


def read_event_files(paths: Sequence[Path]) -> tuple[list[tuple[int, dict[str, float]]], list[str]]:
    """Scalars of TensorBoard event files as metric records (``tensorboard``'s EventAccumulator)."""
    if not paths:
        return [], []
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError:
        return [], [f"{len(paths)} TensorBoard event file(s) skipped: the tensorboard package is not installed"]
    records: list[tuple[int, dict[str, float]]] = []
    warnings: list[str] = []
    for path in paths:
        try:
            acc = ea.EventAccumulator(str(path), size_guidance={ea.SCALARS: 0})
            acc.Reload()
            for tag in acc.Tags().get("scalars", []):
                for ev in acc.Scalars(tag):
                    if math.isfinite(ev.value):
                        records.append((int(ev.step), {tag: float(ev.value)}))
        except Exception as exc:  # a corrupt or foreign file must not sink the report
            warnings.append(f"{path}: unreadable TensorBoard events ({type(exc).__name__}: {exc})")
    return records, warnings


def _read_json(path: Path, warnings: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        warnings.append(f"{path}: unreadable JSON ({exc})")
        return None


def _load_bank(path: Path, origin: str, step: int | None, warnings: list[str]) -> SavedBank | None:
    """A valid bank file as a :class:`SavedBank` (its version from ``skill_bank_version.json``
    beside it when present, else ``metadata.version``); invalid -> a warning and None."""
    from skillrl.skills.schema import parse_text

    try:
        text = path.read_text(encoding="utf-8")
        parse_text(text, str(path))  # the bank must be valid
        doc = json.loads(text)
    except (OSError, ValueError, RecursionError) as exc:  # SkillBankError is a ValueError
        warnings.append(f"{path}: invalid skill bank ({exc})")
        return None
    version = bank_version_of(doc)
    vfile = path.parent / BANK_VERSION_FILE
    if path.name == BANK_FILE and vfile.is_file():
        data = _read_json(vfile, warnings)
        if isinstance(data, dict) and _is_number(data.get("version")):
            version = int(data["version"])
    return SavedBank(version, doc, origin=origin, step=step)


def _read_history_file(path: Path, warnings: list[str]) -> list[HistoryEntry]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        warnings.append(f"{path}: unreadable history ({exc})")
        return []
    entries, bad = parse_history_lines(lines, str(path))
    if bad:
        warnings.append(f"{path}: {bad} line(s) are not bank history records (skipped)")
    return entries


def _history_of(bank_file: Path) -> Path:
    return bank_file.with_name(bank_file.stem + ".history.jsonl")


def _usage_of(bank_file: Path) -> Path:
    return bank_file.with_name(bank_file.stem + ".usage.json")


def _read_metrics(files: RunFiles, metrics_paths: Sequence[str | Path], warnings: list[str]) -> Metrics:
    """All metric files of the run merged. TensorBoard events are read when there are no JSON
    lines or when ``metrics_paths`` names them (the local trainer writes the same scalars to both)."""
    records: list[tuple[int, dict[str, float]]] = []
    for path in files.metric_files:
        try:
            recs, bad = parse_metric_lines(path.read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"{path}: unreadable ({exc})")
            continue
        records.extend(recs)
        if bad:
            warnings.append(f"{path}: {bad} line(s) are not metric records (skipped)")
    explicit = [p for p in files.event_files
                if any(Path(m).expanduser() in (p, *p.parents) for m in metrics_paths)]
    events = list(files.event_files if not files.metric_files else explicit)
    tb_records, tb_warnings = read_event_files(events)
    records.extend(tb_records)
    warnings.extend(tb_warnings)
    return Metrics(merge_metric_records(records), tuple(str(p) for p in [*files.metric_files, *events]))


def _missing_notes(metrics: Metrics, files: RunFiles, saved: Sequence[SavedBank], started_from_source: bool,
                   history: Sequence[HistoryEntry], usage_file: str | None) -> list[str]:
    """One sentence per thing the run does not have."""
    missing: list[str] = []
    if not metrics:
        missing.append(f"No metrics were found ({METRICS_FILE}, verl's file-logger JSON lines or TensorBoard "
                       "events); pass --metrics PATH when they are kept elsewhere.")
    else:
        if not success_by_type_series(metrics):
            missing.append("No per-task-type success metrics were logged (val/success_rate/<type>).")
        prompt, skill = prompt_token_series(metrics)
        if prompt is None:
            missing.append("No prompt-size metrics were logged (train/prompt_tokens_mean or prompt_length/mean).")
        elif skill is None:
            missing.append("No skill-block size was logged (train/skill_tokens_mean): prompt tokens without "
                           "skills cannot be shown.")
    if not files.checkpoints:
        missing.append("No checkpoints were found (global_step_N/).")
    if not saved:
        missing.append("No skill bank: the run trained without skills, or saved no bank with its checkpoints.")
    elif started_from_source:
        missing.append("No bank was saved with the checkpoints: the bank shown is the file the run started from.")
    else:
        if not history:
            missing.append("No bank history (<bank>.history.jsonl): the bank did not change during the run, "
                           "or its changes were not recorded.")
        if usage_file is None:
            missing.append("No usage counters (<bank>.usage.json) were saved with the checkpoints.")
    return missing


def build_report(run_dir: str | Path, metrics_paths: Sequence[str | Path] = ()) -> RunReport:
    """Read a run directory into a :class:`RunReport` (see the module docstring for layouts).

    Raises:
        NotARunError: the directory is not a run (see :func:`find_run_files`).
        FileNotFoundError: a ``metrics_paths`` entry does not exist.
    """
    files = find_run_files(run_dir, metrics_paths)
    warnings: list[str] = []

    metrics = _read_metrics(files, metrics_paths, warnings)

    # checkpoints, trainer state, banks
    checkpoints: list[Checkpoint] = []
    saved: list[SavedBank] = []
    state: dict[str, Any] = {}
    kind = "metrics"
    for step, folder in files.checkpoints:
        st_path = folder / TRAINER_STATE_FILE
        if st_path.is_file():
            data = _read_json(st_path, warnings)
            if isinstance(data, dict):
                state = data
                kind = "local"
        elif kind != "local":
            kind = "verl"
        bank = _load_bank(folder / BANK_FILE, str(folder / BANK_FILE), step, warnings) \
            if (folder / BANK_FILE).is_file() else None
        if bank is not None:
            saved.append(bank)
        has_model = any((folder / n).exists() for n in ("model.safetensors", "pytorch_model.bin", "actor",
                                                         "model.safetensors.index.json"))
        checkpoints.append(Checkpoint(step, str(folder), bank.version if bank else None, has_model))
    if kind == "metrics" and (files.run_dir / METRICS_FILE).is_file():
        kind = "local"
    config = state.get("config") if isinstance(state.get("config"), dict) else {}

    # the bank the run started from (local runs record its path)
    source_bank: Path | None = None
    src = state.get("skills_source") or config.get("skills_json_path")
    if src:
        for cand in (Path(str(src)).expanduser(), files.run_dir / str(src)):
            if cand.is_file():
                source_bank = cand
                break
    top_version = max((s.version for s in saved), default=None)

    # history: each checkpoint's copy, files under the run dir, the source bank's history
    history_lists = [_read_history_file(p, warnings) for p in files.history_files]
    if source_bank is not None and _history_of(source_bank).is_file():
        src_hist = _read_history_file(_history_of(source_bank), warnings)
        if top_version is not None:  # later changes to that file belong to other runs
            src_hist = [e for e in src_hist if e.version <= top_version]
        history_lists.append(src_hist)
    history = merge_history(*history_lists)
    if saved:
        # a change above the newest saved copy cannot be shown against a bank text
        history = [e for e in history if e.version <= top_version]  # type: ignore[operator]
    cycles = group_cycles(history)

    # bank versions: before/after every cycle and every saved copy
    started_from_source = False
    if not saved and source_bank is not None:  # no copy in a checkpoint: show the starting bank
        sb = _load_bank(source_bank, f"{source_bank} (the bank the run started from)", None, warnings)
        if sb is not None:
            saved.append(sb)
            started_from_source = True
    wanted = {c.version_before for c in cycles} | {c.version_after for c in cycles}
    versions = reconstruct_versions(saved, history, wanted)
    step_of_version = {c.version_after: c.step for c in cycles}
    versions = [v if v.step is not None or v.version not in step_of_version
                else _with_step(v, step_of_version[v.version]) for v in versions]
    newest = max(saved, key=lambda s: (s.version, s.step or 0)) if saved else None
    retired = [r for r in retired_items(newest.document)] if newest else []

    # usage: the latest checkpoint's sidecar (cumulative counters)
    usage: list[SkillUsage] = []
    usage_file: str | None = None
    for step, folder in reversed(files.checkpoints):
        up = _usage_of(folder / BANK_FILE)
        if up.is_file():
            data = _read_json(up, warnings)
            if data is None:
                break
            try:
                _, counters = parse_usage(data)
            except ValueError as exc:
                warnings.append(f"{up}: {exc}")
                break
            known = bank_items(newest.document) if newest else []
            usage = usage_table(counters, known, [r[0] for r in retired])
            usage_file = str(up)
            break

    missing = _missing_notes(metrics, files, saved, started_from_source, history, usage_file)

    summary = RunSummary(
        run_dir=str(files.run_dir), kind=kind, env_name=config.get("env_name"),
        steps=max([*(c.step for c in checkpoints), *(s.steps[-1] for s in metrics.series.values() if s.steps)],
                  default=None),
        config={k: config[k] for k in SUMMARY_CONFIG_KEYS if k in config},
        skills_source=str(src) if src else None,
        evolution_source=str(config["evolution_source"]) if config.get("evolution_source") else None,
        headline=_headline(metrics, versions),
    )
    return RunReport(summary=summary, metrics=metrics, checkpoints=tuple(checkpoints), bank_versions=tuple(versions),
                     retired=tuple(retired), cycles=tuple(cycles), history=tuple(history), usage=tuple(usage),
                     usage_file=usage_file, missing=tuple(missing), warnings=tuple(warnings))


def _with_step(v: BankVersion, step: int | None) -> BankVersion:
    from dataclasses import replace

    return replace(v, step=step)


_HEADLINE_KEYS = (
    ("validation success", ("val/success_rate", "val-core/skillrl/success_rate")),
    ("train reward (last step)", ("train/reward_mean", "critic/score/mean")),
    ("train success (last step)", ("train/success_rate",)),
    ("prompt tokens / turn", PROMPT_TOKENS_KEYS),
    ("skill-block tokens / turn", SKILL_TOKENS_KEYS),
)


def _headline(metrics: Metrics, versions: Sequence[BankVersion]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for label, keys in _HEADLINE_KEYS:
        for k in keys:
            v = metrics.last(k)
            if v is not None:
                out[label] = v
                break
    if versions:
        out["bank version (first shown)"] = versions[0].version
        out["bank version (last)"] = versions[-1].version
    return out
