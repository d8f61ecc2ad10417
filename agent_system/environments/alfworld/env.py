"""ALFWorld text games (TextWorld PDDL) behind the :class:`TextEnv` protocol.

Data layout: a data directory holding ``json_2.1.1/<split>/<task folder>/trial_*/game.tw-pddl``
(what ``alfworld-download`` produces). The folder is found by
:func:`skillrl.utils.paths.resolve_data_dir` (explicit path, ``ALFWORLD_DATA``, ...). Splits:
``train``, ``valid_seen``, ``valid_unseen`` (the two standard eval splits) and ``valid_train``.

Games of a split are all ``*/trial_*/game.tw-pddl`` files, sorted. ``reset(seed)`` plays
``order[seed % n]`` where ``order`` (:func:`game_order`) is a fixed shuffle of the sorted games, so
consecutive seeds mix task types (sorted folders group them) while every seed still maps to the same
game on every machine; ``reset(task=...)`` plays a game named by its path, its trial folder or its
game id (``"<split>/<task folder>/<trial>"``, or without the split). ``reset()`` without either
plays the games in order.

Each game is loaded with TextWorld plus the alfworld package's wrappers (name demangling, the
game file in the infos, and the hand-coded expert, whose next command is ``info["expert_action"]``).

Episode semantics: reward 1.0 on the step that wins (the episode is then done), else 0.0. The raw
model output is projected with :func:`~.projection.project_action`; an invalid output is not sent
to the game: the observation explains why, reward is 0, and the episode goes on.

``style="original"`` plays the game as the original SkillRL's env package does, for its prompt
style: observations are TextWorld's feedback verbatim (the reset text keeps the
``-= Welcome to TextWorld, ALFRED! =-`` banner; nothing is stripped), output is projected with
:func:`~.original.project_action`, and every projected action is sent to the game, invalid or not
(the game answers ``Nothing happens.`` to a command it does not know). Rewards are unchanged.

``info.extra`` is an :class:`ALFWorldState`: the game file and the hand-coded expert's next
command (``info["expert_action"]``), after every reset and step.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_system.environments.alfworld import original
from agent_system.environments.alfworld.projection import project_action
from agent_system.environments.alfworld.taxonomy import TASK_TYPE_BY_PREFIX
from agent_system.environments.base import GameRef, Outcome, ParsedAction, TextEnv
from agent_system.environments.original_style import check_env_style
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

log = logging.getLogger(__name__)

SPLITS = ("train", "valid_seen", "valid_unseen", "valid_train")
"""Known split folders under ``json_2.1.1/``."""

GAME_FILE = "game.tw-pddl"
_BANNER = re.compile(r"^\s*-= Welcome to TextWorld, ALFRED! =-\s*")
_TASK = re.compile(r"Your task is to:\s*(.+?)\s*$", re.DOTALL)
#: commands the game lists but that a policy should not spend turns on
HIDDEN_COMMANDS = frozenset({"help"})


def task_type_of(game: str | os.PathLike[str]) -> str:
    """Canonical task type of a game from its task folder name (``"unknown"`` if unrecognised).

    >>> task_type_of("valid_seen/pick_heat_then_place_in_recep-Egg-None-Fridge-1/trial_T1/game.tw-pddl")
    'heat'
    """
    for part in reversed(Path(game).parts):
        prefix = part.split("-", 1)[0]
        if prefix in TASK_TYPE_BY_PREFIX:
            return TASK_TYPE_BY_PREFIX[prefix]
    return "unknown"


def split_dir(data_dir: str | os.PathLike[str] | None, split: str) -> Path:
    """``<data dir>/json_2.1.1/<split>``, checked to exist.

    Raises:
        ValueError: unknown split name.
        DataNotFoundError: no data directory, or the split folder is missing (for ``train``
            with a ``train_games.tgz`` beside it, the message says how to extract it).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown ALFWorld split {split!r}; known: {', '.join(SPLITS)}")
    root = resolve_data_dir("alfworld", data_dir)
    path = root / "json_2.1.1" / split
    if path.is_dir():
        return path
    if split == "train" and (root / "train_games.tgz").is_file():
        raise DataNotFoundError(
            f"the ALFWorld train split is only packed here as {root / 'train_games.tgz'}. Extract it "
            f"to a writable folder DIR (`tar xzf {root / 'train_games.tgz'} -C DIR`, which gives "
            "DIR/json_2.1.1/train/) and point ALFWORLD_DATA (or env.data_dir) at DIR; never extract "
            "into a shared data folder."
        )
    present = sorted(p.name for p in (root / "json_2.1.1").glob("*") if p.is_dir())
    raise DataNotFoundError(
        f"ALFWorld split folder {str(path)!r} does not exist (splits present: {present or 'none'}). "
        "Run `alfworld-download` and point ALFWORLD_DATA (or env.data_dir) at the folder that "
        "holds json_2.1.1/."
    )


@functools.lru_cache(maxsize=16)
def _discover(path: str) -> tuple[Path, ...]:
    return tuple(sorted(Path(path).glob(f"*/trial_*/{GAME_FILE}")))


def discover_games(data_dir: str | os.PathLike[str] | None, split: str) -> tuple[Path, ...]:
    """All game files of a split, sorted (cached per folder).

    Raises:
        DataNotFoundError: see :func:`split_dir`, or the split holds no game.
    """
    path = split_dir(data_dir, split)
    games = _discover(str(path))
    if not games:
        raise DataNotFoundError(f"no */trial_*/{GAME_FILE} files under {str(path)!r}")
    return games


def game_id_of(game: Path) -> str:
    """``"<split>/<task folder>/<trial>"`` from a game file path."""
    return "/".join(game.parts[-4:-1])


def task_of(observation: str) -> str:
    """The goal sentence after ``"Your task is to:"`` ('' when absent)."""
    m = _TASK.search(observation)
    return m.group(1).strip() if m else ""


def _patch_move_tracking(policy: Any) -> None:
    """Make a hand-coded expert policy's state tracking read ``move X to Y`` as ``put X to Y``."""
    if policy is None or getattr(policy, "_skillrl_move_is_put", False):
        return
    track = policy.update_state_tracking

    def update_state_tracking(game_state: Any, last_action: str) -> Any:
        if last_action.startswith("move "):
            last_action = "put " + last_action[len("move "):]
        return track(game_state, last_action)

    policy.update_state_tracking = update_state_tracking
    policy._skillrl_move_is_put = True


@functools.cache
def _pddl_env_class() -> type:
    """TextWorld's ``PddlEnv`` translating the game's PDDL once per new game instead of twice.

    ``PddlEnv.load`` builds a ``PddlState`` (a full PDDL -> SAS translation: about 90 % of a new
    game's load, ~0.8 s) only to read the game's entities, and the ``reset`` that follows builds
    a second one for the same problem. The first reset after a load here takes the untouched state
    ``load`` built; every later reset builds a fresh one as TextWorld does. Observations,
    admissible commands and infos are TextWorld's (``tests/environments/test_alfworld_env.py``).
    """
    from textworld.core import GameState
    from textworld.envs.pddl.pddl import PddlEnv

    class OneTranslationPddlEnv(PddlEnv):
        _loaded_state: Any = None

        def load(self, filename_or_data: Any) -> None:
            super().load(filename_or_data)
            self._loaded_state = self._pddl_state

        def reset(self) -> Any:
            state, self._loaded_state = self._loaded_state, None
            if state is None:
                return super().reset()
            # PddlEnv.reset with the state load built (nothing has been applied to it)
            self._pddl_state = state
            self.prev_state = None
            self.state = GameState()
            self._last_action = None
            self._moves = 0
            context = {"state": state, "facts": list(state.facts), "variables": {}, "mapping": {},
                       "entity_infos": self._entity_infos}
            self.state.feedback = self._logic.grammar.derive("#intro#", context)
            self.state.raw = self.state.feedback
            self._gather_infos()
            if "walkthrough" in self.request_infos.extras:
                self.state["extra.walkthrough"] = self.walkthrough or state.replan(self._entity_infos)
            return self.state

    return OneTranslationPddlEnv


def _load_textworld(game: Path):
    """A TextWorld env for ``game`` with the alfworld wrappers (imported lazily: heavy); what
    ``textworld.start`` builds, on :func:`_pddl_env_class`."""
    import textworld

    # importing alfworld sets os.environ["ALFWORLD_DATA"] to ~/.cache/alfworld when unset,
    # which would silently redirect every later data-dir lookup: keep the caller's value
    before = os.environ.get("ALFWORLD_DATA")
    try:
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredExpert, AlfredInfos
    finally:
        if before is None:
            os.environ.pop("ALFWORLD_DATA", None)
        else:
            os.environ["ALFWORLD_DATA"] = before

    class _TolerantExpert(AlfredExpert):
        """The hand-coded expert, with two changes.

        * alfworld 0.4.2's expert tracks its inventory by looking for ``put`` in the last
          command, but the game's command is now ``move X to Y``: the expert never drops what
          it placed and, in ``pick_two_obj_and_place``, keeps asking to move the first object
          again (it then wanders until a random move happens to succeed). Its state tracking
          is shown ``move`` commands as ``put`` ones.
        * a failing expert (timeout, internal error) gives an empty plan instead of breaking
          the game for the policy being trained.
        """

        def _gather_infos(self) -> None:
            _patch_move_tracking(getattr(self._handcoded_expert, "policy", None))
            try:
                super()._gather_infos()
            except Exception as exc:  # HandCodedAgentTimeout and the expert's own errors
                log.debug("expert failed on %s: %s", game, exc)
                self.state["extra.expert_plan"] = []

    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile", "expert_plan"])
    env = _pddl_env_class()(infos)
    for wrapper in (AlfredDemangler(), AlfredInfos, _TolerantExpert(expert_type="handcoded")):
        env = wrapper(env)
    env.load(str(game))
    return env


#: seed of the fixed game order; changing it changes which game every seed plays
GAME_ORDER_SEED = 20251126


def game_order(games: tuple[Path, ...] | list[Path]) -> tuple[Path, ...]:
    """The order in which seeds visit ``games``: a shuffle fixed by :data:`GAME_ORDER_SEED`.

    ``reset(seed)`` plays ``game_order(games)[seed % len(games)]``; seeds 0..n-1 visit every game once.
    """
    order = list(games)
    random.Random(GAME_ORDER_SEED).shuffle(order)
    return tuple(order)


@dataclass(frozen=True)
class ALFWorldState:
    """ALFWorld's ``info.extra``."""

    gamefile: str
    """Path of the game file being played."""
    expert_action: str
    """The hand-coded expert's next command ('' when it has none)."""


INVALID_ACTION_HINT = "Answer with <think>...</think><action>...</action> holding exactly one admissible action."


class ALFWorldEnv(TextEnv):
    """One ALFWorld game at a time (see the module docstring).

    Args:
        data_dir: folder holding ``json_2.1.1/`` (default: resolved via ``ALFWORLD_DATA`` etc.).
        split: one of :data:`SPLITS`.
        require_think: whether the model output must carry a ``<think>`` block (see projection;
            ignored by the original style, whose projection has its own rule).
        style: ``native`` or ``original`` (see the module docstring).

    Raises:
        DataNotFoundError: on construction, when the data directory or split is missing.
        ValueError: an unknown ``style``.
    """

    env_name = "alfworld"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        split: str = "valid_seen",
        *,
        require_think: bool = True,
        style: str = "native",
    ) -> None:
        self.original = check_env_style("alfworld", style)
        self.executes_invalid_actions = self.original
        self.split = split
        self.require_think = require_think
        self.games = discover_games(data_dir, split)
        self.order = game_order(self.games)
        self._ids = {game_id_of(g): g for g in self.games}
        self._cursor = 0
        self._tw: Any = None
        self._loaded: Path | None = None
        self._state: Any = None
        self._game: Path | None = None

    def resolve_game(self, task: str) -> Path:
        """Game file for a path, trial folder or game id; ``ValueError`` when unknown."""
        path = Path(task).expanduser()
        if path.is_dir() and (path / GAME_FILE).is_file():
            return path / GAME_FILE
        if path.is_file():
            return path
        key = task.strip("/")
        if key.endswith(GAME_FILE):
            key = key[: -len(GAME_FILE)].rstrip("/")
        for candidate in (key, f"{self.split}/{key}"):
            if candidate in self._ids:
                return self._ids[candidate]
        raise ValueError(f"unknown ALFWorld game {task!r} (not a file and not a game id of split {self.split!r})")

    def num_games(self) -> int:
        return len(self.games)

    def admissible_actions(self) -> list[str] | None:
        if self._state is None:
            return None
        return [c for c in self._state["admissible_commands"] if c not in HIDDEN_COMMANDS]

    # ------------------------------------------------------------------ TextEnv hooks
    def _start(self, seed: int | None, task: str | None) -> tuple[str, GameRef]:
        if task is not None:
            game = self.resolve_game(task)
        elif seed is not None:
            game = self.order[int(seed) % len(self.order)]
        else:
            game = self.games[self._cursor % len(self.games)]
            self._cursor += 1
        if self._tw is None or self._loaded != game:
            self._release()
            self._tw = _load_textworld(game)
            self._loaded = game
        self._state = self._tw.reset()
        self._game = game
        feedback = self._state["feedback"]
        obs = feedback if self.original else _BANNER.sub("", feedback).strip()
        return obs, GameRef(task=task_of(obs), task_type=task_type_of(game), game_id=game_id_of(game))

    def _project(self, text: str, admissible: list[str] | None) -> ParsedAction:
        if self.original:
            return original.project_action(text, admissible)
        return project_action(text, admissible, require_think=self.require_think)

    def _apply(self, action: str) -> Outcome:
        self._state, _score, tw_done = self._tw.step(action)
        won = bool(self._state["won"])
        feedback = self._state["feedback"]
        return Outcome(feedback if self.original else feedback.strip(), 1.0 if won else 0.0, won or bool(tw_done), won)

    def _invalid_observation(self, parsed: ParsedAction) -> str:
        return f"Invalid action: {parsed.reason}. Nothing happened. {INVALID_ACTION_HINT}"

    def _extra(self) -> ALFWorldState:
        plan = list(self._state.get("extra.expert_plan") or []) if self._state is not None else []
        return ALFWorldState(gamefile=str(self._game), expert_action=plan[0] if plan else "")

    def _release(self) -> None:
        if self._tw is not None:
            try:
                self._tw.close()
            except Exception as exc:  # closing must never raise
                log.debug("closing textworld env failed: %s", exc)
        self._tw = None
        self._loaded = None
        self._state = None


def make(
    data_dir: str | os.PathLike[str] | None = None,
    split: str = "valid_seen",
    *,
    require_think: bool = True,
    style: str = "native",
) -> ALFWorldEnv:
    """``EnvSpec.make``: build an :class:`ALFWorldEnv` (arguments as its constructor)."""
    return ALFWorldEnv(data_dir=data_dir, split=split, require_think=require_think, style=style)
