"""Scripted WebShop runs (``skillrl env play webshop``) and purchase scoring (``env score``).

Policies (each sends raw ``<think>…</think><action>…</action>`` text through the env, so the
projection is exercised too):

- ``oracle``: searches the instruction text; looks for the goal product on up to 5 result
  pages; if it is not there, searches the product name, then its catalogue query; opens the
  product, clicks each goal option value, buys. Scores the formula's best (mean ≈ 1).
- ``random``: searches the instruction, then clicks uniformly among the admissible clicks.
- ``wrong``: buys a product of another category whose name shares no noun with the goal's, so
  ``r_type`` (and the reward) is 0.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent_system.environments.webshop.catalog import Catalog, Product, load_catalog
from agent_system.environments.webshop.env import WebShopEnv
from agent_system.environments.webshop.reward import spacy_nouns, webshop_reward

log = logging.getLogger(__name__)

POLICIES = ("oracle", "random", "wrong")
MAX_RESULT_PAGES = 5


def _say(action: str) -> str:
    return f"<think>scripted</think><action>{action}</action>"


class _Navigator:
    """Finds one target product: search each query in turn, page through its results, open it."""

    def __init__(self, target: str, queries: list[str]) -> None:
        self.target = target.lower()
        self.queries = [q for q in queries if q.strip()]
        self.pages_seen = 0

    def act(self, env: WebShopEnv) -> str | None:
        """The next navigation action, or ``None`` once the target's item page is open."""
        s = env.session
        clicks = env.admissible_actions() or []
        if s.page == "item" and s.asin is not None and s.asin.lower() == self.target:
            return None
        if s.page == "search":
            if not self.queries:
                raise RuntimeError(f"no query found product {self.target.upper()}")
            self.pages_seen = 0
            return f"search[{self.queries.pop(0)}]"
        if s.page == "results":
            self.pages_seen += 1
            if f"click[{self.target}]" in clicks:
                return f"click[{self.target}]"
            if "click[next >]" in clicks and self.pages_seen < MAX_RESULT_PAGES:
                return "click[next >]"
        return "click[back to search]"


class OraclePolicy:
    """Buys the goal product with the goal options."""

    def __init__(self, env: WebShopEnv) -> None:
        goal = env.goal
        product = env.catalog.by_asin[goal["asin"]]
        self.nav = _Navigator(goal["asin"], [goal["instruction_text"], goal["name"], product.get("query", "")])
        options = goal["goal_options"]
        self.values = [str(v) for v in (options.values() if isinstance(options, Mapping) else options)]

    def act(self, env: WebShopEnv) -> str:
        step = self.nav.act(env)
        if step is not None:
            return step
        clicks = env.admissible_actions() or []
        for value in self.values:
            if value not in env.session.options.values() and f"click[{value}]" in clicks:
                return f"click[{value}]"
        return "click[buy now]"


class RandomPolicy:
    """Search the instruction, then click at random."""

    def __init__(self, env: WebShopEnv, rng: random.Random) -> None:
        self.rng = rng

    def act(self, env: WebShopEnv) -> str:
        if env.session.has_search_bar():
            return f"search[{env.goal['instruction_text']}]"
        return self.rng.choice([a for a in env.admissible_actions() or [] if a.startswith("click[")])


def wrong_product(catalog: Catalog, goal: Mapping[str, Any], rng: random.Random, env: WebShopEnv) -> Product:
    """A findable product of another category with no noun in common with the goal name."""
    goal_nouns = set(spacy_nouns(goal["name"]))
    candidates = [p for p in catalog.products if p["category"] != goal["category"] and p.get("Title")]
    rng.shuffle(candidates)
    for p in candidates:
        if set(spacy_nouns(p["name"])) & goal_nouns:
            continue
        if p["asin"] not in env.engine.search(p["Title"])[:10]:
            continue
        info = webshop_reward(p, goal, catalog.prices[p["asin"]], {})
        if info.reward == 0.0:
            return p
    raise RuntimeError(f"no wrong product found for goal {goal['asin']}")


class WrongPolicy:
    """Buys a product of the wrong type (reward 0)."""

    def __init__(self, env: WebShopEnv, rng: random.Random) -> None:
        p = wrong_product(env.catalog, env.goal, rng, env)
        self.nav = _Navigator(p["asin"], [p["Title"]])

    def act(self, env: WebShopEnv) -> str:
        return self.nav.act(env) or "click[buy now]"


_NAV_CLICKS = ("click[back to search]", "click[next >]", "click[< prev]")


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Any) -> str:
    """A stateless scripted shopper for the shared contract check: search the task, open the
    first result, buy it (3 steps)."""
    adm = list(admissible or [])
    if any(a.startswith("search[") for a in adm):
        return _say(f"search[{info['task']}]")
    if "click[buy now]" in adm:
        return _say("click[buy now]")
    products = [a for a in adm if a not in _NAV_CLICKS]
    return _say(products[0] if products else "click[back to search]")


def play(
    policy: str = "oracle",
    games: int = 200,
    data_dir: str | None = None,
    split: str | None = None,
    data: str | None = None,
    workers: int = 0,
    seed: int = 0,
    progress: bool = True,
    max_steps: int = 30,
) -> dict[str, Any]:
    """Play ``games`` goals (seeds ``seed .. seed+games-1`` of ``split``, default ``test``).

    ``data`` and ``workers`` are accepted for the CLI's common signature and unused: the run is
    in-process. Returns ``{"policy", "split", "games", "mean_reward", "won", "by_type":
    {category: [won, total]}, "mean_steps", "mean_step_ms"}`` (``mean_step_ms``: wall time of
    ``env.step`` per call, reward included).

    Raises:
        ValueError: unknown policy or split.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown WebShop policy {policy!r}; choose one of {', '.join(POLICIES)}")
    env = WebShopEnv(data_dir=data_dir, split=split or "test")
    rng = random.Random(seed)
    makers: dict[str, Callable[[WebShopEnv], Any]] = {
        "oracle": OraclePolicy,
        "random": lambda e: RandomPolicy(e, rng),
        "wrong": lambda e: WrongPolicy(e, rng),
    }
    total_reward, won, steps, step_seconds = 0.0, 0, 0, 0.0
    by_type: dict[str, list[int]] = {}
    iterator: Any = range(seed, seed + games)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=f"webshop {policy}", unit="game")
    for game_seed in iterator:
        _, info = env.reset(seed=game_seed)
        actor = makers[policy](env)
        reward, game_won = 0.0, False
        for _ in range(max_steps):
            action = actor.act(env)
            start = time.perf_counter()
            _, r, done, step_info = env.step(_say(action))
            step_seconds += time.perf_counter() - start
            steps += 1
            if not step_info.is_action_valid:
                log.warning("scripted %s action %r was invalid", policy, action)
            if done:
                reward, game_won = float(r), step_info.won
                break
        total_reward += reward
        won += int(game_won)
        entry = by_type.setdefault(info.task_type, [0, 0])
        entry[0] += int(game_won)
        entry[1] += 1
    env.close()
    return {
        "policy": policy,
        "split": env.split,
        "games": games,
        "mean_reward": total_reward / games if games else 0.0,
        "won": won,
        "by_type": dict(sorted(by_type.items())),
        "mean_steps": steps / games if games else 0.0,
        "mean_step_ms": 1000 * step_seconds / steps if steps else 0.0,
    }


_GOAL_KEYS = ("asin", "category", "query", "name", "product_category", "instruction_text", "attributes", "price_upper", "goal_options")
_CASE_KEYS = ("goal", "purchased_asin", "selected_options", "price")


def _check_case(i: int, case: Any, catalog: Catalog) -> None:
    if not isinstance(case, dict):
        raise ValueError(f"case {i} is not an object")
    missing = [k for k in _CASE_KEYS if k not in case]
    if missing:
        raise ValueError(f"case {i} misses key(s): {', '.join(missing)}")
    goal = case["goal"]
    if not isinstance(goal, dict):
        raise ValueError(f"case {i}: goal is not an object")
    missing = [k for k in _GOAL_KEYS if k not in goal]
    if missing:
        raise ValueError(f"case {i}: goal misses key(s): {', '.join(missing)}")
    if not isinstance(goal["attributes"], list) or not goal["attributes"]:
        raise ValueError(f"case {i}: goal attributes must be a non-empty list")
    if not isinstance(goal["goal_options"], (dict, list)):
        raise ValueError(f"case {i}: goal_options must be an object or a list")
    if not isinstance(goal["price_upper"], (int, float)) or isinstance(goal["price_upper"], bool):
        raise ValueError(f"case {i}: goal price_upper must be a number")
    if case["purchased_asin"] not in catalog.by_asin:
        raise ValueError(f"case {i}: unknown purchased_asin {case['purchased_asin']!r} (not in the catalogue)")
    if not isinstance(case["selected_options"], dict):
        raise ValueError(f"case {i}: selected_options must be an object {{name: value}}")
    if not isinstance(case["price"], (int, float)) or isinstance(case["price"], bool):
        raise ValueError(f"case {i}: price must be a number")


def score(cases_path: str | Path, data_dir: str | None = None) -> dict[str, Any]:
    """Score purchases: ``{"cases": [{goal, purchased_asin, selected_options, price}]}``.

    Returns ``{"rewards": [{reward, r_type, r_att, r_option, r_price, w_att, w_option, w_price,
    query_match, category_match, title_score, num_attr_matches, num_option_matches}, ...]}`` in
    case order (``r_option``/``w_option`` are ``None`` for goals without options).

    Raises:
        FileNotFoundError: no such file.
        ValueError: bad JSON, missing keys, wrong types or an unknown ASIN (message says which).
    """
    path = Path(cases_path)
    if not path.is_file():
        raise FileNotFoundError(f"cases file {str(path)!r} not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise ValueError(f'{path} must hold {{"cases": [...]}}')
    catalog = load_catalog(data_dir)
    for i, case in enumerate(doc["cases"]):
        _check_case(i, case, catalog)
    rewards = []
    for case in doc["cases"]:
        info = webshop_reward(
            catalog.by_asin[case["purchased_asin"]],
            case["goal"],
            price=float(case["price"]),
            options={str(k): str(v) for k, v in case["selected_options"].items()},
        )
        rewards.append(info.to_dict())
    return {"rewards": rewards}
