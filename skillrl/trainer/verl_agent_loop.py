"""The SkillRL environment agent loop on verl 0.9's ``AgentLoopBase``.

For one dataset row (one game) verl calls :meth:`EnvAgentLoop.run` once per GRPO session
(``rollout.n`` times); every session resets the env with the *row's* seed, so the whole group
plays the same game. The episode itself is :func:`skillrl.agent.loop.run_episode`, the loop the
local backend uses too; verl's LLM server is wrapped as a :class:`~skillrl.agent.loop.Policy`
(:class:`ServerPolicy`: chat template -> token ids -> ``server_manager.generate`` -> text).

The episode comes back as one ``AgentLoopOutput`` per env step (the v1 worker puts each into
TransferQueue as ``{uid}_{session}_{turn}``; GRPO scores the final one and broadcasts its
advantage to the others). Every output carries the episode score as ``reward_score`` and
``extra_fields["reward_extra_info"]`` (see :func:`reward_extra_info`). The score is
``env.scoring`` of the episode (the env's reward, or the original recipe's ``success_reward``
minus ``invalid_action_penalty`` per invalid step).

``env.prompt_style`` picks the prompt style (:mod:`skillrl.agent.style`); it is built once per
process and env (the original style reads its templates from ``env.original_repo``).

Row format (written by ``examples/data_preprocess/prepare.py``): ``extra_info`` holds
``env_name``, ``seed``, ``split`` and optionally ``task`` (an env-specific game id that wins
over the seed). The env settings (data dir, max steps, skills) come from the ``env`` section of
the trainer config (:func:`env_settings`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_system.environments.base import TextEnv, get_env_spec
from skillrl.agent.episode import Episode, Generation
from skillrl.agent.loop import SkillSource, run_episode
from skillrl.agent.style import PromptStyle, build_prompt_style
from skillrl.skills.config import SkillsConfig
from skillrl.trainer import _verl
from skillrl.trainer.config import EnvConfig, EnvWorkersConfig, load_config
from skillrl.trainer.bank_service import (
    BankService,
    BankServiceError,
    BankSnapshot,
    InProcessBankService,
    RetrieverCache,
    ray_bank_service,
)

log = logging.getLogger(__name__)

#: name under which the loop is registered with verl (rows' ``agent_name``,
#: ``rollout.agent.default_agent_loop``)
AGENT_LOOP_NAME = "skillrl_env_agent"
#: dotted path verl instantiates
AGENT_LOOP_TARGET = "skillrl.trainer.verl_agent_loop.EnvAgentLoop"


# --- settings ------------------------------------------------------------------------------


def env_settings(env_cfg: Any) -> EnvConfig:
    """The trainer config's ``env`` section (an OmegaConf node or a plain mapping) as an
    :class:`~skillrl.trainer.config.EnvConfig`.

    Raises:
        skillrl.utils.config.ConfigError: a missing ``env_name``, a bad value or an unknown key
            (the message names ``env.<key>``).
    """
    return load_config(EnvConfig, env_cfg, key="env")


@dataclass(frozen=True)
class RowTask:
    """Which game a dataset row asks for."""

    env_name: str
    seed: int | None
    task: str | None
    """Env-specific game id; wins over ``seed``."""
    split: str | None


def _plain(value: Any) -> Any:
    """numpy scalars / 0-d arrays (verl hands rows over as numpy objects) -> Python values."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    return value


def row_task(row: Mapping[str, Any], default_env: str) -> RowTask:
    """Read the game of a dataset row (``extra_info.{env_name,seed,task,split}``).

    Empty strings / NaN-free ``None`` mean "not set".

    >>> row_task({"extra_info": {"seed": 7, "split": "train", "task": ""}}, "toy")
    RowTask(env_name='toy', seed=7, task=None, split='train')
    """
    info = row.get("extra_info") or {}
    if not isinstance(info, Mapping):
        info = {}
    seed = _plain(info.get("seed"))
    task = _plain(info.get("task"))
    split = _plain(info.get("split"))
    return RowTask(
        env_name=str(_plain(info.get("env_name")) or default_env),
        seed=int(seed) if seed is not None and seed != "" else None,
        task=str(task) if task not in (None, "") else None,
        split=str(split) if split not in (None, "") else None,
    )


# --- per-episode records -> verl outputs (pure) ----------------------------------------------


class EnvRolloutError(RuntimeError):
    """An environment raised during an episode: an infrastructure failure, not a policy one.

    :meth:`EnvAgentLoop.run` raises it instead of returning outputs, so verl records a failed
    session (the group's status becomes ``failure``): the episode is neither scored nor trained
    on, the other sessions of the group still count, a game whose every session failed is
    replaced (``trainer.v1.sampler.sync_refill_failed_groups``), and validation counts the
    session as a miss in ``acc`` (verl's ``expected_acc_counts``).
    """


@dataclass(frozen=True)
class TurnMeta:
    """Server-side facts about one generation that verl wants back."""

    extra_fields: Mapping[str, Any] = field(default_factory=dict)
    """``TokenOutput.extra_fields`` (``min_global_steps``/``max_global_steps`` for staleness)."""
    num_preempted: int = -1
    seconds: float = 0.0
    """Wall time of the generate call."""


def reward_extra_info(episode: Episode, score: float | None = None) -> dict[str, Any]:
    """The per-episode values verl logs and our validation hook reads.

    Numeric values (``acc``, ``won``, ``score``, ``turns``, ``history_cuts``,
    ``prompt_overflows``, ...) become validation metrics per data source (``acc`` is verl's core
    accuracy variable; ``score`` what GRPO was given, default the env's reward) and training
    metrics through :class:`~skillrl.trainer.verl_trainer.SkillRLTrainer`; string values are
    ignored by verl's metric code and carried to :mod:`skillrl.trainer.verl_trainer`
    (``task_type``, ``skill_ids`` comma-joined, ``episode`` = the summary + transcript as JSON).
    """
    won = float(bool(episode.won))
    return {
        "acc": won,
        "won": won,
        "score": float(episode.reward if score is None else score),
        "turns": int(episode.num_turns),
        "invalid_actions": int(sum(not s.is_action_valid for s in episode.steps)),
        "history_cuts": int(episode.history_cuts),
        "prompt_overflows": int(episode.prompt_overflows),
        "bank_version": int(episode.bank_version) if episode.bank_version is not None else -1,
        "task_type": episode.task_type or "unknown",
        "game_id": episode.game_id,
        "skill_ids": ",".join(episode.skill_ids),
        "episode": episode.to_json(),
    }


def episode_outputs(
    episode: Episode,
    turns: Sequence[TurnMeta],
    *,
    response_length: int,
    pad_token_id: int = 0,
    score: float | None = None,
) -> list[Any]:
    """One ``AgentLoopOutput`` per step of ``episode`` (the step's own prompt and response).

    Every output gets ``reward_score = score`` (default ``episode.reward``) and the same
    ``reward_extra_info``;
    responses are cut to ``response_length`` tokens; log-probs are kept when the server
    returned one per token. An empty response becomes one masked pad token (verl puts the
    score on the last response position).

    Raises:
        RuntimeError: the episode has no step (the env failed before the first action).
    """
    if not episode.steps:
        raise RuntimeError(f"episode of {episode.env_name} game {episode.game_id!r} has no step: {episode.error}")
    score = float(episode.reward if score is None else score)
    info = reward_extra_info(episode, score)
    outputs = []
    for step in episode.steps:
        gen = step.generation
        meta = turns[step.turn] if step.turn < len(turns) else TurnMeta()
        response = list(gen.response_ids)[:response_length]
        mask = [1] * len(response)
        logprobs: list[float] | None = list(gen.logprobs)[: len(response)] if gen.logprobs else None
        if logprobs is not None and len(logprobs) != len(response):
            logprobs = None
        if not response:
            response, mask = [pad_token_id], [0]
            logprobs = [0.0] if gen.logprobs is not None and logprobs is not None else None
        # weight versions the step was generated with (v1 drops too-stale samples by them)
        steps_seen = meta.extra_fields.get("global_steps")
        extra = {
            "min_global_steps": meta.extra_fields.get("min_global_steps", steps_seen),
            "max_global_steps": meta.extra_fields.get("max_global_steps", steps_seen),
        }
        extra.update({"turn": step.turn, "reward_extra_info": dict(info)})
        outputs.append(
            _verl.AgentLoopOutput(
                prompt_ids=list(gen.prompt_ids),
                response_ids=response,
                response_mask=mask,
                response_logprobs=logprobs,
                reward_score=score,
                num_turns=2 * episode.num_turns,
                metrics=_verl.AgentLoopMetrics(generate_sequences=meta.seconds, num_preempted=meta.num_preempted),
                extra_fields=extra,
            )
        )
    return outputs


# --- the policy over verl's LLM server -------------------------------------------------------


class ServerPolicy:
    """:class:`skillrl.agent.loop.Policy` backed by verl's server manager (token in, token out).

    Args:
        encode: async ``messages -> prompt token ids`` (the chat template; the agent loop's
            ``ct_build_initial_tokens``, which also left-truncates to ``rollout.prompt_length``).
        server: verl's ``LLMServerClient`` (anything with ``async generate(request_id, *,
            prompt_ids, sampling_params, **kw) -> TokenOutput``).
        decode: ``token ids -> text`` without special tokens.
        sampling_params: passed through unchanged.
        request_id: one id per episode (sticky routing: all turns hit the same server).
        system_prompt: optional system message before every user prompt.
        max_response_tokens: cut each response to this many tokens *before* decoding, so the
            env acts on exactly the tokens that are trained on (verl's ``response_length``).
        count: async ``messages -> prompt token ids`` without any cut (the chat template alone),
            for :meth:`fits`.
        max_prompt_tokens: the prompt budget (verl's ``rollout.prompt_length``).
    """

    def __init__(
        self,
        *,
        encode: Callable[[list[dict[str, str]]], Awaitable[list[int]]],
        server: Any,
        decode: Callable[[list[int]], str],
        sampling_params: Mapping[str, Any],
        request_id: str | None = None,
        system_prompt: str | None = None,
        max_response_tokens: int | None = None,
        count: Callable[[list[dict[str, str]]], Awaitable[list[int]]] | None = None,
        max_prompt_tokens: int | None = None,
    ) -> None:
        self._count = count
        self._max_prompt = max_prompt_tokens
        self._counted: tuple[str, list[int]] | None = None
        self._encode = encode
        self._server = server
        self._decode = decode
        self._sampling = dict(sampling_params)
        self._request_id = request_id or uuid.uuid4().hex
        self._system = system_prompt
        self._max_tokens = max_response_tokens
        self.turns: list[TurnMeta] = []
        """One :class:`TurnMeta` per generate call, in order."""

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        messages = [{"role": "user", "content": prompt}]
        if self._system:
            messages.insert(0, {"role": "system", "content": self._system})
        return messages

    def _within(self, ids: Sequence[int]) -> bool:
        return self._max_prompt is None or len(ids) <= self._max_prompt

    async def fits(self, prompt: str) -> bool:
        """Whether ``prompt`` (chat template included) fits ``max_prompt_tokens``; the token ids
        are kept for the :meth:`generate` call that follows."""
        if self._count is None or self._max_prompt is None:
            return True
        ids = list(await self._count(self._messages(prompt)))
        self._counted = (prompt, ids)
        return self._within(ids)

    async def generate(self, prompt: str) -> Generation:
        messages = self._messages(prompt)
        counted, self._counted = self._counted, None
        if counted is not None and counted[0] == prompt and self._within(counted[1]):
            prompt_ids = counted[1]
        else:  # verl's encoder, which cuts an over-long prompt (counted as an overflow by the loop)
            prompt_ids = list(await self._encode(messages))
        t0 = time.perf_counter()
        out = await self._server.generate(
            request_id=self._request_id, prompt_ids=prompt_ids, sampling_params=dict(self._sampling)
        )
        seconds = time.perf_counter() - t0
        ids = [int(t) for t in out.token_ids][: self._max_tokens]
        logprobs = [float(x) for x in out.log_probs][: len(ids)] if out.log_probs else []
        self.turns.append(
            TurnMeta(
                extra_fields=dict(out.extra_fields or {}),
                num_preempted=int(out.num_preempted) if out.num_preempted is not None else -1,
                seconds=seconds,
            )
        )
        return Generation(
            text=self._decode(ids),
            prompt_ids=tuple(prompt_ids),
            response_ids=tuple(ids),
            logprobs=tuple(logprobs),
        )


# --- per-process state: env pool and skill retrievers ----------------------------------------


#: one env call at a time per process: envs are not thread-safe (two ALFWorld resets in two
#: threads break TextWorld's shared PDDL parser), and under the GIL they would not overlap anyway
_ENV_CALL_LOCK = threading.Lock()


class SerializedEnv(TextEnv):
    """An in-process env whose calls take the process-wide env lock (see ``_ENV_CALL_LOCK``)."""

    def __init__(self, env: TextEnv) -> None:
        self.env = env
        self.env_name = getattr(env, "env_name", "")

    def reset(self, seed: int | None = None, task: str | None = None):
        with _ENV_CALL_LOCK:
            return self.env.reset(seed, task)

    def step(self, action_text: str):
        with _ENV_CALL_LOCK:
            return self.env.step(action_text)

    def admissible_actions(self):
        with _ENV_CALL_LOCK:
            return self.env.admissible_actions()

    def close(self) -> None:
        with _ENV_CALL_LOCK:
            self.env.close()


class EnvPool:
    """Reusable in-process envs per ``(env_name, factory kwargs)`` (envs are costly to build).

    ``acquire`` hands out an idle env or makes one (a :class:`SerializedEnv`: one env call at a
    time in this process); ``release`` returns it, or closes it when the episode broke it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[str, list[TextEnv]] = {}

    @staticmethod
    def _key(env_name: str, kwargs: Mapping[str, Any]) -> str:
        return env_name + "|" + json.dumps(kwargs, sort_keys=True, default=str)

    def acquire(self, env_name: str, kwargs: Mapping[str, Any]) -> TextEnv:
        key = self._key(env_name, kwargs)
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        with _ENV_CALL_LOCK:
            env = get_env_spec(env_name).make(**kwargs)
        return SerializedEnv(env)

    def release(self, env_name: str, kwargs: Mapping[str, Any], env: TextEnv, *, broken: bool = False) -> None:
        if broken:
            self.discard(env)
            return
        with self._lock:
            self._idle.setdefault(self._key(env_name, kwargs), []).append(env)

    @staticmethod
    def discard(env: TextEnv) -> None:
        try:
            env.close()
        except Exception as exc:  # closing a broken env must not mask the real error
            log.warning("closing env failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            envs = [e for idle in self._idle.values() for e in idle]
            self._idle.clear()
        for env in envs:
            self.discard(env)


class ProcessEnvPool(EnvPool):
    """Envs in worker processes (an :class:`~agent_system.environments.manager.EnvironmentManager`
    per ``(env_name, factory kwargs)``, built on first use), handed out as thread-safe handles.

    Envs of different processes run in parallel; ``acquire`` blocks while all
    ``num_processes x envs_per_process`` envs of that kind are in use. A crashed worker process
    is restarted by the manager (the episode on it fails); every episode starts with a reset,
    so a handle goes back to the pool even after a failure.
    """

    def __init__(self, num_processes: int, envs_per_process: int, call_timeout_s: float = 300.0) -> None:
        super().__init__()
        self.num_processes = int(num_processes)
        self.envs_per_process = int(envs_per_process)
        self.call_timeout_s = float(call_timeout_s)
        self._managers: dict[str, Any] = {}
        self._free: dict[str, list[Any]] = {}
        self._cond = threading.Condition()

    def _manager(self, key: str, env_name: str, kwargs: Mapping[str, Any]) -> None:
        from agent_system.environments.manager import EnvironmentManager

        manager = EnvironmentManager(env_name, self.num_processes * self.envs_per_process, dict(kwargs),
                                     num_workers=self.num_processes, timeout_s=self.call_timeout_s)
        log.info("started %d %s env worker process(es) holding %d envs", manager.num_workers, env_name,
                 manager.num_envs)
        self._managers[key] = manager
        self._free[key] = list(manager.handles)

    def acquire(self, env_name: str, kwargs: Mapping[str, Any]) -> TextEnv:
        key = self._key(env_name, kwargs)
        with self._cond:
            if key not in self._managers:
                self._manager(key, env_name, kwargs)
            while not self._free[key]:
                self._cond.wait()
            return self._free[key].pop()

    def release(self, env_name: str, kwargs: Mapping[str, Any], env: TextEnv, *, broken: bool = False) -> None:
        with self._cond:
            self._free[self._key(env_name, kwargs)].append(env)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            managers = list(self._managers.values())
            self._managers.clear()
            self._free.clear()
        for manager in managers:
            manager.close()


_POOLS: dict[tuple, EnvPool] = {}
_POOLS_LOCK = threading.Lock()


def env_pool(workers: EnvWorkersConfig) -> EnvPool:
    """This process's env pool for ``workers`` (in-process when ``num_processes`` is 0)."""
    key = (workers.num_processes, workers.envs_per_process, workers.call_timeout_s)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = (ProcessEnvPool(workers.num_processes, workers.envs_per_process, workers.call_timeout_s)
                    if workers.num_processes > 0 else EnvPool())
            _POOLS[key] = pool
        return pool


_RETRIEVERS: dict[tuple, RetrieverCache] = {}
_RETRIEVERS_LOCK = threading.Lock()


def build_skill_source(bank_json: str, version: int, settings: SkillsConfig, env_name: str,
                       style: PromptStyle | None = None) -> SkillSource:
    """Default builder: the prompt style's skill source over the bank snapshot (native: a
    ``skillrl.skills`` retriever routing tasks with the env's taxonomy; original: the original's
    keyword routing and skill block)."""
    from skillrl import skills as _skills

    bank = _skills.SkillBank.from_dict(json.loads(bank_json))
    style = style if style is not None else build_prompt_style(get_env_spec(env_name))
    return style.skill_source(bank, settings.retriever_kwargs())


#: replaced in tests to avoid building real retrievers
SKILL_SOURCE_BUILDER: Callable[..., SkillSource] = build_skill_source


def connect_bank_service(settings: SkillsConfig, initial: BankSnapshot | None = None) -> BankService:
    """The shared bank: the actor named ``settings.bank_actor_name`` when Ray runs (the trainer
    scopes that name to the run), else an in-process store.

    An existing actor is attached to without reading any file (worker nodes need not see the
    bank file); the first connection creates it from ``initial`` (a bank restored from a
    checkpoint, with its saved version) or else from ``skills_json_path`` as version 0 (the
    trainer does this in ``init``, before any agent-loop worker starts).

    Raises:
        ValueError: no ``skills_json_path``; OSError: the file cannot be read.
    """
    import os

    if not settings.skills_json_path and initial is None:
        raise ValueError("skills are on but env.skills_only_memory.skills_json_path is not set")

    def first() -> BankSnapshot:
        if initial is not None:
            return initial
        with open(os.path.expanduser(settings.skills_json_path), encoding="utf-8") as fh:
            return BankSnapshot(version=0, bank_json=fh.read())

    try:
        import ray
    except ImportError:
        ray = None
    if ray is not None and ray.is_initialized():
        try:
            return ray_bank_service(settings.bank_actor_name, create=False)
        except BankServiceError:
            snap = first()
            return ray_bank_service(settings.bank_actor_name, snap.bank_json, initial_version=snap.version)
    snap = first()
    return InProcessBankService(snap.bank_json, initial_version=snap.version)


def skill_cache(settings: SkillsConfig, env_name: str, style: PromptStyle | None = None) -> RetrieverCache:
    """This process's retriever cache for ``settings`` and the prompt style (one bank-service
    connection each)."""
    key = (settings, env_name, style.name if style is not None else "native")
    with _RETRIEVERS_LOCK:
        cache = _RETRIEVERS.get(key)
        if cache is None:
            service = connect_bank_service(settings)
            cache = RetrieverCache(service, lambda text, v: SKILL_SOURCE_BUILDER(text, v, settings, env_name, style))
            _RETRIEVERS[key] = cache
        return cache


_STYLES: dict[tuple[str, str, str | None], PromptStyle] = {}


def prompt_style(env_name: str, style: str, original_repo: str | None) -> PromptStyle:
    """This process's prompt style for ``env_name`` (built once: the original style reads its
    templates from the checkout)."""
    key = (env_name, style, original_repo)
    with _RETRIEVERS_LOCK:
        if key not in _STYLES:
            _STYLES[key] = build_prompt_style(get_env_spec(env_name), style, original_repo)
        return _STYLES[key]


# --- the agent loop ----------------------------------------------------------------------------


class EnvAgentLoop(_verl.AgentLoopBase):
    """Plays one env episode per call; see the module docstring.

    verl instantiates it per session with its standard arguments (trainer config, server
    manager, tokenizer, ...); the env settings are read from ``trainer_config.env``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("tools", None)
        super().__init__(*args, **kwargs)
        from omegaconf import OmegaConf

        env_cfg = self.config.get("env")
        if env_cfg is None:
            raise ValueError("the trainer config has no `env` section; compose configs/skillrl_trainer.yaml")
        self.settings = env_settings(OmegaConf.to_container(env_cfg, resolve=True))
        self.response_length = int(self.rollout_config.response_length)
        self.prompt_length = int(self.rollout_config.prompt_length)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    async def _count_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The chat-templated prompt ids, uncut (verl's ``ct_build_initial_tokens`` cuts)."""
        return await asyncio.to_thread(self.continuous_token_builder.build_initial_tokens, messages)

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> list[Any]:
        """Play the row's game once and return one output per env step.

        Raises:
            EnvRolloutError: the env raised (see the class): verl records a failed session.
        """
        task = row_task(kwargs, self.settings.env_name)
        spec = get_env_spec(task.env_name)
        make_kwargs = self.settings.factory_kwargs(task.split)
        style = await asyncio.to_thread(prompt_style, task.env_name, self.settings.prompt_style,
                                        self.settings.original_repo)
        skills = None
        if self.settings.skills is not None:
            cache = await asyncio.to_thread(skill_cache, self.settings.skills, task.env_name, style)
            skills = await asyncio.to_thread(cache.get)
        policy = ServerPolicy(
            encode=self.ct_build_initial_tokens,
            server=self.server_manager,
            decode=self._decode,
            sampling_params=sampling_params,
            max_response_tokens=self.response_length,
            count=self._count_tokens,
            max_prompt_tokens=self.prompt_length,
        )
        pool = env_pool(self.settings.workers)
        env = await asyncio.to_thread(pool.acquire, task.env_name, make_kwargs)
        try:
            episode = await run_episode(
                env,
                spec,
                policy,
                seed=task.seed,
                task=task.task,
                skills=skills,
                config=self.settings.episode,
                prompt_fits=policy.fits,
                style=style,
            )
        except BaseException:
            pool.release(task.env_name, make_kwargs, env, broken=True)
            raise
        pool.release(task.env_name, make_kwargs, env, broken=episode.error is not None)
        if episode.error is not None:
            raise EnvRolloutError(
                f"{task.env_name} game {episode.game_id or task.task or task.seed!r} failed after "
                f"{episode.num_turns} step(s): {episode.error}"
            )
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return episode_outputs(episode, policy.turns, response_length=self.response_length, pad_token_id=pad,
                               score=self.settings.scoring.score(episode))
