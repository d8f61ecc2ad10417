"""A real tiny ``skillrl train --local`` run on the toy env with a skill bank, shared by the
report tests (it takes a few seconds of training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

TOY_BANK = {
    "general_skills": [
        {"skill_id": "gen_go", "title": "Go first", "principle": "Go to the named place before taking anything.",
         "when_to_apply": "The first turn."},
        {"skill_id": "gen_read", "title": "Read the task", "principle": "Take only the object the task names.",
         "when_to_apply": ""},
    ],
    "task_specific_skills": {
        "tool": [{"skill_id": "tool_1", "title": "Tools", "principle": "Tools lie where the task says.",
                  "when_to_apply": "A tool task."}],
        "fruit": [{"skill_id": "fruit_1", "title": "Fruit", "principle": "Take the fruit named.",
                   "when_to_apply": "At the place."}],
    },
    "common_mistakes": [],
}


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory) -> dict:
    """Train 2 steps on ``toy`` with a bank that has a manual edit history, through the CLI.

    Returns ``{"out": run dir, "bank": source bank, "train_output": CLI output}``.
    """
    from skillrl.cli import app
    from skillrl.skills.bank import SkillBank

    root = tmp_path_factory.mktemp("toy_run")
    bank = SkillBank.from_dict(TOY_BANK)
    bank.save(root / "bank.json")
    bank.add_mistake({"mistake_id": "mis_order", "description": "Taking before going",
                      "how_to_avoid": "Go to the place first."}, source="manual", reason="seen in playtests")
    bank.update_skill("gen_read", {"principle": "Take only the object the task names, nothing else."},
                      source="manual", reason="sharper wording")
    bank.save()
    out = root / "out"
    res = CliRunner().invoke(app, [
        "train", "--local", "--env", "toy", "--steps", "2", "--skills", str(root / "bank.json"),
        "--output-dir", str(out), "train_batch_size=2", "env.rollout.n=2", "val_batch_size=4", "warmup_steps=5",
        "warmup_episodes=8", "cpu_threads=1", "max_new_tokens=8", "progress=false", "save_freq=1"])
    assert res.exit_code == 0, res.output
    return {"out": out, "bank": root / "bank.json", "train_output": res.output}
