"""The skill-bank JSON format: records, parsing and validation.

A bank file is one JSON object::

    {
      "general_skills":       [SKILL, ...],
      "task_specific_skills": {"<category>": [SKILL, ...], ...},
      "common_mistakes":      [MISTAKE, ...],
      "retired_skills":       [RETIRED, ...],          # optional, written by SkillBank
      "metadata":             {"version": 3, ...},     # optional
      ...                                              # any other key: kept as is
    }

    SKILL   = {"skill_id": str, "title": str, "principle": str, "when_to_apply": str, ...}
    MISTAKE = {"mistake_id": str, "description": str, "why_it_happens": str,
               "how_to_avoid": str, ...}
    RETIRED = {"section": "general_skills" | "task_specific_skills" | "common_mistakes",
               "category": str | null, "item": SKILL | MISTAKE,
               "retired_at_version": int, "reason": str}

Rules: ids are non-empty strings, unique across the whole file (active and retired items);
``title``/``principle`` (skills) and ``description``/``how_to_avoid`` (mistakes) are non-empty
strings; ``when_to_apply`` and ``why_it_happens`` are strings and may be empty or absent.
Unknown keys on any object (e.g. ``example`` on a skill, ``metadata``, other top-level keys)
are preserved when the bank is saved again. ``metadata.version`` is the bank's change counter
(an integer, 0 when absent).

Any violation raises :class:`SkillBankError` naming the file, the JSON path of the offending
value (``task_specific_skills.heat[2].principle``) and the reason.

Limits (so that every bank that loads can be saved, copied and rendered again): arrays and
objects nest at most :data:`MAX_DEPTH` levels; integers fit in 64 bits (``metadata.version``
included); numbers are finite (no ``NaN``/``Infinity``); strings are valid Unicode (no lone
surrogates); object keys are strings. Breaking one is one :class:`SkillBankError` like any other
problem — never a ``RecursionError`` or a ``ValueError`` from the JSON decoder.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GENERAL = "general_skills"
TASK_SPECIFIC = "task_specific_skills"
MISTAKES = "common_mistakes"
RETIRED = "retired_skills"
METADATA = "metadata"
SECTIONS = (GENERAL, TASK_SPECIFIC, MISTAKES)

MAX_DEPTH = 128
"""Deepest nesting of arrays and objects in a bank (the top-level object is level 1)."""
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Integers in a bank must fit in 64 bits (as in SQLite, Go, Rust, Java readers)."""
_INT_MAX_DIGITS = 19  # longest decimal integer the decoder converts; longer ones are reported

_SKILL_FIELDS = ("skill_id", "title", "principle", "when_to_apply")
_MISTAKE_FIELDS = ("mistake_id", "description", "why_it_happens", "how_to_avoid")


class SkillBankError(ValueError):
    """A bank file (or bank edit) is invalid.

    Attributes:
        file: the file concerned (``"<memory>"`` for in-memory data).
        json_path: where in the document the problem is (``""`` for the whole document).
        reason: what is wrong, in words.
    """

    def __init__(self, file: str, json_path: str, reason: str) -> None:
        self.file = str(file)
        self.json_path = json_path
        self.reason = reason
        where = f"{self.file}: {json_path}" if json_path else self.file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Skill:
    """One reusable lesson."""

    skill_id: str
    """Unique id within the bank (e.g. ``"gen_003"``, ``"heat_002"``)."""
    title: str
    """Short name of the lesson (non-empty)."""
    principle: str
    """What to do, stated as a rule (non-empty)."""
    when_to_apply: str = ""
    """The situation in which the principle helps ('' when always)."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Keys of the JSON object that are not fields above (kept on save)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "skill_id": self.skill_id,
            "title": self.title,
            "principle": self.principle,
            "when_to_apply": self.when_to_apply,
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Mistake:
    """One failure pattern to avoid."""

    mistake_id: str
    """Unique id within the bank."""
    description: str
    """What goes wrong (non-empty)."""
    why_it_happens: str = ""
    """The usual cause."""
    how_to_avoid: str = ""
    """What to do instead (non-empty)."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Keys of the JSON object that are not fields above (kept on save)."""

    @property
    def skill_id(self) -> str:
        """Alias of ``mistake_id`` so that every bank item has a ``skill_id``."""
        return self.mistake_id

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mistake_id": self.mistake_id,
            "description": self.description,
            "why_it_happens": self.why_it_happens,
            "how_to_avoid": self.how_to_avoid,
        }
        out.update(self.extra)
        return out


Item = Skill | Mistake


@dataclass(frozen=True)
class RetiredItem:
    """A skill or mistake taken out of retrieval; kept in the file for the record."""

    section: str
    """Where it lived: ``general_skills``, ``task_specific_skills`` or ``common_mistakes``."""
    category: str | None
    """Its task category when ``section`` is ``task_specific_skills``, else None."""
    item: Item
    """The item as it was when retired."""
    retired_at_version: int
    """Bank version produced by the retirement."""
    reason: str = ""
    """Why it was retired."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "section": self.section,
            "category": self.category,
            "item": self.item.to_dict(),
            "retired_at_version": self.retired_at_version,
            "reason": self.reason,
        }
        out.update(self.extra)
        return out


@dataclass
class BankDocument:
    """A parsed, validated bank file (mutable working copy used by ``SkillBank``)."""

    general: list[Skill] = field(default_factory=list)
    task_specific: dict[str, list[Skill]] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    retired: list[RetiredItem] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    """Unknown top-level keys, in file order."""

    @property
    def version(self) -> int:
        return int(self.metadata.get("version", 0) or 0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            GENERAL: [s.to_dict() for s in self.general],
            TASK_SPECIFIC: {c: [s.to_dict() for s in skills] for c, skills in self.task_specific.items()},
            MISTAKES: [m.to_dict() for m in self.mistakes],
        }
        if self.retired:
            out[RETIRED] = [r.to_dict() for r in self.retired]
        if self.metadata:
            out[METADATA] = dict(self.metadata)
        for k, v in self.extras.items():
            out.setdefault(k, v)
        return out


# ---------------------------------------------------------------------------------------------
# parsing

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def key_path(parent: str, key: str) -> str:
    """JSON path of ``parent[key]`` in dotted form (``a.b``; ``a["odd key"]`` when needed)."""
    if _IDENT.match(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key)}]"


class _Unrepresentable:
    """What the decoder puts where a number cannot be kept (reported with its JSON path)."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


def _decode_int(text: str) -> int | _Unrepresentable:
    digits = len(text.lstrip("-"))
    if digits > _INT_MAX_DIGITS:  # int() of thousands of digits is slow, then refused (4300)
        return _Unrepresentable(f"an integer of {digits} digits is out of range (integers must fit in 64 bits)")
    return int(text)


def _decode_float(text: str) -> float | _Unrepresentable:
    value = float(text)
    if not math.isfinite(value):
        return _Unrepresentable(f"number {text[:40]} is out of range")
    return value


def _decode_constant(name: str) -> _Unrepresentable:
    return _Unrepresentable(f"{name} is not a JSON number")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _path_of(prefix: str, chain: tuple[Any, ...] | None) -> str:
    """JSON path from the ``(parent_chain, key)`` links built by :func:`check_json_value`."""
    keys: list[str | int] = []
    while chain is not None:
        chain, key = chain
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else key_path(path, key)
    if prefix and path:
        return prefix + (path if path.startswith("[") else "." + path)
    return prefix or path


def check_json_value(data: Any, file: str = "<memory>", path: str = "") -> None:
    """Check that ``data`` is plain JSON within the bank limits (module docstring), iteratively.

    Raises:
        SkillBankError: the first value (in document order) that breaks a limit, with its path.
    """
    stack: list[tuple[Any, tuple[Any, ...] | None, int]] = [(data, None, 1)]
    while stack:
        value, chain, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise SkillBankError(file, _path_of(path, chain), f"nested deeper than {MAX_DEPTH} levels of arrays/objects")
            if isinstance(value, dict):
                children: list[tuple[Any, tuple[Any, ...] | None, int]] = []
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise SkillBankError(file, _path_of(path, chain), f"object keys must be strings, got {type(key).__name__}")
                    if _SURROGATE.search(key):
                        raise SkillBankError(file, _path_of(path, chain), f"key {key!r} is not valid Unicode (lone surrogate)")
                    children.append((item, (chain, key), depth + 1))
            else:
                children = [(item, (chain, i), depth + 1) for i, item in enumerate(value)]
            stack.extend(reversed(children))
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                raise SkillBankError(file, _path_of(path, chain), "string is not valid Unicode (lone surrogate)")
        elif value is None or isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                raise SkillBankError(file, _path_of(path, chain), "integer out of range (integers must fit in 64 bits)")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise SkillBankError(file, _path_of(path, chain), f"number {value} is not finite")
        elif isinstance(value, _Unrepresentable):
            raise SkillBankError(file, _path_of(path, chain), value.what)
        else:
            raise SkillBankError(file, _path_of(path, chain), f"not a JSON value ({type(value).__name__})")


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.seen_ids: dict[str, str] = {}

    def error(self, path: str, reason: str) -> SkillBankError:
        return SkillBankError(self.file, path, reason)

    def _type_name(self, value: Any) -> str:
        return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
            type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
        )

    def expect(self, value: Any, kind: type, path: str, what: str) -> None:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(path, f"expected {what}, got {self._type_name(value)}")

    def text(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool, non_empty: bool) -> str:
        p = key_path(path, key)
        if key not in obj:
            if required:
                raise self.error(p, "missing required field")
            return ""
        value = obj[key]
        self.expect(value, str, p, "a string")
        if non_empty and not value.strip():
            raise self.error(p, "must not be empty")
        return value

    def register_id(self, item_id: str, path: str) -> None:
        if item_id in self.seen_ids:
            raise self.error(path, f"duplicate id {item_id!r} (first used at {self.seen_ids[item_id]})")
        self.seen_ids[item_id] = path

    def skill(self, obj: Any, path: str) -> Skill:
        self.expect(obj, dict, path, "an object (a skill)")
        sid = self.text(obj, "skill_id", path, required=True, non_empty=True)
        self.register_id(sid, key_path(path, "skill_id"))
        return Skill(
            skill_id=sid,
            title=self.text(obj, "title", path, required=True, non_empty=True),
            principle=self.text(obj, "principle", path, required=True, non_empty=True),
            when_to_apply=self.text(obj, "when_to_apply", path, required=False, non_empty=False),
            extra={k: v for k, v in obj.items() if k not in _SKILL_FIELDS},
        )

    def mistake(self, obj: Any, path: str) -> Mistake:
        self.expect(obj, dict, path, "an object (a mistake)")
        mid = self.text(obj, "mistake_id", path, required=True, non_empty=True)
        self.register_id(mid, key_path(path, "mistake_id"))
        return Mistake(
            mistake_id=mid,
            description=self.text(obj, "description", path, required=True, non_empty=True),
            why_it_happens=self.text(obj, "why_it_happens", path, required=False, non_empty=False),
            how_to_avoid=self.text(obj, "how_to_avoid", path, required=True, non_empty=True),
            extra={k: v for k, v in obj.items() if k not in _MISTAKE_FIELDS},
        )

    def skill_list(self, value: Any, path: str) -> list[Skill]:
        self.expect(value, list, path, "an array of skills")
        return [self.skill(obj, f"{path}[{i}]") for i, obj in enumerate(value)]

    def retired(self, obj: Any, path: str) -> RetiredItem:
        self.expect(obj, dict, path, "an object (a retired item)")
        section = obj.get("section")
        if section not in SECTIONS:
            raise self.error(key_path(path, "section"), f"must be one of {', '.join(SECTIONS)}")
        category = obj.get("category")
        if section == TASK_SPECIFIC:
            self.expect(category, str, key_path(path, "category"), "a string (the task category)")
        elif category is not None:
            self.expect(category, str, key_path(path, "category"), "a string or null")
        if "item" not in obj:
            raise self.error(key_path(path, "item"), "missing required field")
        item_path = key_path(path, "item")
        item: Item = self.mistake(obj["item"], item_path) if section == MISTAKES else self.skill(obj["item"], item_path)
        version = obj.get("retired_at_version", 0)
        self.expect(version, int, key_path(path, "retired_at_version"), "an integer")
        reason = obj.get("reason", "")
        self.expect(reason, str, key_path(path, "reason"), "a string")
        known = ("section", "category", "item", "retired_at_version", "reason")
        return RetiredItem(
            section=section,
            category=category,
            item=item,
            retired_at_version=version,
            reason=reason,
            extra={k: v for k, v in obj.items() if k not in known},
        )

    def metadata(self, value: Any) -> dict[str, Any]:
        self.expect(value, dict, METADATA, "an object")
        meta = dict(value)
        if "version" in meta:
            v = meta["version"]
            if isinstance(v, str) and re.fullmatch(r"\d{1,%d}(\.0+)?" % _INT_MAX_DIGITS, v.strip()):
                v = meta["version"] = int(v.strip().split(".")[0])  # seed banks may write "1" or "1.0"
                if v > INT_MAX:
                    raise self.error(key_path(METADATA, "version"), "integer out of range (integers must fit in 64 bits)")
            else:
                self.expect(v, int, key_path(METADATA, "version"), "a non-negative integer")
                if v < 0:
                    raise self.error(key_path(METADATA, "version"), "must be a non-negative integer")
        return meta

    def document(self, data: Any) -> BankDocument:
        self.expect(data, dict, "", "a JSON object at the top level")
        doc = BankDocument()
        if GENERAL in data:
            doc.general = self.skill_list(data[GENERAL], GENERAL)
        if TASK_SPECIFIC in data:
            ts = data[TASK_SPECIFIC]
            self.expect(ts, dict, TASK_SPECIFIC, "an object mapping task categories to skill arrays")
            for category, skills in ts.items():
                if not category.strip():
                    raise self.error(key_path(TASK_SPECIFIC, category), "category name must not be empty")
                doc.task_specific[category] = self.skill_list(skills, key_path(TASK_SPECIFIC, category))
        if MISTAKES in data:
            value = data[MISTAKES]
            self.expect(value, list, MISTAKES, "an array of mistakes")
            doc.mistakes = [self.mistake(obj, f"{MISTAKES}[{i}]") for i, obj in enumerate(value)]
        if RETIRED in data:
            value = data[RETIRED]
            self.expect(value, list, RETIRED, "an array of retired items")
            doc.retired = [self.retired(obj, f"{RETIRED}[{i}]") for i, obj in enumerate(value)]
        if METADATA in data:
            doc.metadata = self.metadata(data[METADATA])
        known = {GENERAL, TASK_SPECIFIC, MISTAKES, RETIRED, METADATA}
        doc.extras = {k: v for k, v in data.items() if k not in known}
        if not any(k in data for k in SECTIONS):
            raise self.error("", f"not a skill bank: none of {', '.join(SECTIONS)} is present")
        return doc


def parse_document(data: Any, file: str = "<memory>") -> BankDocument:
    """Validate decoded JSON ``data`` and return it as a :class:`BankDocument`.

    Raises:
        SkillBankError: the first problem found (file, JSON path, reason).
    """
    check_json_value(data, str(file))
    return _Parser(str(file)).document(data)


def parse_text(text: str, file: str = "<memory>") -> BankDocument:
    """Decode and validate a bank from JSON text.

    Raises:
        SkillBankError: invalid JSON (the reason names line and column) or an invalid bank.
    """
    return parse_document(decode_json(text, file), file)


def decode_json(text: str, file: str = "<memory>") -> Any:
    """``json.loads`` that fails only with :class:`SkillBankError` (bad JSON, nesting too deep).

    Integers too long to keep and non-finite numbers are decoded to markers that
    :func:`check_json_value` reports with their JSON path.
    """
    try:
        return json.loads(text, parse_int=_decode_int, parse_float=_decode_float, parse_constant=_decode_constant)
    except json.JSONDecodeError as exc:
        raise SkillBankError(str(file), "", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise SkillBankError(str(file), "", f"invalid bank: arrays/objects nested too deeply (at most {MAX_DEPTH} levels)") from None


def parse_skill(obj: Any, file: str = "<memory>", path: str = "skill") -> Skill:
    """Validate one skill object (used for edits); ids are not checked for uniqueness here."""
    check_json_value(obj, file, path)
    return _Parser(file).skill(obj, path)


def parse_mistake(obj: Any, file: str = "<memory>", path: str = "mistake") -> Mistake:
    """Validate one mistake object (used for edits); ids are not checked for uniqueness here."""
    check_json_value(obj, file, path)
    return _Parser(file).mistake(obj, path)
