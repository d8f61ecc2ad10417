"""The WebShop catalogue: products, prices and goals, built with the original WebShop rules.

Input (a data directory, see :func:`skillrl.utils.paths.resolve_data_dir`):

- ``products_1k.json`` (or any ``products*.json``): products in the engine's *processed* form
  (``asin, name, Title, Description, BulletPoints, Price, pricing, options, Attributes, category,
  product_category, query, Rating, Reviews``; ``instructions`` for human goals);
- ``items_ins_v2_1000.json`` (or ``items_ins_v2*.json``): ``{asin: {attributes, instruction?,
  instruction_attributes?}}``.

Rules carried over from ``web_agent_site/engine/{engine,goal}.py``:

- price of a product: ``pricing`` empty -> 100.0, one value -> it, a range -> uniform in the
  first two values;
- synthetic goals: one per combination of option values (option names sorted) of each product
  with an ``instruction``; text ``"{instruction} with {name}: {value}, and ...{price text}"``;
  ``price_upper``: two of the (up to four) multiples of 10 above the price, the larger one
  (``1000000`` and no price text when fewer than two exist); ``attributes`` are the
  ``instruction_attributes``; ``name`` is the product ``Title``; ``weight`` is the mean over the
  goal's attributes of ``1 / (number of goals with that attribute)``;
- human goals: one per ``instructions`` entry with attributes, ``goal_options`` the
  ``instruction_options`` list, ``weight`` 1;
- goals are then shuffled with seed 233.

Difference: the reference draws prices and ``price_upper`` from the unseeded global RNG, so its
goal list changes from run to run. Here one ``random.Random(233)`` draws prices, then price
bounds, then shuffles: the goal list is the same on every run (6,910 synthetic goals from the
1k files). Splits follow verl-agent: ``test`` = the first 500 shuffled goals, ``train`` = the
rest, ``all`` = every goal.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

log = logging.getLogger(__name__)

PRICE_RANGE = [10.0 * i for i in range(1, 100)]
GOAL_SHUFFLE_SEED = 233
TEST_GOALS = 500
SPLITS = ("test", "train", "all")
GOAL_KINDS = ("synthetic", "human")

Product = dict[str, Any]
Goal = dict[str, Any]


@dataclass(frozen=True, eq=False)
class Catalog:
    """Everything the shop needs, loaded once per data directory and goal kind (hashed by identity)."""

    data_dir: Path
    products: tuple[Product, ...]
    """Products in file order (the search index's document order)."""
    by_asin: Mapping[str, Product]
    prices: Mapping[str, float]
    """The price the shop charges for each product (drawn once, see module docstring)."""
    goals: tuple[Goal, ...]
    """All goals, shuffled; a goal's index here is its ``game_id``."""

    def split_indices(self, split: str) -> range:
        """Indices into :attr:`goals` of a split (``test``, ``train`` or ``all``)."""
        if split == "test":
            return range(min(TEST_GOALS, len(self.goals)))
        if split == "train":
            return range(min(TEST_GOALS, len(self.goals)), len(self.goals))
        if split == "all":
            return range(len(self.goals))
        raise ValueError(f"unknown WebShop split {split!r}; choose one of {', '.join(SPLITS)}")


def _find_file(data_dir: Path, preferred: str, pattern: str) -> Path:
    path = data_dir / preferred
    if path.is_file():
        return path
    found = sorted(data_dir.glob(pattern))
    if found:
        return found[0]
    raise DataNotFoundError(
        f"no {preferred} (or {pattern}) in the WebShop data directory {str(data_dir)!r}"
    )


def product_prices(products: Sequence[Product], rng: random.Random) -> dict[str, float]:
    """The reference's ``generate_product_prices`` with an explicit RNG."""
    prices: dict[str, float] = {}
    for product in products:
        pricing = product.get("pricing") or []
        if not pricing:
            price = 100.0
        elif len(pricing) == 1:
            price = float(pricing[0])
        else:
            price = rng.uniform(*pricing[:2])
        prices[product["asin"]] = price
    return prices


def _price_bound(price: float, rng: random.Random) -> tuple[float, str]:
    price_range = [p for p in PRICE_RANGE if p > price][:4]
    if len(price_range) >= 2:
        _, upper = sorted(rng.sample(price_range, 2))
        return upper, f", and price lower than {upper:.2f} dollars"
    return 1000000, ""


def synthetic_goals(
    products: Sequence[Product], instructions: Mapping[str, Mapping[str, Any]], prices: Mapping[str, float], rng: random.Random
) -> list[Goal]:
    """The reference's ``get_synthetic_goals`` (instructions from ``items_ins_v2``)."""
    goals: list[Goal] = []
    att_counts: dict[str, int] = defaultdict(int)
    for product in products:
        ins = instructions.get(product["asin"], {})
        instruction = ins.get("instruction")
        if instruction is None:
            continue
        attributes = list(ins.get("instruction_attributes") or [])
        if not attributes:
            raise ValueError(f"product {product['asin']} has an instruction but no instruction_attributes")
        price_upper, price_text = _price_bound(prices[product["asin"]], rng)
        options = product.get("options") or {}
        names = sorted(options)
        for combination in itertools.product(*(options[n] for n in names)):
            goal_options = dict(zip(names, combination))
            option_text = ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            option_text = " with " + option_text if option_text else ""
            goals.append(
                {
                    "asin": product["asin"],
                    "category": product["category"],
                    "query": product["query"],
                    "name": product["Title"],
                    "product_category": product["product_category"],
                    "instruction_text": f"{instruction}{option_text}{price_text}",
                    "attributes": attributes,
                    "price_upper": price_upper,
                    "goal_options": goal_options,
                }
            )
            for att in attributes:
                att_counts[att] += 1
    for goal in goals:
        goal["weight"] = sum(1.0 / att_counts[a] for a in goal["attributes"]) / len(goal["attributes"])
    return goals


def human_goals(products: Sequence[Product], prices: Mapping[str, float], rng: random.Random) -> list[Goal]:
    """The reference's ``get_human_goals`` (from the products' ``instructions``)."""
    goals: list[Goal] = []
    for product in products:
        for ins in product.get("instructions") or []:
            attributes = list(ins.get("instruction_attributes") or [])
            if not attributes:
                continue
            price_upper, price_text = _price_bound(prices[product["asin"]], rng)
            goals.append(
                {
                    "asin": product["asin"],
                    "category": product["category"],
                    "query": product["query"],
                    "name": product["name"],
                    "product_category": product["product_category"],
                    "instruction_text": ins["instruction"].strip(".") + price_text,
                    "attributes": attributes,
                    "price_upper": price_upper,
                    "goal_options": list(ins.get("instruction_options") or []),
                    "weight": 1,
                }
            )
    return goals


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc


def build_catalog(data_dir: Path, goals: str = "synthetic", seed: int = GOAL_SHUFFLE_SEED) -> Catalog:
    """Load products and instructions from ``data_dir`` and build prices and goals."""
    if goals not in GOAL_KINDS:
        raise ValueError(f"unknown WebShop goal kind {goals!r}; choose one of {', '.join(GOAL_KINDS)}")
    products_path = _find_file(data_dir, "products_1k.json", "products*.json")
    products: list[Product] = []
    seen: set[str] = set()
    for p in _read_json(products_path):
        asin = p.get("asin")
        if not asin or asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        products.append(p)
    rng = random.Random(seed)
    prices = product_prices(products, rng)
    if goals == "synthetic":
        ins_path = _find_file(data_dir, "items_ins_v2_1000.json", "items_ins_v2*.json")
        goal_list = synthetic_goals(products, _read_json(ins_path), prices, rng)
    else:
        goal_list = human_goals(products, prices, rng)
    rng.shuffle(goal_list)
    log.info("WebShop: %d products, %d %s goals from %s", len(products), len(goal_list), goals, data_dir)
    return Catalog(
        data_dir=data_dir,
        products=tuple(products),
        by_asin={p["asin"]: p for p in products},
        prices=prices,
        goals=tuple(goal_list),
    )


@functools.lru_cache(maxsize=4)
def _cached_catalog(data_dir: str, goals: str) -> Catalog:
    return build_catalog(Path(data_dir), goals)


def load_catalog(data_dir: str | Path | None = None, goals: str = "synthetic") -> Catalog:
    """The catalogue of ``data_dir`` (resolved like every dataset), cached per process.

    Raises:
        DataNotFoundError: no data directory or a required file is missing.
        ValueError: unknown goal kind or unreadable JSON.
    """
    resolved = resolve_data_dir("webshop", data_dir)
    return _cached_catalog(str(resolved.resolve()), goals)
