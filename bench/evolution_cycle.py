"""One evolution cycle on 64 failed episodes: wall time of the hook with the heuristic distiller
(lexical and MiniLM de-duplication) and with an LLM distiller behind a local OpenAI-protocol
server (the server's answer time is excluded: only our side — prompt building, parsing,
validation, planning, applying — is counted), compared with one training step.

The episodes are REAL failures when the ALFWorld data is present: ``--games`` games of
``--split`` played by a uniformly random admissible policy (``--random-steps`` turns; random play
fails almost always), recorded once and cached under ``$SKILLRL_CACHE/bench`` (or read from
``--episodes-file``, any episode JSONL). Without the data, synthetic ALFWorld-shaped failures of
four kinds over one task type. The bank is the original SkillRL ALFWorld bank when the fixtures
are present (else the project's). ``--train-metrics`` takes the ``metrics.jsonl`` of a
``skillrl train --local`` run and prints the cycle as a share of its median ``time/step_s``.

Prints one line per variant; last line ``BENCH evolution_cycle_heuristic_ms=<median ms>``.

    python bench/evolution_cycle.py [--repeats 5] [--episodes 64] [--train-metrics OUT/metrics.jsonl]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake server lives with the tests (support/)

from skillrl.agent.episode import Episode, Generation, Step  # noqa: E402
from skillrl.distill import (  # noqa: E402
    DistillingEvolutionHook,
    EvolutionSettings,
    LLMConfig,
    Trajectory,
    build_distiller,
    dedup_similarity,
    read_episodes,
    write_episodes,
)
from skillrl.skills import SkillBank  # noqa: E402

BANKS = [Path("/work/shared/fixtures/original_skillrl/memory_data/alfworld/claude_style_skills.json"),
         ROOT / "memory_data/alfworld/skills.json"]


@dataclass(frozen=True)
class Report:
    step: int
    success_by_type: dict
    failures_by_type: dict
    successes_by_type: dict = field(default_factory=dict)


def synthetic_episode(i: int) -> dict:
    kind = i % 4
    goal = "heat some egg and put it in countertop."
    acts = {
        0: ["go to fridge 1", "open fridge 1", "take egg 1 from fridge 1", "go to countertop 1", "move egg 1 to countertop 1"],
        1: ["go to fridge 1", "take apple 1 from fridge 1", "go to microwave 1", "heat apple 1 with microwave 1"],
        2: ["go to fridge 1", "go to cabinet 1", "go to fridge 1", "go to cabinet 1", "go to fridge 1"],
        3: ["grab egg", "go to fridge 1", "heat the egg"],
    }[kind]
    steps = [Step(turn=t, prompt="", generation=Generation(text=a), action=a, is_action_valid=not (kind == 3 and t != 1),
                  observation="Nothing happens." if kind == 3 and t != 1 else f"obs {t}", reward=0.0, done=False)
             for t, a in enumerate(acts)]
    ep = Episode(env_name="alfworld", game_id=f"g{i}", task=goal, task_type="heat", seed=i, steps=steps,
                 skill_ids=("gen_001", "hea_001"))
    return {**ep.summary(), "transcript": ep.transcript()}


def real_failures(args: argparse.Namespace) -> list[Trajectory] | None:
    """Random-policy ALFWorld failures (cached), or None without the data."""
    if args.episodes_file:
        return [t for t in read_episodes(args.episodes_file) if not t.won][: args.episodes]
    from skillrl.utils.paths import DataNotFoundError, cache_dir

    cached = cache_dir("bench") / f"alfworld_random_{args.split}_{args.games}g_{args.random_steps}s.jsonl"
    if not cached.is_file():
        try:
            from agent_system.environments.base import get_env_spec

            env = get_env_spec("alfworld").make(split=args.split)
        except (DataNotFoundError, ImportError) as exc:
            print(f"(no ALFWorld data: {exc}; synthetic episodes)")
            return None
        spec = importlib.util.spec_from_file_location("example_episodes", ROOT / "skill_generation" / "example_episodes.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        from tqdm.auto import tqdm

        eps = []
        try:
            for seed in tqdm(range(args.games), desc="random-policy episodes"):
                eps.append(mod.record_episode(env, seed, "random", args.random_steps))
        finally:
            env.close()
        write_episodes(cached, eps)
    fails = [t for t in read_episodes(cached) if not t.won]
    return fails[: args.episodes]


def make_report(episodes: list) -> Report:
    by_type: dict[str, list] = {}
    for ep in episodes:
        t = ep.task_type if isinstance(ep, Trajectory) else ep["task_type"]
        by_type.setdefault(t, []).append(ep.to_dict() if isinstance(ep, Trajectory) else ep)
    return Report(step=1, success_by_type={t: [0, len(v)] for t, v in by_type.items()}, failures_by_type=by_type)


def bank() -> SkillBank:
    path = next(p for p in BANKS if p.exists())
    return SkillBank.from_dict(json.loads(path.read_text()))


def time_cycle(make_hook, rep, repeats: int) -> tuple[float, int]:
    times, ops = [], 0
    for _ in range(repeats):
        hook = make_hook()
        t0 = time.perf_counter()
        hook.on_validation(rep)
        times.append((time.perf_counter() - t0) * 1000)
        ops = len(hook.last_outcome.applied)
        assert hook.last_outcome.error is None, hook.last_outcome.error
    return statistics.median(times), ops


def step_seconds(path: str) -> float | None:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    steps = [r["time/step_s"] for r in rows if "time/step_s" in r]
    return statistics.median(steps) if steps else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=64, help="Failed episodes in the cycle.")
    ap.add_argument("--games", type=int, default=72, help="Random-policy games to record (some may be won).")
    ap.add_argument("--split", default="valid_seen")
    ap.add_argument("--random-steps", type=int, default=20)
    ap.add_argument("--episodes-file", default=None, help="Episode JSONL to take the failures from instead.")
    ap.add_argument("--synthetic", action="store_true", help="Use the synthetic episodes even with the data.")
    ap.add_argument("--train-metrics", default=None, help="metrics.jsonl of a local run: compare with its steps.")
    args = ap.parse_args()
    real = None if args.synthetic else real_failures(args)
    episodes = real if real else [synthetic_episode(i) for i in range(args.episodes)]
    rep = make_report(episodes)
    kinds = ", ".join(f"{t}={len(v)}" for t, v in sorted(rep.failures_by_type.items()))
    print(f"{len(episodes)} failed episodes ({'random-policy ALFWorld' if real else 'synthetic'}): {kinds}")
    settings = dict(evolution_source="validation", max_failures_per_type=args.episodes)

    lex = EvolutionSettings(dedup_model="lexical", **settings)
    ms_lex, ops = time_cycle(lambda: DistillingEvolutionHook(bank(), env_name="alfworld", settings=lex), rep, args.repeats)
    print(f"heuristic, lexical dedup: {ms_lex:.1f} ms per cycle ({ops} ops applied)")

    emb = EvolutionSettings(dedup_model="auto", **settings)
    sim = dedup_similarity(emb)
    warm = DistillingEvolutionHook(bank(), env_name="alfworld", settings=emb, similarity=sim)
    warm.on_validation(rep)  # load the model once
    ms_emb, ops = time_cycle(lambda: DistillingEvolutionHook(bank(), env_name="alfworld", settings=emb, similarity=sim),
                             rep, args.repeats)
    print(f"heuristic, {type(sim).__name__} dedup (model loaded): {ms_emb:.1f} ms per cycle ({ops} ops applied)")

    from support.openai_server import FakeOpenAIServer, Reply

    types_ = sorted(rep.failures_by_type)

    def answer(body: dict) -> Reply:
        """A well-formed evolution reply for the task type the request is about."""
        user = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
        match = re.search(r'success rate on "([^"]+)" tasks', str(user))
        t = match.group(1) if match else types_[0]
        return Reply(json.dumps({
            "task_specific_skills": {t: [{"title": f"Finish the {t} step", "principle":
                                          f"Check the {t} requirement before the final put.", "when_to_apply": f"{t} tasks"}]},
            "common_mistakes": [{"description": f"Placing the object before the {t} step.", "why_it_happens": "haste",
                                 "how_to_avoid": "Do the transformation first."}]}))

    with FakeOpenAIServer(responder=answer) as srv:
        llm = EvolutionSettings(dedup_model="lexical", distiller="openai", **settings)

        def make_llm():
            d = build_distiller("openai", LLMConfig(model="fake", base_url=srv.base_url))
            return DistillingEvolutionHook(bank(), env_name="alfworld", settings=llm, distiller=d)

        totals, llm_ms, n_calls = [], [], 0
        for _ in range(args.repeats):
            hook = make_llm()
            t0 = time.perf_counter()
            hook.on_validation(rep)
            totals.append((time.perf_counter() - t0) * 1000)
            llm_ms.append(sum(c.latency_s for c in hook.distiller.client.calls) * 1000)
            n_calls = len(hook.distiller.client.calls)
            applied = len(hook.last_outcome.applied) if hook.last_outcome is not None else 0
        ours = statistics.median(t - c for t, c in zip(totals, llm_ms))
        print(f"LLM distiller via the local endpoint: {statistics.median(totals):.1f} ms per cycle "
              f"({n_calls} calls, {applied} ops applied), {ours:.1f} ms excluding the LLM calls")
    if args.train_metrics:
        step = step_seconds(args.train_metrics)
        if step:
            print(f"one training step (median time/step_s of {args.train_metrics}): {step * 1000:.0f} ms; "
                  f"the heuristic cycle is {ms_lex / (step * 1000):.1%} of it, the LLM cycle without the LLM "
                  f"{ours / (step * 1000):.1%}")
    print(f"BENCH evolution_cycle_heuristic_ms={ms_lex:.1f}")


if __name__ == "__main__":
    main()
