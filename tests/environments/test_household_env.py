"""The household TextEnv adapter: contract, invalid actions, resets, ALFWorld's projection,
prompt and task types, skills retrieval, scripted play and its CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent_system.environments import alfworld
from agent_system.environments.alfworld import prompt as alfworld_prompt
from agent_system.environments.base import INFO_KEYS, EpisodeFinishedError, PromptContext, get_env_spec
from agent_system.environments.contract import check_env
from agent_system.environments.household import SPEC, HouseholdEnv, contract_policy, make


def _act(action: str) -> str:
    return f"<think>t</think><action>{action}</action>"


def test_registered_with_alfworld_projection_prompt_and_task_types():
    spec = get_env_spec("household")
    assert spec is SPEC and spec.name == "household"
    assert spec.build_prompt is alfworld.build_prompt
    assert spec.project_action is alfworld.project_action
    assert spec.task_types == alfworld.TASK_TYPES


@pytest.mark.parametrize("split", ["train", "valid_seen", "valid_unseen"])
def test_meets_the_contract_and_the_expert_wins(split):
    report = check_env(HouseholdEnv(split), contract_policy, max_steps=20, seed=4)
    assert report.done_checked and report.won and report.total_reward == 1.0
    assert report.game_id.startswith(f"{split}/") and 3 <= report.steps <= 10


def test_invalid_output_and_impossible_commands():
    env = HouseholdEnv("valid_seen")
    obs, info = env.reset(seed=0)
    assert set(INFO_KEYS) <= set(info) and info["split"] == "valid_seen" and info["expert_action"].startswith("go to ")
    obs, reward, done, info = env.step("go to desk 1")  # no tags
    assert obs.startswith("Invalid action: missing <think>") and obs.endswith("Nothing happens.")
    assert (reward, done, info["is_action_valid"]) == (0.0, False, False)
    obs, reward, done, info = env.step(_act("take moon 1 from sky 1"))
    assert obs == "Nothing happens." and (reward, done, info["is_action_valid"]) == (0.0, False, False)
    assert info["action"] == "take moon 1 from sky 1"
    adm = env.admissible_actions()
    obs, reward, done, info = env.step(_act(adm[adm.index("look")].upper()))  # case and spaces normalised
    assert info["is_action_valid"] and obs.startswith("You are in the middle of a room.")


def test_require_think_off_accepts_a_bare_action():
    env = make(split="train", require_think=False, data_dir="/nowhere")
    _, info = env.reset(seed=1)
    _, _, _, info = env.step(f"<action>{info['expert_action']}</action>")
    assert info["is_action_valid"]


def test_resets_by_seed_task_and_in_order():
    env = HouseholdEnv("valid_unseen")
    assert env.admissible_actions() is None
    with pytest.raises(EpisodeFinishedError):
        env.step(_act("look"))
    ids = [env.reset()[1]["game_id"] for _ in range(3)]
    assert ids == ["valid_unseen/0", "valid_unseen/1", "valid_unseen/2"]
    assert env.reset(seed=203)[1]["game_id"] == "valid_unseen/3"
    obs, info = env.reset(task="train/42")
    assert info["game_id"] == "train/42" and obs.endswith(f"Your task is to: {info['task']}")
    with pytest.raises(ValueError, match="bad household game id"):
        env.reset(task="kitchen/1")
    with pytest.raises(ValueError, match="unknown household split"):
        HouseholdEnv("test")


def test_the_whole_episode_through_the_env_ends_with_reward_one():
    env = HouseholdEnv("train")
    obs, info = env.reset(seed=11)
    total, steps, done = 0.0, 0, False
    while not done:
        assert info["expert_action"] in env.admissible_actions()
        obs, reward, done, info = env.step(_act(info["expert_action"]))
        total += reward
        steps += 1
    assert info["won"] and total == 1.0 and steps <= 10 and info["expert_action"] == info["search_action"] == "look"
    with pytest.raises(EpisodeFinishedError):
        env.step(_act("look"))


def test_prompt_is_alfworlds_and_short():
    env = HouseholdEnv("valid_seen")
    obs, info = env.reset(seed=2)
    prompt = SPEC.build_prompt(PromptContext(task=info["task"], observation=obs,
                                             admissible_actions=tuple(env.admissible_actions())))
    assert prompt.startswith(alfworld_prompt.INTRO) and prompt.endswith(alfworld_prompt.FORMAT_INSTRUCTION)
    assert f"Your task is to: {info['task']}" in prompt and "'go to " in prompt
    assert len(prompt.split()) < 220


def test_alfworld_skill_bank_serves_household_tasks_by_type():
    from pathlib import Path

    from skillrl.skills.retrieval import build_retriever

    bank = Path(__file__).resolve().parents[2] / "memory_data" / "alfworld" / "skills.json"
    retriever = build_retriever(bank, taxonomy=SPEC.taxonomy)
    env = HouseholdEnv("valid_unseen")
    for seed in range(6):
        _, info = env.reset(seed=seed)
        result = retriever.retrieve(info["task"], info["task_type"])
        assert result.task_type == info["task_type"] and result.task_specific, info


def _play(policy: str, games: int, split: str, max_steps: int | None = None) -> list:
    """Episodes of a scripted policy through the project's play path (``skillrl eval``'s)."""
    from skillrl.eval import PlaySettings, play, plan
    from skillrl.policies import load_policy

    settings = PlaySettings(splits=(split,), games=games, max_steps=max_steps, progress=False)
    episodes: list = []
    play(SPEC, load_policy(SPEC, policy), plan(SPEC, settings), settings, on_episode=lambda item: episodes.append(item.episode))
    return episodes


def test_scripted_policies_through_the_play_path():
    expert = _play("expert", 60, "valid_seen")
    assert len(expert) == 60 and all(ep.won for ep in expert) and not any(ep.error for ep in expert)
    assert {ep.task_type for ep in expert} == set(alfworld.TASK_TYPES)
    assert 3 <= min(ep.num_turns for ep in expert) and max(ep.num_turns for ep in expert) <= 10
    search = _play("search", 60, "valid_seen")
    assert all(ep.won for ep in search) and sum(ep.num_turns for ep in search) >= sum(ep.num_turns for ep in expert)
    rnd = _play("random", 60, "valid_seen", max_steps=10)
    assert len(rnd) == 60 and sum(ep.won for ep in rnd) < 30 and max(ep.num_turns for ep in rnd) <= 10
    again = _play("random", 60, "valid_seen", max_steps=10)
    assert [[s.action for s in ep.steps] for ep in again] == [[s.action for s in ep.steps] for ep in rnd]
    perturbed = _play("perturbed", 12, "valid_seen")
    assert not any(ep.won for ep in perturbed) and all(ep.metadata.get("failure_kind") for ep in perturbed)


def test_eval_counts_the_evaluation_splits_and_refuses_all_on_train():
    from skillrl.eval import PlaySettings, PlayError, plan

    plans = plan(SPEC, PlaySettings(splits=("valid_seen", "valid_unseen"), games=None, progress=False))
    assert [len(p.jobs) for p in plans] == [200, 200]
    with pytest.raises(PlayError, match="generated from the seed"):
        plan(SPEC, PlaySettings(splits=("train",), games=None, progress=False))


def test_cli_play_household():
    from skillrl.cli import app

    res = CliRunner().invoke(app, ["env", "play", "household", "--policy", "expert", "--games", "12",
                                   "--split", "valid_unseen", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["policy"] == "expert" and out["games"] == 12 and out["success_rate"] == 1.0
    res = CliRunner().invoke(app, ["env", "play", "household", "--split", "test", "--games", "1"])
    assert res.exit_code != 0 and "unknown household split" in res.output
