"""The native prompts without the defects the original-compatibility review found: the task shown
once on turn 0, ALFWorld history as plain text (no ``repr`` escapes), the skill block after what
left truncation cuts first (role line, oldest history), and no example action in the format
instruction. Observations are the envs' real text (ALFWorld's reset text from a golden case)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent_system.environments.base import PromptContext, get_env_spec

ENVS = ("alfworld", "webshop", "search")
SKILLS = "## Skills from past experience\n- **Look first**: check the receptacles one by one."
GOLDEN = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "original_prompts" / "alfworld.jsonl"

ALF_RESET = ("You are in the middle of a room. Looking quickly around you, you see a cabinet 2, a cabinet 1, "
             "and a fridge 1.\n\nYour task is to: put a hot egg in fridge.")


def _turn0(env: str) -> PromptContext:
    """Turn 0 as each env really shows it (the reset observation repeats the task)."""
    task = {"alfworld": "put a hot egg in fridge.", "webshop": "i need red socks, and price lower than 20.00 dollars",
            "search": "who wrote hamlet"}[env]
    obs = {"alfworld": ALF_RESET, "webshop": f"WebShop [SEP] Instruction: [SEP] {task} [SEP] Search", "search": task}[env]
    admissible = {"alfworld": ("go to cabinet 1", "look"), "webshop": ("search[<your query>]",), "search": None}[env]
    return PromptContext(task=task, observation=obs, admissible_actions=admissible, skill_block=SKILLS)


@pytest.mark.parametrize("env", ENVS)
def test_the_task_appears_once_on_turn_zero(env):
    ctx = _turn0(env)
    prompt = get_env_spec(env).build_prompt(ctx)
    assert prompt.count(ctx.task.rstrip(".")) == 1, prompt


def test_the_task_appears_once_in_alfworld_history_too():
    ctx = PromptContext(task="put a hot egg in fridge.", observation="You arrive at cabinet 1.",
                        history=((ALF_RESET, "go to cabinet 1"),), admissible_actions=("look",), turn=1)
    prompt = get_env_spec("alfworld").build_prompt(ctx)
    assert prompt.count("put a hot egg in fridge") == 1
    assert "[Observation 1: 'You are in the middle of a room. Looking quickly around you, you see a cabinet 2" in prompt


def test_alfworld_history_is_plain_text_from_a_real_reset():
    """The golden's raw reset text (banner stripped as the native env does) holds newlines and quotes:
    the history shows them as text, never as ``\\n`` escapes."""
    row = json.loads(GOLDEN.read_text(encoding="utf-8").splitlines()[0]) if GOLDEN.is_file() else None
    reset = row["inputs"]["observations"][0].split("=-", 2)[-1].strip() if row else ALF_RESET
    history = ((reset, "go to cabinet 1"), ("You arrive at cabinet 1.\nThe cabinet 1 is 'closed'.", "open cabinet 1"))
    ctx = PromptContext(task="put a hot egg in fridge.", observation="You open the cabinet 1.", history=history,
                        admissible_actions=("look",), turn=2)
    prompt = get_env_spec("alfworld").build_prompt(ctx)
    assert "\\n" not in prompt and "\\'" not in prompt
    assert "[Observation 2: 'You arrive at cabinet 1. The cabinet 1 is 'closed'.', Action 2: 'open cabinet 1']" in prompt


@pytest.mark.parametrize("env", ENVS)
def test_skills_come_after_the_history_and_survive_left_truncation(env):
    """Cutting the prompt from the left (what an over-long prompt gets) removes the role line and
    the oldest history before it reaches the task, the skill block or the current observation."""
    ctx = PromptContext(task="the task", observation="CURRENT-OBSERVATION", admissible_actions=("look",),
                        history=tuple((f"old observation {i} " * 20, f"action {i}") for i in range(4)),
                        skill_block=SKILLS, turn=4, history_length=4)
    prompt = get_env_spec(env).build_prompt(ctx)
    task_at = prompt.index("the task")
    assert prompt.index("action 3") < task_at < prompt.index(SKILLS.splitlines()[1])
    assert env == "search" or prompt.index(SKILLS) < prompt.index("CURRENT-OBSERVATION")
    kept = prompt[task_at:]  # a left cut as deep as the whole history
    assert SKILLS in kept and "the task" in kept


@pytest.mark.parametrize("env", ENVS)
def test_the_format_instruction_gives_no_example_action(env):
    prompt = get_env_spec(env).build_prompt(_turn0(env))
    instruction = prompt[prompt.rindex("\n\n"):]
    assert re.search(r"<(action|answer)>\s*\w", instruction) is None, instruction
    for example in ("countertop", "red running shoes", "buy now", "Beijing"):
        assert example not in instruction


# --- the same properties on prompts of real episodes (real env text, the shared agent loop) --------

class _Marker:
    """A skill source whose block is one marker line (what the layout checks look for)."""

    bank_version = 1

    def retrieve(self, task, task_type=None):
        class Retrieved:
            text = SKILLS
            skill_ids = ("s1",)

        return Retrieved()


class _Playing:
    """A policy of the agent loop (prompt only: no ``act``, so not an ObservingPolicy):
    ``next_text()`` gives the next output, every prompt is kept."""

    def __init__(self, next_text):
        self.next_text = next_text
        self.prompts: list[str] = []

    async def generate(self, prompt: str):
        from skillrl.agent.episode import Generation

        self.prompts.append(prompt)
        return Generation(text=self.next_text())


def _play_real(env_name: str):
    """One real episode of ``env_name`` played to a win by a scripted player; its prompts and task."""
    import asyncio

    from skillrl.agent.loop import EpisodeConfig, run_episode
    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    spec = get_env_spec(env_name)
    try:
        if env_name == "alfworld":
            env = spec.make(split="valid_seen")
        elif env_name == "webshop":
            env = spec.make(split="test")
        else:
            corpus = resolve_data_dir("search") / "corpus" / "wiki18_sample_1k.jsonl"
            env = spec.make(split="bamboogle_test", corpus=str(corpus), backend="bm25")
    except DataNotFoundError as exc:
        pytest.skip(f"{env_name} data not available: {exc}")
    last: dict = {}
    queue: list[str] = []

    def act() -> str:
        if env_name == "alfworld":
            return f"<think>x</think><action>{last['info']['expert_action'] or 'look'}</action>"
        if env_name == "webshop":
            if not queue:
                goal = env.goal
                queue.extend([f"search[{goal['name']}]", f"click[{goal['asin'].lower()}]",
                              *(f"click[{v}]" for v in goal["goal_options"].values()), "click[buy now]"])
            return f"<think>x</think><action>{queue.pop(0)}</action>"
        if env.turn == 0:
            # a query of its own words (a query repeating the question would show it twice)
            return f"<think>x</think><search>{' '.join(env.row_for(3).question.split()[-4:])}</search>"
        return f"<think>x</think><answer>{env.row_for(3).golds[0]}</answer>"

    class Tap:  # remembers the env's last info (the ALFWorld expert's next action)
        env_name = env.env_name

        def reset(self, seed=None, task=None):
            obs, last["info"] = env.reset(seed, task)
            return obs, last["info"]

        def step(self, text):
            obs, reward, done, last["info"] = env.step(text)
            return obs, reward, done, last["info"]

        def admissible_actions(self):
            return env.admissible_actions()

        def close(self):
            env.close()

    policy = _Playing(act)
    try:
        episode = asyncio.run(run_episode(Tap(), spec, policy, seed=3, skills=_Marker(),
                                          config=EpisodeConfig(max_steps=8, history_length=2)))
    finally:
        env.close()
    assert episode.error is None and len(policy.prompts) >= 2
    return policy.prompts, last["info"].task


@pytest.mark.parametrize("env", ENVS)
def test_real_episode_prompts_show_the_task_once_and_skills_after_the_history(env):
    prompts, task = _play_real(env)
    marker = SKILLS.splitlines()[1]
    for turn, prompt in enumerate(prompts):
        assert prompt.count(" ".join(task.split()).rstrip(".")) == 1, (turn, prompt)
        assert "\\n" not in prompt and "\\'" not in prompt, (turn, prompt)
        task_line = "Question: " if env == "search" else "Your task is to: "
        assert prompt.index(task_line) < prompt.index(marker), turn
        if turn:
            history_at = prompt.index("Step " if env == "search" else "[Observation ")
            assert history_at < prompt.index(task_line), turn
        if env != "search":
            assert prompt.index(marker) < prompt.index(f"You are now at step {turn + 1}"), turn
