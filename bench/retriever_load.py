"""The retrieval server under a bounded, mixed load: latency, peak memory, and what over-limit costs.

Starts ``skillrl retriever serve`` (BM25 over the 1k-passage wiki-18 sample, default limits) in a
subprocess on 127.0.0.1, then:

1. *over-limit alone*: ``--huge`` sequential 1.2 MB bodies of 50,000 queries with ``topk`` 100
   (the request that once built a 3.3 GB reply) — their latency and the server's RSS before/after;
2. *mixed load*: ``--requests`` requests (default 1,000) at concurrency ``--concurrency`` (32),
   mostly valid (single queries, batches of 32), some over a limit (too many queries, topk too
   large, a query too long, a 1.2 MB body, invalid JSON). Every answer is checked (valid → 200
   with one row per query, over-limit → 413/422); a wrong answer makes the script exit 1.

The server's RSS is sampled from ``/proc/PID/status`` every 5 ms (peak) and its ``VmHWM`` read at
the end. Prints one line per request kind, the memory figures and, last,
``BENCH retriever_p99_ms=<p99 latency of the mixed load>``.

    python bench/retriever_load.py [--requests 1000] [--concurrency 32] [--huge 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retriever import start_server, stop, wait_ready  # noqa: E402  (bench/retriever.py)

from agent_system.environments.search.data import default_corpus, load_qa, resolve_qa_file  # noqa: E402
from agent_system.environments.search.server import ServerLimits, free_port  # noqa: E402

LIMITS = ServerLimits()  # the server runs with the defaults


@dataclass(frozen=True)
class Probe:
    """One request of the load: its kind, body and the statuses that are a right answer."""

    kind: str
    body: bytes
    expect: tuple[int, ...]
    rows: int = 0
    """Result rows a 200 must carry."""


def huge_body() -> bytes:
    """The issue's request: 50,000 queries, topk 100, about 1.2 MB."""
    return json.dumps({"queries": [f"who wrote book {i}" for i in range(50_000)], "topk": 100}).encode()


def make_probes(questions: list[str], n: int, seed: int) -> list[Probe]:
    rng = random.Random(seed)
    huge = huge_body()
    kinds = [
        ("single", 0.62), ("batch32", 0.20), ("too_many_queries", 0.04), ("topk_over", 0.04),
        ("query_too_long", 0.04), ("body_too_large", 0.04), ("bad_json", 0.02),
    ]
    names, weights = zip(*kinds)
    probes = []
    for _ in range(n):
        kind = rng.choices(names, weights)[0]
        if kind == "single":
            q = rng.choice(questions)
            probes.append(Probe(kind, json.dumps({"query": q, "topk": 3, "return_scores": True}).encode(), (200,), 1))
        elif kind == "batch32":
            qs = rng.sample(questions, 32)
            probes.append(Probe(kind, json.dumps({"queries": qs, "topk": 5}).encode(), (200,), 32))
        elif kind == "too_many_queries":
            qs = [f"q{i}" for i in range(LIMITS.max_queries + 1)]
            probes.append(Probe(kind, json.dumps({"queries": qs, "topk": 3}).encode(), (422,)))
        elif kind == "topk_over":
            probes.append(Probe(kind, json.dumps({"query": "x", "topk": LIMITS.max_topk * 100}).encode(), (422,)))
        elif kind == "query_too_long":
            probes.append(Probe(kind, json.dumps({"query": "word " * (LIMITS.max_query_chars // 4), "topk": 3}).encode(), (422,)))
        elif kind == "body_too_large":
            probes.append(Probe(kind, huge, (413,)))
        else:
            probes.append(Probe(kind, b'{"queries": ["unterminated', (400, 422)))
    return probes


class RssSampler:
    """Samples ``VmRSS`` of a process every ``interval`` seconds in a thread (peak kept)."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, self.status("VmRSS"))
            except OSError:
                return
            time.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def send(client: httpx.AsyncClient, url: str, probe: Probe) -> tuple[float, int, str]:
    """(latency s, status, problem or '') for one probe."""
    t0 = time.perf_counter()
    try:
        response = await client.post(url, content=probe.body, headers={"content-type": "application/json"})
        body = await response.aread()
    except httpx.HTTPError as exc:
        return time.perf_counter() - t0, 0, f"{type(exc).__name__}: {exc}"
    latency = time.perf_counter() - t0
    if response.status_code not in probe.expect:
        return latency, response.status_code, f"expected {probe.expect}, got {response.status_code}: {body[:200]!r}"
    if response.status_code == 200:
        rows = len(json.loads(body)["result"])
        if rows != probe.rows:
            return latency, 200, f"expected {probe.rows} rows, got {rows}"
    elif "detail" not in json.loads(body):
        return latency, response.status_code, "error reply without 'detail'"
    return latency, response.status_code, ""


async def run_load(url: str, probes: list[Probe], concurrency: int) -> list[tuple[Probe, float, int, str]]:
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, trust_env=False, limits=limits) as client:

        async def one(probe: Probe) -> tuple[Probe, float, int, str]:
            async with semaphore:
                return (probe, *await send(client, url, probe))

        return await asyncio.gather(*(one(p) for p in probes))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--huge", type=int, default=20, help="sequential 1.2 MB over-limit requests first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    args = parser.parse_args()

    corpus = args.corpus or default_corpus()
    if corpus is None:
        sys.exit("no corpus found (the search data dir's corpus/wiki18_sample_1k.jsonl); pass --corpus")
    questions = [row.question for row in load_qa(resolve_qa_file(split="nq_test"))][:2000]
    probes = make_probes(questions, args.requests, args.seed)

    port = free_port()
    proc = start_server(corpus, "bm25", port)
    try:
        ready_s = wait_ready(proc, port, args.ready_timeout)
        url = f"http://127.0.0.1:{port}/retrieve"
        sampler = RssSampler(proc.pid)
        httpx.post(url, json={"queries": questions[:64], "topk": 5}, trust_env=False, timeout=60).raise_for_status()  # warm-up
        print(f"server ready in {ready_s:.1f} s (pid {proc.pid}); limits {LIMITS}")

        # 1. over-limit alone
        body = huge_body()
        rss0 = sampler.status("VmRSS")
        lat = []
        with httpx.Client(timeout=60, trust_env=False) as client:
            for _ in range(args.huge):
                t0 = time.perf_counter()
                response = client.post(url, content=body, headers={"content-type": "application/json"})
                lat.append(time.perf_counter() - t0)
                if response.status_code != 413:
                    print(f"FAIL: a {len(body)}-byte body got HTTP {response.status_code}")
                    return 1
        rss1 = sampler.status("VmRSS")
        print(f"over-limit: {args.huge} x {len(body) / 1e6:.2f} MB bodies of 50,000 queries -> 413, "
              f"p50 {1000 * statistics.median(lat):.1f} ms (client send included), server RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB")

        # 2. mixed load
        with sampler:
            t0 = time.perf_counter()
            results = asyncio.run(run_load(url, probes, args.concurrency))
            wall = time.perf_counter() - t0
        hwm = sampler.status("VmHWM")
        rss_end = sampler.status("VmRSS")
    finally:
        stop(proc)

    by_kind: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    problems = [(p.kind, problem) for p, _, _, problem in results if problem]
    for probe, latency, status, _ in results:
        by_kind[probe.kind].append(latency)
        statuses[probe.kind][status] += 1
    for kind, values in sorted(by_kind.items()):
        print(f"{kind:>17}: n={len(values):4d}  p50 {1000 * pct(values, 0.5):7.1f} ms  p99 {1000 * pct(values, 0.99):7.1f} ms  "
              f"status {dict(statuses[kind])}")
    everything = [latency for _, latency, _, _ in results]
    p50, p99 = 1000 * pct(everything, 0.5), 1000 * pct(everything, 0.99)
    print(f"mixed load: {len(results)} requests at concurrency {args.concurrency} in {wall:.1f} s "
          f"({len(results) / wall:.0f} req/s); p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"server RSS: {rss1 / 1024:.1f} MiB before the load, peak {sampler.peak_kb / 1024:.1f} MiB during it "
          f"(+{(sampler.peak_kb - rss1) / 1024:.1f} MiB), {rss_end / 1024:.1f} MiB after; VmHWM {hwm / 1024:.1f} MiB")
    if problems:
        for kind, problem in problems[:10]:
            print(f"FAIL {kind}: {problem}")
        print(f"{len(problems)} wrong answer(s)")
        return 1
    print(f"BENCH retriever_p99_ms={p99:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
