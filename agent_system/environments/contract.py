"""The contract every SkillRL text environment must meet (like gymnasium's ``check_env``).

:func:`check_env` drives an env with a scripted policy and raises :class:`ContractError` (an
``AssertionError``) naming the first broken rule. Checked, in order:

1. ``reset(seed=...)`` returns ``(str, StepInfo)`` with the right field types
   (``won``/``is_action_valid`` bool, ``task_type``/``task``/``game_id``/``action`` str).
2. Determinism: ``reset(seed)`` twice gives the same ``game_id``, task and observation.
3. ``admissible_actions()`` is ``None`` or a list of str.
4. Invalid-action path: stepping malformed text does not raise, returns
   ``is_action_valid=False``, reward 0, a non-empty observation, and the episode goes on
   (``done`` False).
5. Stepping the scripted policy: every step returns ``(str, float, bool, StepInfo)``; ``won``
   implies ``done``.
6. Done handling: once ``done``, ``step`` raises :class:`EpisodeFinishedError`; ``reset`` then
   starts a new episode. (Skipped — and reported — when the policy did not finish within
   ``max_steps`` and ``require_done`` is False.)
7. ``close()`` twice does not raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_system.environments.base import EpisodeFinishedError, EnvSpec, ScriptedPolicy, StepInfo, TextEnv

#: default malformed model output: no tags, Chinese characters, control characters
MALFORMED_TEXT = "I am not sure what to do \x00 无效的输出"

_INFO_TYPES: dict[str, type | tuple[type, ...]] = {
    "won": bool,
    "task_type": str,
    "is_action_valid": bool,
    "task": str,
    "game_id": str,
    "action": str,
}


class ContractError(AssertionError):
    """An environment broke the text-env contract."""


@dataclass(frozen=True)
class ContractReport:
    """What :func:`check_env` observed."""

    game_id: str
    """The game played with the scripted policy."""
    steps: int
    """Scripted steps taken."""
    won: bool
    """Whether the scripted episode was won."""
    total_reward: float
    """Sum of rewards of the scripted episode."""
    done_checked: bool
    """Whether the done-handling rules were exercised (the episode finished)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Checks that were skipped, and why."""


def _fail(msg: str) -> ContractError:
    return ContractError(msg)


def _check_info(info: Any, where: str) -> None:
    if not isinstance(info, StepInfo):
        raise _fail(f"{where}: info must be a StepInfo, got {type(info).__name__}")
    for key, typ in _INFO_TYPES.items():
        value = getattr(info, key)
        if not isinstance(value, typ):
            raise _fail(f"{where}: info.{key} must be {typ.__name__}, got {type(value).__name__}")
    try:
        info.as_dict()
    except TypeError as exc:
        raise _fail(f"{where}: {exc}") from None


def _check_reset(out: Any, where: str) -> tuple[str, StepInfo]:
    if not (isinstance(out, tuple) and len(out) == 2):
        raise _fail(f"{where}: reset must return (observation, info), got {type(out).__name__}")
    obs, info = out
    if not isinstance(obs, str):
        raise _fail(f"{where}: observation must be str, got {type(obs).__name__}")
    _check_info(info, where)
    return obs, info


def _check_step(out: Any, where: str) -> tuple[str, float, bool, StepInfo]:
    if not (isinstance(out, tuple) and len(out) == 4):
        raise _fail(f"{where}: step must return (observation, reward, done, info)")
    obs, reward, done, info = out
    if not isinstance(obs, str):
        raise _fail(f"{where}: observation must be str, got {type(obs).__name__}")
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        raise _fail(f"{where}: reward must be a float, got {type(reward).__name__}")
    if not isinstance(done, bool):
        raise _fail(f"{where}: done must be bool, got {type(done).__name__}")
    _check_info(info, where)
    if info.won and not done:
        raise _fail(f"{where}: info['won'] is True but done is False")
    return obs, float(reward), done, info


def _check_admissible(env: TextEnv, where: str) -> Sequence[str] | None:
    adm = env.admissible_actions()
    if adm is not None and not (isinstance(adm, list) and all(isinstance(a, str) for a in adm)):
        raise _fail(f"{where}: admissible_actions() must be None or list[str], got {adm!r:.200}")
    return adm


def check_env(
    env: TextEnv,
    scripted_actions_fn: ScriptedPolicy,
    max_steps: int = 50,
    *,
    seed: int = 0,
    malformed_text: str = MALFORMED_TEXT,
    require_done: bool = True,
) -> ContractReport:
    """Check ``env`` against the text-env contract (see the module docstring).

    Args:
        env: a fresh env (it is reset several times and closed at the end).
        scripted_actions_fn: ``(observation, info, admissible) -> raw model text``; should finish
            an episode within ``max_steps`` so that done handling can be checked.
        max_steps: step budget of the scripted episode.
        seed: the seed used for the determinism check and the scripted episode.
        malformed_text: output the env must treat as an invalid action.
        require_done: fail (instead of noting a skipped check) when the episode did not finish.

    Raises:
        ContractError: the first rule broken.
    """
    notes: list[str] = []
    # 1-2: reset types and determinism
    obs_a, info_a = _check_reset(env.reset(seed=seed), f"reset(seed={seed})")
    obs_b, info_b = _check_reset(env.reset(seed=seed), f"second reset(seed={seed})")
    for key in ("game_id", "task", "task_type"):
        if getattr(info_a, key) != getattr(info_b, key):
            raise _fail(f"reset(seed={seed}) is not deterministic: info.{key} "
                        f"{getattr(info_a, key)!r} != {getattr(info_b, key)!r}")
    if obs_a != obs_b:
        raise _fail(f"reset(seed={seed}) is not deterministic: the observations differ")
    # 3
    adm = _check_admissible(env, "after reset")
    # 4: invalid action path
    try:
        out = env.step(malformed_text)
    except Exception as exc:
        raise _fail(f"step(malformed text) raised {type(exc).__name__}: {exc}") from exc
    obs, reward, done, info = _check_step(out, "step(malformed text)")
    if info.is_action_valid:
        raise _fail(f"step(malformed text) reported is_action_valid=True (action {info.action!r})")
    if reward != 0.0:
        raise _fail(f"step(malformed text) gave reward {reward}, expected 0")
    if done:
        raise _fail("step(malformed text) ended the episode; an invalid action must not")
    if not obs.strip():
        raise _fail("step(malformed text) returned an empty observation; it should say why")
    # 5: scripted episode (from a fresh reset, so the invalid step does not count)
    obs, info = _check_reset(env.reset(seed=seed), f"third reset(seed={seed})")
    adm = _check_admissible(env, "after reset")
    total, steps, done, won = 0.0, 0, False, False
    for steps in range(1, max_steps + 1):
        text = scripted_actions_fn(obs, info, adm)
        obs, reward, done, info = _check_step(env.step(text), f"scripted step {steps}")
        total += reward
        won = info.won
        if done:
            break
        adm = _check_admissible(env, f"after scripted step {steps}")
    # 6: done handling
    if done:
        try:
            env.step(text)
        except EpisodeFinishedError:
            pass
        except Exception as exc:
            raise _fail(f"step after done raised {type(exc).__name__}, expected EpisodeFinishedError") from exc
        else:
            raise _fail("step after done did not raise EpisodeFinishedError")
        _check_reset(env.reset(seed=seed), "reset after done")
        _check_step(env.step(malformed_text), "step after reset after done")
    elif require_done:
        raise _fail(f"the scripted policy did not finish an episode within {max_steps} steps")
    else:
        notes.append(f"done handling not checked: no episode end within {max_steps} steps")
    # 7
    try:
        env.close()
        env.close()
    except Exception as exc:
        raise _fail(f"close() raised {type(exc).__name__}: {exc}") from exc
    return ContractReport(
        game_id=info_a.game_id, steps=steps, won=won, total_reward=total,
        done_checked=done, notes=tuple(notes),
    )


def check_spec(spec: EnvSpec, **make_kwargs: Any) -> ContractReport:
    """Check the env of a spec with its own :class:`~agent_system.environments.base.ContractCase`.

    ``make_kwargs`` are added to the case's factory settings (e.g. a ``data_dir``). Done
    handling is required: the case's policy must finish an episode.

    Raises:
        ContractError: the spec has no contract case, or the env broke a rule.
        DataNotFoundError: the env's data is not available.
    """
    case = spec.contract
    if case is None:
        raise ContractError(f"environment {spec.name!r} has no contract case (EnvSpec.contract)")
    env = spec.make(**{**case.make_kwargs, **make_kwargs})
    try:
        return check_env(env, case.policy, case.max_steps, seed=case.seed)
    finally:
        env.close()
