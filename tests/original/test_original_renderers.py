"""The per-env original-style renderers' rules, on synthetic templates (no original wording)."""

from __future__ import annotations

import pytest

from agent_system.environments.alfworld import original as alf
from agent_system.environments.base import PromptContext
from agent_system.environments.original_templates import OriginalTemplates
from agent_system.environments.search import original as sea
from agent_system.environments.webshop import original as web

ALF_T = OriginalTemplates(
    env_name="alfworld",
    no_history="NOHIS obs={current_observation} acts=[{admissible_actions}]",
    history="HIS task={task_description} n={step_count} k={history_length}\n{action_history}\nstep={current_step} obs={current_observation} acts=[{admissible_actions}]",
    with_memory="MEM task={task_description} skills={retrieved_memories} n={step_count} k={history_length}\n{action_history}\nstep={current_step} obs={current_observation} acts=[{admissible_actions}]",
    source="synthetic",
)
WEB_T = OriginalTemplates(
    env_name="webshop",
    no_history="NOHIS {task_description}|{current_observation}|{available_actions}",
    history="HIS {task_description}|{step_count}|{history_length}|{action_history}|{current_step}|{current_observation}|{available_actions}",
    with_memory="MEM {retrieved_memories}|{task_description}|{step_count}|{history_length}|{action_history}|{current_step}|{current_observation}|{available_actions}",
    source="synthetic",
)
SEA_T = OriginalTemplates(
    env_name="search",
    no_history="NOHIS {task_description}",
    history="HIS {task_description} n={step_count}\n{memory_context}END",
    with_memory="MEM {retrieved_memories} {task_description} n={step_count}\n{memory_context}END",
    source="synthetic",
)


def _ctx(turn, history=(), **kw):
    base = dict(task="put a mug in desk.", observation=f"obs{turn}", history=tuple(history), turn=turn, history_length=2)
    base.update(kw)
    return PromptContext(**base)


def test_alfworld_turn0_and_zero_history_use_no_history_even_with_skills():
    ctx = _ctx(0, admissible_actions=["go to desk 1", "help", "look"], skill_block="SKILLS")
    assert alf.build_prompt(ctx, ALF_T) == "NOHIS obs=obs0 acts=['go to desk 1'\n 'look']"
    hist = [(f"obs{i}", f"a{i}") for i in range(3)]
    assert alf.build_prompt(_ctx(3, hist, history_length=0, skill_block="S"), ALF_T).startswith("NOHIS obs=obs3")
    assert alf.build_prompt(_ctx(3, hist, history_length=-1), ALF_T).startswith("NOHIS")


def test_alfworld_history_numbering_quotes_and_memory_template():
    hist = [("o'1\nline", "a1"), ("o2", "a 2"), ("o3", "")]
    prompt = alf.build_prompt(_ctx(3, hist, skill_block="SK"), ALF_T)
    assert prompt == (
        "MEM task=put a mug in desk. skills=SK n=3 k=2\n"
        "[Observation 2: 'o2', Action 2: 'a 2']\n[Observation 3: 'o3', Action 3: '']\n"
        "step=4 obs=obs3 acts=[]"
    )
    prompt = alf.build_prompt(_ctx(1, hist[:1], history_length=5), ALF_T)
    assert prompt.startswith("HIS task=put a mug in desk. n=1 k=1\n[Observation 1: 'o'1\nline', Action 1: 'a1']\n")


def test_alfworld_extract_task_requires_the_marker():
    with pytest.raises(ValueError, match="Your task is to"):
        alf.extract_task("You are in a room.")


WEB_TASK = "i need red socks"


def _page(*fields):
    return " [SEP] ".join(("Instruction:", WEB_TASK) + fields)


def test_webshop_quotes_pages_after_the_task_field():
    assert web.format_observation(_page("Back to Search", "Page 1"), WEB_TASK) == "'Back to Search' [SEP] 'Page 1'"
    reset = f"WebShop [SEP] Instruction: [SEP] {WEB_TASK} [SEP] Search"
    assert web.format_observation(reset, WEB_TASK) == "'Search'"
    assert web.format_observation(_page(), WEB_TASK) == ""  # nothing after the task
    assert web.format_observation("no task here", WEB_TASK) == "no task here"


def test_webshop_available_actions_and_unknown_keys():
    acts = web.available_actions({"has_search_bar": False, "clickables": ["back to search", "b0"]})
    assert acts == ["click[back to search]", "click[b0]"]
    assert web.format_available(acts) == "'click[back to search]',\n'click[b0]',"
    with pytest.raises(ValueError, match="unknown key"):
        web.available_actions({"has_search_bar": True, "clickables": [], "extra": 1})


def test_webshop_history_page_is_quoted_twice():
    reset = f"WebShop [SEP] Instruction: [SEP] {WEB_TASK} [SEP] Search"
    ctx = PromptContext(task=WEB_TASK, observation=_page("Next >"), history=((reset, "search[socks]"),), turn=1,
                        history_length=2, admissible_actions=["click[next >]"])
    assert web.build_prompt(ctx, WEB_T) == (
        f"HIS {WEB_TASK}|1|1|[Observation 1: ''Search'', Action 1: 'search[socks]']|2|'Next >'|'click[next >]',"
    )


def test_webshop_long_prompt_falls_back_to_no_history_at_the_character_limit():
    def prompt_for(n_chars):
        page = _page("x" * n_chars)
        ctx = PromptContext(task=WEB_TASK, observation="now", history=((page, "click[x]"),), turn=1,
                            history_length=2, skill_block="SK")
        return web.build_prompt(ctx, WEB_T)

    short = prompt_for(100)
    overhead = len(short) - 100
    at_limit = prompt_for(web.MAX_PROMPT_CHARS - overhead)
    assert len(at_limit) == web.MAX_PROMPT_CHARS and at_limit.startswith("MEM ")
    over = prompt_for(web.MAX_PROMPT_CHARS - overhead + 1)
    assert over == f"NOHIS {WEB_TASK}|now|"  # skills and history dropped together


def test_webshop_extract_task_checks_the_page_shape():
    assert web.extract_task(f"WebShop [SEP] Instruction: [SEP] {WEB_TASK} [SEP] Search") == WEB_TASK
    with pytest.raises(ValueError, match="reset page"):
        web.extract_task("WebShop [SEP] Search")


def test_search_steps_pair_each_action_with_the_next_observation():
    history = (("question?", "<search>a</search>"), ("<information>r1</information>", ""))
    ctx = PromptContext(task="question?", observation="", history=history, turn=2, history_length=4)
    assert sea.build_prompt(ctx, SEA_T) == (
        "HIS question? n=2\nStep 1:<search>a</search> <information>r1</information>\n\nStep 2: \nEND"
    )
    ctx = PromptContext(task="question?", observation="<information>r2</information>", history=history[:1], turn=1,
                        history_length=1, skill_block="SK")
    assert sea.build_prompt(ctx, SEA_T) == "MEM SK question? n=1\nStep 1:<search>a</search> <information>r2</information>\nEND"


def test_search_truncated_history_keeps_absolute_step_numbers():
    history = tuple((f"o{i}", f"<search>q{i}</search>") for i in range(3))
    ctx = PromptContext(task="q", observation="o3", history=history, turn=3, history_length=1)
    assert sea.build_prompt(ctx, SEA_T) == "HIS q n=3\nStep 3:<search>q2</search> o3\nEND"
    assert sea.build_prompt(PromptContext(task="q", observation="o0", turn=0), SEA_T) == "NOHIS q"


@pytest.mark.parametrize("project", [alf.project_action, web.project_action, sea.project_action])
def test_projections_never_raise_on_non_text(project):
    parsed = project(None)  # type: ignore[arg-type]
    assert parsed.action == "" and not parsed.valid
