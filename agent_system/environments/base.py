"""The text-environment protocol shared by every environment, and the registry of environments.

An environment holds no model and no tokenizer. It takes the *raw* model output, projects
it to an action with a pure per-env function, and answers with an observation.

Contract (checked for every env by :func:`agent_system.environments.contract.check_env`):

``reset(seed=None, task=None) -> (observation, info)``
    Starts an episode. ``seed`` picks the game deterministically (the same seed always gives
    the same game: all ``n`` rollouts of a GRPO group pass the same seed); ``task`` names a
    game explicitly (an env-specific id such as a game path or a goal index) and wins over
    ``seed``.
``step(action_text) -> (observation, reward, done, info)``
    ``action_text`` is the raw model output. Malformed output never raises: it is an invalid
    action (``info.is_action_valid`` False), the observation says why, reward is 0, the game
    state does not change, and the turn still counts. Stepping a finished episode (or before
    any ``reset``, or after ``close``) raises :class:`EpisodeFinishedError`.
``admissible_actions() -> list[str] | None``
    The currently valid actions, or ``None`` where the env has no closed action set.
``close()``
    Frees resources; idempotent.

``info`` is a :class:`StepInfo` (also readable as a mapping: ``info["won"]``).

:class:`TextEnv` implements ``reset``/``step``/``close`` once, as templates; an environment
fills in the hooks (:meth:`TextEnv._start`, :meth:`TextEnv._project`, :meth:`TextEnv._apply`,
:meth:`TextEnv._invalid_observation`, and optionally :meth:`TextEnv._extra`,
:meth:`TextEnv._release`). Wrappers that forward to another env (a worker-process handle, a
timer) override the public methods instead.

Adding an environment: one package exposing ``SPEC`` (an :class:`EnvSpec`) and one
``ENVIRONMENTS.register_lazy`` line below (see the README, "Adding an environment").
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from agent_system.environments.taxonomy import TaskTaxonomy
from skillrl.utils.registry import Registry

#: keys every ``info`` carries (the first fields of :class:`StepInfo`)
INFO_KEYS = ("won", "task_type", "is_action_valid", "task", "game_id")


class EpisodeFinishedError(RuntimeError):
    """``step`` was called after the episode ended (or before ``reset``); call ``reset`` first."""


@dataclass(frozen=True)
class ParsedAction:
    """Result of projecting raw model output onto an environment action."""

    action: str
    """The extracted action text ('' when nothing usable was found)."""
    valid: bool
    """Whether the output was well-formed and (where the env knows) admissible."""
    reason: str = ""
    """Why the action is invalid; empty when valid."""


@dataclass(frozen=True)
class StepInfo(Mapping[str, Any]):
    """What ``reset`` and ``step`` report besides observation, reward and done.

    Read it by attribute (typed). It is also a read-only mapping over the common fields plus
    the fields of :attr:`extra` whose value is not ``None`` (``info["won"]``,
    ``info.get("expert_action")``, ``dict(info)``), so code written for dict infos keeps
    working. Picklable whenever :attr:`extra` is (worker processes send it back).
    """

    won: bool
    """Whether the episode has been won (only ever True on the step that ends it)."""
    task_type: str
    """The env's task type of the game (per-type metrics; the hint for skill retrieval)."""
    is_action_valid: bool
    """Whether the step's output projected onto a valid action (True after ``reset``)."""
    task: str
    """The natural-language goal of the episode."""
    game_id: str
    """Env-specific id of the game (replaying it: ``reset(task=game_id)`` where the env allows)."""
    action: str = ""
    """The projected action of this step ('' after ``reset`` and for output with no usable action)."""
    extra: Any = None
    """Env-specific details: a frozen dataclass of the env's package (``ALFWorldState``,
    ``Purchase``, ``SearchProgress`` …) or None. Its field names must not repeat the ones above."""

    # -- mapping view ----------------------------------------------------------------------
    def _extra_items(self) -> dict[str, Any]:
        if self.extra is None:
            return {}
        if not dataclasses.is_dataclass(self.extra):
            raise TypeError(f"StepInfo.extra must be a dataclass instance or None, got {type(self.extra).__name__}")
        return {f.name: getattr(self.extra, f.name) for f in dataclasses.fields(self.extra)
                if getattr(self.extra, f.name) is not None}

    def as_dict(self) -> dict[str, Any]:
        """The mapping view as a plain dict (common fields first, then the extras)."""
        out = {name: getattr(self, name) for name in (*INFO_KEYS, "action")}
        out.update(self._extra_items())
        return out

    def __getitem__(self, key: str) -> Any:
        if key in _COMMON_FIELDS:
            return getattr(self, key)
        items = self._extra_items()
        if key in items:
            return items[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(_COMMON_FIELDS) + len(self._extra_items())


_COMMON_FIELDS = frozenset((*INFO_KEYS, "action"))


@dataclass(frozen=True)
class GameRef:
    """What an episode plays, as its env's ``_start`` hook reports it."""

    task: str
    """The natural-language goal."""
    task_type: str
    """The env's task type of the game."""
    game_id: str
    """Env-specific id of the game."""


@dataclass(frozen=True)
class Outcome:
    """What a valid action did, as an env's ``_apply`` hook reports it."""

    observation: str
    """The env's answer."""
    reward: float = 0.0
    """Reward of this step."""
    done: bool = False
    """Whether the episode ended."""
    won: bool = False
    """Whether it ended in success (implies ``done``)."""


@dataclass(frozen=True)
class PromptContext:
    """Everything a prompt builder may use for one turn."""

    task: str
    """The natural-language goal of the episode."""
    observation: str
    """The current observation."""
    history: Sequence[tuple[str, str]] = ()
    """Earlier turns as (observation, action) pairs, oldest first (the builder keeps the last
    ``history_length``)."""
    admissible_actions: Sequence[str] | None = None
    """The valid actions now, when the env has them."""
    skill_block: str = ""
    """Rendered skills for this episode ('' when skills are off); shown on every turn."""
    turn: int = 0
    """0-based index of this turn."""
    history_length: int = 2
    """How many recent turns to show."""


class TextEnv(abc.ABC):
    """Base class of SkillRL text environments (see the module docstring for the contract).

    ``reset``, ``step`` and ``close`` are templates. ``step`` checks that an episode is running,
    projects the raw output with :meth:`_project` against :meth:`admissible_actions`, and then

    * valid action: calls :meth:`_apply` with the projected action (the only place the game
      changes). An exception from ``_apply`` propagates and the turn is not counted (use it for
      infrastructure failures, e.g. an unreachable retriever, raised before changing anything);
    * invalid output: nothing changes; the observation is :meth:`_invalid_observation`,
      reward 0, not done — unless :attr:`executes_invalid_actions` is set, in which case the
      projected action is played like a valid one.

    Either way the turn counts (:attr:`turn`); when :attr:`max_turns` is set and reached
    without the episode ending, it ends (reward 0, ``done``) with :attr:`turns_exhausted_note`
    appended to the observation. The info of every step is built here from the game of the
    episode (:class:`GameRef`), the step's action, and :meth:`_extra`.
    """

    env_name: ClassVar[str] = ""
    turns_exhausted_note: ClassVar[str] = "No turns left ({max_turns} used): the episode ends."
    """Appended (on a new line) to the observation of the step that uses up :attr:`max_turns`."""
    max_turns: int | None = None
    """Turns per episode after which the env itself ends it (None: no env-side limit)."""
    executes_invalid_actions: bool = False
    """When True, :meth:`step` plays the projected action with :meth:`_apply` even when the
    projection flagged it invalid (the original SkillRL's dynamics: its env managers send every
    projected action to the env); ``info.is_action_valid`` still reports the flag. ``_apply``
    must then accept any string. False (the default): invalid output changes nothing."""

    _playing: GameRef | None = None
    _over: bool = True
    _turns: int = 0

    # -- the protocol (templates) ---------------------------------------------------------
    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, StepInfo]:
        """Start an episode; return ``(observation, info)``. A reset that raises leaves no episode running."""
        self._over = True
        observation, game = self._start(seed, task)
        self._playing, self._turns, self._over = game, 0, False
        return observation, self._info(won=False, valid=True, action="")

    def step(self, action_text: str) -> tuple[str, float, bool, StepInfo]:
        """Apply raw model output; return ``(observation, reward, done, info)``.

        Raises:
            EpisodeFinishedError: no episode is running (finished, never reset, or closed).
        """
        if self._playing is None or self._over:
            what = "finished" if self._playing is not None else "not started"
            raise EpisodeFinishedError(f"the {self.env_name or type(self).__name__} episode is {what}; call reset() first")
        parsed = self._project(action_text, self.admissible_actions())
        if parsed.valid or self.executes_invalid_actions:
            outcome = self._apply(parsed.action)
        else:
            outcome = Outcome(self._invalid_observation(parsed))
        self._turns += 1
        if not outcome.done and self.max_turns is not None and self._turns >= self.max_turns:
            note = self.turns_exhausted_note.format(max_turns=self.max_turns)
            outcome = Outcome(f"{outcome.observation}\n{note}", outcome.reward, True, False)
        self._over = outcome.done
        return outcome.observation, float(outcome.reward), outcome.done, self._info(outcome.won, parsed.valid, parsed.action)

    def admissible_actions(self) -> list[str] | None:
        """Valid actions in the current state, or None if the env has no closed action set."""
        return None

    def num_games(self) -> int | None:
        """How many distinct games ``reset(seed)`` cycles through (seeds ``0..n-1`` play each
        once), or None when the games are unbounded (generated from the seed)."""
        return None

    def close(self) -> None:
        """End any running episode and release resources. Safe to call twice."""
        self._over = True
        self._release()

    @property
    def turn(self) -> int:
        """Steps taken in the current episode (invalid ones included)."""
        return self._turns

    @property
    def finished(self) -> bool:
        """True when no episode is running (before ``reset``, after the end, after ``close``)."""
        return self._playing is None or self._over

    def __enter__(self) -> "TextEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks ------------------------------------------------------------------------------
    def _start(self, seed: int | None, task: str | None) -> tuple[str, GameRef]:
        """Set up a game (see ``reset``); return the first observation and what is played.

        Raises:
            ValueError: ``task`` names no game of this env.
        """
        raise NotImplementedError(f"{type(self).__name__} implements neither _start nor reset")

    def _project(self, text: str, admissible: list[str] | None) -> ParsedAction:
        """The env's pure projection of raw output (usually ``project_action(text, admissible)``)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _project nor step")

    def _apply(self, action: str) -> Outcome:
        """Play a valid, projected action."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _apply nor step")

    def _invalid_observation(self, parsed: ParsedAction) -> str:
        """The observation after invalid output (should say why: ``parsed.reason``)."""
        return f"Invalid action: {parsed.reason}."

    def _extra(self) -> Any:
        """Env-specific details for :attr:`StepInfo.extra` (called after every reset and step,
        once :attr:`turn` and :attr:`finished` are up to date); None by default."""
        return None

    def _release(self) -> None:
        """Free resources (called by ``close``; must be idempotent)."""

    # -- helpers ----------------------------------------------------------------------------
    def _info(self, won: bool, valid: bool, action: str) -> StepInfo:
        game = self._playing
        assert game is not None
        return StepInfo(won=won, task_type=game.task_type, is_action_valid=valid, task=game.task,
                        game_id=game.game_id, action=action, extra=self._extra())


def task_index(task: str | None, count: int, *, env: str, what: str) -> int | None:
    """Read a ``task`` that names a game by its index in a list of ``count`` games.

    Returns ``None`` when ``task`` is None or blank (the seed decides).

    >>> task_index(" 3 ", 10, env="search", what="row"), task_index("", 10, env="search", what="row")
    (3, None)

    Raises:
        ValueError: ``task`` is not an integer, or not in ``0..count-1``.
    """
    if task is None or str(task).strip() == "":
        return None
    try:
        index = int(str(task).strip())
    except ValueError:
        raise ValueError(f"{env} task must be a {what} index, got {task!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"{env} {what} index {index} out of range 0..{count - 1}")
    return index


# --------------------------------------------------------------------------- the spec

#: ``policy(observation, info, admissible_actions) -> raw model text`` for the next step
ScriptedPolicy = Callable[[str, Mapping[str, Any], Sequence[str] | None], str]


@dataclass(frozen=True)
class TurnView:
    """What the env showed before one turn: the typed hook through which scripted policies read
    the game (the agent loop hands it to policies that ask for it; it is never put into a prompt).

    Privileged facts a scripted policy needs (ALFWorld's ``expert_action``, WebShop's goal
    product, Search's gold answers) travel in :attr:`info`'s ``extra``, so they reach the policy
    from worker processes too.
    """

    observation: str
    """The current observation."""
    info: StepInfo
    """The info of ``reset`` (turn 0) or of the last step."""
    admissible_actions: tuple[str, ...] | None
    """The valid actions now, None where the env has no closed action set."""
    turn: int
    """0-based index of the turn about to be played."""


class Actor(Protocol):
    """A scripted policy playing one episode (built per episode, so it may keep state).

    ``act`` returns *raw model text* (e.g. ``<think>…</think><action>…</action>``), which the env
    projects like any model output. A perturbed actor sets ``failure_kind`` (a name of the
    heuristic distiller's failure kinds, e.g. ``wrong_object``) once it has chosen the failure it
    injects; faithful actors leave it None.
    """

    failure_kind: str | None

    def act(self, view: TurnView) -> str: ...


@dataclass(frozen=True)
class Script:
    """A scripted policy of an env (``expert``, ``oracle``, ``random``, ``perturbed`` …)."""

    make: Callable[[int], Actor]
    """Builds the actor of one episode from a seed (the actor's own random choices: the same
    seed on the same game plays the same way)."""
    summary: str
    """One line for ``skillrl env list`` and help texts."""
    failure_kinds: tuple[str, ...] = ()
    """The labelled failures the script may inject (empty for faithful scripts)."""


def stateless_script(fn: ScriptedPolicy, summary: str) -> Script:
    """A :class:`Script` from a stateless ``(observation, info, admissible) -> text`` policy."""

    class _Stateless:
        failure_kind: str | None = None

        def act(self, view: TurnView) -> str:
            return fn(view.observation, view.info, view.admissible_actions)

    return Script(make=lambda seed: _Stateless(), summary=summary)


#: ``(split, data_dir, data, overrides) -> factory kwargs`` of a run outside training
PlaySetup = Callable[[str | None, str | None, str | None, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Play:
    """How an env is played outside training (``skillrl eval``, ``skillrl env play``,
    ``skillrl distill --episodes-from``): its scripted policies and run defaults."""

    scripts: Mapping[str, Script]
    """Scripted policies by name; the first is the default (it should win: expert, oracle)."""
    setup: PlaySetup
    """Factory keyword arguments for a split, a data folder, a data file (``--data``) and the
    user's overrides (``--env-arg KEY=VALUE``, merged last by the caller). Raises ``ValueError``
    for an argument the env does not take."""
    default_split: str | None = None
    """Split played when none is named (``skillrl env play``)."""
    eval_splits: tuple[str, ...] = ()
    """Splits ``skillrl eval`` plays when none is named (ALFWorld: both eval splits)."""
    train_split: str | None = None
    """Split whose games feed the bank by default (``skillrl distill --episodes-from``): games no
    evaluation plays, so skills never leak from the eval games."""
    max_steps: int = 50
    """Turn limit of an episode (the env's training setting)."""
    history_length: int = 2
    """Recent turns shown in each prompt (the env's training setting)."""
    parallel: bool = False
    """Whether env worker processes pay off (a slow simulator: ALFWorld); runs then start one
    per core by default."""

    def __post_init__(self) -> None:
        if not self.scripts:
            raise ValueError("Play needs at least one scripted policy")

    @property
    def default_script(self) -> str:
        return next(iter(self.scripts))


@dataclass(frozen=True)
class ContractCase:
    """How the shared contract test (``tests/environments/test_contract.py``) drives an env."""

    policy: ScriptedPolicy
    """A stateless scripted policy that finishes an episode within :attr:`max_steps`."""
    max_steps: int
    """Step budget of the scripted episode."""
    make_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Factory settings for the checked env (e.g. ``{"split": "valid_seen"}``)."""
    seed: int = 0
    """Seed of the checked game."""


class UnknownEnvSettingError(ValueError):
    """An env factory was given a keyword argument it does not know."""


class _CheckedFactory:
    """An env factory that rejects unknown keyword arguments, naming the env and the key."""

    def __init__(self, env: str, factory: Callable[..., TextEnv]) -> None:
        params = inspect.signature(factory).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            raise TypeError(f"the {env} env factory takes **kwargs; declare its settings explicitly")
        self.env = env
        self.factory = factory
        self.settings = tuple(p.name for p in params
                              if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))
        functools.update_wrapper(self, factory)

    def __call__(self, *args: Any, **kwargs: Any) -> TextEnv:
        for key in kwargs:
            if key not in self.settings:
                close = difflib.get_close_matches(key, self.settings, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UnknownEnvSettingError(
                    f"unknown {self.env} env setting {key!r} (known: {', '.join(self.settings) or 'none'}){hint}"
                )
        return self.factory(*args, **kwargs)


@dataclass(frozen=True)
class EnvSpec:
    """Everything the rest of SkillRL knows about one environment kind."""

    name: str
    """Registry name (``alfworld``, ``webshop`` …)."""
    make: Callable[..., TextEnv]
    """Factory taking the env's settings as keyword arguments (``data_dir``, ``split``, ...).
    It must declare them (no ``**kwargs``); the spec wraps it so that an unknown setting
    raises :class:`UnknownEnvSettingError` naming the env and the key."""
    build_prompt: Callable[[PromptContext], str]
    """Pure function: one turn's user prompt."""
    project_action: Callable[..., ParsedAction]
    """Pure function ``(text, admissible_actions=None) -> ParsedAction``."""
    taxonomy: TaskTaxonomy | None = None
    """The env's task categories and classifier (skill retrieval routes tasks with it). None:
    retrieval takes a task-type hint that names a bank category as is (every built-in env has one)."""
    task_types: tuple[str, ...] = ()
    """The values ``info.task_type`` may take (for per-type metrics). Often the taxonomy's
    categories; Search reports the data source and routes skills by question kind."""
    contract: ContractCase | None = None
    """How the shared contract test drives this env (every registered env should have one)."""
    play: Play | None = None
    """Scripted policies and run defaults (``skillrl eval``, ``skillrl env play``), where the env
    has them."""
    score: Callable[[str], dict[str, Any]] | None = None
    """``score(cases_path) -> {"rewards": [...]}``: reward of given outcomes without playing
    (``skillrl env score``), where the env has it."""

    def __post_init__(self) -> None:
        if not isinstance(self.make, _CheckedFactory):
            object.__setattr__(self, "make", _CheckedFactory(self.name, self.make))


#: every environment kind, by name; packages register lazily so that listing is cheap
ENVIRONMENTS: Registry[EnvSpec] = Registry("environment")
ENVIRONMENTS.register_lazy("alfworld", "agent_system.environments.alfworld:SPEC")
ENVIRONMENTS.register_lazy("webshop", "agent_system.environments.webshop:SPEC")
ENVIRONMENTS.register_lazy("search", "agent_system.environments.search:SPEC")
ENVIRONMENTS.register_lazy("toy", "agent_system.environments.toy:SPEC")
ENVIRONMENTS.register_lazy("household", "agent_system.environments.household:SPEC")


def get_env_spec(name: str) -> EnvSpec:
    """Look up an environment kind; unknown names raise with the list of known ones."""
    return ENVIRONMENTS.get(name)
