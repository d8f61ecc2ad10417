"""Shared helpers of the verl-backend tests: config composition and a local chat tokenizer."""

from __future__ import annotations

from skillrl.trainer.config import compose as _compose

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)


def compose(name: str, overrides: list[str] | None = None):
    """Compose ``configs/<name>.yaml`` (verl's configs on the search path, the schemas registered);
    envs in-process (``env.workers.num_processes=0``) unless the overrides say otherwise."""
    overrides = list(overrides or [])
    if not any(o.startswith("env.workers.num_processes=") for o in overrides):
        overrides.append("env.workers.num_processes=0")
    return _compose(name, overrides)


def toy_tokenizer(extra_texts: list[str] | None = None):
    """A word-level tokenizer over the toy env's text, with a plain chat template (no download)."""
    from agent_system.environments.base import PromptContext, get_env_spec
    from skillrl.trainer.local.tiny import build_word_tokenizer

    spec = get_env_spec("toy")
    texts = ["user assistant system : i do not know Task done That is not the goal Nothing happens"]
    for seed in range(40):
        env = spec.make()
        obs, info = env.reset(seed=seed)
        acts = env.admissible_actions() or []
        texts.append(spec.build_prompt(PromptContext(task=info["task"], observation=obs, admissible_actions=acts)))
        texts.extend(acts)
        obs, *_ = env.step(f"<action> {acts[0]} </action>")
        texts.append(obs)
        texts.extend(env.admissible_actions() or [])
    tok = build_word_tokenizer(texts + list(extra_texts or []))
    tok.chat_template = CHAT_TEMPLATE
    return tok


TOY_BANK = {
    "general_skills": [
        {"skill_id": "gen_001", "title": "Go first", "principle": "go to the place named in the task",
         "when_to_apply": "at the start"}
    ],
    "task_specific_skills": {
        "fruit": [{"skill_id": "fru_001", "title": "Fruit", "principle": "take the fruit you see",
                   "when_to_apply": "at the place"}],
        "tool": [{"skill_id": "too_001", "title": "Tool", "principle": "take the tool you see",
                  "when_to_apply": "at the place"}],
        "paper": [{"skill_id": "pap_001", "title": "Paper", "principle": "take the paper you see",
                   "when_to_apply": "at the place"}],
    },
    "common_mistakes": [
        {"mistake_id": "mis_001", "description": "taking the wrong object", "why_it_happens": "haste",
         "how_to_avoid": "read the task"}
    ],
}
