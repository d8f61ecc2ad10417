"""WebShop speed and scripted-policy rewards on the 1k catalogue.

Prints catalogue/index build times, search latency, reward latency, and the oracle / wrong /
random results over GAMES test goals, played through the eval play path (``skillrl eval``: the
shared agent loop, prompts built every turn). Last line: ``BENCH webshop_step_ms=<oracle ms per
turn>`` (wall time of a turn in the agent loop: prompt, projection, env step and reward).

    python bench/webshop_play.py [GAMES]
"""

from __future__ import annotations

import sys
import time

from agent_system.environments.webshop.catalog import build_catalog, load_catalog
from agent_system.environments import get_env_spec
from agent_system.environments.webshop.reward import spacy_nouns, webshop_reward
from agent_system.environments.webshop.search import ProductSearch
from skillrl.eval import PlaySettings, SkillSettings, evaluate
from skillrl.policies import load_policy
from skillrl.utils.paths import resolve_data_dir


def main(games: int = 200) -> None:
    start = time.perf_counter()
    catalog = build_catalog(resolve_data_dir("webshop"))
    print(f"catalogue: {len(catalog.products)} products, {len(catalog.goals)} goals in {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    engine = ProductSearch(catalog.products)
    print(f"bm25 index: {time.perf_counter() - start:.2f} s")
    goals = catalog.goals[:200]
    start = time.perf_counter()
    for g in goals:
        engine.search(g["instruction_text"])
    print(f"search: {1000 * (time.perf_counter() - start) / len(goals):.2f} ms/query")
    load_catalog()
    spacy_nouns("warm up")
    start = time.perf_counter()
    for g in goals:
        webshop_reward(catalog.by_asin[g["asin"]], g, catalog.prices[g["asin"]], dict(g["goal_options"]))
    print(f"reward: {1000 * (time.perf_counter() - start) / len(goals):.2f} ms/purchase (spaCy cached per title)")
    spec = get_env_spec("webshop")
    step_ms = {}
    for policy in ("oracle", "wrong", "random"):
        r = evaluate(spec, load_policy(spec, policy), PlaySettings(games=games, progress=False), SkillSettings())
        s, eps = r["summary"], r["episodes"]
        step_ms[policy] = 1000 * sum(e["wall_s"] for e in eps) / max(1, sum(e["turns"] for e in eps))
        by_type = {t: [v["won"], v["total"]] for t, v in s["by_type"].items()}
        print(f"{policy:>6}: games={s['episodes']} mean_reward={s['mean_reward']:.4f} won={s['won']} "
              f"mean_turns={s['mean_turns']:.2f} ms_per_turn={step_ms[policy]:.2f} by_type={by_type}")
    print(f"BENCH webshop_step_ms={step_ms['oracle']:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
