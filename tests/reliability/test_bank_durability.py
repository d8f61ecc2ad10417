"""The bank's history is as durable as the bank: write-ahead order, repair, modes, temp files.

Crashes are real: a child process runs ``save()`` and dies with ``os._exit`` at a chosen point
(no ``finally``, no cleanup — what SIGKILL does); the parent then checks what is on disk.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest
from bankfixtures import assert_consistent, run_child, skill, start_bank, temp_files

import skillrl.skills.bank as bank_mod
from skillrl.skills import SkillBank, history_path, read_history, usage_path
from skillrl.skills.bank import check_history, clean_stale_temps

CHILD = """
import os, sys
import skillrl.skills.bank as m
from skillrl.skills import SkillBank

path, point = sys.argv[1], sys.argv[2]
bank = SkillBank.load(path)
bank.add_skill("heat", {"skill_id": "heat_100", "title": "t", "principle": "p" * 300_000})
bank.add_skill(None, {"skill_id": "gen_100", "title": "t", "principle": "p"})
bank.retire_skill("gen_001", reason="crash test")
bank.record_usage(["gen_002"], won=True)

real_atomic, real_bytes, real_all = m.atomic_write_text, m._write_bytes, m._write_all
if point == "before_bank":        # history fsynced, bank not replaced
    def atomic(p, text):
        if str(p).endswith("bank.json"):
            os._exit(9)
        real_atomic(p, text)
    m.atomic_write_text = atomic
elif point == "mid_history":      # history append cut inside its last record
    def write_bytes(fh, data):
        real_bytes(fh, data[:-7])
        os._exit(9)
    m._write_bytes = write_bytes
elif point == "mid_bank":         # bank temp file half written
    def write_all(fh, text):
        fh.write(text[: len(text) // 2]); fh.flush()
        os._exit(9)
    m._write_all = write_all
elif point == "before_usage":     # bank replaced, usage not written
    SkillBank.save_usage = lambda self, path=None: os._exit(9)
bank.save()
print("saved", bank.version)
"""


@pytest.mark.parametrize(
    ("point", "landed", "orphans", "torn", "tmp"),
    [
        ("before_bank", False, 3, False, 0),
        ("mid_history", False, 2, True, 0),
        ("mid_bank", False, 3, False, 1),
        ("before_usage", True, 0, False, 0),
    ],
)
def test_crash_at_each_point_leaves_a_consistent_pair_that_the_next_save_repairs(
    tmp_path: Path, point: str, landed: bool, orphans: int, torn: bool, tmp: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = start_bank(tmp_path / "bank.json")
    result = run_child(CHILD, str(path), point)
    assert result.returncode == 9, result.stderr
    found = assert_consistent(path, first_version=1)
    assert found == {"version": 4 if landed else 1, "orphans": orphans, "torn": torn}
    assert len(temp_files(tmp_path)) == tmp
    if not landed:  # readers skip (and report) what the bank never reached
        assert read_history(path) == []
        assert "interrupted" in caplog.text

    bank = SkillBank.load(path)  # the trainer resumes: edits and saves again
    bank.add_skill(None, skill("gen_200"))
    bank.save()
    after = check_history(path)
    assert after.ok and temp_files(tmp_path) == []
    assert [r.version for r in after.records] == list(range(2, bank.version + 1))
    assert [r.skill_id for r in after.records][-1] == "gen_200"
    assert history_path(path).read_bytes().endswith(b"\n")


def test_history_is_written_before_the_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = start_bank(tmp_path / "bank.json")
    seen = []
    real = bank_mod.atomic_write_text

    def spy(p, text):
        if str(p).endswith("bank.json"):
            seen.append([r.version for r in check_history(path).orphans])  # history already on disk
        real(p, text)

    monkeypatch.setattr(bank_mod, "atomic_write_text", spy)
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_009"))
    bank.add_skill(None, skill("gen_010"))
    bank.save()
    assert seen == [[2, 3]]


def test_failed_history_append_writes_nothing_and_keeps_changes_pending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = start_bank(tmp_path / "bank.json")
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    bank_before, history_before = path.read_bytes(), history_path(path).read_bytes()
    bank.add_skill(None, skill("gen_051"))
    bank.add_skill(None, skill("gen_052"))

    def disk_full(fh, data):
        fh.write(data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bank_mod, "_write_bytes", disk_full)
    with pytest.raises(OSError, match="No space left"):
        bank.save()
    assert path.read_bytes() == bank_before  # the bank was never touched
    assert history_path(path).read_bytes() == history_before  # the partial append was cut off
    assert len(bank.pending_history) == 2
    monkeypatch.undo()
    bank.save()
    assert [r.skill_id for r in read_history(path)] == ["gen_050", "gen_051", "gen_052"]


def test_failed_bank_write_takes_the_history_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = start_bank(tmp_path / "bank.json")
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    history_before = history_path(path).read_bytes()
    bank.retire_skill("gen_050")
    monkeypatch.setattr(bank_mod.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(13, "Permission denied")))
    with pytest.raises(OSError, match="Permission denied"):
        bank.save()
    assert history_path(path).read_bytes() == history_before
    assert temp_files(tmp_path) == []
    assert SkillBank.load(path).version == 2 and len(bank.pending_history) == 1


def test_torn_tail_is_skipped_by_readers_and_cut_by_the_writer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = start_bank(tmp_path / "bank.json")
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    with open(history_path(path), "ab") as fh:
        fh.write(b'{"op": "add", "skill_id": "gen_0')  # a killed append
    assert [r.skill_id for r in read_history(path)] == ["gen_050"]
    assert "incomplete" in caplog.text
    assert check_history(path).torn_tail
    bank.add_skill(None, skill("gen_051"))
    bank.save()
    lines = history_path(path).read_text().splitlines()
    assert [json.loads(line)["skill_id"] for line in lines] == ["gen_050", "gen_051"]  # never glued together
    assert check_history(path).ok


def test_complete_last_record_without_newline_is_kept(tmp_path: Path) -> None:
    path = start_bank(tmp_path / "bank.json")
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    hp = history_path(path)
    hp.write_bytes(hp.read_bytes().rstrip(b"\n"))  # e.g. edited by hand
    assert [r.skill_id for r in read_history(path)] == ["gen_050"] and check_history(path).ok
    bank.add_skill(None, skill("gen_051"))
    bank.save()
    assert [r.skill_id for r in read_history(path)] == ["gen_050", "gen_051"]


@pytest.mark.parametrize(
    "bad_line",
    [
        b"not json",
        b'{"op": "add"}',
        b'{"op": "add", "skill_id": "x", "section": "s", "category": null, "step": null, "source": "m",'
        b' "reason": "", "version": "7", "timestamp": "t"}',
        b'{"version": ' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe",
    ],
)
def test_invalid_lines_inside_are_skipped_and_reported(tmp_path: Path, bad_line: bytes) -> None:
    path = start_bank(tmp_path / "bank.json")
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    with open(history_path(path), "ab") as fh:
        fh.write(bad_line + b"\n")
    bank.add_skill(None, skill("gen_051"))
    bank.save()
    check = check_history(path)
    assert [r.skill_id for r in check.records] == ["gen_050", "gen_051"]
    assert [lineno for lineno, _ in check.invalid_lines] == [2]
    assert len(check.problems()) == 1 and check.problems()[0].startswith("line 2 is not a valid record")


def test_unknown_record_keys_are_accepted(tmp_path: Path) -> None:
    path = start_bank(tmp_path / "bank.json")
    record = {"op": "add", "skill_id": "gen_002", "section": "general_skills", "category": None, "step": None,
              "source": "newer", "reason": "", "version": 1, "timestamp": "t", "added_in_v2": True}
    history_path(path).write_text(json.dumps(record) + "\n")
    assert [r.source for r in read_history(path)] == ["newer"]


# -- file modes, owner, temp files ---------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_keeps_the_mode_of_existing_files(tmp_path: Path) -> None:
    path = start_bank(tmp_path / "bank.json")
    bank = SkillBank.load(path)
    bank.record_usage(["gen_001"], won=True)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    for p in (path, usage_path(path), history_path(path)):
        os.chmod(p, 0o640)
    bank.add_skill(None, skill("gen_051"))
    bank.record_usage(["gen_001"], won=False)
    bank.save()
    assert [_mode(p) for p in (path, usage_path(path), history_path(path))] == [0o640] * 3


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_respect_the_umask(tmp_path: Path, umask: int, expected: int) -> None:
    bank = SkillBank.from_dict({"general_skills": [skill("gen_001")], "metadata": {"version": 1}})
    bank.add_skill(None, skill("gen_002"))
    bank.record_usage(["gen_001"], won=True)
    old = os.umask(umask)
    try:
        path = bank.save(tmp_path / "new.json")
    finally:
        os.umask(old)
    assert [_mode(p) for p in (path, usage_path(path), history_path(path))] == [expected] * 3


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_save_keeps_the_owner(tmp_path: Path) -> None:
    path = start_bank(tmp_path / "bank.json")
    os.chown(path, 12345, 23456)
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.save()
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_stale_temp_files_are_cleaned_on_the_next_save(tmp_path: Path) -> None:
    path = start_bank(tmp_path / "bank.json")
    dead = _dead_pid()
    names = {
        f".bank.json.{dead}-0a1b2c3d.tmp": False,  # its writer is gone
        ".bank.json.k3j4h5g6.tmp": False,  # an older release's mkstemp name
        f".bank.usage.json.{dead}-ffff.tmp": False,
        ".bank.json.1-abcd.tmp": True,  # pid 1 runs: possibly a save in progress
        f".bank.json.{os.getpid()}-beef.tmp": True,  # this process (another thread may be saving)
        f".other.json.{dead}-abcd.tmp": True,  # another bank's
        "bank.json.tmp": True,  # not ours
    }
    for name in names:
        (tmp_path / name).write_text("partial")
    old = tmp_path / ".bank.json.1-01d0.tmp"  # pid 1, but two hours old: pid reuse, stale
    old.write_text("partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    bank = SkillBank.load(path)
    bank.add_skill(None, skill("gen_050"))
    bank.record_usage(["gen_050"], won=True)
    bank.save()
    left = {p.name for p in tmp_path.iterdir()}
    assert {n for n, keep in names.items() if keep} <= left
    assert not ({n for n, keep in names.items() if not keep} | {old.name}) & left
    assert clean_stale_temps(path) == []  # nothing more to do


def test_temp_cleaning_is_best_effort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert clean_stale_temps(tmp_path / "missing-dir" / "bank.json") == []
    path = start_bank(tmp_path / "bank.json")
    (tmp_path / f".bank.json.{_dead_pid()}-aa.tmp").write_text("x")
    monkeypatch.setattr(bank_mod.os, "unlink", lambda p: (_ for _ in ()).throw(PermissionError(13, "denied")))
    assert clean_stale_temps(path) == []
