"""The SkillBank store: load, edit, version, save atomically, keep history and usage.

Files (for a bank at ``DIR/NAME.json``):

- ``DIR/NAME.json`` — the bank (format in :mod:`skillrl.skills.schema`). ``metadata.version``
  counts content changes: every ``add_*``, ``update_skill`` and ``retire_skill`` adds 1.
  Retired items move out of their section into ``retired_skills`` (so a reader that only
  knows the seed format never sees them) and leave retrieval.
- ``DIR/NAME.history.jsonl`` — append-only, one JSON object per change: ``op`` (``add``,
  ``update``, ``retire``), ``skill_id``, ``section``, ``category``, ``step``, ``source``
  (e.g. ``evolution@step40``, ``manual``), ``reason``, ``version`` (the bank version the
  change produced), ``timestamp`` (UTC ISO-8601), ``episode_ids`` (the episodes behind an
  evolution op) and ``previous`` (an updated item's JSON before the update). Records are buffered in memory and
  appended by :meth:`SkillBank.save`, after the bank file itself was replaced.
- ``DIR/NAME.usage.json`` — per-item counters ``times_retrieved``, ``episodes_won``,
  ``episodes_lost`` (see :meth:`SkillBank.record_usage`). Usage is not content: recording it
  does not change ``version`` (retrieval caches keyed on the version stay valid).

Saving is atomic: the text goes to a temporary file in the same directory, is fsynced and
``os.replace``-d over the target, so a crash mid-save leaves the previous file intact.
One process writes a bank (the trainer); readers take snapshots.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from skillrl.skills.schema import (
    GENERAL,
    MISTAKES,
    TASK_SPECIFIC,
    BankDocument,
    Item,
    Mistake,
    RetiredItem,
    Skill,
    SkillBankError,
    parse_document,
    parse_mistake,
    parse_skill,
    parse_text,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


def history_path(bank_path: str | os.PathLike[str]) -> Path:
    """``DIR/NAME.history.jsonl`` for a bank at ``DIR/NAME.json``."""
    p = Path(bank_path)
    return p.with_name(p.stem + ".history.jsonl")


def usage_path(bank_path: str | os.PathLike[str]) -> Path:
    """``DIR/NAME.usage.json`` for a bank at ``DIR/NAME.json``."""
    p = Path(bank_path)
    return p.with_name(p.stem + ".usage.json")


def _write_all(fh: Any, text: str) -> None:
    """Write ``text`` in chunks (a seam for crash tests)."""
    for i in range(0, len(text), _CHUNK):
        fh.write(text[i : i + _CHUNK])


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same dir, fsync, os.replace).

    On any failure the temp file is removed and ``path`` keeps its previous content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            _write_all(fh, text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename durable; not possible on every platform
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


@dataclass(frozen=True)
class HistoryRecord:
    """One change to a bank (a line of ``NAME.history.jsonl``)."""

    op: str
    """``add``, ``update`` or ``retire``."""
    skill_id: str
    """The skill or mistake changed."""
    section: str
    """``general_skills``, ``task_specific_skills`` or ``common_mistakes``."""
    category: str | None
    """Task category for task-specific skills, else None."""
    step: int | None
    """Training step of the change (None outside training)."""
    source: str
    """Who made it: ``manual``, ``evolution@step40``, ``skill_generation`` …"""
    reason: str
    """Why, in words."""
    version: int
    """The bank version this change produced."""
    timestamp: str
    """UTC time, ISO-8601."""
    episode_ids: tuple[str, ...] = ()
    """Ids of the episodes behind the change (evolution), empty for manual edits."""
    previous: Mapping[str, Any] | None = None
    """For ``update``: the item as it was before the change (its JSON object), else None."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "episode_ids", tuple(self.episode_ids or ()))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["episode_ids"] = list(self.episode_ids)
        return out


@dataclass(frozen=True)
class Usage:
    """How often an item was injected into episodes and how those episodes ended."""

    times_retrieved: int = 0
    episodes_won: int = 0
    episodes_lost: int = 0

    @property
    def win_rate(self) -> float | None:
        n = self.episodes_won + self.episodes_lost
        return self.episodes_won / n if n else None


def read_history(bank_path: str | os.PathLike[str]) -> list[HistoryRecord]:
    """All history records of the bank at ``bank_path`` ([] when there is no history file).

    Raises:
        SkillBankError: a line is not a valid record.
    """
    p = history_path(bank_path)
    if not p.exists():
        return []
    records = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(HistoryRecord(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise SkillBankError(str(p), f"line {lineno}", f"invalid history record: {exc}") from None
    return records


def _read_usage(path: Path) -> dict[str, Usage]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: Usage(**v) for k, v in data.get("usage", {}).items()}
    except json.JSONDecodeError as exc:
        raise SkillBankError(str(path), "", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (TypeError, AttributeError) as exc:
        raise SkillBankError(str(path), "usage", f"invalid usage counters: {exc}") from None


class SkillBank:
    """A skill bank in memory, with versioned edits, history and usage counters.

    Build one with :meth:`load`, :meth:`from_dict` or :meth:`empty`. Edits validate their input
    first and leave the bank unchanged when they raise.
    """

    def __init__(self, document: BankDocument, *, path: Path | None = None, usage: Mapping[str, Usage] | None = None):
        self._doc = document
        self.path = path
        """File the bank was loaded from / last saved to (None for in-memory banks)."""
        self._usage: dict[str, Usage] = dict(usage or {})
        self._pending: list[HistoryRecord] = []
        self._usage_dirty = False

    # -- construction --------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SkillBank:
        """Read and validate the bank at ``path`` (and its usage sidecar if present).

        Raises:
            SkillBankError: missing/unreadable file, invalid JSON, or an invalid bank.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SkillBankError(str(p), "", "file not found") from None
        except IsADirectoryError:
            raise SkillBankError(str(p), "", "is a directory, not a bank file") from None
        except UnicodeDecodeError as exc:
            raise SkillBankError(str(p), "", f"not UTF-8 text: {exc.reason}") from None
        except OSError as exc:
            raise SkillBankError(str(p), "", f"cannot read: {exc.strerror or exc}") from None
        doc = parse_text(text, str(p))
        return cls(doc, path=p, usage=_read_usage(usage_path(p)))

    @classmethod
    def from_dict(cls, data: Any, *, file: str = "<memory>") -> SkillBank:
        """Validate decoded JSON and wrap it (no file attached)."""
        return cls(parse_document(copy.deepcopy(data), file))

    @classmethod
    def empty(cls) -> SkillBank:
        return cls(BankDocument(metadata={"version": 0}))

    def to_dict(self) -> dict[str, Any]:
        """The bank as JSON-ready data (the exact content :meth:`save` writes)."""
        return self._doc.to_dict()

    def snapshot(self) -> SkillBank:
        """An independent copy (same content, usage and version; no pending history, no path)."""
        return SkillBank(parse_document(self.to_dict()), usage=self._usage)

    # -- reading -------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Content version: +1 on every add/update/retire."""
        return self._doc.version

    @property
    def metadata(self) -> Mapping[str, Any]:
        return dict(self._doc.metadata)

    @property
    def general_skills(self) -> tuple[Skill, ...]:
        return tuple(self._doc.general)

    @property
    def task_specific_skills(self) -> Mapping[str, tuple[Skill, ...]]:
        """Category -> skills, categories in file order (names as written in the file)."""
        return {c: tuple(s) for c, s in self._doc.task_specific.items()}

    @property
    def common_mistakes(self) -> tuple[Mistake, ...]:
        return tuple(self._doc.mistakes)

    @property
    def retired(self) -> tuple[RetiredItem, ...]:
        return tuple(self._doc.retired)

    @property
    def pending_history(self) -> tuple[HistoryRecord, ...]:
        """Changes made since the last save (written to the history file by :meth:`save`)."""
        return tuple(self._pending)

    def active_ids(self) -> tuple[str, ...]:
        """Ids of all active items: general, task-specific (category order), mistakes."""
        return tuple(item.skill_id for _, _, item in self._iter_active())

    def _iter_active(self) -> Iterator[tuple[str, str | None, Item]]:
        for s in self._doc.general:
            yield GENERAL, None, s
        for c, skills in self._doc.task_specific.items():
            for s in skills:
                yield TASK_SPECIFIC, c, s
        for m in self._doc.mistakes:
            yield MISTAKES, None, m

    def __len__(self) -> int:
        return sum(1 for _ in self._iter_active())

    def __contains__(self, item_id: object) -> bool:
        return any(item.skill_id == item_id for _, _, item in self._iter_active())

    def get(self, item_id: str) -> Item:
        """The active skill or mistake with this id.

        Raises:
            KeyError: no active item has this id.
        """
        for _, _, item in self._iter_active():
            if item.skill_id == item_id:
                return item
        raise KeyError(item_id)

    def locate(self, item_id: str) -> tuple[str, str | None]:
        """``(section, category)`` of an active item. Raises KeyError when absent."""
        for section, category, item in self._iter_active():
            if item.skill_id == item_id:
                return section, category
        raise KeyError(item_id)

    def _all_ids(self) -> set[str]:
        ids = {item.skill_id for _, _, item in self._iter_active()}
        ids.update(r.item.skill_id for r in self._doc.retired)
        return ids

    # -- editing -------------------------------------------------------------------------

    def _record(
        self,
        op: str,
        item_id: str,
        section: str,
        category: str | None,
        *,
        source: str,
        reason: str,
        step: int | None,
        episode_ids: Iterable[str] = (),
        previous: Mapping[str, Any] | None = None,
    ) -> HistoryRecord:
        self._doc.metadata["version"] = self.version + 1
        rec = HistoryRecord(
            op=op,
            skill_id=item_id,
            section=section,
            category=category,
            step=step,
            source=source,
            reason=reason,
            version=self.version,
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            episode_ids=tuple(episode_ids),
            previous=dict(previous) if previous is not None else None,
        )
        self._pending.append(rec)
        log.debug("bank %s: %s %s -> v%d", self.path or "<memory>", op, item_id, rec.version)
        return rec

    def add_skill(
        self,
        category: str | None,
        skill: Skill | Mapping[str, Any],
        *,
        source: str = "manual",
        reason: str = "",
        step: int | None = None,
        episode_ids: Iterable[str] = (),
    ) -> Skill:
        """Add a general skill (``category=None``) or a task-specific one (new categories are created).

        Raises:
            SkillBankError: invalid skill, or its id is already used (active or retired).
        """
        s = parse_skill(skill.to_dict() if isinstance(skill, Skill) else dict(skill))
        if category is not None and (not isinstance(category, str) or not category.strip()):
            raise SkillBankError("<memory>", "category", "must be a non-empty string or None")
        if s.skill_id in self._all_ids():
            raise SkillBankError("<memory>", "skill.skill_id", f"duplicate id {s.skill_id!r}")
        if category is None:
            self._doc.general.append(s)
            self._record("add", s.skill_id, GENERAL, None, source=source, reason=reason, step=step, episode_ids=episode_ids)
        else:
            self._doc.task_specific.setdefault(category, []).append(s)
            self._record("add", s.skill_id, TASK_SPECIFIC, category, source=source, reason=reason, step=step, episode_ids=episode_ids)
        return s

    def add_mistake(
        self,
        mistake: Mistake | Mapping[str, Any],
        *,
        source: str = "manual",
        reason: str = "",
        step: int | None = None,
        episode_ids: Iterable[str] = (),
    ) -> Mistake:
        """Add a common mistake. Raises SkillBankError when invalid or the id is taken."""
        m = parse_mistake(mistake.to_dict() if isinstance(mistake, Mistake) else dict(mistake))
        if m.mistake_id in self._all_ids():
            raise SkillBankError("<memory>", "mistake.mistake_id", f"duplicate id {m.mistake_id!r}")
        self._doc.mistakes.append(m)
        self._record("add", m.mistake_id, MISTAKES, None, source=source, reason=reason, step=step, episode_ids=episode_ids)
        return m

    def update_skill(
        self,
        skill_id: str,
        changes: Mapping[str, Any],
        *,
        source: str = "manual",
        reason: str = "",
        step: int | None = None,
        episode_ids: Iterable[str] = (),
    ) -> Item:
        """Change fields of an active skill or mistake in place (its id cannot change).

        ``changes`` maps field names (``title``, ``principle``, ``when_to_apply`` or the
        mistake fields; any other key lands in the item's extra keys) to new values. The item as
        it was goes into the history record's ``previous``.

        Raises:
            KeyError: no active item has ``skill_id``.
            SkillBankError: the changed item is invalid, or ``changes`` tries to change the id.
        """
        section, category = self.locate(skill_id)
        old = self.get(skill_id)
        merged = old.to_dict()
        for key in ("skill_id", "mistake_id"):
            if key in changes and changes[key] != skill_id:
                raise SkillBankError("<memory>", f"changes.{key}", "an item's id cannot change; retire it and add a new one")
        merged.update(changes)
        new: Item = parse_mistake(merged, path=skill_id) if section == MISTAKES else parse_skill(merged, path=skill_id)
        if new == old:
            return old
        seq: list[Any] = self._section_list(section, category)
        seq[[i.skill_id for i in seq].index(skill_id)] = new
        self._record(
            "update", skill_id, section, category, source=source, reason=reason, step=step,
            episode_ids=episode_ids, previous=old.to_dict(),
        )
        return new

    def retire_skill(
        self,
        skill_id: str,
        *,
        source: str = "manual",
        reason: str = "",
        step: int | None = None,
        episode_ids: Iterable[str] = (),
    ) -> RetiredItem:
        """Move an active skill or mistake to ``retired_skills``; it leaves retrieval.

        Raises:
            KeyError: no active item has ``skill_id``.
        """
        section, category = self.locate(skill_id)
        seq: list[Any] = self._section_list(section, category)
        item = seq.pop([i.skill_id for i in seq].index(skill_id))
        rec = self._record(
            "retire", skill_id, section, category, source=source, reason=reason, step=step, episode_ids=episode_ids
        )
        retired = RetiredItem(section=section, category=category, item=item, retired_at_version=rec.version, reason=reason)
        self._doc.retired.append(retired)
        return retired

    def _section_list(self, section: str, category: str | None) -> list[Any]:
        if section == GENERAL:
            return self._doc.general
        if section == MISTAKES:
            return self._doc.mistakes
        assert category is not None
        return self._doc.task_specific[category]

    # -- usage ---------------------------------------------------------------------------

    def record_usage(self, skill_ids: Iterable[str], won: bool | None) -> None:
        """Count one episode in which ``skill_ids`` were injected.

        Each known id (active or retired) gets ``times_retrieved += 1`` and, when ``won`` is
        not None, ``episodes_won`` or ``episodes_lost`` += 1. Unknown ids are ignored. Does not
        change ``version``; persisted by :meth:`save` (or :meth:`save_usage`).
        """
        known = self._all_ids()
        for sid in dict.fromkeys(skill_ids):  # an id counts once per episode
            if sid not in known:
                log.debug("record_usage: unknown id %r ignored", sid)
                continue
            u = self._usage.get(sid, Usage())
            self._usage[sid] = replace(
                u,
                times_retrieved=u.times_retrieved + 1,
                episodes_won=u.episodes_won + (1 if won is True else 0),
                episodes_lost=u.episodes_lost + (1 if won is False else 0),
            )
            self._usage_dirty = True

    def usage(self, skill_id: str) -> Usage:
        """Counters for one id (zeros when never used)."""
        return self._usage.get(skill_id, Usage())

    @property
    def all_usage(self) -> Mapping[str, Usage]:
        return dict(self._usage)

    # -- saving --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the bank atomically, then append pending history and write usage counters.

        The content is re-validated before anything is written; when that fails nothing is
        written. Returns the path written; it becomes :attr:`path`.

        Raises:
            ValueError: no path given and the bank has none.
            SkillBankError: the bank content is invalid.
            OSError: the write failed (the previous file is intact).
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save(): no path given and the bank was not loaded from a file")
        data = self.to_dict()
        parse_document(data, str(target))  # never write something load() would reject
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        atomic_write_text(target, text)
        if self._pending:
            with open(history_path(target), "a", encoding="utf-8") as fh:
                for rec in self._pending:
                    fh.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self._pending.clear()
        if self._usage_dirty or (self._usage and target != self.path):
            self.save_usage(target)
        self.path = target
        return target

    def save_usage(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write only the usage sidecar (atomically) for the bank at ``path`` (default: :attr:`path`)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save_usage(): no path given and the bank was not loaded from a file")
        data = {
            "bank_version": self.version,
            "usage": {k: asdict(v) for k, v in sorted(self._usage.items())},
        }
        up = usage_path(target)
        atomic_write_text(up, json.dumps(data, indent=2) + "\n")
        self._usage_dirty = False
        return up
