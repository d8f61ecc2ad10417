"""The household games behind the :class:`TextEnv` protocol (a thin adapter over :mod:`.game`).

Episode semantics are ALFWorld's (see :mod:`agent_system.environments.alfworld.env`): the raw
model output is projected with ALFWorld's :func:`~agent_system.environments.alfworld.projection.project_action`
(``<think>…</think><action>…</action>``); malformed output is not sent to the game (the
observation says why); a well-formed command the game cannot carry out gets the game's
``"Nothing happens."``. Both are invalid actions (``info["is_action_valid"] = False``), reward 0,
and the turn counts. Reward 1.0 on the step that wins, which ends the episode; the env itself
never truncates (the agent loop's ``max_steps`` does).

``info.extra`` (:class:`HouseholdState`) carries ``split``;
``expert_action`` — the first command of the expert's shortest plan from the full current state
(:func:`~.expert.next_action`; ``"look"`` once won), as ALFWorld's env reports its hand-coded
expert's next command; ``search_action`` — the next command of the expert that knows only what
the agent has seen and searches for the rest (:func:`~.expert.search_action`), the teacher a
policy can imitate from its observations.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_system.environments.alfworld.projection import project_action
from agent_system.environments.base import GameRef, Outcome, ParsedAction, TextEnv
from agent_system.environments.household import expert
from agent_system.environments.household.game import NOTHING_HAPPENS, Game, State, admissible, apply, intro, is_won
from agent_system.environments.household.generate import EVAL_SPLIT_SIZE, game_by_id, game_for
from agent_system.environments.household.world import SPLITS

NOT_ADMISSIBLE = "not an admissible command here"
"""``ParsedAction.reason`` of a well-formed command the game cannot carry out."""


@dataclass(frozen=True)
class HouseholdState:
    """The household env's ``info.extra``."""

    split: str
    """The split the game belongs to."""
    expert_action: str
    """First command of the expert's shortest plan from the full state (``"look"`` once won)."""
    search_action: str
    """Next command of the expert that knows only what the agent has seen."""


class HouseholdEnv(TextEnv):
    """One household game at a time.

    Args:
        split: ``train`` (any seed is a game), ``valid_seen`` or ``valid_unseen`` (200 games
            each; ``reset(seed)`` plays game ``seed % 200``).
        require_think: whether model output must carry a ``<think>`` block (ALFWorld's rule).

    ``reset(task=...)`` plays the game named by a ``game_id`` (``"valid_seen/3"``, any split);
    ``reset()`` without seed or task plays the split's games in order 0, 1, 2, …

    Raises:
        ValueError: unknown split (on construction); unknown game id (``reset``).
    """

    env_name = "household"

    def __init__(self, split: str = "train", *, require_think: bool = True) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown household split {split!r}; known: {', '.join(SPLITS)}")
        self.split = split
        self.require_think = require_think
        self._cursor = 0
        self._game: Game | None = None
        self._state: State | None = None

    @property
    def game(self) -> Game | None:
        """The game being played (None before the first reset)."""
        return self._game

    @property
    def state(self) -> State | None:
        """The current game state (None before the first reset)."""
        return self._state

    def admissible_actions(self) -> list[str] | None:
        if self._game is None or self._state is None:
            return None
        return admissible(self._game, self._state)

    # -- TextEnv hooks -------------------------------------------------------------
    def num_games(self) -> int | None:
        """:data:`EVAL_SPLIT_SIZE` on the evaluation splits; None on ``train`` (any seed is a game)."""
        return None if self.split == "train" else EVAL_SPLIT_SIZE

    def _start(self, seed: int | None, task: str | None) -> tuple[str, GameRef]:
        if task is not None:
            game = game_by_id(task)
        elif seed is not None:
            game = game_for(self.split, int(seed))
        else:
            game = game_for(self.split, self._cursor)
            self._cursor += 1
        self._game, self._state = game, game.start
        return intro(game), GameRef(task=f"{game.goal}.", task_type=game.task_type, game_id=game.game_id)

    def _project(self, text: str, admissible_now: list[str] | None) -> ParsedAction:
        parsed = project_action(text, None, require_think=self.require_think)
        if parsed.valid and admissible_now is not None and parsed.action not in admissible_now:
            return ParsedAction(parsed.action, False, NOT_ADMISSIBLE)
        return parsed

    def _apply(self, action: str) -> Outcome:
        assert self._game is not None and self._state is not None
        self._state, feedback = apply(self._game, self._state, action)
        won = is_won(self._game, self._state)
        return Outcome(feedback, 1.0 if won else 0.0, won, won)

    def _invalid_observation(self, parsed: ParsedAction) -> str:
        if parsed.reason == NOT_ADMISSIBLE:
            return NOTHING_HAPPENS
        return f"Invalid action: {parsed.reason}. {NOTHING_HAPPENS}"

    def _extra(self) -> HouseholdState | None:
        if self._game is None or self._state is None:
            return None
        return HouseholdState(self.split, expert.next_action(self._game, self._state),
                              expert.search_action(self._game, self._state))


def make(split: str = "train", data_dir: str | None = None, *, require_think: bool = True) -> HouseholdEnv:
    """``EnvSpec.make``: a :class:`HouseholdEnv`. ``data_dir`` is accepted and unused (games are
    generated, no files are read), so callers that pass it to every env keep working."""
    del data_dir
    return HouseholdEnv(split=split, require_think=require_think)
