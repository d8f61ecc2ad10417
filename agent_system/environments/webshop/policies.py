"""WebShop's scripted policies: the oracle, a random shopper, a wrong purchase, perturbed oracles.

Every actor reads the shop through the :class:`~agent_system.environments.base.TurnView` the agent
loop hands it: the page, open product and selected options, and the goal's product, options and
search phrases (:class:`~.env.ShopState`, ``info.extra``), plus the admissible actions. Outputs
are raw ``<think>…</think><action>…</action>`` text, projected by the env like any model output.

- ``oracle``: searches the instruction; looks for the goal product on up to 5 result pages; if
  it is not there, searches the product name, then its catalogue query; opens the product,
  clicks each goal option value, buys. Scores the formula's best (mean ≈ 1).
- ``random``: searches the instruction, then clicks uniformly among the admissible clicks.
- ``wrong``: searches the instruction and buys the first listed product that is not the goal's.

Perturbed oracles inject one labelled failure (``actor.failure_kind``):

- ``premature_purchase`` (goals with options): opens the goal product and buys at once;
- ``wrong_object``: buys another product than the goal's (as ``wrong``);
- ``loop_two_locations``: goes back and forth between the search page and its results;
- ``repeated_action`` (goals with options): opens the goal product and clicks the same option
  again and again, never buying;
- ``invalid_action``: clicks buttons the page does not have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.base import Script, TurnView
from agent_system.environments.scripts import episode_rng, perturbed_scripts, tagged
from agent_system.environments.webshop.env import ShopState

MAX_RESULT_PAGES = 5
_NAV_CLICKS = ("click[back to search]", "click[next >]", "click[< prev]")


def shop_state(view: TurnView) -> ShopState:
    """The :class:`ShopState` of a view (raises when the info carries none)."""
    state = view.info.extra
    if not isinstance(state, ShopState):
        raise TypeError(f"a WebShop scripted policy needs info.extra to be a ShopState, got {type(state).__name__}")
    return state


def _clicks(view: TurnView) -> list[str]:
    return [a for a in view.admissible_actions or () if a.startswith("click[")]


class Navigator:
    """Finds one target product: searches each query in turn, pages through its results, opens it."""

    def __init__(self, target: str, queries: Sequence[str]) -> None:
        self.target = target.lower()
        self.queries = [q for q in queries if q.strip()]
        self.pages_seen = 0

    def act(self, view: TurnView) -> str | None:
        """The next navigation action, or None once the target's item page is open."""
        state = shop_state(view)
        clicks = _clicks(view)
        if state.page == "item" and state.product is not None and state.product.lower() == self.target:
            return None
        if state.page == "search":
            if not self.queries:
                raise RuntimeError(f"no query found product {self.target.upper()}")
            self.pages_seen = 0
            return f"search[{self.queries.pop(0)}]"
        if state.page == "results":
            self.pages_seen += 1
            if f"click[{self.target}]" in clicks:
                return f"click[{self.target}]"
            if "click[next >]" in clicks and self.pages_seen < MAX_RESULT_PAGES:
                return "click[next >]"
        return "click[back to search]"


class Oracle:
    """Buys the goal product with the goal options."""

    failure_kind: str | None = None

    def __init__(self, seed: int) -> None:
        del seed
        self.nav: Navigator | None = None

    def _navigator(self, state: ShopState) -> Navigator:
        """The episode's navigator to the goal product (built at the first turn)."""
        if self.nav is None:
            self.nav = Navigator(state.goal_asin, state.goal_queries)
        return self.nav

    def act(self, view: TurnView) -> str:
        state = shop_state(view)
        nav = self._navigator(state)
        step = nav.act(view)
        if step is not None:
            return tagged(step)
        clicks = _clicks(view)
        for value in state.goal_options:
            if value not in state.selected.values() and f"click[{value}]" in clicks:
                return tagged(f"click[{value}]")
        return tagged("click[buy now]")


class RandomShopper:
    """Searches the instruction, then clicks at random."""

    failure_kind: str | None = None

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, "random")

    def act(self, view: TurnView) -> str:
        if shop_state(view).page == "search":
            return tagged(f"search[{view.info.task}]")
        clicks = _clicks(view)
        return tagged(self.rng.choice(clicks) if clicks else "click[back to search]")


class WrongPurchase:
    """Searches the instruction and buys the first listed product that is not the goal's."""

    failure_kind: str | None = "wrong_object"

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        state = shop_state(view)
        clicks = _clicks(view)
        if state.page == "search":
            return tagged(f"search[{view.info.task}]")
        if state.page == "results":
            products = [c for c in clicks if c not in _NAV_CLICKS and c != f"click[{state.goal_asin.lower()}]"]
            if products:
                return tagged(products[0])
            return tagged("click[next >]" if "click[next >]" in clicks else "click[back to search]")
        if state.page == "item" and state.product and state.product.lower() != state.goal_asin.lower():
            return tagged("click[buy now]")
        return tagged("click[back to search]")


class PrematurePurchase(Oracle):
    """Opens the goal product and buys it before selecting any option."""

    failure_kind = "premature_purchase"

    def act(self, view: TurnView) -> str:
        state = shop_state(view)
        return tagged(self._navigator(state).act(view) or "click[buy now]")


class LoopSearchResults:
    """Goes back and forth between the search page and the results of the same query."""

    failure_kind = "loop_two_locations"

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        if shop_state(view).page == "search":
            return tagged(f"search[{view.info.task}]")
        return tagged("click[back to search]")


class RepeatedOption(Oracle):
    """Opens the goal product and clicks the same option value over and over (never buys)."""

    failure_kind = "repeated_action"

    def act(self, view: TurnView) -> str:
        state = shop_state(view)
        nav = self._navigator(state)
        step = nav.act(view)
        if step is not None:
            return tagged(step)
        clicks = _clicks(view)
        for value in state.goal_options:
            if f"click[{value}]" in clicks:
                return tagged(f"click[{value}]")
        return tagged("click[description]" if "click[description]" in clicks else "click[< prev]")


class InvalidClicks:
    """Clicks buttons that no page has."""

    failure_kind = "invalid_action"

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, self.failure_kind)

    def act(self, view: TurnView) -> str:
        return tagged(self.rng.choice(["click[checkout]", "click[add to cart]", "click[buy it now]"]))


PERTURBATIONS = {
    "premature_purchase": PrematurePurchase,
    "wrong_object": WrongPurchase,
    "loop_two_locations": LoopSearchResults,
    "repeated_action": RepeatedOption,
    "invalid_action": InvalidClicks,
}
#: kinds that need a goal with options
_NEED_OPTIONS = ("premature_purchase", "repeated_action")


def applicable(view: TurnView) -> Sequence[str]:
    """The failure kinds that fit the goal (buying early or repeating an option needs options)."""
    has_options = bool(shop_state(view).goal_options)
    return [k for k in PERTURBATIONS if has_options or k not in _NEED_OPTIONS]


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Any) -> str:
    """A stateless scripted shopper for the shared contract check: search the task, open the
    first result, buy it (3 steps)."""
    adm = list(admissible or [])
    if any(a.startswith("search[") for a in adm):
        return tagged(f"search[{info['task']}]")
    if "click[buy now]" in adm:
        return tagged("click[buy now]")
    products = [a for a in adm if a not in _NAV_CLICKS]
    return tagged(products[0] if products else "click[back to search]")


SCRIPTS: dict[str, Script] = {
    "oracle": Script(make=Oracle, summary="buys the goal product with the goal options"),
    "random": Script(make=RandomShopper, summary="searches the instruction, then clicks at random"),
    "wrong": Script(make=WrongPurchase, summary="buys the first listed product that is not the goal's",
                    failure_kinds=("wrong_object",)),
    **perturbed_scripts(PERTURBATIONS, applicable, "oracle"),
}
"""WebShop's scripted policies by name; the first (``oracle``) is the default."""
