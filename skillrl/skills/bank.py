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
  evolution op) and ``previous`` (an updated item's JSON before the update). Records are
  buffered in memory and written by :meth:`SkillBank.save`.
- ``DIR/NAME.usage.json`` — per-item counters ``times_retrieved``, ``episodes_won``,
  ``episodes_lost`` (see :meth:`SkillBank.record_usage`). Usage is not content: recording it
  does not change ``version`` (retrieval caches keyed on the version stay valid). Counters are
  best effort: an unreadable sidecar is reported (a warning) and counting starts fresh.

Durability (the write-ahead order of SQLite's journal and Git's refs), in :meth:`SkillBank.save`:

1. the history records of the new version are appended to ``NAME.history.jsonl`` and fsynced;
2. then the bank text goes to a temporary file in the same directory (``.NAME.json.<pid>-<hex>.tmp``),
   is fsynced and ``os.replace``-d over ``NAME.json``, and the directory is fsynced;
3. then the usage sidecar is written the same way.

A crash at any point leaves a bank that loads (the previous or the new version) and a history
that describes every version the bank file has reached. What a crash can leave behind is
repaired by the next save and skipped (with a warning) by readers meanwhile:

- *orphan records*: history for versions newer than the bank on disk (killed between 1 and 2);
- a *torn tail*: an unterminated, unreadable last line (killed during 1);
- *stale temp files* of a writer process that no longer runs (killed during 2 or 3).

If step 2 fails with an error (disk full, permission), the history appended in step 1 is cut
off again, the pending records stay pending and the error is raised. The bank file keeps its
mode and, where allowed, its owner; new files get ``0666`` minus the umask (``0644`` usually).
One process writes a bank (the trainer); readers take snapshots (:func:`read_history` reads
the bank's version before the history, so it never reports records of a version it cannot see).
"""

from __future__ import annotations

import copy
import errno
import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

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
    check_json_value,
    parse_document,
    parse_mistake,
    parse_skill,
    parse_text,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
STALE_TEMP_AGE_S = 3600.0
"""A temp file this old is stale even if a process with its writer's pid is running (pid reuse)."""


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


def _write_bytes(fh: Any, data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (a seam for crash tests)."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        view = view[n:]


def _fsync_dir(directory: Path) -> None:
    """Make a rename / file creation in ``directory`` durable (not possible on every platform)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _temp_pattern(target: Path) -> re.Pattern[str]:
    # ours: .NAME.<pid>-<hex>.tmp; older releases (mkstemp): .NAME.<8 chars>.tmp
    return re.compile(rf"^\.{re.escape(target.name)}\.(?:(\d+)-[0-9a-f]+|[A-Za-z0-9_]{{8}})\.tmp$")


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C there; rely on the age rule
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process
    return True


def clean_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temp files that a killed save of ``target`` left behind; returns those removed.

    A temp file is stale when the process that created it (its pid is in the name) no longer
    runs, when it is older than :data:`STALE_TEMP_AGE_S`, or when it has the name an older
    release gave its temp files. Temp files of this process are left alone (another thread
    may be writing). Errors are ignored (cleaning is best effort).
    """
    path = Path(target)
    pattern = _temp_pattern(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.match(entry.name)
        if not match:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = int(match.group(1)) if match.group(1) else None
        if pid is not None and age < STALE_TEMP_AGE_S and (pid == os.getpid() or _pid_alive(pid)):
            continue
        try:
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    if removed:
        log.warning("removed %d stale temp file(s) of an interrupted save of %s", len(removed), path)
    return removed


def _create_temp(target: Path) -> tuple[str, int]:
    """A new temp file next to ``target`` (mode 0666 minus the umask, like any new file)."""
    for _ in range(100):
        tmp = str(target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"))
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temp file name", str(target))


def _copy_owner_and_mode(fd: int, st: os.stat_result) -> None:
    """Give the new file the old file's owner (where allowed) and mode."""
    if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        for uid, gid in ((st.st_uid, st.st_gid), (-1, st.st_gid)):
            try:
                os.fchown(fd, uid, gid)
                break
            except OSError:
                continue
    try:
        os.chmod(fd, stat.S_IMODE(st.st_mode))  # by descriptor where supported
    except (OSError, NotImplementedError) as exc:  # e.g. a file system without modes: keep the default
        log.debug("could not copy mode %o: %s", stat.S_IMODE(st.st_mode), exc)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same dir, fsync, os.replace).

    Stale temp files of earlier, killed writes are removed first. The new file keeps the mode
    (and, where allowed, the owner) of the file it replaces; a new file gets 0666 minus the
    umask. On any failure the temp file is removed and ``path`` keeps its previous content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    tmp, fd = _create_temp(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if old is not None and stat.S_ISREG(old.st_mode):
                _copy_owner_and_mode(fh.fileno(), old)
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
    _fsync_dir(target.parent)


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


_HISTORY_TYPES: dict[str, tuple[type, ...]] = {
    "op": (str,),
    "skill_id": (str,),
    "section": (str,),
    "category": (str, type(None)),
    "step": (int, type(None)),
    "source": (str,),
    "reason": (str,),
    "version": (int,),
    "timestamp": (str,),
    "episode_ids": (list,),
    "previous": (dict, type(None)),
}


def parse_history_line(line: str | bytes) -> HistoryRecord:
    """One history line as a record (unknown keys are ignored, for newer writers).

    Raises:
        ValueError: not a JSON object with the record's fields of the right types.
    """
    try:
        obj = json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    values: dict[str, Any] = {}
    for f in fields(HistoryRecord):
        if f.name not in obj:
            if f.default is not MISSING:  # optional fields (absent in older files)
                continue
            raise ValueError(f"missing field {f.name!r}")
        value = obj[f.name]
        allowed = _HISTORY_TYPES[f.name]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"field {f.name!r} has the wrong type ({type(value).__name__})")
        if f.name == "episode_ids" and not all(isinstance(e, str) for e in value):
            raise ValueError("field 'episode_ids' must hold strings")
        values[f.name] = value
    return HistoryRecord(**values)


def _try_record(line: bytes) -> HistoryRecord | None:
    try:
        return parse_history_line(line)
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class HistoryCheck:
    """What :func:`check_history` found in ``NAME.history.jsonl``."""

    records: tuple[HistoryRecord, ...]
    """Valid records of versions the bank file has reached, in file order."""
    orphans: tuple[HistoryRecord, ...] = ()
    """Records of versions newer than the bank on disk (a save killed after writing its history
    and before its bank landed). Not part of :attr:`records`; the next save removes them."""
    torn_tail: bool = False
    """The last line has no newline and is not a valid record (an append was cut short).
    Skipped; the next save removes it."""
    invalid_lines: tuple[tuple[int, str], ...] = ()
    """``(line number, reason)`` of other lines that are not valid records (skipped)."""
    bank_version: int | None = None
    """``metadata.version`` of the bank file (None when it cannot be read: no orphan check)."""

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not (self.orphans or self.torn_tail or self.invalid_lines)

    def problems(self) -> list[str]:
        """One sentence per problem found ([] when :attr:`ok`)."""
        out = []
        if self.orphans:
            versions = sorted({r.version for r in self.orphans})
            out.append(
                f"{len(self.orphans)} record(s) for version(s) {versions[0]}..{versions[-1]} that the bank "
                f"(version {self.bank_version}) never reached: an interrupted save; skipped, the next save removes them"
            )
        if self.torn_tail:
            out.append("the last line is incomplete (an interrupted append); skipped, the next save removes it")
        for lineno, reason in self.invalid_lines:
            out.append(f"line {lineno} is not a valid record ({reason}); skipped")
        return out


def _bank_version_on_disk(bank_path: Path) -> int | None:
    """``metadata.version`` of the bank file, or None when it is missing or invalid."""
    try:
        return parse_text(bank_path.read_text(encoding="utf-8"), str(bank_path)).version
    except (OSError, UnicodeDecodeError, SkillBankError):
        return None


def check_history(bank_path: str | os.PathLike[str]) -> HistoryCheck:
    """Read the history of the bank at ``bank_path``, sorting out what a crash may have left.

    The bank's version is read first, then the history, so a save running meanwhile shows up
    as orphan records at worst, never as a version without its records. Never raises for
    content problems (they are in the result); an unreadable history file raises OSError.
    """
    bank = Path(bank_path)
    version = _bank_version_on_disk(bank)
    p = history_path(bank)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return HistoryCheck(records=(), bank_version=version)
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline
    torn = False
    if last.strip():
        if _try_record(last) is None:
            torn = True
        else:
            lines.append(last)  # a complete record that only lacks its newline
    records: list[HistoryRecord] = []
    orphans: list[HistoryRecord] = []
    invalid: list[tuple[int, str]] = []
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            rec = parse_history_line(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            invalid.append((lineno, str(exc)[:200]))
            continue
        (orphans if version is not None and rec.version > version else records).append(rec)
    return HistoryCheck(tuple(records), tuple(orphans), torn, tuple(invalid), version)


def read_history(bank_path: str | os.PathLike[str]) -> list[HistoryRecord]:
    """The history records of the bank at ``bank_path`` ([] when there is no history file).

    Lines that are not valid records, a torn last line and records of versions the bank never
    reached (see :func:`check_history`) are skipped, each reported with a warning.

    Raises:
        SkillBankError: the history file exists but cannot be read.
    """
    try:
        result = check_history(bank_path)
    except OSError as exc:
        raise SkillBankError(str(history_path(bank_path)), "", f"cannot read: {exc.strerror or exc}") from None
    for problem in result.problems():
        log.warning("%s: %s", history_path(bank_path), problem)
    return list(result.records)


def _lines_backward(fh: BinaryIO, size: int, block: int = _CHUNK) -> Iterator[tuple[int, bytes, bool]]:
    """``(start offset, line without newline, ends with newline)`` from the last line back."""
    buf, buf_start, end = b"", size, size
    while end > 0:
        if buf_start >= end:  # make sure buf covers the byte before ``end``
            new_start = max(0, end - block)
            fh.seek(new_start)
            buf, buf_start = fh.read(end - new_start), new_start
        terminated = buf[end - 1 - buf_start] == 0x0A
        content_end = end - 1 if terminated else end
        while True:
            idx = buf.rfind(b"\n", 0, content_end - buf_start)
            if idx >= 0:
                line_start = buf_start + idx + 1
                break
            if buf_start == 0:
                line_start = 0
                break
            new_start = max(0, buf_start - block)
            fh.seek(new_start)
            buf, buf_start = fh.read(buf_start - new_start) + buf, new_start
        yield line_start, buf[line_start - buf_start : content_end - buf_start], terminated
        end = line_start


def _repair_history_tail(fh: BinaryIO, bank_version: int | None, where: Path) -> int:
    """Cut a torn last line and records of versions above ``bank_version`` off the end of the
    history; make sure it ends with a newline. Returns the new size."""
    size = fh.seek(0, os.SEEK_END)
    cut = size
    dropped = 0
    for start, line, terminated in _lines_backward(fh, size):
        if not line.strip():
            continue
        rec = _try_record(line)
        if rec is None and not terminated:
            cut, dropped = start, dropped + 1  # torn by a killed append
            continue
        if rec is not None and bank_version is not None and rec.version > bank_version:
            cut, dropped = start, dropped + 1  # its bank never landed
            continue
        break
    if cut < size:
        fh.truncate(cut)
        log.warning("%s: removed %d record(s) of an interrupted save (bank is at version %s)", where, dropped, bank_version)
    if cut > 0:
        fh.seek(cut - 1)
        if fh.read(1) != b"\n":
            fh.seek(cut)
            fh.write(b"\n")
            cut += 1
    return cut


def _usage_entry(value: Any) -> Usage:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    counts = {}
    for f in fields(Usage):
        n = value.get(f.name, 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TypeError(f"{f.name} must be a non-negative integer, got {n!r}"[:120])
        counts[f.name] = n
    return Usage(**counts)


def _read_usage(path: Path) -> dict[str, Usage]:
    """Usage counters from the sidecar; anything unreadable is a warning and counts start fresh
    (entries with bad counters are dropped one by one, a broken file as a whole)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("usage counters %s unreadable (%s); starting fresh", path, getattr(exc, "strerror", None) or exc)
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        log.warning("usage counters %s are not valid JSON (%s); starting fresh", path, str(exc)[:200])
        return {}
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        log.warning("usage counters %s have no 'usage' object; starting fresh", path)
        return {}
    out: dict[str, Usage] = {}
    for key, value in usage.items():
        try:
            out[key] = _usage_entry(value)
        except TypeError as exc:
            log.warning("usage counters %s: entry %r dropped (%s)", path, key[:80], exc)
    return out


ADDED_AT_VERSION = "added_at_version"
"""Item key set by :meth:`SkillBank.add_skill` / :meth:`SkillBank.add_mistake`: the bank version
the add produced. Seed items (written by hand or by the offline pipeline) have none."""


def added_at_version(item: Item) -> int:
    """The version at which ``item`` was added to its bank (0 for seed items or a bad value)."""
    value = item.extra.get(ADDED_AT_VERSION)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def recency_order(items: Iterable[Item]) -> list[Item]:
    """``items`` with the most recently added first, then the seed items in their bank order.

    This is the order in which retrieval fills a section's slots (``top_k``, ``mistakes_k``,
    ``task_specific_top_k``) and, reversed, the order in which a token budget drops them: what
    evolution added last is shown first, so a new lesson is seen (and its usage counted) in the
    very next episode, while the curated order of the seed bank is kept behind it.

    >>> from skillrl.skills.schema import Skill
    >>> a, b = Skill("a", "A", "p"), Skill("b", "B", "p")
    >>> new = Skill("n1", "N", "p", extra={ADDED_AT_VERSION: 1})
    >>> newer = Skill("n2", "N", "p", extra={ADDED_AT_VERSION: 2})
    >>> [s.skill_id for s in recency_order([a, new, b, newer])]
    ['n2', 'n1', 'a', 'b']
    """
    indexed = list(enumerate(items))
    indexed.sort(key=lambda p: (-added_at_version(p[1]), p[0]))
    return [item for _, item in indexed]


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
        """Validate decoded JSON and wrap it (no file attached).

        Raises:
            SkillBankError: ``data`` is not a valid bank (including the JSON limits of
                :mod:`skillrl.skills.schema`: nesting depth, 64-bit integers, finite numbers).
        """
        check_json_value(data, file)  # before deepcopy, which would recurse into deep nesting
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

        The stored skill carries ``added_at_version`` (the bank version this add produces), which
        retrieval uses to list recent items first (:func:`recency_order`).

        Raises:
            SkillBankError: invalid skill, or its id is already used (active or retired).
        """
        s = parse_skill(skill.to_dict() if isinstance(skill, Skill) else dict(skill))
        s = replace(s, extra={**s.extra, ADDED_AT_VERSION: self.version + 1})
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
        """Add a common mistake (stamped with ``added_at_version`` like :meth:`add_skill`).

        Raises SkillBankError when invalid or the id is taken."""
        m = parse_mistake(mistake.to_dict() if isinstance(mistake, Mistake) else dict(mistake))
        m = replace(m, extra={**m.extra, ADDED_AT_VERSION: self.version + 1})
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
        """Write pending history, then the bank, then the usage counters (module docstring).

        The content is re-validated before anything is written; when that fails nothing is
        written. Before appending, the history's tail is repaired (records of versions the
        bank file never reached and a torn last line are cut off) and stale temp files of
        killed saves are removed. Returns the path written; it becomes :attr:`path`.
        A failure to write the usage sidecar is a warning (counters are best effort).

        Raises:
            ValueError: no path given and the bank has none.
            SkillBankError: the bank content is invalid.
            OSError: writing the history or the bank failed. The bank file and its history
                are as before and the changes stay pending (a later save writes them).
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save(): no path given and the bank was not loaded from a file")
        data = self.to_dict()
        parse_document(data, str(target))  # never write something load() would reject
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        target.parent.mkdir(parents=True, exist_ok=True)
        undo = self._write_history(target)
        try:
            atomic_write_text(target, text)
        except BaseException:
            undo()
            raise
        self._pending.clear()
        if self._usage_dirty or (self._usage and target != self.path):
            try:
                self.save_usage(target)
            except OSError as exc:
                log.warning("usage counters of %s not saved (%s); they stay in memory", target, exc.strerror or exc)
        self.path = target
        return target

    def _write_history(self, target: Path) -> Any:
        """Repair the history's tail, append and fsync the pending records (step 1 of a save).

        Returns a function that cuts the history back to how this step found it after the
        repair (called when the bank itself cannot be written).
        """
        hp = history_path(target)
        existed = hp.exists()
        if not existed and not self._pending:
            return lambda: None
        bank_version = _bank_version_on_disk(target) if target.exists() else None
        size = 0

        def undo() -> None:
            if _bank_version_on_disk(target) == self.version and self._pending:
                return  # the bank landed after all (interrupted after the rename): keep its history
            try:
                if not existed:
                    os.unlink(hp)
                else:
                    os.truncate(hp, size)
            except OSError as exc:  # readers skip the records as orphans; the next save cuts them
                log.warning("could not take back the history of a failed save of %s: %s", target, exc)

        try:
            fd = os.open(hp, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:
            if self._pending:
                raise
            return lambda: None  # nothing to append; a read-only history is left as it is
        with os.fdopen(fd, "r+b", buffering=0) as fh:  # unbuffered: nothing is written behind our back
            size = _repair_history_tail(fh, bank_version, hp)
            try:
                if self._pending:
                    payload = b"".join(json.dumps(r.to_dict(), ensure_ascii=False).encode("utf-8") + b"\n" for r in self._pending)
                    fh.seek(size)
                    _write_bytes(fh, payload)
                os.fsync(fh.fileno())
            except BaseException:
                undo()
                raise
        if not existed:
            _fsync_dir(hp.parent)
        return undo

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
