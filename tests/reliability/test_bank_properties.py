"""Property-based: any JSON (and any text) is either a bank or one SkillBankError; every bank
that loads saves and loads back unchanged; no history file content makes a reader raise."""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skillrl.skills import SkillBank, SkillBankError, history_path, read_history
from skillrl.skills.bank import check_history
from skillrl.skills.schema import parse_text

SETTINGS = settings(
    max_examples=150, deadline=None, database=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

any_chars = st.characters(blacklist_categories=[])  # lone surrogates included
scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | st.text(any_chars, max_size=5)
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=25)

ids = st.text(alphabet=string.ascii_lowercase + "_0123", min_size=0, max_size=6)
texts = st.one_of(st.text(max_size=30), st.just(""), st.just("   "), st.integers(), st.none())


def _item(kind: str) -> st.SearchStrategy[Any]:
    fields = ("skill_id", "title", "principle", "when_to_apply") if kind == "skill" else (
        "mistake_id", "description", "why_it_happens", "how_to_avoid")
    good = st.fixed_dictionaries({fields[0]: ids, **{f: st.text(min_size=1, max_size=20) for f in fields[1:]}},
                                 optional={"example": json_values})
    sloppy = st.dictionaries(st.sampled_from([*fields, "extra"]), texts, max_size=5)
    return st.one_of(good, good, sloppy, json_values)


bank_shaped = st.fixed_dictionaries(
    {},
    optional={
        "general_skills": st.one_of(st.lists(_item("skill"), max_size=4), json_values),
        "task_specific_skills": st.one_of(st.dictionaries(st.text(max_size=6), st.lists(_item("skill"), max_size=3), max_size=3), json_values),
        "common_mistakes": st.one_of(st.lists(_item("mistake"), max_size=3), json_values),
        "retired_skills": st.one_of(st.lists(st.fixed_dictionaries({
            "section": st.sampled_from(["general_skills", "task_specific_skills", "common_mistakes", "bogus"]),
            "category": st.one_of(st.none(), st.text(max_size=5)), "item": _item("skill"),
            "retired_at_version": st.one_of(st.integers(), st.text(max_size=3))}), max_size=2), json_values),
        "metadata": st.one_of(st.fixed_dictionaries({}, optional={"version": st.one_of(
            st.integers(), st.integers(min_value=2**62, max_value=2**65),
            st.text(alphabet="0123456789.", max_size=25), st.text(alphabet="9", min_size=15, max_size=400).map(lambda s: s + ".0"),
            st.floats(), json_values)}), json_values),
        "notes": json_values,
    },
)


def _bank_or_error(load: Any) -> SkillBank | None:
    """The bank, or None when ``load`` raised SkillBankError (any other exception fails the test)."""
    try:
        return load()
    except SkillBankError as exc:
        assert str(exc).startswith("<memory>")
        return None


@SETTINGS
@given(json_values | bank_shaped)
def test_any_json_is_a_bank_or_one_bank_error(data: Any) -> None:
    from_memory = _bank_or_error(lambda: SkillBank.from_dict(data))
    try:
        text = json.dumps(data, allow_nan=True)
    except ValueError:  # e.g. integers too long for str(): only reachable in memory
        return
    from_text = _bank_or_error(lambda: parse_text(text))
    assert (from_memory is None) == (from_text is None)


@SETTINGS
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_is_a_bank_or_one_bank_error(text: str) -> None:
    _bank_or_error(lambda: parse_text(text))


@SETTINGS
@given(bank_shaped)
# inputs that once got past validation and then broke save() or load()
@example({"general_skills": [], "metadata": {"version": "9" * 400 + ".0"}})
@example({"general_skills": [{"skill_id": "a", "title": "\ud800", "principle": "p"}]})
@example({"general_skills": [], "notes": [float("nan")]})
@example({"general_skills": [], "notes": 10**5000})
@example({"general_skills": [], "notes": [[[[[]]]]] * 2 + [{"k": {"\udc80": 1}}]})
def test_every_bank_that_loads_round_trips_through_save(data: Any) -> None:
    bank = _bank_or_error(lambda: SkillBank.from_dict(data))
    if bank is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = bank.save(Path(tmp) / "bank.json")
        again = SkillBank.load(path)
        assert again.to_dict() == bank.to_dict()
        assert again.version == bank.version


@SETTINGS
@given(st.lists(st.binary(max_size=80) | st.sampled_from([b"\n", b"{", b'{"op": "add"}\n', b"\xff"]), max_size=6))
def test_no_history_content_makes_readers_raise_and_saves_repair_the_tail(garbage: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bank.json"
        bank = SkillBank.from_dict({"general_skills": [{"skill_id": "g", "title": "t", "principle": "p"}]})
        bank.add_skill(None, {"skill_id": "g1", "title": "t", "principle": "p"})
        bank.save(path)
        with open(history_path(path), "ab") as fh:
            fh.write(b"".join(garbage))
        check = check_history(path)
        assert [r.skill_id for r in check.records][:1] == ["g1"]
        read_history(path)
        bank.add_skill(None, {"skill_id": "g2", "title": "t", "principle": "p"})
        bank.save()
        after = check_history(path)
        assert not after.torn_tail and [r.skill_id for r in after.records][-1] == "g2"
        assert history_path(path).read_bytes().endswith(b"\n")
