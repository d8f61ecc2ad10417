"""The pieces of ``bench/context_efficiency.py`` on the toy env (the bench itself plays ALFWorld
and WebShop; its figures are in the README)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from agent_system.environments.base import get_env_spec
from agent_system.environments.toy import oracle_policy

BENCH = Path(__file__).resolve().parents[2] / "bench" / "context_efficiency.py"


def _bench():
    spec = importlib.util.spec_from_file_location("context_efficiency_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _toy_actor(env):
    def act(info, admissible):
        return re.sub(r"</?action>", "", oracle_policy("", info, list(admissible)))

    return act


def test_raw_memory_prompts_on_toy_games() -> None:
    bench = _bench()
    spec = get_env_spec("toy")
    episodes = bench.play_games(spec, _toy_actor, {}, games=6, max_steps=4, history_length=2, progress=False)
    assert len(episodes) == 6 and all(ep.won and len(ep.contexts) == 2 for ep in episodes)
    assert episodes[0].contexts[1].history[0][1].startswith("go to ")  # the agent loop's history shape
    near = bench.nearest_other_games(episodes, 2, "lexical")
    for i, js in enumerate(near):
        assert len(js) == 2 and all(episodes[j].game_id != episodes[i].game_id for j in js)
    block = bench.raw_memory_block([episodes[j] for j in near[0]])
    assert block.count("### Episode") == 2 and episodes[near[0][0]].task in block and "Outcome: success" in block
    words = lambda text: len(text.split())  # noqa: E731 - a stand-in counter for the arithmetic
    res = bench.measure(spec, episodes, near, lambda task, task_type: "## Skills\n- go first", words)
    assert res.turns == 12 and res.won == 6
    assert res.prompt_none < res.prompt_skills < res.prompt_raw
    assert res.skill_block == 5 and res.raw_block > res.skill_block
    assert abs(res.ratio - res.prompt_skills / res.prompt_raw) < 1e-12


def test_lexical_similarity_and_tokenizer() -> None:
    bench = _bench()
    assert bench.lexical_similarity("put a hot apple in fridge", "put a hot egg in fridge") > \
        bench.lexical_similarity("put a hot apple in fridge", "look at bowl under the desklamp")
    count, desc = bench.load_counter(None)
    assert "MiniLM" in desc
    assert count("hello world " * 200) == 400  # no 128-token truncation
