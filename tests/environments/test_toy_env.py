"""The built-in toy env: contract, reward table, projection and prompt."""

import pytest

from agent_system.environments.base import EpisodeFinishedError, PromptContext, get_env_spec
from agent_system.environments.toy import SPEC, ToyEnv, build_prompt, oracle_policy, project_action
from agent_system.environments.toy.env import PLACES, parse_game_id


def test_registered_and_task_types():
    spec = get_env_spec("toy")
    assert spec is SPEC and spec.name == "toy"
    assert set(spec.task_types) == {"fruit", "paper", "tool"} == set(spec.taxonomy.categories)
    assert list(spec.play.scripts) == ["oracle", "random"] and spec.score is None  # env play/eval, no scoring


def test_passes_shared_contract_and_the_oracle_wins():
    from agent_system.environments.contract import check_env

    for seed in range(5):
        report = check_env(ToyEnv(), oracle_policy, max_steps=4, seed=seed)
        assert report.won and report.steps == 2 and report.total_reward == 1.0 and report.done_checked


def test_factory_takes_data_settings_and_rejects_others():
    env = SPEC.make(seed=1, split="train", data_dir="/nowhere")  # trainers pass these to every env
    assert env.reset(seed=2)[1] == ToyEnv().reset(seed=2)[1]
    with pytest.raises(ValueError, match="unknown toy env setting 'sed'.*did you mean 'seed'"):
        SPEC.make(sed=1)


def _play(env, actions, seed=None, task=None):
    obs, info = env.reset(seed=seed, task=task)
    total, done = 0.0, False
    for a in actions:
        obs, r, done, info = env.step(a)
        total += r
        if done:
            break
    return total, done, info


@pytest.mark.parametrize(
    "actions, reward, won",
    [
        (["<action>go to garden</action>", "<action>take key</action>"], 1.0, True),
        (["<action> Go  to garden </action>", "<action>take key</action>"], 1.0, True),  # normalised
        (["<action>go to garden</action>", "<action>take pear</action>"], 0.0, False),   # not there
        (["<action>go to office</action>", "<action>take book</action>"], 0.0, False),   # distractor
        (["<action>go to kitchen</action>", "<action>take key</action>"], 0.0, False),   # not admissible there
        (["<action>take key</action>", "<action>take key</action>"], 0.0, False),        # skipped the go-to
        (["go to garden", "take key"], 0.0, False),                                      # no tags
    ],
)
def test_reward_table(actions, reward, won):
    total, _, info = _play(ToyEnv(), actions, task="key@garden:apple,pear,book,letter")
    assert total == reward
    assert info["won"] is won


def test_invalid_action_keeps_episode_and_info_keys():
    env = ToyEnv()
    env.reset(task="key@garden")
    obs, r, done, info = env.step("I do not know")
    assert (r, done, info["is_action_valid"]) == (0.0, False, False)
    assert obs == "Nothing happens. (no <action>...</action> tag in the output)"
    assert {"won", "task_type", "is_action_valid", "task", "game_id", "action"} <= set(info)
    obs, r, done, info = env.step("<action>take key</action>")  # not admissible in the hall: nothing moves
    assert (obs, done, info.action) == ("Nothing happens. ('take key' is not an admissible action)", False, "take key")
    assert env.admissible_actions()[0].startswith("go to") and env.turn == 2
    env.step("<action>go to garden</action>")
    *_, done, info = env.step("<action>take key</action>")
    assert done and info["won"]
    with pytest.raises(EpisodeFinishedError):
        env.step("<action>take key</action>")


def test_seed_determinism_and_game_id_roundtrip():
    env = ToyEnv()
    _, a = env.reset(seed=11)
    _, b = env.reset(seed=11)
    assert a["game_id"] == b["game_id"]
    game = parse_game_id(a["game_id"])
    assert game.game_id == a["game_id"] and game.place in PLACES
    assert len({ToyEnv().reset(seed=s)[1]["game_id"] for s in range(40)}) > 10


def test_bad_game_id_raises():
    with pytest.raises(ValueError, match="bad toy game id"):
        ToyEnv().reset(task="unicorn@moon")


def test_projection_table():
    adm = ["go to garden", "go to office"]
    assert project_action("<action>go to office</action>", adm).valid
    assert not project_action("<action>go to mars</action>", adm).valid
    assert not project_action("<action></action>", adm).valid
    assert not project_action("<action>a</action><action>b</action>").valid
    assert project_action("<action>anything</action>").action == "anything"


def test_prompt_has_skill_block_on_every_turn_and_history():
    ctx = PromptContext(task="take the key from the garden", observation="You arrive.",
                        history=(("o1", "go to office"), ("o2", "go to garden")),
                        admissible_actions=("take key",), skill_block="SKILL: read the task", turn=2,
                        history_length=1)
    p = build_prompt(ctx)
    assert p.startswith("SKILL: read the task")
    assert "[go to garden]" in p and "[go to office]" not in p
    assert "[take key]" in p and "<action>" in p
