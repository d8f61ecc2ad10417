"""run_episode against a small in-test environment and scripted policies."""

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass

import pytest

from agent_system.environments.base import EnvSpec, EpisodeFinishedError, ParsedAction, PromptContext, TextEnv
from skillrl.agent import EpisodeConfig, Generation, run_episode
from skillrl.utils.metrics import success_by_task_type, success_metrics


def _project(text, admissible=None):
    m = re.search(r"<action>(.*?)</action>", text, re.S)
    if not m:
        return ParsedAction("", False, "no <action> tag")
    action = m.group(1).strip()
    if admissible is not None and action not in admissible:
        return ParsedAction(action, False, "not admissible")
    return ParsedAction(action, True)


class CountEnv(TextEnv):
    """Say the target number to win; 'boom' makes the env raise."""

    env_name = "count"

    def __init__(self):
        self.target = None
        self.done = True

    def reset(self, seed=None, task=None):
        self.target = str((seed or 0) % 3)
        self.done = False
        return "start", self._info(False, True)

    def _info(self, won, valid, action=""):
        return {"won": won, "task_type": f"type{self.target}", "is_action_valid": valid,
                "task": f"say {self.target}", "game_id": f"g{self.target}", "action": action}

    def admissible_actions(self):
        return ["0", "1", "2", "boom"]

    def step(self, action_text):
        if self.done:
            raise EpisodeFinishedError("finished")
        parsed = _project(action_text, self.admissible_actions())
        if parsed.action == "boom":
            raise RuntimeError("env exploded")
        if not parsed.valid:
            return f"Invalid action: {parsed.reason}", 0.0, False, self._info(False, False)
        won = parsed.action == self.target
        self.done = won
        return ("yes" if won else "no"), float(won), won, self._info(won, True, parsed.action)


def _prompt(ctx: PromptContext) -> str:
    return f"{ctx.skill_block}|task={ctx.task}|obs={ctx.observation}|turn={ctx.turn}|hist={len(ctx.history[-ctx.history_length:])}"


SPEC = EnvSpec(name="count", make=CountEnv, build_prompt=_prompt, project_action=_project)


class ScriptedPolicy:
    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.prompts = []

    async def generate(self, prompt):
        self.prompts.append(prompt)
        return Generation(text=self.outputs.pop(0))


@dataclass(frozen=True)
class FakeRetrieved:
    task_type: str
    text: str
    skill_ids: tuple = ("g1", "t1")


class FakeSkills:
    bank_version = 7

    def __init__(self):
        self.calls = []

    def retrieve(self, task, task_type=None):
        self.calls.append((task, task_type))
        return FakeRetrieved(task_type or "", "SKILLS")


def test_winning_episode_records_everything_and_injects_skills_every_turn():
    policy = ScriptedPolicy(["garbage", "<action>0</action>", "<action>2</action>"])
    skills = FakeSkills()
    ep = asyncio.run(run_episode(CountEnv(), SPEC, policy, seed=5, skills=skills))
    assert ep.won and ep.reward == 1.0 and not ep.truncated and ep.error is None
    assert [s.action for s in ep.steps] == ["", "0", "2"]
    assert [s.is_action_valid for s in ep.steps] == [False, True, True]
    assert ep.task == "say 2" and ep.task_type == "type2" and ep.game_id == "g2"
    assert skills.calls == [("say 2", "type2")]  # once per episode, with the env's task type hint
    assert ep.skill_ids == ("g1", "t1") and ep.bank_version == 7
    assert all(p.startswith("SKILLS|") for p in policy.prompts)  # first turn included
    assert "turn=0" in policy.prompts[0] and "hist=2" in policy.prompts[2]
    summary = json.loads(ep.to_json())
    assert summary["won"] is True and "Outcome: success" in summary["transcript"]


def test_a_real_retriever_as_the_skill_source():
    from skillrl.skills import SkillBank, build_retriever

    bank = SkillBank.from_dict({
        "general_skills": [{"skill_id": "gen_1", "title": "Say it", "principle": "Answer with one digit."}],
        "task_specific_skills": {"type2": [{"skill_id": "two_1", "title": "Two", "principle": "The answer is 2."}]},
        "common_mistakes": [],
    })
    retriever = build_retriever(bank, taxonomy=None)  # no taxonomy: the env's task-type hint names the category
    policy = ScriptedPolicy(["<action>2</action>"])
    ep = asyncio.run(run_episode(CountEnv(), SPEC, policy, seed=2, skills=retriever))
    assert ep.won and ep.skill_ids == ("gen_1", "two_1") and ep.bank_version == bank.version
    assert "The answer is 2." in policy.prompts[0] and "Answer with one digit." in policy.prompts[0]


def test_truncation_and_history_length():
    policy = ScriptedPolicy(["<action>1</action>"] * 4)
    ep = asyncio.run(run_episode(CountEnv(), SPEC, policy, seed=0, config=EpisodeConfig(max_steps=4, history_length=1)))
    assert ep.num_turns == 4 and ep.truncated and not ep.won and ep.reward == 0.0
    assert "hist=1" in policy.prompts[-1]


def test_env_exception_ends_only_this_episode():
    policy = ScriptedPolicy(["<action>boom</action>"])
    ep = asyncio.run(run_episode(CountEnv(), SPEC, policy, seed=1))
    assert ep.error and "env exploded" in ep.error
    assert not ep.truncated and ep.num_turns == 0


class FailingEnv(CountEnv):
    """CountEnv whose ``fail_in`` method raises (on its ``fail_after``-th call, 0-based)."""

    def __init__(self, fail_in, fail_after=0):
        super().__init__()
        self.fail_in, self.fail_after, self.calls = fail_in, fail_after, 0

    def _maybe_fail(self, name):
        if name == self.fail_in:
            self.calls += 1
            if self.calls > self.fail_after:
                raise OSError(f"{name} broke")

    def reset(self, seed=None, task=None):
        self._maybe_fail("reset")
        return super().reset(seed, task)

    def admissible_actions(self):
        self._maybe_fail("admissible_actions")
        return super().admissible_actions()

    def step(self, action_text):
        self._maybe_fail("step")
        return super().step(action_text)


@pytest.mark.parametrize(
    ("fail_in", "fail_after", "turns"),
    # admissible_actions: the loop's first call, then its second (CountEnv.step makes one more in between)
    [("reset", 0, 0), ("admissible_actions", 0, 0), ("admissible_actions", 2, 1), ("step", 0, 0), ("step", 1, 1)],
)
def test_env_failure_anywhere_ends_only_that_episode(fail_in, fail_after, turns, caplog):
    """A raising reset / admissible_actions / step gives an errored episode; the batch completes."""

    async def main():
        broken = run_episode(FailingEnv(fail_in, fail_after), SPEC, ScriptedPolicy(["<action>2</action>"] * 3), seed=0,
                             skills=FakeSkills())
        healthy = [run_episode(CountEnv(), SPEC, ScriptedPolicy([f"<action>{s % 3}</action>"]), seed=s) for s in (1, 2)]
        return await asyncio.gather(broken, *healthy)

    broken, *healthy = asyncio.run(main())
    assert broken.error == f"OSError: {fail_in} broke"
    assert broken.num_turns == turns and not broken.won and not broken.truncated and broken.reward == 0.0
    assert broken.env_name == "count" and broken.seed == 0
    if fail_in != "reset":  # the env told us its game before failing
        assert broken.game_id == "g0" and broken.task == "say 0"
    assert [e.won and e.error is None for e in healthy] == [True, True]
    assert f"failed in {fail_in} after {turns} step(s)" in caplog.text


def test_policy_failure_propagates():
    class Broken:
        async def generate(self, prompt):
            raise ConnectionError("model server down")

    with pytest.raises(ConnectionError, match="model server down"):
        asyncio.run(run_episode(CountEnv(), SPEC, Broken(), seed=0))


def test_slow_retrieval_does_not_block_other_episodes():
    """Each retrieval waits until every episode is inside ``retrieve`` at once: that only
    happens when retrieval runs off the event loop (on the loop the first call would hold the
    loop and the barrier would break)."""
    n = 3
    barrier = threading.Barrier(n, timeout=10)

    class BlockingSkills(FakeSkills):
        def __init__(self):
            super().__init__()
            self.lock, self.inside, self.most_inside = threading.Lock(), 0, 0

        def retrieve(self, task, task_type=None):
            with self.lock:
                self.inside += 1
                self.most_inside = max(self.most_inside, self.inside)
            barrier.wait()  # raises BrokenBarrierError if the others never arrive
            time.sleep(0.05)
            with self.lock:
                self.inside -= 1
            return super().retrieve(task, task_type)

    skills = BlockingSkills()

    async def main():
        return await asyncio.gather(*(
            run_episode(CountEnv(), SPEC, ScriptedPolicy([f"<action>{s % 3}</action>"]), seed=s, skills=skills)
            for s in range(n)
        ))

    episodes = asyncio.run(main())
    assert skills.most_inside == n
    assert all(e.won and e.skill_ids == ("g1", "t1") for e in episodes)
    assert sorted(skills.calls) == [("say 0", "type0"), ("say 1", "type1"), ("say 2", "type2")]


def test_many_episodes_run_concurrently():
    async def main():
        eps = [run_episode(CountEnv(), SPEC, ScriptedPolicy([f"<action>{s % 3}</action>"]), seed=s) for s in range(6)]
        return await asyncio.gather(*eps)

    episodes = asyncio.run(main())
    assert all(e.won for e in episodes)
    by_type = success_by_task_type(e.summary() for e in episodes)
    assert by_type == {"type0": [2, 2], "type1": [2, 2], "type2": [2, 2]}
    assert success_metrics(by_type)["val/success_rate"] == 1.0


def test_stepping_finished_env_raises():
    env = CountEnv()
    env.reset(seed=0)
    env.step("<action>0</action>")
    with pytest.raises(EpisodeFinishedError):
        env.step("<action>0</action>")
