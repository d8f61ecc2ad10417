"""The one play path: any policy on any env's games, through the shared agent loop.

:func:`play` plays a list of :class:`~skillrl.eval.records.Job` (game ``seed`` of ``split``,
sample ``k``) with ``concurrency`` episodes at once, each on its own env: envs live in this
process (calls serialised; enough for WebShop, Search and the toy task) or in worker processes
(``workers`` > 0, the :class:`~agent_system.environments.manager.EnvironmentManager`: pays for
ALFWorld's slow resets and steps). Every episode is :func:`~skillrl.agent.loop.run_episode`; a
policy failure (an endpoint that errors or times out) or an env failure ends that episode with
the reason and the run goes on. Each finished episode is handed to ``on_episode`` at once (the
caller writes it, so an interrupted run loses nothing written).

``skillrl eval``, ``skillrl env play`` and ``skillrl distill --episodes-from`` all play through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_system.environments.base import EnvSpec, TextEnv
from skillrl.agent.episode import Episode
from skillrl.agent.loop import EpisodeConfig, SkillSource, run_episode
from skillrl.eval.records import Job
from skillrl.policies.base import LoadedPolicy

log = logging.getLogger(__name__)


class PlayError(ValueError):
    """Bad play settings (no such split, ``--games all`` on an env without a game list …)."""


@dataclass(frozen=True)
class PlaySettings:
    """Which games to play and how (built by the CLI; plain values only)."""

    splits: tuple[str, ...] = ("",)
    """Splits to play ('' : the env's default split)."""
    games: int | None = 10
    """Games per split (None: all of them); more than a split has are capped."""
    n: int = 1
    """Plays per game (pass@n / mean@n when > 1)."""
    start: int = 0
    """Seed of the first game (game ``k`` of a split is seed ``start + k``)."""
    max_steps: int | None = None
    """Turn limit (None: the env's, ``EnvSpec.play.max_steps``)."""
    history_length: int | None = None
    """Turns shown in each prompt (None: the env's)."""
    data_dir: str | None = None
    """The env's data folder (None: resolved by the env)."""
    data: str | None = None
    """A data file (Search: a QA jsonl/parquet)."""
    env_args: Mapping[str, Any] = field(default_factory=dict)
    """Extra env factory settings (``--env-arg KEY=VALUE``), merged last."""
    workers: int = 0
    """Env worker processes (0: envs in this process)."""
    concurrency: int = 1
    """Episodes played at once (one env each)."""
    progress: bool = True
    """Show a progress bar with the live success rate."""

    def __post_init__(self) -> None:
        if self.games is not None and self.games < 1:
            raise PlayError(f"games must be >= 1 or all, got {self.games}")
        for name in ("n", "concurrency"):
            if getattr(self, name) < 1:
                raise PlayError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.workers < 0:
            raise PlayError(f"workers must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class SplitPlan:
    """The games of one split and how its envs are built."""

    split: str
    """The split as recorded ('' for envs without splits)."""
    env_kwargs: dict[str, Any]
    """Factory settings of the split's envs."""
    jobs: tuple[Job, ...]
    """Every episode to play, samples of a game together."""
    available: int | None
    """Games the split has (None: unbounded)."""


def episode_config(spec: EnvSpec, settings: PlaySettings, defaults: Mapping[str, int] = {}) -> EpisodeConfig:
    """Turn limit and history length: the settings', else ``defaults`` (a checkpoint's), else the env's."""
    play = spec.play
    max_steps = settings.max_steps or defaults.get("max_steps") or (play.max_steps if play else 50)
    history = settings.history_length if settings.history_length is not None else \
        defaults.get("history_length", play.history_length if play else 2)
    return EpisodeConfig(max_steps=int(max_steps), history_length=int(history))


def plan(spec: EnvSpec, settings: PlaySettings) -> list[SplitPlan]:
    """The jobs of every split, counting each split's games where ``games`` is ``all``.

    Raises:
        PlayError: the env has no play setup, or ``all`` games of an env whose games are unbounded.
        ValueError / DataNotFoundError / FileNotFoundError: from the env (bad split, missing data).
    """
    if spec.play is None:
        raise PlayError(f"environment {spec.name!r} has no play setup (EnvSpec.play)")
    out: list[SplitPlan] = []
    for split in settings.splits:
        named = split or spec.play.default_split
        kwargs = {**spec.play.setup(named, settings.data_dir, settings.data, settings.env_args), **settings.env_args}
        env = spec.make(**kwargs)
        try:
            available = env.num_games()
        finally:
            env.close()
        count = settings.games
        if count is None:
            if available is None:
                raise PlayError(f"{spec.name} games are generated from the seed: give a number of games, not 'all'")
            count = available
        elif available is not None and count > available:
            log.warning("%s %s has %d games; playing those, not %d", spec.name, named or "", available, count)
            count = available
        jobs = tuple(Job(named or "", settings.start + k, sample) for k in range(count) for sample in range(settings.n))
        out.append(SplitPlan(named or "", kwargs, jobs, available))
    return out


class _RecordedSkills:
    """A skill source that remembers the block it retrieved (its tokens are counted per turn)."""

    def __init__(self, inner: SkillSource) -> None:
        self.inner = inner
        self.text = ""

    @property
    def bank_version(self) -> int | None:
        return self.inner.bank_version

    def retrieve(self, task: str, task_type: str | None = None) -> Any:
        result = self.inner.retrieve(task, task_type)
        self.text = result.text
        return result


@dataclass(frozen=True)
class Played:
    """One finished episode as :func:`play` hands it over."""

    job: Job
    """What was played."""
    episode: Episode
    """The episode (``metadata``: policy, split, sample, and a perturbed policy's failure kind)."""
    skill_block: str
    """The skill block shown on every turn ('' without skills)."""
    wall_s: float
    """Seconds the episode took."""


def _env_pool(spec: EnvSpec, kwargs: dict[str, Any], count: int, workers: int) -> tuple[list[TextEnv], Callable[[], None]]:
    from skillrl.trainer.local.rollout import make_env_pool

    pool = make_env_pool(spec, count, kwargs, min(workers, count) if workers else 0)
    return list(pool.envs), pool.close


async def _play_split(spec: EnvSpec, policy: LoadedPolicy, jobs: Sequence[Job], envs: Sequence[TextEnv],
                      config: EpisodeConfig, skills: SkillSource | None, on_episode: Callable[[Played], None]) -> None:
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def slot(env: TextEnv) -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            episode_policy = policy.for_episode(job.actor_seed)
            recorded = _RecordedSkills(skills) if skills is not None else None
            client = getattr(episode_policy, "client", None)
            started = time.perf_counter()
            with client() if callable(client) else contextlib.nullcontext():
                episode = await run_episode(env, spec, episode_policy, seed=job.seed, skills=recorded, config=config,
                                            end_on_policy_error=True)
            episode.metadata.update({"policy": policy.name, "split": job.split, "sample": job.sample,
                                     **getattr(episode_policy, "metadata", {})})
            on_episode(Played(job, episode, recorded.text if recorded else "", time.perf_counter() - started))

    tasks = [asyncio.ensure_future(slot(env)) for env in envs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def play(spec: EnvSpec, policy: LoadedPolicy, plans: Sequence[SplitPlan], settings: PlaySettings, *,
         skills: SkillSource | None = None, skip: frozenset[str] = frozenset(),
         on_episode: Callable[[Played], None], config: EpisodeConfig | None = None) -> None:
    """Play every job of ``plans`` not in ``skip`` (job keys), handing each finished episode to
    ``on_episode`` as soon as it ends (in this thread).

    A progress bar (``settings.progress``) shows the live success rate. Exceptions of
    ``on_episode``, of the skill source, and interrupts propagate (what was handed over stays
    handed over).
    """
    config = config or episode_config(spec, settings, policy.episode)
    todo = [(p, [j for j in p.jobs if j.key not in skip]) for p in plans]
    total = sum(len(jobs) for _, jobs in todo)
    bar = None
    if settings.progress and total:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"{spec.name} {policy.name}", unit="ep", dynamic_ncols=True)
    counts = {"won": 0, "done": 0, "errors": 0}

    def handed(item: Played) -> None:
        on_episode(item)
        counts["done"] += 1
        counts["won"] += int(item.episode.won and item.episode.error is None)
        counts["errors"] += int(item.episode.error is not None)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(success=f"{counts['won'] / counts['done']:.3f}", errors=counts["errors"], refresh=False)

    try:
        for split_plan, jobs in todo:
            if not jobs:
                continue
            slots = min(settings.concurrency, len(jobs))
            workers = settings.workers if settings.workers <= slots else slots
            envs, close = _env_pool(spec, split_plan.env_kwargs, slots, workers)
            try:
                asyncio.run(_play_split(spec, policy, jobs, envs, config, skills, handed))
            finally:
                close()
    finally:
        if bar is not None:
            bar.close()


def auto_workers(spec: EnvSpec, policy: LoadedPolicy) -> int:
    """Worker processes worth starting: ALFWorld-like envs with slow steps get one per core
    (``EnvSpec.play.parallel``); in-process otherwise."""
    if spec.play is None or not spec.play.parallel:
        return 0
    return max(1, os.cpu_count() or 1)
