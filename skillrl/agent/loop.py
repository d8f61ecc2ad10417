"""Run one episode: the piece shared by the verl agent loop and the local trainer.

The loop is async so that many episodes share one batching policy: each turn awaits
``policy.generate``; environment calls and skill retrieval run off the event loop
(``asyncio.to_thread``), so a process-backed env handle really runs in parallel and a slow
embedding encode never stalls the other episodes.

Every way of acting is a policy of this loop. A model reads only the prompt
(:class:`Policy`); a scripted policy (an expert, an oracle, a perturbed expert) also reads the
env's state through a typed hook (:class:`ObservingPolicy`: the loop hands it a
:class:`~agent_system.environments.base.TurnView` with the observation, the step info and the
admissible actions), never through a loop of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from agent_system.environments.base import EnvSpec, PromptContext, StepInfo, TextEnv, TurnView
from skillrl.agent.episode import Episode, Generation, Step
from skillrl.agent.style import NativeStyle, PromptStyle
from skillrl.utils.config import check_int

log = logging.getLogger(__name__)

T = TypeVar("T")


@runtime_checkable
class Policy(Protocol):
    """Anything that turns a user prompt into a generation."""

    async def generate(self, prompt: str) -> Generation: ...


@runtime_checkable
class ObservingPolicy(Protocol):
    """A policy that also reads the env's state each turn (scripted policies).

    :func:`run_episode` calls ``act`` instead of ``generate`` when a policy has it. Such a policy
    may keep per-episode state: give each concurrent episode its own instance.
    """

    async def act(self, prompt: str, view: TurnView) -> Generation: ...


class PolicyError(Exception):
    """The policy failed on a turn (an endpoint error, a timeout); ``__cause__`` is the original."""


class RetrievedSkills(Protocol):
    """What the agent needs from a retrieval result (see ``skillrl.skills.retrieval``)."""

    task_type: str
    text: str

    @property
    def skill_ids(self) -> tuple[str, ...]: ...


class SkillSource(Protocol):
    """Retrieves the skill block for a task (a retriever over a SkillBank snapshot)."""

    bank_version: int | None

    def retrieve(self, task: str, task_type: str | None = None) -> RetrievedSkills: ...


@dataclass(frozen=True)
class EpisodeConfig:
    """Per-episode limits, defined once: the ``env.max_steps`` / ``env.history_length`` flags of
    the Hydra configs and of the local trainer's config are these fields (see
    ``skillrl.trainer.config.EnvConfig``).

    Raises:
        skillrl.utils.config.ConfigError: a value outside what is allowed.
    """

    max_steps: int = 50
    """Turns before the episode is truncated."""
    history_length: int = 2
    """Recent turns shown in the prompt."""
    max_history_reply_chars: int = 200
    """A reply with no parsable action enters the history cut to this many characters (a raw
    reply can be as long as the response budget and would crowd out the rest of the prompt)."""

    def __post_init__(self) -> None:
        check_int("max_steps", self.max_steps, minimum=1)
        check_int("history_length", self.history_length, minimum=0)
        check_int("max_history_reply_chars", self.max_history_reply_chars, minimum=0)


class _EnvFailure(Exception):
    """An environment call raised; ``stage`` says which (``reset``, ``admissible_actions``, ``step``).

    The original exception is the ``__cause__``. :func:`run_episode` catches it and records the
    episode as failed; nothing else is caught, so a policy or retrieval failure still propagates.
    """

    def __init__(self, stage: str, exc: Exception) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.stage = stage


async def _env_call(stage: str, fn: Callable[..., T], *args: Any) -> T:
    """Run one env call off the event loop; any exception it raises becomes an ``_EnvFailure``."""
    try:
        return await asyncio.to_thread(fn, *args)
    except Exception as exc:
        raise _EnvFailure(stage, exc) from exc


async def _fit_history(build_prompt: Callable[[PromptContext], str], ctx: PromptContext, prompt: str,
                       fits: Callable[[str], Awaitable[bool]], episode: Episode) -> str:
    """``prompt`` rebuilt with the most history turns (fewer than asked) that fit the budget."""
    shown = min(ctx.history_length, len(ctx.history))
    for keep in range(shown - 1, -1, -1):
        shorter = build_prompt(dataclasses.replace(ctx, history_length=keep))
        if await fits(shorter):
            episode.history_cuts += 1
            return shorter
        prompt = shorter
    if shown:
        episode.history_cuts += 1
    episode.prompt_overflows += 1
    return prompt


async def run_episode(
    env: TextEnv,
    spec: EnvSpec,
    policy: Policy,
    *,
    seed: int | None = None,
    task: str | None = None,
    skills: SkillSource | None = None,
    config: EpisodeConfig = EpisodeConfig(),
    prompt_fits: Callable[[str], Awaitable[bool]] | None = None,
    style: PromptStyle | None = None,
    end_on_policy_error: bool = False,
) -> Episode:
    """Play one episode of ``env`` with ``policy``.

    Skills are retrieved once per episode (from the task text and the env's task type) and the
    rendered block is put into the prompt of every turn, the first one included. Retrieval runs
    in a worker thread, like every env call, so a slow encoder never stalls other episodes.

    Environment exceptions (in ``reset``, ``admissible_actions`` or ``step``) do not propagate:
    the episode is returned with ``error`` set and the steps and reward earned so far (none when
    ``reset`` failed), so one broken game never sinks a batch. Exceptions of the skill source
    propagate; so do the policy's, unless ``end_on_policy_error`` is set: then a policy exception
    ends the episode the same way (``error`` is ``"policy: <type>: <message>"``, the steps played
    so far are kept), so an evaluation against a flaky endpoint goes on.

    ``prompt_fits`` (optional) says whether a prompt fits the policy's budget. A prompt that
    does not is rebuilt with fewer history turns, oldest dropped first, until it fits
    (``Episode.history_cuts`` counts those turns); one that does not fit even without history
    is sent as it is and counted in ``Episode.prompt_overflows``.

    ``style`` (:mod:`skillrl.agent.style`; default: the env's native prompts) builds the prompts,
    names the task they show (and skills are retrieved for) and decides what the history keeps.

    A policy with an ``act`` method (:class:`ObservingPolicy`) is called with the prompt and a
    :class:`~agent_system.environments.base.TurnView` of the current turn; any other policy with
    the prompt only.
    """
    style = style if style is not None else NativeStyle(spec)
    episode = Episode(env_name=spec.name, game_id="", task=task or "", task_type="", seed=seed)
    done = False
    try:
        obs, info = await _env_call("reset", env.reset, seed, task)
        episode.game_id = str(info.get("game_id", ""))
        episode.task = str(info.get("task", ""))
        episode.task_type = str(info.get("task_type", ""))
        prompt_task = style.prompt_task(obs, episode.task)
        skill_block = ""
        if skills is not None:
            retrieved = await asyncio.to_thread(skills.retrieve, prompt_task, episode.task_type or None)
            skill_block = retrieved.text
            episode.skill_ids = tuple(retrieved.skill_ids)
            episode.bank_version = skills.bank_version
        history: list[tuple[str, str]] = []
        admissible: Sequence[str] | None = await _env_call("admissible_actions", env.admissible_actions)
        observing = isinstance(policy, ObservingPolicy)
        for turn in range(config.max_steps):
            ctx = PromptContext(
                task=prompt_task,
                observation=obs,
                history=tuple(history),
                admissible_actions=tuple(admissible) if admissible is not None else None,
                skill_block=skill_block,
                turn=turn,
                history_length=config.history_length,
            )
            prompt = style.build_prompt(ctx)
            if prompt_fits is not None and not await prompt_fits(prompt):
                prompt = await _fit_history(style.build_prompt, ctx, prompt, prompt_fits, episode)
            try:
                if observing:
                    view = TurnView(obs, _as_step_info(info), ctx.admissible_actions, turn)
                    generation = await policy.act(prompt, view)  # type: ignore[union-attr]
                else:
                    generation = await policy.generate(prompt)
            except Exception as exc:
                if not end_on_policy_error:
                    raise
                raise PolicyError(f"{type(exc).__name__}: {exc}") from exc
            next_obs, reward, done, info = await _env_call("step", env.step, generation.text)
            action = str(info.get("action", ""))
            episode.steps.append(
                Step(
                    turn=turn,
                    prompt=prompt,
                    generation=generation,
                    action=action,
                    is_action_valid=bool(info.get("is_action_valid", False)),
                    observation=next_obs,
                    reward=float(reward),
                    done=bool(done),
                )
            )
            episode.reward += float(reward)
            episode.won = bool(info.get("won", False))
            recorded = style.history_action(action, generation.text)
            history.append((obs, recorded if action else recorded[: config.max_history_reply_chars]))
            obs = next_obs
            if done:
                break
            admissible = await _env_call("admissible_actions", env.admissible_actions)
    except _EnvFailure as failure:  # an env failure ends this episode only
        log.warning("env %s game %r failed in %s after %d step(s): %s",
                    spec.name, episode.game_id, failure.stage, episode.num_turns, failure)
        episode.error = str(failure)
    except PolicyError as failure:  # only with end_on_policy_error
        log.warning("policy failed on env %s game %r after %d step(s): %s",
                    spec.name, episode.game_id, episode.num_turns, failure)
        episode.error = f"policy: {failure}"
    episode.truncated = not done and episode.error is None
    return episode


def _as_step_info(info: Any) -> StepInfo:
    """``info`` as a :class:`StepInfo` (envs outside the package may still return plain dicts)."""
    if isinstance(info, StepInfo):
        return info
    get = info.get
    return StepInfo(won=bool(get("won", False)), task_type=str(get("task_type", "")),
                    is_action_valid=bool(get("is_action_valid", True)), task=str(get("task", "")),
                    game_id=str(get("game_id", "")), action=str(get("action", "")))
