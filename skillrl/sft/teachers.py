"""Teachers: who writes the SFT targets, one registry (:data:`TEACHERS`).

A teacher plays an env through the shared agent loop, so its prompts are exactly the RL prompts
(the same prompt builder, the same skill block from the same bank at its version). Each turn it
sees a :class:`TeacherTurn` — the prompt, the env's step info, the admissible actions, the
injected skills, and the env object itself (scripted teachers read the game state there) — and
answers with the full model output ``<think>…</think><action>…</action>`` (Search:
``<think>…</think><search>…</search>`` / ``<answer>…</answer>``).

=================== ============================ ==============================================
teacher             envs                         acts on
=================== ============================ ==============================================
``expert``          alfworld, household          ALFWorld's hand-coded expert
                                                 (``info.extra.expert_action``); household's
                                                 shortest plan from the full game state
``search``          household                    household's searching expert: knows only what
                                                 the agent has seen (``info.extra.search_action``)
``oracle``          webshop, search              WebShop's oracle shopper; Search: search the
                                                 question, answer the first gold answer
``openai:MODEL``    every env                    a model behind an OpenAI-compatible endpoint
                                                 (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``): its own
                                                 reasoning and action, kept when valid
=================== ============================ ==============================================

Scripted teachers' think text is a short truthful rationale (:mod:`skillrl.sft.rationale`): the
sub-goal their plan is on and, with a bank, the injected skill written for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_system.environments.base import EnvSpec, TextEnv
from skillrl.sft.rationale import (
    GoalFacts,
    Subgoal,
    alfworld_subgoal,
    applicable_skill,
    parse_goal,
    think_text,
)
from skillrl.utils.registry import Registry


class TeacherError(ValueError):
    """A teacher that cannot be built or cannot play an env (one line, names both)."""


@dataclass(frozen=True)
class TeacherOptions:
    """Settings of teachers."""

    rationale: str = "full"
    """Think-text style of scripted teachers: ``short`` (the sub-goal) or ``full`` (task,
    sub-goal with its reason, the skill that applies)."""
    temperature: float | None = 0.0
    """Sampling temperature of model teachers (None: the server's default)."""
    max_tokens: int = 1024
    """Reply budget of model teachers."""
    base_url: str | None = None
    """Endpoint of ``openai:`` teachers (overrides ``OPENAI_BASE_URL``)."""
    timeout_s: float = 60.0
    """Seconds per request."""
    max_retries: int = 3
    """SDK retries on 429 / 5xx / connection errors."""
    record_calls: str | None = None
    """JSONL file keeping every prompt and reply of a model teacher."""


@dataclass
class TeacherTurn:
    """What a teacher sees on one turn."""

    prompt: str
    """The prompt the policy would get (RL's prompt builder, skills included)."""
    task: str
    task_type: str
    observation: str
    info: Any
    """The env's last :class:`~agent_system.environments.base.StepInfo` (``extra`` has the
    env-specific state, e.g. ``expert_action``)."""
    admissible: tuple[str, ...] | None
    skills: tuple[tuple[str, str, str], ...]
    """Injected bank items as ``(id, title, text)``, in injection order."""
    env: Any
    """The env object (not wrapped): scripted teachers read the game state there."""
    turn: int


class EpisodeTeacher(Protocol):
    """A teacher for one episode (it may keep per-episode state)."""

    async def answer(self, turn: TeacherTurn) -> str: ...


class Teacher(Protocol):
    """Makes one :class:`EpisodeTeacher` per episode."""

    name: str

    def episode(self) -> EpisodeTeacher: ...


def _say(think: str, action: str) -> str:
    return f"<think>{think}</think><action>{action}</action>"


def _skill_for(subgoal: Subgoal, turn: TeacherTurn) -> tuple[str, str] | None:
    return applicable_skill(subgoal, turn.skills)


# ----------------------------------------------------------------------------- household

def _kind(name: str) -> str:
    head, _, num = name.rpartition(" ")
    return head if num.isdigit() else name


class _HouseholdEpisode:
    def __init__(self, key: str, knows_all: bool, style: str) -> None:
        self.key, self.knows_all, self.style = key, knows_all, style

    async def answer(self, turn: TeacherTurn) -> str:
        from agent_system.environments.household.expert import known_state

        env = turn.env
        game, state = env.game, env.state
        action = str(getattr(turn.info.extra, self.key))
        facts = GoalFacts(game.task_type, game.obj_kind, game.recep_kind if game.task_type != "look_at_obj_in_light" else "",
                          game.task_type if game.task_type in ("heat", "cool", "clean") else "")
        view = state if self.knows_all else known_state(state)
        place = action.split(" ", 2)[-1] if action.startswith(("go to ", "open ")) else ""
        if action.startswith("open "):
            place = action[len("open "):]
        target_kind = game.recep_kind if game.task_type != "look_at_obj_in_light" else ""
        goal_here = any(_kind(o) == game.obj_kind and r == place and _kind(r) != target_kind for o, r in view.places)
        searching = bool(place) and not goal_here and not (state.holding and _kind(state.holding) == game.obj_kind)
        treated = bool(state.holding) and bool(facts.treatment) and state.holding in state.treated(facts.treatment)
        sub = alfworld_subgoal(action, facts, holding=state.holding, searching=searching, treated=treated)
        if sub.kind == "find" and self.knows_all:
            sub = Subgoal("find", sub.text, "")
        return _say(think_text(sub, style=self.style, task=turn.task, skill=_skill_for(sub, turn)), action)


@dataclass
class HouseholdTeacher:
    """``expert`` (full state) or ``search`` (what the agent has seen) on the household env."""

    name: str
    key: str
    knows_all: bool
    style: str

    def episode(self) -> EpisodeTeacher:
        return _HouseholdEpisode(self.key, self.knows_all, self.style)


# ----------------------------------------------------------------------------- ALFWorld

class _ALFWorldEpisode:
    def __init__(self, style: str) -> None:
        self.style = style
        self.holding = ""
        self.treated = False

    async def answer(self, turn: TeacherTurn) -> str:
        action = str(getattr(turn.info.extra, "expert_action", "") or "")
        if not action:  # the expert has nothing to say (a broken game): look around
            action = "look"
        facts = parse_goal(turn.task, turn.task_type)
        searching = action.startswith(("go to ", "open ")) and not self.holding and \
            f"{facts.obj} " not in turn.observation.lower()
        sub = alfworld_subgoal(action, facts, holding=self.holding, searching=searching, treated=self.treated)
        sub = Subgoal(sub.kind, sub.text, "")  # the hand-coded expert does not tell why it goes where it goes
        if action.startswith("take "):
            self.holding = action[len("take "):].split(" from ")[0]
            self.treated = False
        elif action.startswith(("move ", "put ")):
            self.holding, self.treated = "", False
        elif action.split(" ")[0] in ("heat", "cool", "clean"):
            self.treated = True
        return _say(think_text(sub, style=self.style, task=turn.task, skill=_skill_for(sub, turn)), action)


@dataclass
class ALFWorldExpert:
    """ALFWorld's hand-coded expert (``info.extra.expert_action``)."""

    style: str
    name: str = "expert"

    def episode(self) -> EpisodeTeacher:
        return _ALFWorldEpisode(self.style)


# ----------------------------------------------------------------------------- WebShop

class _WebShopEpisode:
    def __init__(self, style: str) -> None:
        self.style = style
        self.oracle: Any = None

    async def answer(self, turn: TeacherTurn) -> str:
        import re

        from agent_system.environments.base import TurnView
        from agent_system.environments.webshop.policies import Oracle, shop_state

        view = TurnView(observation=turn.observation, info=turn.info, admissible_actions=turn.admissible,
                        turn=turn.turn)
        if self.oracle is None:
            self.oracle = Oracle(seed=0)
        said = self.oracle.act(view)
        m = re.search(r"<action>(.*?)</action>", said, re.S)
        action = m.group(1).strip() if m else said
        values = [str(v) for v in shop_state(view).goal_options]
        inner = action[action.index("[") + 1:-1] if "[" in action else action
        if action.startswith("search["):
            sub = Subgoal("find", "search for the product", "the task describes it")
        elif action == "click[next >]":
            sub = Subgoal("find", "look at the next page", "the product is not on this page")
        elif action == "click[back to search]":
            sub = Subgoal("find", "search again", "these results do not have it")
        elif action == "click[buy now]":
            sub = Subgoal("buy", "buy it", "every option the task asks for is selected")
        elif inner in values:
            sub = Subgoal("select", f"select {inner}", "the task asks for it")
        else:
            sub = Subgoal("fetch", "open the matching product", "it fits the task")
        return _say(think_text(sub, style=self.style, task=turn.task, skill=_skill_for(sub, turn)), action)


@dataclass
class WebShopOracle:
    """WebShop's oracle shopper (searches, pages, opens the goal product, selects, buys)."""

    style: str
    name: str = "oracle"

    def episode(self) -> EpisodeTeacher:
        return _WebShopEpisode(self.style)


# ----------------------------------------------------------------------------- Search

class _SearchEpisode:
    def __init__(self, style: str) -> None:
        self.style = style
        self.searched = False

    async def answer(self, turn: TeacherTurn) -> str:
        env = turn.env
        row = env.row_for(task=turn.info.game_id)
        if not self.searched and getattr(env, "retriever", None) is not None:
            self.searched = True
            think = "search the question" if self.style == "short" else \
                f"Question: {turn.task} I need facts about it, so I search for it first."
            return f"<think>{think}</think><search>{turn.task}</search>"
        answer = row.golds[0]
        think = f"answer {answer}" if self.style == "short" else f"The question asks: {turn.task} The answer is {answer}."
        return f"<think>{think}</think><answer>{answer}</answer>"


@dataclass
class SearchOracle:
    """Search: look the question up once, then answer the first gold answer."""

    style: str
    name: str = "oracle"

    def episode(self) -> EpisodeTeacher:
        return _SearchEpisode(self.style)


# ----------------------------------------------------------------------------- a model

class _ModelEpisode:
    def __init__(self, teacher: "ModelTeacher") -> None:
        self.teacher = teacher

    async def answer(self, turn: TeacherTurn) -> str:
        async with self.teacher.slots:
            return await asyncio.to_thread(self.teacher.ask, turn.prompt)


@dataclass
class ModelTeacher:
    """A model behind an OpenAI-compatible endpoint writes the whole output (its own reasoning)."""

    name: str
    client: Any
    concurrency: int = 8
    slots: asyncio.Semaphore = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.concurrency)

    def ask(self, prompt: str) -> str:
        return self.client.complete([{"role": "user", "content": prompt}], purpose="sft_teacher")

    def episode(self) -> EpisodeTeacher:
        return _ModelEpisode(self)


# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class TeacherKind:
    """A registered teacher: the envs it plays and how to build it."""

    envs: tuple[str, ...] | None
    """Env names it plays (None: every env)."""
    make: Callable[[EnvSpec, str, TeacherOptions], Teacher]
    """``(env spec, argument after "KIND:", options) -> Teacher``."""
    help: str


def _scripted(by_env: dict[str, Callable[[TeacherOptions], Teacher]]) -> Callable[[EnvSpec, str, TeacherOptions], Teacher]:
    def make(spec: EnvSpec, arg: str, options: TeacherOptions) -> Teacher:
        return by_env[spec.name](options)

    return make


def _openai(spec: EnvSpec, arg: str, options: TeacherOptions) -> Teacher:
    from skillrl.distill.llm import LLMClient, LLMConfig, LLMError, build_chat_model

    if not arg:
        raise TeacherError("teacher 'openai:MODEL' needs a model name, e.g. openai:gpt-4o-mini")
    config = LLMConfig(provider="openai", model=arg, base_url=options.base_url, timeout_s=options.timeout_s,
                       max_retries=options.max_retries, temperature=options.temperature, max_tokens=options.max_tokens)
    try:
        client = LLMClient(build_chat_model(config), config=config, record_path=options.record_calls)
    except LLMError as exc:
        raise TeacherError(f"teacher openai:{arg}: {exc}") from None
    return ModelTeacher(f"openai:{arg}", client)


TEACHERS: Registry[TeacherKind] = Registry("teacher")
TEACHERS.register("expert", TeacherKind(("alfworld", "household"), _scripted({
    "alfworld": lambda o: ALFWorldExpert(o.rationale),
    "household": lambda o: HouseholdTeacher("expert", "expert_action", True, o.rationale),
}), "the env's expert (ALFWorld's hand-coded expert; household: shortest plan from the full state)"))
TEACHERS.register("search", TeacherKind(("household",), _scripted({
    "household": lambda o: HouseholdTeacher("search", "search_action", False, o.rationale),
}), "household's searching expert (knows only what the agent has seen)"))
TEACHERS.register("oracle", TeacherKind(("webshop", "search"), _scripted({
    "webshop": lambda o: WebShopOracle(o.rationale),
    "search": lambda o: SearchOracle(o.rationale),
}), "WebShop's oracle shopper; Search: look the question up, answer the gold answer"))
TEACHERS.register("openai", TeacherKind(None, _openai, "a model behind an OpenAI-compatible endpoint (openai:MODEL)"))


def teacher_names(env_name: str) -> list[str]:
    """Teachers that play ``env_name`` (model teachers as ``openai:MODEL``)."""
    out = []
    for name in TEACHERS.names():
        kind = TEACHERS.get(name)
        if kind.envs is None:
            out.append(f"{name}:MODEL")
        elif env_name in kind.envs:
            out.append(name)
    return out


def build_teacher(name: str, spec: EnvSpec, options: TeacherOptions = TeacherOptions()) -> Teacher:
    """The teacher named ``name`` (``KIND`` or ``KIND:ARG``) for ``spec``'s env.

    Raises:
        TeacherError: unknown teacher, or one that does not play this env (the message lists
            the teachers that do).
    """
    kind_name, _, arg = name.partition(":")
    try:
        kind = TEACHERS.get(kind_name)
    except KeyError:
        raise TeacherError(f"unknown teacher {name!r} for {spec.name}; choose one of "
                           f"{', '.join(teacher_names(spec.name))}") from None
    if kind.envs is not None and spec.name not in kind.envs:
        raise TeacherError(f"teacher {name!r} does not play {spec.name}; teachers for {spec.name}: "
                           f"{', '.join(teacher_names(spec.name))}")
    return kind.make(spec, arg, options)


def skill_items(bank: Any, ids: Sequence[str]) -> tuple[tuple[str, str, str], ...]:
    """``(id, title, text)`` of the bank items ``ids`` (unknown ids skipped)."""
    out = []
    for sid in ids:
        try:
            item = bank.get(sid)
        except KeyError:
            continue
        title = str(getattr(item, "title", "") or getattr(item, "description", ""))
        text = " ".join(str(getattr(item, a, "") or "") for a in ("principle", "when_to_apply", "description",
                                                                    "how_to_avoid"))
        out.append((sid, title, text))
    return tuple(out)


def unwrap(env: TextEnv) -> Any:
    """The innermost env under wrappers that keep it as ``.env``."""
    while hasattr(env, "env") and isinstance(getattr(env, "env"), TextEnv):
        env = env.env
    return env
