"""Helpers for the SkillBank tests: small seed-format banks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEED_BANKS = {env: REPO / "memory_data" / env / "skills.json" for env in ("alfworld", "webshop", "search")}


def taxonomy(env: str) -> Any:
    """The env's task taxonomy (what callers pass to ``build_retriever(taxonomy=...)``)."""
    from agent_system.environments import get_env_spec

    return get_env_spec(env).taxonomy


def skill(sid: str, title: str = "T", principle: str = "P", when: str = "W", **extra: Any) -> dict[str, Any]:
    return {"skill_id": sid, "title": title, "principle": principle, "when_to_apply": when, **extra}


def mistake(mid: str, desc: str = "D", why: str = "Y", how: str = "H") -> dict[str, Any]:
    return {"mistake_id": mid, "description": desc, "why_it_happens": why, "how_to_avoid": how}


def small_bank() -> dict[str, Any]:
    """A seed-format bank: 3 general skills, heat/cool/examine categories, 6 mistakes, extras."""
    return {
        "general_skills": [
            skill("gen_001", "Read the goal", "Parse object, state and target first."),
            skill("gen_002", "Open containers", "Open closed receptacles to see inside.", example="open drawer 1"),
            skill("gen_003", "Exact names", "Use object names with numbers."),
        ],
        "task_specific_skills": {
            "heat": [
                skill("heat_001", "Use the microwave", "heat X with microwave 1 after going there."),
                skill("heat_002", "Place after heating", "Go to the target and move X to it."),
            ],
            "cool": [skill("cool_001", "Use the fridge", "cool X with fridge 1.")],
            "examine": [skill("exam_001", "Use the lamp", "Hold the object and use desklamp 1.")],
        },
        "common_mistakes": [mistake(f"err_{i:03d}", f"mistake {i}") for i in range(1, 7)],
        "metadata": {"version": 1, "description": "test bank", "author": "tests"},
        "notes": "top-level extra key",
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
