"""SIGKILL at random moments during repeated saves: the bank always loads, its history always
covers every version that exists, nothing saved is lost and no temp file outlives the next save.

Each round starts a writer process that loads the bank and saves in a loop (several edits per
save, a bank of a few hundred kB so that writes take time), kills it with SIGKILL after a random
delay, and checks the files. The next round's writer resumes from what is on disk (its first save
repairs what the kill left). Fast variant: 10 kills (default run); slow variant: 60 kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from bankfixtures import REPO, assert_consistent, skill, start_bank, temp_files

from skillrl.skills import SkillBank
from skillrl.skills.bank import check_history

WRITER = """
import sys
from skillrl.skills import SkillBank

path, tag = sys.argv[1], sys.argv[2]
bank = SkillBank.load(path)
print("ready", bank.version, flush=True)
i = 0
while True:
    i += 1
    for j in range(1 + i % 3):
        bank.add_skill("cat%d" % (i % 5), {"skill_id": "%s_%d_%d" % (tag, i, j), "title": "t", "principle": "p" * 3000})
    if i % 4 == 0:
        victim = bank.task_specific_skills["cat%d" % (i % 5)][0].skill_id
        bank.update_skill(victim, {"when_to_apply": "round %s step %d" % (tag, i)})
    bank.record_usage(bank.active_ids()[:5], won=bool(i % 2))
    bank.save()
    print("saved", bank.version, flush=True)
"""


def _kill_loop(tmp_path: Path, kills: int, seed: int) -> Counter:
    path = start_bank(tmp_path / "bank.json")
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    seen: Counter = Counter()
    for round_ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"r{round_}"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        ready = threading.Event()

        def read(stream=proc.stdout) -> None:
            for line in stream:
                if line.endswith("\n"):  # a line cut by the kill is not a report
                    lines.append(line.split())
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert ready.wait(120), f"writer did not start: {proc.stderr.read() if proc.poll() is not None else ''}"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        reader.join(10)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        saved = [int(words[1]) for words in lines if words[0] == "saved"]

        found = assert_consistent(path, first_version=1)  # loads; history covers every version
        if saved:
            assert found["version"] >= saved[-1], "a save that returned was lost"
        tmp = temp_files(tmp_path)
        assert len(tmp) <= 2, tmp  # at most the killed save's own (bank and/or usage)
        seen["kills"] += 1
        seen["saves_completed"] += len(saved)
        seen["orphan_records"] += found["orphans"] > 0  # killed after the history, before the bank landed
        seen["torn_tail"] += found["torn"]  # killed inside the history append
        seen["temp_left"] += bool(tmp)  # killed inside a bank or usage write
        seen["between_saves"] += not (found["orphans"] or found["torn"] or tmp)

    bank = SkillBank.load(path)  # a last, uninterrupted save repairs everything
    bank.add_skill(None, skill("final"))
    bank.save()
    check = check_history(path)
    assert check.ok and temp_files(tmp_path) == []
    assert [r.version for r in check.records] == list(range(2, bank.version + 1))
    return seen


def test_crash_loop_fast(tmp_path: Path) -> None:
    seen = _kill_loop(tmp_path, kills=10, seed=1)
    print(dict(seen))
    assert seen["kills"] == 10 and seen["saves_completed"] > 0


@pytest.mark.slow
def test_crash_loop_slow(tmp_path: Path) -> None:
    seen = _kill_loop(tmp_path, kills=60, seed=2)
    print(dict(seen))  # e.g. how many kills landed between history and bank
    assert seen["kills"] == 60
    assert seen["orphan_records"] + seen["torn_tail"] + seen["temp_left"] > 0, "no kill hit a save in progress"
