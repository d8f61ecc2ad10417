"""The shared text-env contract: every registered env, plus the checker's own failure modes.

To cover a new env, add a :class:`Case` to ``CASES`` (or let the env's ``SPEC.extra["contract"]``
provide ``{"make_kwargs", "policy", "max_steps", "malformed_text", "seed"}``). An env whose package does
not exist yet is skipped; an env without a case is checked with a generic policy (first
admissible action in ``<think>/<action>`` tags) and may leave done handling unchecked.
"""

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from agent_system.environments.base import EpisodeFinishedError, TextEnv, get_env_spec
from agent_system.environments.contract import MALFORMED_TEXT, ContractError, check_env
from skillrl.utils.paths import DataNotFoundError


def _tagged(action: str) -> str:
    return f"<think>scripted</think><action>{action}</action>"


def alfworld_expert(obs, info, admissible):
    return _tagged(info.get("expert_action") or "look")


def generic_policy(obs, info, admissible):
    return _tagged(admissible[0] if admissible else "search[anything]")


@dataclass(frozen=True)
class Case:
    policy: Callable[..., str]
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps: int = 50
    malformed_text: str = MALFORMED_TEXT
    require_done: bool = True
    seed: int = 0


CASES: dict[str, Case] = {
    # valid_seen game 16 (pick_and_place) takes the expert 5 steps
    "alfworld": Case(alfworld_expert, {"split": "valid_seen"}, max_steps=60, seed=16),
    # "webshop": Case(...), "search": Case(...), "toy": Case(...)  <- add when the envs land
}
ENV_NAMES = ["alfworld", "webshop", "search", "toy", "household"]


@pytest.mark.parametrize("name", ENV_NAMES)
def test_env_meets_contract(name):
    if importlib.util.find_spec(f"agent_system.environments.{name}") is None:
        pytest.skip(f"environment package {name!r} does not exist yet")
    spec = get_env_spec(name)
    case = CASES.get(name)
    if case is None and "contract" in spec.extra:
        c = spec.extra["contract"]
        case = Case(c["policy"], dict(c.get("make_kwargs", {})), c.get("max_steps", 50),
                    c.get("malformed_text", MALFORMED_TEXT), seed=c.get("seed", 0))
    if case is None:
        case = Case(generic_policy, require_done=False)
    try:
        env = spec.make(**case.make_kwargs)
    except DataNotFoundError as exc:
        pytest.skip(f"{name} data not available: {exc}")
    try:
        report = check_env(env, case.policy, case.max_steps, seed=case.seed,
                           malformed_text=case.malformed_text, require_done=case.require_done)
    finally:
        env.close()
    assert report.steps >= 1 and report.game_id
    if case.require_done:
        assert report.done_checked
    if name == "alfworld":
        assert report.won and report.total_reward == 1.0


# --------------------------------------------------------------------------- the checker itself
class GoodEnv(TextEnv):
    """Two-step game: 'a' then 'b' wins; anything else is invalid."""

    def __init__(self):
        self.pos, self.done, self.game = 0, True, 0

    def _info(self, **kw):
        return {"won": False, "task_type": "t", "is_action_valid": True, "task": "say a then b",
                "game_id": f"g{self.game}", **kw}

    def reset(self, seed=None, task=None):
        self.pos, self.done, self.game = 0, False, (seed or 0) % 3
        return f"game {self.game}", self._info()

    def step(self, action_text):
        if self.done:
            raise EpisodeFinishedError("done")
        want = "ab"[self.pos]
        if action_text != want:
            return "Invalid action: say " + want, 0.0, False, self._info(action="", is_action_valid=False)
        self.pos += 1
        self.done = self.pos == 2
        return "ok", float(self.done), self.done, self._info(action=action_text, won=self.done)

    def admissible_actions(self):
        return ["a", "b"]


def ab_policy(obs, info, admissible):
    return "b" if info.get("action") == "a" else "a"


def test_checker_accepts_a_good_env():
    report = check_env(GoodEnv(), ab_policy, max_steps=5)
    assert report.won and report.steps == 2 and report.done_checked and report.total_reward == 1.0


class NoDoneError(GoodEnv):
    def step(self, action_text):
        if self.done:
            return "still here", 0.0, True, self._info(action="")
        return super().step(action_text)


class RaisesOnGarbage(GoodEnv):
    def step(self, action_text):
        if action_text not in ("a", "b"):
            raise ValueError("bad text")
        return super().step(action_text)


class MissingKey(GoodEnv):
    def _info(self, **kw):
        info = super()._info(**kw)
        del info["task_type"]
        return info


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
        self.done = False
        return obs, 0.0, False, {**info, "won": False}


@pytest.mark.parametrize(
    "env_cls, message",
    [
        (NoDoneError, "EpisodeFinishedError"),
        (RaisesOnGarbage, "malformed text"),
        (MissingKey, "task_type"),
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
