"""Play a teacher through the shared agent loop and keep its turns as SFT examples.

Episodes run through :func:`skillrl.agent.loop.run_episode` — the loop RL uses — so every
prompt is built by the env's prompt builder with the skill block retrieved from the same bank
(at its version) for the same task. The teacher answers in place of the policy; the env
projects and plays its output, so a target that the env's projection rejects is seen at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_system.environments.base import EnvSpec, TextEnv
from skillrl.agent.episode import Episode, Generation
from skillrl.agent.loop import EpisodeConfig, SkillSource, run_episode
from skillrl.sft.examples import SFTExample
from skillrl.sft.teachers import EpisodeTeacher, Teacher, TeacherTurn, skill_items, unwrap

log = logging.getLogger(__name__)


class _Observed(TextEnv):
    """Delegates to an env and keeps what it last reported (observation, info, admissible)."""

    def __init__(self, env: TextEnv) -> None:
        self.env = env
        self.env_name = getattr(env, "env_name", "")
        self.observation = ""
        self.info: Any = None
        self.admissible: list[str] | None = None

    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, Any]:
        self.observation, self.info = self.env.reset(seed, task)
        return self.observation, self.info

    def step(self, action_text: str) -> tuple[str, float, bool, Any]:
        obs, reward, done, info = self.env.step(action_text)
        self.observation, self.info = obs, info
        return obs, reward, done, info

    def admissible_actions(self) -> list[str] | None:
        self.admissible = self.env.admissible_actions()
        return self.admissible

    def close(self) -> None:
        self.env.close()


class _TeacherPolicy:
    """The agent loop's policy for one episode: asks the teacher, remembers each turn's admissible actions."""

    def __init__(self, teacher: EpisodeTeacher, env: _Observed, skills: SkillSource | None, bank: Any) -> None:
        self.teacher, self.env, self.skills, self.bank = teacher, env, skills, bank
        self.admissible: list[tuple[str, ...] | None] = []
        self._items: tuple[tuple[str, str, str], ...] | None = None

    async def generate(self, prompt: str) -> Generation:
        info = self.env.info
        if self._items is None:
            self._items = ()
            if self.skills is not None and self.bank is not None:
                got = self.skills.retrieve(str(info.get("task", "")), str(info.get("task_type", "")) or None)
                self._items = skill_items(self.bank, got.skill_ids)
        adm = tuple(self.env.admissible) if self.env.admissible is not None else None
        self.admissible.append(adm)
        turn = TeacherTurn(prompt=prompt, task=str(info.get("task", "")), task_type=str(info.get("task_type", "")),
                           observation=self.env.observation, info=info, admissible=adm, skills=self._items,
                           env=unwrap(self.env.env), turn=len(self.admissible) - 1)
        return Generation(text=await self.teacher.answer(turn))


@dataclass
class Collected:
    """What a teacher run produced."""

    examples: list[SFTExample] = field(default_factory=list)
    """Turns of the kept episodes whose output the env accepted."""
    episodes: list[Episode] = field(default_factory=list)
    """Every episode played (kept or not)."""
    dropped_episodes: int = 0
    """Episodes left out (not won while ``only_won``, or ended by an error)."""
    dropped_turns: int = 0
    """Turns of kept episodes left out because the env rejected the teacher's output."""


def collect(spec: EnvSpec, teacher: Teacher, *, make_env: Callable[[], TextEnv], seeds: Sequence[int],
            episode: EpisodeConfig, skills: SkillSource | None = None, bank: Any = None, concurrency: int = 1,
            only_won: bool = True, progress: bool = False, style: Any = None) -> Collected:
    """Play one episode per seed with ``teacher`` and turn the kept episodes into examples.

    Args:
        make_env: builds one env (``concurrency`` of them are made and reused).
        skills: the retriever whose block goes into every prompt (None: no skills); ``bank``
            is the bank behind it (to tell the teacher what the injected items say).
        only_won: keep only episodes the teacher won (a failed expert game teaches nothing good).
        style: the prompt style of the run (``skillrl.agent.style``; None: native), so the SFT
            prompts are the RL prompts in that style too.

    Raises:
        RuntimeError: every episode failed in the env (the first error is quoted).
    """
    envs = [_Observed(make_env()) for _ in range(max(1, min(concurrency, len(seeds))))]
    out = Collected()
    bank_version = skills.bank_version if skills is not None else None

    async def play(env: _Observed, seed: int) -> tuple[Episode, _TeacherPolicy]:
        policy = _TeacherPolicy(teacher.episode(), env, skills, bank)
        ep = await run_episode(env, spec, policy, seed=seed, skills=skills, config=episode, style=style)
        return ep, policy

    async def run_all() -> list[tuple[Episode, _TeacherPolicy]]:
        from tqdm.auto import tqdm

        results: list[tuple[Episode, _TeacherPolicy]] = []
        bar = tqdm(total=len(seeds), desc=f"teacher {teacher.name}", unit="game", disable=not progress, leave=False)
        for start in range(0, len(seeds), len(envs)):
            wave = seeds[start:start + len(envs)]
            results += await asyncio.gather(*(play(envs[i], s) for i, s in enumerate(wave)))
            bar.update(len(wave))
        bar.close()
        return results

    try:
        played = asyncio.run(run_all())
    finally:
        for env in envs:
            env.close()
    for ep, policy in played:
        out.episodes.append(ep)
        if ep.error is not None or (only_won and not ep.won):
            out.dropped_episodes += 1
            continue
        for step, adm in zip(ep.steps, policy.admissible):
            if not step.is_action_valid:
                out.dropped_turns += 1
                continue
            out.examples.append(SFTExample(
                prompt=step.prompt, target=step.generation.text, action=step.action, env_name=spec.name,
                task_type=ep.task_type, game_id=ep.game_id, turn=step.turn, teacher=teacher.name, admissible=adm,
                bank_version=bank_version, seed=ep.seed))
    if played and all(ep.error is not None for ep, _ in played):
        raise RuntimeError(f"every {spec.name} episode of teacher {teacher.name} failed in the env; "
                           f"first error: {played[0][0].error}")
    return out
