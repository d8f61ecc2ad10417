"""One evolution cycle on 64 failed episodes: wall time of the hook with the heuristic distiller
(lexical and MiniLM de-duplication) and with an LLM distiller behind a local OpenAI-protocol
server (the server's answer time is excluded: only our side — prompt building, parsing,
validation, planning, applying — is counted).

The episodes are synthetic ALFWorld-shaped failures of four kinds (skipped heating, wrong object,
two-place loop, invalid actions) over one task type, on the original SkillRL ALFWorld bank when
the fixtures are present (else the project's bank). Prints one line per variant; last line
``BENCH evolution_cycle_heuristic_ms=<median ms>``.

    python bench/evolution_cycle.py [--repeats 5] [--episodes 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake server lives with the tests (support/)

from skillrl.agent.episode import Episode, Generation, Step  # noqa: E402
from skillrl.distill import DistillingEvolutionHook, EvolutionSettings, LLMConfig, build_distiller  # noqa: E402
from skillrl.skills import SkillBank  # noqa: E402

BANKS = [Path("/work/shared/fixtures/original_skillrl/memory_data/alfworld/claude_style_skills.json"),
         ROOT / "memory_data/alfworld/skills.json"]


def make_episode(i: int) -> dict:
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


def report(n: int):
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Report:
        step: int
        success_by_type: dict
        failures_by_type: dict
        successes_by_type: dict = field(default_factory=dict)

    return Report(step=1, success_by_type={"heat": [0, n]}, failures_by_type={"heat": [make_episode(i) for i in range(n)]})


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--episodes", type=int, default=64)
    args = ap.parse_args()
    rep = report(args.episodes)
    settings = dict(evolution_source="validation", max_failures_per_type=args.episodes)

    lex = EvolutionSettings(dedup_model="lexical", **settings)
    ms_lex, ops = time_cycle(lambda: DistillingEvolutionHook(bank(), env_name="alfworld", settings=lex), rep, args.repeats)
    print(f"heuristic, lexical dedup: {ms_lex:.1f} ms per cycle ({args.episodes} failed episodes, {ops} ops applied)")

    emb = EvolutionSettings(dedup_model="auto", **settings)
    sim = emb.similarity()
    warm = DistillingEvolutionHook(bank(), env_name="alfworld", settings=emb, similarity=sim)
    warm.on_validation(rep)  # load the model once
    ms_emb, ops = time_cycle(lambda: DistillingEvolutionHook(bank(), env_name="alfworld", settings=emb, similarity=sim),
                             rep, args.repeats)
    print(f"heuristic, {type(sim).__name__} dedup (model loaded): {ms_emb:.1f} ms per cycle ({ops} ops applied)")

    from support.openai_server import FakeOpenAIServer, Reply

    reply = json.dumps({"task_specific_skills": {"heat": [{"title": "Heat before placing", "principle":
                        "Heat the egg with the microwave before the final put.", "when_to_apply": "heat tasks"}]},
                        "common_mistakes": [{"description": "Placing without heating.", "why_it_happens": "haste",
                                             "how_to_avoid": "Heat first."}]})
    with FakeOpenAIServer(default=Reply(reply)) as srv:
        llm = EvolutionSettings(dedup_model="lexical", distiller="openai", **settings)

        def make_llm():
            d = build_distiller("openai", LLMConfig(model="fake", base_url=srv.base_url))
            return DistillingEvolutionHook(bank(), env_name="alfworld", settings=llm, distiller=d)

        totals, llm_ms = [], []
        for _ in range(args.repeats):
            hook = make_llm()
            t0 = time.perf_counter()
            hook.on_validation(rep)
            totals.append((time.perf_counter() - t0) * 1000)
            llm_ms.append(sum(c.latency_s for c in hook.distiller.client.calls) * 1000)
        ours = statistics.median(t - c for t, c in zip(totals, llm_ms))
        print(f"LLM distiller via the local endpoint: {statistics.median(totals):.1f} ms per cycle, "
              f"{ours:.1f} ms excluding the LLM call")
    print(f"BENCH evolution_cycle_heuristic_ms={ms_lex:.1f}")


if __name__ == "__main__":
    main()
