"""``WebShopEnv``: the text WebShop behind the SkillRL :class:`TextEnv` protocol.

- ``reset(seed, task)``: ``task`` is a goal index into the catalogue's shuffled goal list (the
  ``game_id``); else ``seed`` picks ``split_goals[seed % len(split_goals)]``; else a goal is drawn
  with the goals' ``weight`` (as WebShop does for sessions without an index).
- ``step(raw_output)``: projected with :func:`project_action` against the current admissible
  actions; an invalid output changes nothing, reward 0, and the observation starts with
  ``Invalid action: <reason>.``. ``click[buy now]`` ends the episode with the WebShop reward.
- ``admissible_actions()``: ``search[<your query>]`` while the search bar is shown (any query
  may replace the placeholder), then ``click[<clickable>]`` for every clickable except the
  search button. A ``search`` on a page without the search bar is invalid here (the reference
  text env would run it from any page, although it never lists it as available).
- ``info``: ``won`` (reward == 1.0), ``task_type`` (the goal's ``category``), ``is_action_valid``,
  ``task`` (instruction text), ``game_id``, ``action``; ``info.extra`` is a :class:`ShopState`
  after every reset and step: the page, the open product and its selected options, the goal's
  product, options and search phrases (for scripted policies: never shown to a model), and on
  Buy Now the :class:`Purchase` (``task_score`` = the reward, ``reward_info`` = its parts,
  ``asin``, ``options``).

``style="original"`` plays WebShop as the original SkillRL's text env does, for its prompt
style: every page but the search page starts with ``Instruction: [SEP] <task> [SEP]`` (see
:meth:`ShopSession.observation`), the admissible actions are the original's list (``click[search]``
included), output is projected with :func:`.original.project_action`, and every projected
action is played, invalid or not (:func:`.original.parse_command`: a ``search[...]`` from any page,
a click on a clickable of the page, anything else leaves the page unchanged). Rewards are
unchanged; the product search is this package's engine in both styles.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_system.environments.base import GameRef, Outcome, ParsedAction, TextEnv, task_index
from agent_system.environments.original_style import check_env_style
from agent_system.environments.webshop import original
from agent_system.environments.webshop.catalog import Catalog, Goal, load_catalog
from agent_system.environments.webshop.projection import SEARCH_PLACEHOLDER, project_action, split_command
from agent_system.environments.webshop.reward import NounFn, spacy_nouns, webshop_reward
from agent_system.environments.webshop.search import ProductSearch
from agent_system.environments.webshop.shop import ShopSession


@dataclass(frozen=True)
class Purchase:
    """WebShop's ``info.extra`` on the Buy Now step (None on every other step)."""

    task_score: float
    """The WebShop reward of the purchase (also the step's reward)."""
    reward_info: Mapping[str, Any]
    """The reward's parts (``r_type``, ``r_att``, ``r_option``, ``r_price``, weights, matches)."""
    asin: str
    """The product bought."""
    options: Mapping[str, str]
    """The options selected when buying (option name -> value)."""


@dataclass(frozen=True)
class ShopState:
    """WebShop's ``info.extra``, after every reset and step."""

    page: str
    """The page shown: ``search``, ``results``, ``item``, ``sub`` (Description/Features/Reviews)
    or ``done``."""
    product: str | None
    """ASIN of the open product (item and sub pages), else None."""
    selected: Mapping[str, str]
    """Options selected on the open product (option name -> value)."""
    goal_asin: str
    """The goal's product (what an oracle buys)."""
    goal_options: tuple[str, ...]
    """The goal's option values (what an oracle selects before buying)."""
    goal_queries: tuple[str, ...]
    """Phrases that find the goal product: the instruction, the product name, its catalogue query."""
    purchase: Purchase | None = None
    """The purchase, on the Buy Now step (None before)."""


class WebShopEnv(TextEnv):
    """One WebShop shopper (see the module docstring for the contract details)."""

    env_name = "webshop"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        split: str = "test",
        goals: str = "synthetic",
        catalog: Catalog | None = None,
        nouns: NounFn = spacy_nouns,
        style: str = "native",
    ) -> None:
        self.original = check_env_style("webshop", style)
        self.executes_invalid_actions = self.original
        self.catalog = catalog if catalog is not None else load_catalog(data_dir, goals)
        self.split = split
        self.indices = self.catalog.split_indices(split)
        if len(self.indices) == 0:
            raise ValueError(f"the WebShop {split!r} split has no goals")
        self.engine = ProductSearch.for_catalog(self.catalog)
        self._nouns = nouns
        self._rng = random.Random()
        self._session: ShopSession | None = None
        self._purchase: Purchase | None = None

    def num_games(self) -> int:
        return len(self.indices)

    def admissible_actions(self) -> list[str] | None:
        if self._session is None or self.finished:
            return []
        if self.original:
            return original.available_actions(self.available_actions())
        out = [SEARCH_PLACEHOLDER] if self._session.has_search_bar() else []
        out += [f"click[{c}]" for c in self._session.clickables(self.catalog) if c != "search"]
        return out

    # --- TextEnv hooks ----------------------------------------------------------------------
    def _start(self, seed: int | None, task: str | None) -> tuple[str, GameRef]:
        index = self._pick_goal(seed, task)
        goal = self.catalog.goals[index]
        self._session = ShopSession(goal=goal)
        self._purchase = None
        game = GameRef(task=goal["instruction_text"], task_type=goal["category"], game_id=str(index))
        return self._page(), game

    def _project(self, text: str, admissible: list[str] | None) -> ParsedAction:
        if self.original:
            return original.project_action(text, admissible)
        return project_action(text, admissible)

    def _apply(self, action: str) -> Outcome:
        session = self.session
        if self.original:
            name, parsed_arg = original.parse_command(action)
            arg = parsed_arg or ""
            playable = (name == "search" and arg != "") or (
                name == "click" and arg != "search" and arg in session.clickables(self.catalog))
            if not playable:  # the original's text env leaves the page as it is
                return Outcome(self._page())
        else:
            name, arg = split_command(action)
        if name == "search":
            session.search(arg, self.engine)
            return Outcome(self._page())
        if not session.click(arg, self.catalog):
            return Outcome(self._page())
        assert session.asin is not None
        result = webshop_reward(
            self.catalog.by_asin[session.asin],
            session.goal,
            price=self.catalog.prices[session.asin],
            options=session.options,
            nouns=self._nouns,
        )
        session.reward = result.reward
        session.page = "done"
        self._purchase = Purchase(task_score=result.reward, reward_info=result.to_dict(), asin=session.asin,
                                  options=dict(session.options))
        return Outcome(self._page(), float(result.reward), True, result.reward == 1.0)

    def _invalid_observation(self, parsed: ParsedAction) -> str:
        return f"Invalid action: {parsed.reason}. {self._page()}"

    def _page(self) -> str:
        return self.session.observation(self.catalog, header=self.original)

    def _extra(self) -> ShopState | None:
        if self._session is None:
            return None
        s, goal = self._session, self._session.goal
        options = goal["goal_options"]
        values = options.values() if isinstance(options, Mapping) else options
        product = s.asin if s.page in ("item", "sub") else None
        queries = (goal["instruction_text"], goal["name"], self.catalog.by_asin[goal["asin"]].get("query", ""))
        return ShopState(page=s.page, product=product, selected=dict(s.options) if product else {},
                         goal_asin=goal["asin"], goal_options=tuple(str(v) for v in values),
                         goal_queries=tuple(q for q in queries if q and q.strip()), purchase=self._purchase)

    def _release(self) -> None:
        self._session = None

    # --- helpers ----------------------------------------------------------------------------
    @property
    def goal(self) -> Goal:
        """The current episode's goal dict (raises before ``reset``)."""
        return self.session.goal

    @property
    def session(self) -> ShopSession:
        if self._session is None:
            raise RuntimeError("call reset() first")
        return self._session

    def available_actions(self) -> dict[str, Any]:
        """WebShop's own ``get_available_actions``: ``{has_search_bar, clickables}``."""
        if self._session is None:
            return {"has_search_bar": False, "clickables": []}
        return {"has_search_bar": self._session.has_search_bar(), "clickables": self._session.clickables(self.catalog)}

    def _pick_goal(self, seed: int | None, task: str | None) -> int:
        index = task_index(task, len(self.catalog.goals), env="WebShop", what="goal")
        if index is not None:
            return index
        if seed is not None:
            return self.indices[int(seed) % len(self.indices)]
        weights = [self.catalog.goals[i]["weight"] for i in self.indices]
        return self._rng.choices(self.indices, weights=weights, k=1)[0]


def make(
    data_dir: str | Path | None = None, split: str = "test", goals: str = "synthetic", style: str = "native"
) -> WebShopEnv:
    """``EnvSpec.make``: a :class:`WebShopEnv` over the catalogue of ``data_dir`` (``split`` None or
    '' means ``test``; ``style``: ``native`` or ``original``, see the module docstring)."""
    return WebShopEnv(data_dir=data_dir, split=split or "test", goals=goals, style=style)
