"""Rollouts for the local backend: a pool of envs and concurrent episodes over one policy."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_system.environments.base import EnvSpec, TextEnv
from skillrl.agent.episode import Episode
from skillrl.agent.loop import EpisodeConfig, Policy, SkillSource, run_episode
from skillrl.agent.style import PromptStyle

log = logging.getLogger(__name__)


@dataclass
class EnvPool:
    """``envs[i]`` plays the i-th episode of a batch; ``close`` frees them (and the manager)."""

    envs: list[TextEnv]
    owner: Any = None
    """The ``EnvironmentManager`` when envs run in worker processes, else None."""
    closed: bool = field(default=False, init=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.owner is not None:
            self.owner.close()
        else:
            for env in self.envs:
                env.close()


class LockedEnv(TextEnv):
    """Serialises calls to an in-process env through a lock shared by the pool.

    The agent loop calls envs through ``asyncio.to_thread``; some simulators (TextWorld, hence
    ALFWorld) are not thread-safe, and in-process envs gain nothing from threads anyway.
    """

    def __init__(self, env: TextEnv, lock: threading.Lock) -> None:
        self.env = env
        self.env_name = env.env_name
        self._lock = lock

    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, dict[str, Any]]:
        with self._lock:
            return self.env.reset(seed, task)

    def step(self, action_text: str) -> tuple[str, float, bool, dict[str, Any]]:
        with self._lock:
            return self.env.step(action_text)

    def admissible_actions(self) -> list[str] | None:
        with self._lock:
            return self.env.admissible_actions()

    def close(self) -> None:
        with self._lock:
            self.env.close()


def make_env_pool(spec: EnvSpec, num_envs: int, env_kwargs: dict[str, Any], num_workers: int = 0) -> EnvPool:
    """``num_envs`` envs of ``spec``: in this process (``num_workers == 0``, calls serialised by
    :class:`LockedEnv`) or spread over worker processes through
    ``agent_system.environments.manager.EnvironmentManager``."""
    if num_workers <= 0:
        lock = threading.Lock()
        return EnvPool([LockedEnv(spec.make(**env_kwargs), lock) for _ in range(num_envs)])
    from agent_system.environments.manager import EnvironmentManager

    manager = EnvironmentManager(spec.name, num_envs, env_kwargs, num_workers=num_workers)
    return EnvPool(list(manager.handles), owner=manager)


class _AdmissibleTap(TextEnv):
    """Delegates to an env and keeps the admissible actions it last reported."""

    def __init__(self, env: TextEnv) -> None:
        self.env = env
        self.env_name = getattr(env, "env_name", "")
        self.last: list[str] | None = None

    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, dict[str, Any]]:
        self.last = None
        return self.env.reset(seed, task)

    def step(self, action_text: str) -> tuple[str, float, bool, dict[str, Any]]:
        return self.env.step(action_text)

    def admissible_actions(self) -> list[str] | None:
        self.last = self.env.admissible_actions()
        return self.last

    def close(self) -> None:
        self.env.close()


class _EpisodePolicy:
    """One episode's view of a shared policy: passes the turn's admissible actions along."""

    def __init__(self, policy: Any, tap: _AdmissibleTap) -> None:
        self.policy = policy
        self.tap = tap

    async def generate(self, prompt: str) -> Any:
        return await self.policy.generate(prompt, admissible=self.tap.last)


async def _play(env: TextEnv, spec: EnvSpec, policy: Policy, seed: int, skills: SkillSource | None,
                config: EpisodeConfig, style: PromptStyle | None) -> Episode:
    client = getattr(policy, "client", None)
    if client is None:
        return await run_episode(env, spec, policy, seed=seed, skills=skills, config=config, style=style)
    tap = _AdmissibleTap(env)
    with client():  # registers in task-start order: the batch rows' order (see LocalHFPolicy)
        return await run_episode(tap, spec, _EpisodePolicy(policy, tap), seed=seed, skills=skills, config=config,
                                 style=style)


def collect_episodes(policy: Policy, envs: Sequence[TextEnv], spec: EnvSpec, seeds: Sequence[int], *,
                     skills: SkillSource | None = None, config: EpisodeConfig = EpisodeConfig(),
                     style: PromptStyle | None = None) -> list[Episode]:
    """Play ``len(seeds)`` episodes concurrently (episode i on ``envs[i]`` with ``seeds[i]``) in
    the prompt ``style`` (default: native).

    An episode whose env failed before its first step (in ``reset``, say) is dropped with a
    warning (the batch goes on); the result keeps the order of ``seeds`` among the survivors.
    """
    if len(envs) < len(seeds):
        raise ValueError(f"{len(seeds)} episodes need as many envs, got {len(envs)}")

    async def _all() -> list[Any]:
        return await asyncio.gather(
            *(_play(envs[i], spec, policy, s, skills, config, style) for i, s in enumerate(seeds)),
            return_exceptions=True
        )

    out: list[Episode] = []
    for seed, res in zip(seeds, asyncio.run(_all())):
        if isinstance(res, BaseException):
            if not isinstance(res, Exception):
                raise res
            log.warning("episode with seed %s failed: %s: %s", seed, type(res).__name__, res)
            continue
        if res.error is not None and not res.steps:  # the env failed before the first action
            log.warning("episode with seed %s dropped: %s", seed, res.error)
            continue
        out.append(res)
    return out
