"""Teachers play the env through the shared agent loop: RL's prompts, truthful think text,
targets the env accepts; the model teacher speaks the OpenAI protocol to a local server."""

from __future__ import annotations

import ast
import doctest
import re

import pytest

from agent_system.environments.base import PromptContext, get_env_spec
from skillrl.agent.loop import EpisodeConfig
from skillrl.sft import rationale
from skillrl.sft.collect import collect
from skillrl.sft.teachers import TeacherError, TeacherOptions, build_teacher, teacher_names
from skillrl.skills.bank import SkillBank
from skillrl.skills.retrieval import build_retriever
from skillrl.trainer.config import PROJECT_ROOT

BANK = f"{PROJECT_ROOT}/memory_data/alfworld/skills.json"


def test_rationale_doctests():
    result = doctest.testmod(rationale)
    assert result.attempted > 0 and result.failed == 0


def _household(teacher, games=12, style="short", skills=True):
    spec = get_env_spec("household")
    bank = SkillBank.load(BANK) if skills else None
    retriever = build_retriever(bank, taxonomy=spec.taxonomy, max_skill_tokens=200) if skills else None
    got = collect(spec, build_teacher(teacher, spec, TeacherOptions(rationale=style)),
                  make_env=lambda: spec.make(split="train"), seeds=range(games), episode=EpisodeConfig(max_steps=20),
                  skills=retriever, bank=bank)
    return spec, got, retriever


@pytest.mark.parametrize("teacher", ["search", "expert"])
def test_household_teachers_win_and_every_target_is_valid(teacher):
    spec, got, retriever = _household(teacher)
    assert len(got.episodes) == 12 and all(ep.won for ep in got.episodes)
    assert got.dropped_episodes == 0 and got.dropped_turns == 0
    assert len(got.examples) == sum(ep.num_turns for ep in got.episodes)
    for ex in got.examples:
        parsed = spec.project_action(ex.target, ex.admissible)
        assert parsed.valid and parsed.action == ex.action
        think = re.fullmatch(r"<think>(.+)</think><action>(.+)</action>", ex.target)
        assert think and think.group(1).strip() and think.group(1) not in ("act", "scripted", "...")
        assert ex.bank_version == retriever.bank_version


def test_prompts_are_the_rl_prompts_with_the_skill_block():
    spec, got, retriever = _household("search", games=3)
    ex = got.examples[0]  # turn 0 of game 0: rebuild the prompt the way the agent loop does
    env = spec.make(split="train")
    obs, info = env.reset(seed=ex.seed)
    block = retriever.retrieve(info.task, info.task_type).text
    assert block and block in ex.prompt
    expected = spec.build_prompt(PromptContext(task=info.task, observation=obs, history=(),
                                               admissible_actions=tuple(env.admissible_actions()), skill_block=block,
                                               turn=0, history_length=2))
    assert ex.prompt == expected and ex.turn == 0


def test_search_teacher_rationale_follows_what_it_knows():
    _, got, _ = _household("search", games=20, skills=False)
    thinks = [(ex.target, ex.action) for ex in got.examples]
    # searching: a 'find' sub-goal while it goes to places it has not seen; taking names the object taken
    assert any(t.startswith("<think>find a ") and a.startswith("go to ") for t, a in thinks)
    for t, a in thinks:
        if a.startswith("take "):
            obj = a[len("take "):].split(" from ")[0]
            assert t.startswith(f"<think>take {obj}</think>")
        if a.startswith(("heat ", "cool ", "clean ")):
            assert t.startswith(f"<think>{a.split(' with ')[0]}</think>")


def test_full_rationale_names_the_task_and_an_injected_skill():
    _, got, _ = _household("search", games=6, style="full")
    injected_titles = set()
    bank = SkillBank.load(BANK)
    for ex in got.examples:
        m = re.search(r"Skill (\S+) \((.+?)\) applies", ex.target)
        if m:
            assert bank.get(m.group(1)).title == m.group(2)
            assert m.group(2) in ex.prompt  # the skill it names was injected into this prompt
            injected_titles.add(m.group(2))
        assert "Task: " in ex.target and "Sub-goal: " in ex.target
    assert injected_titles


def test_unknown_or_foreign_teacher_is_one_clear_error():
    spec = get_env_spec("household")
    with pytest.raises(TeacherError, match="teacher 'oracle' does not play household; teachers for household: expert"):
        build_teacher("oracle", spec)
    with pytest.raises(TeacherError, match="unknown teacher 'sage'"):
        build_teacher("sage", spec)
    assert teacher_names("webshop") == ["openai:MODEL", "oracle"] or set(teacher_names("webshop")) == {"openai:MODEL", "oracle"}


def test_webshop_oracle_targets(tmp_path):
    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    try:
        resolve_data_dir("webshop")
    except DataNotFoundError:
        pytest.skip("no WebShop data")
    spec = get_env_spec("webshop")
    got = collect(spec, build_teacher("oracle", spec, TeacherOptions(rationale="short")),
                  make_env=lambda: spec.make(split="test"), seeds=range(3),
                  episode=EpisodeConfig(max_steps=15))
    assert got.examples and all(spec.project_action(ex.target, ex.admissible).valid for ex in got.examples)
    assert got.examples[0].target.startswith("<think>search for the product</think><action>search[")
    assert any("<think>buy it</think><action>click[buy now]</action>" == ex.target for ex in got.examples)


def test_alfworld_expert_targets():
    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    try:
        resolve_data_dir("alfworld")
    except DataNotFoundError:
        pytest.skip("no ALFWorld data")
    spec = get_env_spec("alfworld")
    bank = SkillBank.load(BANK)
    got = collect(spec, build_teacher("expert", spec, TeacherOptions(rationale="full")),
                  make_env=lambda: spec.make(split="valid_seen"), seeds=range(2), episode=EpisodeConfig(max_steps=40),
                  skills=build_retriever(bank, taxonomy=spec.taxonomy), bank=bank)
    assert len(got.episodes) == 2 and all(ep.won for ep in got.episodes)
    for ex in got.examples:
        parsed = spec.project_action(ex.target, ex.admissible)
        assert parsed.valid and parsed.action == ex.action
        think = re.fullmatch(r"<think>(.+)</think><action>(.+)</action>", ex.target, re.S)
        assert think and think.group(1).startswith("Task: ") and " Sub-goal: " in think.group(1)
        assert "## Skills from past experience" in ex.prompt


def test_search_oracle_targets():
    from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

    try:
        data = resolve_data_dir("search")
    except DataNotFoundError:
        pytest.skip("no Search data")
    corpus = data / "corpus" / "wiki18_sample_1k.jsonl"
    if not corpus.is_file():
        pytest.skip("no Search corpus")
    spec = get_env_spec("search")
    got = collect(spec, build_teacher("oracle", spec, TeacherOptions(rationale="short")),
                  make_env=lambda: spec.make(corpus=corpus), seeds=range(3), episode=EpisodeConfig(max_steps=4))
    assert got.examples and all(spec.project_action(ex.target, None).valid for ex in got.examples)
    answers = [ex for ex in got.examples if "<answer>" in ex.target]
    assert len(answers) == 3 and all(ex.target.startswith("<think>answer ") for ex in answers)


def _admissible_in(prompt: str) -> list[str]:
    m = re.search(r"admissible actions of the current situation are: (\[.*?\])\.", prompt, re.S)
    return list(ast.literal_eval(m.group(1)))


def test_openai_teacher_through_a_local_endpoint(monkeypatch):
    from support.openai_server import FakeOpenAIServer, Reply

    calls = {"n": 0}

    def respond(body):  # a 'model' that reads the prompt: every 4th reply is malformed
        calls["n"] += 1
        prompt = body["messages"][-1]["content"]
        if calls["n"] % 4 == 0:
            return Reply("I would go somewhere.")
        return Reply(f"<think>I read the admissible actions and pick one.</think><action>{_admissible_in(prompt)[0]}</action>")

    with FakeOpenAIServer(responder=respond) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        spec = get_env_spec("household")
        teacher = build_teacher("openai:tiny-teacher", spec, TeacherOptions(max_retries=0))
        got = collect(spec, teacher, make_env=lambda: spec.make(split="train"), seeds=range(3),
                      episode=EpisodeConfig(max_steps=4), only_won=False, concurrency=3)
        seen = [r.last_user for r in srv.requests]
    assert len(seen) == 12 and all(r.body["model"] == "tiny-teacher" for r in srv.requests)
    assert got.dropped_turns == 3 and len(got.examples) == 9  # malformed replies never become targets
    assert all(spec.project_action(ex.target, ex.admissible).valid for ex in got.examples)
    assert {ex.prompt for ex in got.examples} <= set(seen)
    assert all(ex.teacher == "openai:tiny-teacher" for ex in got.examples)
