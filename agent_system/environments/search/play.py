"""Scripted Search runs for ``skillrl env play search`` (no model, no server needed).

Policies (looked up in :data:`SCRIPTED_POLICIES`; the first is the default):

- ``oracle``: searches the question, then answers the first gold answer -> reward 1 every game;
- ``wrong``: searches the question, then answers a string that matches no gold -> reward 0.

Retrieval: by default an in-process BM25 index over the search corpus (``corpus``, else the
first ``corpus/*.jsonl`` next to the QA file or in the search data dir; built once, then read
from the cache). With ``retriever_url`` the running server is used instead. When no corpus can
be found the scripted policies skip the search and answer at once (``result["retriever"]`` is
``"none"``). Each episode replays the policy's outputs through ``SearchEnv.step`` (the raw-text
path, projection included). ``workers`` is accepted for CLI compatibility; games run in this
process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_system.environments.base import TextEnv
from agent_system.environments.search.client import RetrieverClient
from agent_system.environments.search.data import QARow, default_corpus, load_qa, resolve_qa_file
from agent_system.environments.search.env import SearchEnv
from agent_system.environments.search.retrievers import Retriever, build_retriever
from skillrl.utils.metrics import success_by_task_type

#: an answer that normalises to something no gold answer is
WRONG_ANSWER = "zzqx no such answer"


def _script(row: QARow, answer: str, search: bool) -> list[str]:
    outputs = [f"<think>I should look this up.</think><search>{row.question}</search>"] if search else []
    return outputs + [f"<think>I know the answer now.</think><answer>{answer}</answer>"]


#: scripted policy name -> (row, search?) -> outputs
SCRIPTED_POLICIES: Mapping[str, Callable[[QARow, bool], list[str]]] = {
    "oracle": lambda row, search: _script(row, row.golds[0], search),
    "wrong": lambda row, search: _script(row, WRONG_ANSWER, search),
}


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Any) -> str:
    """The shared contract test's policy: answer at once (no retriever needed), ending the episode."""
    return "<think>I will answer directly.</think><answer>unknown</answer>"


@dataclass
class _Played:
    """Outcome of one scripted episode."""

    task_type: str
    won: bool = False
    reward: float = 0.0
    turns: int = 0
    error: str | None = None


def _play_episode(env: TextEnv, outputs: list[str], seed: int, max_turns: int) -> _Played:
    """Reset with ``seed`` and feed ``outputs`` (the last repeats) until done or ``max_turns``.

    An env exception (e.g. a dead retriever) ends the episode with ``error`` set.
    """
    _obs, info = env.reset(seed, None)
    played = _Played(task_type=str(info.get("task_type", "")))
    for turn in range(max_turns):
        try:
            _obs, reward, done, info = env.step(outputs[min(turn, len(outputs) - 1)])
        except Exception as exc:  # infrastructure failure: counted, the run goes on
            played.error = f"{type(exc).__name__}: {exc}"
            break
        played.turns += 1
        played.reward += float(reward)
        played.won = bool(info.get("won", False))
        if done:
            break
    return played


class _TimedEnv(TextEnv):
    """Delegates to an env and records how long each ``step`` took."""

    def __init__(self, env: SearchEnv) -> None:
        self.env = env
        self.step_seconds: list[float] = []

    def reset(self, seed: int | None = None, task: str | None = None) -> tuple[str, dict[str, Any]]:
        return self.env.reset(seed, task)

    def step(self, action_text: str) -> tuple[str, float, bool, dict[str, Any]]:
        start = time.perf_counter()
        try:
            return self.env.step(action_text)
        finally:
            self.step_seconds.append(time.perf_counter() - start)

    def close(self) -> None:
        self.env.close()


def play(
    policy: str = "oracle",
    games: int = 50,
    data_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    data: str | os.PathLike[str] | None = None,
    workers: int = 0,
    seed: int = 0,
    progress: bool = True,
    *,
    corpus: str | os.PathLike[str] | None = None,
    retriever_url: str | None = None,
    topk: int = 3,
    max_turns: int = 4,
) -> dict[str, Any]:
    """Play ``games`` questions (seeds ``seed .. seed+games-1``) with a scripted policy.

    Returns ``{"games", "mean_reward", "won", "by_type": {type: [won, total]}, "mean_step_ms",
    "mean_turns", "errors", "policy", "data", "retriever"}``.

    Raises:
        ValueError: unknown policy or ``games < 1``. FileNotFoundError / DataNotFoundError: no
        QA file. RetrieverUnavailableError is *not* raised: episodes that hit a dead server are
        counted in ``errors`` (with the first message in ``first_error``).
    """
    del workers
    if policy not in SCRIPTED_POLICIES:
        raise ValueError(f"unknown search policy {policy!r}; known: {', '.join(sorted(SCRIPTED_POLICIES))}")
    if games < 1:
        raise ValueError("games must be >= 1")
    qa_file = resolve_qa_file(data, data_dir, split)
    rows = load_qa(qa_file)
    retriever: Retriever | None
    if retriever_url:
        retriever, described = RetrieverClient(retriever_url), f"server {retriever_url}"
    else:
        corpus_path = corpus or default_corpus(data_dir, near=qa_file)
        retriever = build_retriever("bm25", corpus_path) if corpus_path else None
        described = f"bm25 (in-process) over {corpus_path}" if corpus_path else "none"
    script = SCRIPTED_POLICIES[policy]
    env = _TimedEnv(SearchEnv(rows, retriever or _NoRetriever(), topk=topk, max_turns=max_turns))
    from tqdm import tqdm

    episodes: list[_Played] = []
    try:
        for game in tqdm(range(games), desc=f"search {policy}", disable=not progress, unit="game"):
            row = env.env.row_for(seed + game)
            episodes.append(_play_episode(env, script(row, retriever is not None), seed + game, max_turns))
    finally:
        env.close()
        if isinstance(retriever, RetrieverClient):
            retriever.close()
    errors = [e.error for e in episodes if e.error]
    by_type = success_by_task_type({"task_type": e.task_type, "won": e.won} for e in episodes)
    result: dict[str, Any] = {
        "games": len(episodes),
        "mean_reward": sum(e.reward for e in episodes) / len(episodes),
        "won": sum(int(e.won) for e in episodes),
        "by_type": by_type,
        "mean_step_ms": 1000 * sum(env.step_seconds) / max(1, len(env.step_seconds)),
        "mean_turns": sum(e.turns for e in episodes) / len(episodes),
        "errors": len(errors),
        "policy": policy,
        "data": str(qa_file),
        "retriever": described,
    }
    if errors:
        result["first_error"] = errors[0]
    return result


class _NoRetriever:
    """Stand-in when no corpus exists: the scripted policies then never search."""

    def search_batch(self, queries: Any, topk: int) -> list[list[Any]]:
        return [[] for _ in queries]
