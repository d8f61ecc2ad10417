"""The shared text-env contract: every registered env, plus the checker's own failure modes.

Every env package ships its own contract case (``EnvSpec.contract``: a stateless scripted policy
that finishes an episode, its step budget, factory settings and seed); a new env is covered by
registering it. Done handling is always required. An env whose data is missing is skipped.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass

import pytest

from agent_system.environments.base import (
    ENVIRONMENTS,
    EnvSpec,
    EpisodeFinishedError,
    GameRef,
    Outcome,
    ParsedAction,
    StepInfo,
    TaskTaxonomy,
    TextEnv,
    get_env_spec,
)
from agent_system.environments.contract import ContractError, check_env, check_spec
from skillrl.utils.paths import DataNotFoundError


@pytest.mark.parametrize("name", ENVIRONMENTS.names())
def test_env_meets_contract(name):
    spec = get_env_spec(name)
    assert spec.contract is not None, f"{name} ships no contract case (EnvSpec.contract)"
    try:
        report = check_spec(spec)
    except DataNotFoundError as exc:
        pytest.skip(f"{name} data not available: {exc}")
    assert report.steps >= 1 and report.game_id and report.done_checked and not report.notes
    assert report.won == (report.total_reward == 1.0)


def test_scripted_winners_win():
    # the envs whose contract policy plays to win do win; search's answers "unknown" and loses
    assert check_spec(get_env_spec("toy")).won
    try:
        report = check_spec(get_env_spec("alfworld"))
    except DataNotFoundError as exc:
        pytest.skip(f"alfworld data not available: {exc}")
    assert report.won and report.total_reward == 1.0 and report.steps == 10


def test_check_spec_needs_a_contract_case():
    spec = get_env_spec("toy")
    bare = EnvSpec(name="bare", make=spec.make, build_prompt=spec.build_prompt,
                   project_action=spec.project_action, taxonomy=spec.taxonomy)
    with pytest.raises(ContractError, match="no contract case"):
        check_spec(bare)


# --------------------------------------------------------------------------- the checker itself
@dataclass(frozen=True)
class Said:
    """GoodEnv's info.extra."""

    said: str


class GoodEnv(TextEnv):
    """Two-step game: 'a' then 'b' wins; anything else is invalid (written with the TextEnv hooks)."""

    env_name = "good"

    def __init__(self):
        self.pos, self.game = 0, 0

    def admissible_actions(self):
        return ["a", "b"]

    def _start(self, seed, task):
        self.pos, self.game = 0, (seed or 0) % 3
        return f"game {self.game}", GameRef(task="say a then b", task_type="t", game_id=f"g{self.game}")

    def _project(self, text, admissible):
        want = "ab"[self.pos]
        return ParsedAction(text, True) if text == want else ParsedAction("", False, f"say {want}")

    def _apply(self, action):
        self.pos += 1
        return Outcome("ok", float(self.pos == 2), self.pos == 2, self.pos == 2)

    def _extra(self):
        return Said("ab"[: self.pos])


def ab_policy(obs, info, admissible):
    return "b" if info.get("action") == "a" else "a"


def test_checker_accepts_a_good_env():
    report = check_env(GoodEnv(), ab_policy, max_steps=5)
    assert report.won and report.steps == 2 and report.done_checked and report.total_reward == 1.0


def test_template_step_handles_the_invalid_path_and_the_info():
    env = GoodEnv()
    with pytest.raises(EpisodeFinishedError, match="good episode is not started"):
        env.step("a")
    obs, info = env.reset(seed=4)
    assert info == StepInfo(False, "t", True, "say a then b", "g1", "", Said(""))
    obs, reward, done, info = env.step("b")
    assert (obs, reward, done, info.is_action_valid, info.action, env.pos) == ("Invalid action: say a.", 0.0, False, False, "", 0)
    assert env.turn == 1 and not env.finished
    obs, reward, done, info = env.step("a")
    assert (reward, done, info.action, info["said"], env.turn) == (0.0, False, "a", "a", 2)
    obs, reward, done, info = env.step("b")
    assert (reward, done, info.won, dict(info)["said"]) == (1.0, True, True, "ab") and env.finished
    assert pickle.loads(pickle.dumps(info)) == info  # infos cross process boundaries
    with pytest.raises(EpisodeFinishedError, match="finished"):
        env.step("a")
    env.reset()
    env.close()
    with pytest.raises(EpisodeFinishedError):
        env.step("a")


def test_step_info_mapping_view():
    info = StepInfo(won=False, task_type="t", is_action_valid=True, task="x", game_id="g", action="go", extra=Said("hi"))
    assert list(info) == ["won", "task_type", "is_action_valid", "task", "game_id", "action", "said"]
    assert info["said"] == "hi" and info.get("missing", 7) == 7 and "said" in info and len(info) == 7
    assert {**info, "won": True}["won"] is True and info.as_dict()["action"] == "go"
    with pytest.raises(KeyError):
        info["extra"]


def test_max_turns_ends_the_episode_with_the_note():
    env = GoodEnv()
    env.max_turns = 2
    env.reset(seed=0)
    env.step("zzz")
    obs, reward, done, info = env.step("zzz")
    assert done and reward == 0.0 and not info.won and obs == "Invalid action: say a.\nNo turns left (2 used): the episode ends."
    with pytest.raises(EpisodeFinishedError):
        env.step("a")


def test_env_factories_reject_unknown_settings():
    for name in ENVIRONMENTS.names():
        spec = get_env_spec(name)
        with pytest.raises(ValueError, match=f"unknown {name} env setting 'no_such_setting'"):
            spec.make(no_such_setting=1)
    with pytest.raises(TypeError, match="declare its settings"):
        EnvSpec(name="loose", make=lambda **kw: GoodEnv(), build_prompt=str, project_action=str,
                taxonomy=TaskTaxonomy(("t",)))



class NoDoneError(GoodEnv):
    def step(self, action_text):
        if self._playing is not None and self.finished:
            return "still here", 0.0, True, self._info(False, True, "")
        return super().step(action_text)


class RaisesOnGarbage(GoodEnv):
    def step(self, action_text):
        if action_text not in ("a", "b"):
            raise ValueError("bad text")
        return super().step(action_text)


class WrongType(GoodEnv):
    def _start(self, seed, task):
        obs, game = super()._start(seed, task)
        return obs, GameRef(task=game.task, task_type=7, game_id=game.game_id)


class DictInfo(GoodEnv):
    def reset(self, seed=None, task=None):
        obs, info = super().reset(seed, task)
        return obs, dict(info)


class BadExtra(GoodEnv):
    def _extra(self):
        return {"said": "a"}


class RandomReset(GoodEnv):
    calls = 0

    def reset(self, seed=None, task=None):
        RandomReset.calls += 1
        return super().reset(seed=RandomReset.calls)


class RewardsGarbage(GoodEnv):
    def step(self, action_text):
        obs, r, d, info = super().step(action_text)
        return obs, (0.5 if not info["is_action_valid"] else r), d, info


class NeverEnds(GoodEnv):
    def step(self, action_text):
        obs, r, d, info = super().step(action_text)
        self.pos %= 2
        self._over = False
        return obs, 0.0, False, dataclasses.replace(info, won=False)


@pytest.mark.parametrize(
    "env_cls, message",
    [
        (NoDoneError, "EpisodeFinishedError"),
        (RaisesOnGarbage, "malformed text"),
        (WrongType, "info.task_type must be str"),
        (DictInfo, "must be a StepInfo"),
        (BadExtra, "dataclass instance or None"),
        (RandomReset, "not deterministic"),
        (RewardsGarbage, "reward 0.5"),
        (NeverEnds, "did not finish"),
    ],
)
def test_checker_catches_broken_envs(env_cls, message):
    with pytest.raises(ContractError, match=message):
        check_env(env_cls(), ab_policy, max_steps=5)


def test_checker_notes_unchecked_done_handling():
    report = check_env(NeverEnds(), ab_policy, max_steps=5, require_done=False)
    assert not report.done_checked and report.notes
