"""ALFWorld prompt builder: skill block on every turn, block order, history truncation, format instruction."""

from agent_system.environments.alfworld.prompt import build_prompt
from agent_system.environments.base import PromptContext

SKILLS = "## Skills\n- [gen_001] Search systematically: check receptacles one by one."


def _ctx(turn: int, history_length: int = 2, skills: str = SKILLS) -> PromptContext:
    history = tuple((f"obs-{i}", f"action-{i}") for i in range(turn))
    return PromptContext(
        task="put a clean mug in coffeemachine.",
        observation=f"current-obs-{turn}",
        history=history,
        admissible_actions=("go to desk 1", "look"),
        skill_block=skills,
        turn=turn,
        history_length=history_length,
    )


def test_skill_block_on_first_and_later_turns():
    for turn in (0, 1, 5):
        prompt = build_prompt(_ctx(turn))
        assert SKILLS in prompt, turn
        # the task, then the skills, then the observation; the history (what left truncation may
        # cut) comes before all three
        assert prompt.index("Your task is to: put a clean mug") < prompt.index(SKILLS)
        assert prompt.index(SKILLS) < prompt.index(f"current-obs-{turn}")
        if turn:
            assert prompt.index(f"Action {turn}: 'action-{turn - 1}'") < prompt.index("Your task is to:")


def test_no_skill_block_when_skills_off():
    prompt = build_prompt(_ctx(3, skills=""))
    assert "## Skills" not in prompt
    assert "\n\n\n" not in prompt


def test_first_turn_has_no_history():
    prompt = build_prompt(_ctx(0))
    assert "Prior to this step" not in prompt
    assert "step 1 and your current observation is: current-obs-0" in prompt


def test_history_is_truncated_to_history_length():
    prompt = build_prompt(_ctx(5, history_length=2))
    assert "obs-3" in prompt and "action-4" in prompt
    for old in ("'obs-0'", "'obs-1'", "'obs-2'", "action-2"):
        assert old not in prompt
    assert "already taken 5 step(s)" in prompt
    assert "[Observation 4: 'obs-3', Action 4: 'action-3']" in prompt
    assert "[Observation 5: 'obs-4', Action 5: 'action-4']" in prompt
    assert "step 6 and your current observation is: current-obs-5" in prompt


def test_history_length_zero_hides_history():
    prompt = build_prompt(_ctx(3, history_length=0))
    assert "obs-2" not in prompt.replace("current-obs", "")


def test_admissible_actions_and_format_instruction():
    prompt = build_prompt(_ctx(1))
    assert "['go to desk 1', 'look']" in prompt
    assert "<think>" in prompt and "</action>" in prompt
    assert prompt.rstrip().endswith("<action> </action> tags after your reasoning.")


def test_pure_function():
    assert build_prompt(_ctx(2)) == build_prompt(_ctx(2))
