"""Small synthetic run directories in the layouts the trainers write, built with the real
``SkillBank`` API (so history and usage files are the bank's own)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from skillrl.skills.bank import SkillBank, history_path

SEED_BANK: dict[str, Any] = {
    "general_skills": [
        {"skill_id": "gen_001", "title": "Search systematically", "principle": "Visit receptacles one by one.",
         "when_to_apply": "The object is not in view."},
        {"skill_id": "gen_002", "title": "Check the goal", "principle": "Re-read the task before acting.",
         "when_to_apply": ""},
    ],
    "task_specific_skills": {
        "heat": [{"skill_id": "heat_001", "title": "Use the microwave", "principle": "Heat with the microwave.",
                  "when_to_apply": "The task says hot."}],
        "cool": [{"skill_id": "cool_001", "title": "Use the fridge", "principle": "Cool in the fridge.",
                  "when_to_apply": "The task says cool."}],
    },
    "common_mistakes": [
        {"mistake_id": "mis_001", "description": "Repeating an action", "why_it_happens": "No progress check.",
         "how_to_avoid": "Try another receptacle."},
    ],
    "metadata": {"version": 1},
}

#: a title full of markup: the page must show it as text
EVIL_TITLE = '<script>alert("x")</script><img src="http://example.com/x.png">'


def write_bank_checkpoint(bank: SkillBank, folder: Path, step: int, *, with_state: bool = True,
                          skills_source: str | None = None, config: dict[str, Any] | None = None) -> Path:
    """What ``skillrl.trainer.local.checkpoint.save_checkpoint`` writes about the bank (the model
    files are left out), plus ``trainer_state.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    bank_file = folder / "skill_bank.json"
    bank_file.write_text(json.dumps(bank.to_dict(), indent=2), encoding="utf-8")
    bank.save_usage(bank_file)
    if bank.path is not None and history_path(bank.path).is_file():
        shutil.copy(history_path(bank.path), history_path(bank_file))
    if with_state:
        state = {"global_step": step, "bank_version": bank.version, "bank_file": "skill_bank.json",
                 "skills_source": skills_source, "config": config or {}}
        (folder / "trainer_state.json").write_text(json.dumps(state), encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"")
    return bank_file


def metric_lines(steps: int = 4) -> list[dict[str, Any]]:
    """Local-trainer-shaped metric records: train each step, validation at 2 and the end."""
    rows: list[dict[str, Any]] = []
    for step in range(1, steps + 1):
        rows.append({"step": step, "train/reward_mean": 0.1 * step, "train/success_rate": 0.1 * step,
                     "train/success_rate/heat": 0.2 * step % 1.0, "train/prompt_tokens_mean": 300.0 + step,
                     "train/skill_tokens_mean": 120.0 + step, "skills/bank_version": 1.0 + step})
        if step == 2:
            rows[-1].update({"val/success_rate": 0.25, "val/success_rate/heat": 0.5, "val/success_rate/cool": 0.0})
    rows.append({"step": steps, "final/val/success_rate": 0.5, "final/val/success_rate/heat": 0.75,
                 "final/val/success_rate/cool": 0.25})
    return rows


def make_local_run(root: Path, *, evil: bool = False) -> dict[str, Any]:
    """A local run with two evolution cycles (step 2: add + update + add mistake; step 4:
    retire + add) and checkpoints at steps 2 and 4. Returns facts for assertions."""
    src = root / "src" / "skills.json"
    src.parent.mkdir(parents=True)
    bank = SkillBank.from_dict(SEED_BANK)
    bank.save(src)  # version 1, no history yet
    run = root / "run"
    ckpts = run / "checkpoints"
    cfg = {"env_name": "alfworld", "use_skills": True, "skills_json_path": str(src), "train_batch_size": 4,
           "rollout_n": 2, "total_training_steps": 4, "evolution_source": "train"}
    # episodes before the first checkpoint
    bank.record_usage(["gen_001", "heat_001", "mis_001"], True)
    bank.record_usage(["gen_001", "gen_002", "heat_001"], False)
    bank.record_usage(["gen_002", "cool_001"], False)
    # cycle 1 at step 2
    bank.add_skill("heat", {"skill_id": "heat_002", "title": EVIL_TITLE if evil else "Close the microwave",
                            "principle": "Close the microwave before heating.", "when_to_apply": "heat tasks"},
                   source="evolution@step2", reason="3 heat failures skipped closing", step=2)
    bank.update_skill("gen_001", {"principle": "Visit receptacles one by one and open closed ones."},
                      source="evolution@step2", reason="failures never opened drawers", step=2)
    bank.add_mistake({"mistake_id": "mis_002", "description": "Heating without the object in hand",
                      "how_to_avoid": "Take the object first."},
                     source="evolution@step2", reason="seen in 2 failures", step=2)
    bank.save()  # history to the source bank's file, as the evolution hook does
    write_bank_checkpoint(bank, ckpts / "global_step_2", 2, skills_source=str(src), config=cfg)
    bank.record_usage(["heat_002", "gen_001"], True)
    bank.record_usage(["heat_002", "gen_001"], True)
    bank.record_usage(["gen_002"], False)
    # cycle 2 at step 4
    bank.retire_skill("gen_002", source="evolution@step4", reason="injected in 3 lost episodes, 0 won", step=4)
    bank.add_skill(None, {"skill_id": "gen_003", "title": "Plan the steps", "principle": "List the sub-goals.",
                          "when_to_apply": ""}, source="evolution@step4", reason="low success on cool", step=4)
    bank.save()
    write_bank_checkpoint(bank, ckpts / "global_step_4", 4, skills_source=str(src), config=cfg)
    lines = metric_lines(4)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return {"run": run, "src": src, "final_ids": set(bank.active_ids()), "final_version": bank.version,
            "retired": {"gen_002"}}
