"""Hostile bank files get one clean error — from the library (SkillBankError) and the CLI (one
``error:`` line, exit 2) — never a RecursionError, a ValueError from the decoder or a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bankfixtures import skill
from typer.testing import CliRunner

from skillrl.cli import app
from skillrl.skills import SkillBank, SkillBankError
from skillrl.skills.schema import MAX_DEPTH, parse_text

runner = CliRunner()

BASE = '{"general_skills": [{"skill_id": "g1", "title": "t", "principle": "p"}], '


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES = {
    "nested_100k_in_a_section": ('{"general_skills": ' + _nested(100_000) + "}", "nested too deeply"),
    "nested_100k_in_an_extra_key": (BASE + '"notes": ' + _nested(100_000) + "}", "nested too deeply"),
    "nested_objects_100k": (BASE + '"notes": ' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}", "nested too deeply"),
    "nested_200_levels": (BASE + '"notes": ' + _nested(200) + "}", "notes" + "[0]" * (MAX_DEPTH - 1) + ": nested deeper than"),
    "version_5000_digits": (BASE + '"metadata": {"version": ' + "9" * 5000 + "}}", "metadata.version: an integer of 5000 digits"),
    "version_5000_digit_string": (BASE + '"metadata": {"version": "' + "9" * 5000 + '"}}', "metadata.version: expected"),
    "version_over_64_bits": (BASE + '"metadata": {"version": 9223372036854775808}}', "metadata.version: integer out of range"),
    "negative_huge_int_extra": (BASE + '"notes": -' + "1" * 300 + "}", "notes: an integer of 300 digits"),
    "version_1e400": (BASE + '"metadata": {"version": 1e400}}', "metadata.version: number 1e400 is out of range"),
    "nan_in_extra": (BASE + '"notes": [1, NaN]}', "notes[1]: NaN is not a JSON number"),
    "infinity": (BASE + '"notes": -Infinity}', "notes: -Infinity is not a JSON number"),
    "lone_surrogate": ('{"general_skills": [{"skill_id": "g1", "title": "\\ud800", "principle": "p"}]}',
                       "general_skills[0].title: string is not valid Unicode"),
    "lone_surrogate_key": (BASE + '"\\udfff": 1}', "is not valid Unicode"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_library_raises_one_bank_error(tmp_path: Path, name: str) -> None:
    text, message = CASES[name]
    path = tmp_path / "bank.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SkillBankError) as info:
        SkillBank.load(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))
    assert len(str(info.value)) < 1000  # one readable line, not a dump of the input


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_validate_prints_one_error_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "bank.json"
    path.write_text(CASES[name][0], encoding="utf-8")
    result = runner.invoke(app, ["skills", "validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _deep_list(depth: int) -> list:
    root: list = []
    node = root
    for _ in range(depth - 1):
        child: list = []
        node.append(child)
        node = child
    return root


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"general_skills": [], "notes": _deep_list(100_000)}, "nested deeper than 128 levels"),
        ({"general_skills": [], "metadata": {"version": 10**5000}}, "metadata.version: integer out of range"),
        ({"general_skills": [], "metadata": {"version": "9" * 5000}}, "metadata.version"),
        ({"general_skills": [], "notes": math.nan}, "notes: number nan is not finite"),
        ({"general_skills": [], "notes": {1: "x"}}, "notes: object keys must be strings, got int"),
        ({"general_skills": [], "notes": {1, 2}}, "notes: not a JSON value (set)"),
        ({"general_skills": [skill("g", title=b"bytes")]}, "general_skills[0].title: not a JSON value (bytes)"),
    ],
)
def test_in_memory_data_raises_one_bank_error(data: dict, message: str) -> None:
    with pytest.raises(SkillBankError, match=None) as info:
        SkillBank.from_dict(data)
    assert message in str(info.value)


def test_edits_with_hostile_values_change_nothing() -> None:
    bank = SkillBank.from_dict({"general_skills": [skill("g1")], "metadata": {"version": 1}})
    before = bank.to_dict()
    with pytest.raises(SkillBankError, match="nested deeper"):
        bank.add_skill(None, skill("g2", example=_deep_list(500)))
    with pytest.raises(SkillBankError, match="out of range"):
        bank.update_skill("g1", {"score": 10**30})
    with pytest.raises(SkillBankError, match="not finite"):
        bank.add_mistake({"mistake_id": "m", "description": "d", "how_to_avoid": "h", "p": math.inf})
    assert bank.to_dict() == before and bank.version == 1


def test_the_limits_themselves_are_usable(tmp_path: Path) -> None:
    """A bank exactly at the nesting and integer limits loads, saves and loads again."""
    deepest = _deep_list(MAX_DEPTH - 1)  # the top-level object is level 1
    data = {"general_skills": [skill("g1")], "notes": deepest, "big": 2**63 - 1, "small": -(2**63),
            "metadata": {"version": 2**63 - 2}}
    bank = SkillBank.from_dict(data)
    bank.add_skill(None, skill("g2"))
    path = bank.save(tmp_path / "bank.json")
    again = SkillBank.load(path)
    assert again.version == 2**63 - 1 and again.to_dict()["notes"] == deepest
    with pytest.raises(SkillBankError, match="nested deeper"):
        SkillBank.from_dict({**data, "notes": _deep_list(MAX_DEPTH)})
    assert parse_text(json.dumps({"general_skills": [], "metadata": {"version": "12.0"}})).version == 12
