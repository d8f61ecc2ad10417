"""Scoring given WebShop purchases without playing (``skillrl env score webshop``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_system.environments.webshop.catalog import Catalog, load_catalog
from agent_system.environments.webshop.reward import webshop_reward

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
