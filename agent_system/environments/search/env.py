"""The Search environment: answer a question, optionally searching a corpus first.

Episode: ``reset`` picks a QA row (``seed % n``, or ``task`` = the row index) and observes the
question. Each ``step`` takes raw model output, projected by
:func:`~agent_system.environments.search.projection.project_action`:

- ``<search>q</search>``: the retriever's top-``topk`` passages come back as
  ``<information>Doc 1(Title: …) …</information>``; reward 0.
- ``<answer>a</answer>``: the episode ends; reward = exact match of the normalised answer with
  any gold answer (1.0 / 0.0), ``info["won"]`` = reward == 1, ``info["f1"]`` = best token F1.
- anything else: an invalid action (the observation says how to format), reward 0.

Every step uses one of ``max_turns`` turns; when they run out without an answer the episode
ends with reward 0 (``done`` is True, ``won`` False).

A retriever that cannot be reached is an infrastructure failure, not the agent's: ``step``
raises :class:`~agent_system.environments.search.client.RetrieverUnavailableError` (the turn is
not consumed, the episode may be retried), and the agent loop records the episode as errored
instead of scoring it as a loss.

``info.extra`` is a :class:`SearchProgress`: ``turn`` (turns used), ``em`` and ``f1`` (0.0 until
an answer is given), once the episode is done ``answer`` (the submitted answer, '' if none), and
the question's ``golds`` (for scripted policies); also readable as ``info["em"]`` ….

``style="original"`` plays as the original SkillRL's Search env does, for its prompt style:
output is projected with :func:`.original.project_action` and every projected action is played,
invalid or not (the first ``<search>`` block searches, else the first ``<answer>`` block answers,
else nothing happens and the observation is ``""``); a search's observation is the original tool's
JSON text (:func:`.original.format_tool_output`). Rewards and the turn limit are unchanged.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass

from agent_system.environments.base import GameRef, Outcome, ParsedAction, TextEnv, task_index
from agent_system.environments.original_style import check_env_style
from agent_system.environments.search import original
from agent_system.environments.search.client import DEFAULT_URL, RetrieverClient
from agent_system.environments.search.data import Passage, QARow, load_qa, resolve_qa_file
from agent_system.environments.search.projection import FORMAT_HINT, SearchAction, parse_action, project_action
from agent_system.environments.search.retrievers import Retriever, build_retriever
from agent_system.environments.search.reward import exact_match, f1_score


def format_passages(passages: Sequence[Passage]) -> str:
    """Search-R1's observation format: ``<information>Doc i(Title: t) text\\n…</information>``."""
    if not passages:
        return "<information>No results found.</information>"
    lines = [f"Doc {i}(Title: {p.title}) {p.text}" for i, p in enumerate(passages, 1)]
    return "<information>" + "\n".join(lines) + "</information>"


@dataclass(frozen=True)
class SearchProgress:
    """Search's ``info.extra``, after every reset and step."""

    turn: int
    """Turns used so far in the episode."""
    em: float
    """Exact match of the submitted answer (0.0 until an answer is given)."""
    f1: float
    """Best token F1 of the submitted answer against the golds (0.0 until an answer is given)."""
    answer: str | None = None
    """Once the episode is done: the submitted answer ('' when none); None before."""
    golds: tuple[str, ...] = ()
    """The question's gold answers (for scripted policies: never shown to a model)."""


class SearchEnv(TextEnv):
    """QA with a search tool (see the module docstring).

    Args:
        rows: the questions to play (non-empty).
        retriever: anything with ``search_batch(queries, topk)`` (an in-process backend or a
            :class:`RetrieverClient`).
        topk: passages returned per search.
        max_turns: turns per episode (searches, answers and invalid outputs all count).
        owns_retriever: ``close()`` also closes the retriever (set when the env created it).
        style: ``native`` or ``original`` (see the module docstring).
    """

    env_name = "search"
    turns_exhausted_note = "No turns left ({max_turns} used): the episode ends without an answer."

    def __init__(
        self,
        rows: Sequence[QARow],
        retriever: Retriever,
        *,
        topk: int = 3,
        max_turns: int = 4,
        owns_retriever: bool = False,
        style: str = "native",
    ) -> None:
        self.original = check_env_style("search", style)
        self.executes_invalid_actions = self.original
        if not rows:
            raise ValueError("SearchEnv needs at least one QA row")
        if topk < 1 or max_turns < 1:
            raise ValueError(f"topk and max_turns must be >= 1 (got {topk}, {max_turns})")
        self.rows = list(rows)
        self.retriever = retriever
        self.topk = int(topk)
        self.max_turns = int(max_turns)
        self._owns_retriever = owns_retriever
        self._rng = random.Random()
        self._row: QARow | None = None
        self._em = self._f1 = 0.0
        self._answer = ""

    def num_games(self) -> int:
        return len(self.rows)

    def row_for(self, seed: int | None = None, task: str | None = None) -> QARow:
        """The row ``reset(seed, task)`` would play (``task`` = row index; wins over ``seed``).

        Raises:
            ValueError: ``task`` is not an index of a row.
        """
        index = task_index(task, len(self.rows), env="search", what="row")
        if index is not None:
            return self.rows[index]
        if seed is None:
            return self.rows[self._rng.randrange(len(self.rows))]
        return self.rows[int(seed) % len(self.rows)]

    # -- TextEnv hooks -------------------------------------------------------------
    def _start(self, seed: int | None, task: str | None) -> tuple[str, GameRef]:
        self._row = self.row_for(seed, task)
        self._em = self._f1 = 0.0
        self._answer = ""
        return self._row.question, GameRef(task=self._row.question, task_type=self._row.task_type,
                                           game_id=str(self._row.index))

    def _project(self, text: str, admissible: list[str] | None) -> ParsedAction:
        if self.original:
            return original.project_action(text, admissible)
        return project_action(text, admissible)

    def _apply(self, action: str) -> Outcome:
        if self.original:
            split = original.split_action(action)
            if split is None:
                return Outcome("")
            parsed = SearchAction(kind=split[0], content=split[1])  # type: ignore[arg-type]
        else:
            parsed = parse_action(action)  # type: ignore[assignment]
            assert isinstance(parsed, SearchAction), f"projected action {action!r} does not parse"
        if parsed.kind == "search":
            # may raise RetrieverUnavailableError: nothing has changed yet, the turn is not used
            passages = self.retriever.search_batch([parsed.content], self.topk)[0]
            if self.original:
                return Outcome(original.format_tool_output([p.contents for p in passages]))
            return Outcome(format_passages(passages))
        assert self._row is not None
        self._answer = parsed.content
        self._em = exact_match(self._answer, self._row.golds)
        self._f1 = f1_score(self._answer, self._row.golds)
        return Outcome(f"Answer submitted: {self._answer}", self._em, True, self._em == 1.0)

    def _invalid_observation(self, parsed: ParsedAction) -> str:
        return f"Invalid action: {parsed.reason}. {FORMAT_HINT}"

    def _extra(self) -> SearchProgress:
        return SearchProgress(turn=self.turn, em=self._em, f1=self._f1, answer=self._answer if self.finished else None,
                              golds=self._row.golds if self._row is not None else ())

    def _release(self) -> None:
        close = getattr(self.retriever, "close", None)
        if self._owns_retriever and callable(close):
            close()


def make(
    data: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    split: str | None = None,
    *,
    retriever: Retriever | None = None,
    retriever_url: str = DEFAULT_URL,
    corpus: str | os.PathLike[str] | None = None,
    backend: str = "bm25",
    topk: int = 3,
    max_turns: int = 4,
    timeout: float = 30.0,
    retries: int = 2,
    rows: Sequence[QARow] | None = None,
    style: str = "native",
) -> SearchEnv:
    """Build a :class:`SearchEnv`.

    Questions: ``rows`` if given, else the file ``data``, else ``split`` (e.g. ``"nq_test"``,
    ``"bamboogle_test.jsonl"``) under ``<data_dir>/qa/`` (see
    :func:`~agent_system.environments.search.data.resolve_qa_file`).

    Retrieval, first that applies: ``retriever`` (any object with ``search_batch``); ``corpus``
    (an in-process ``backend`` index over that jsonl, built or loaded from the cache); else a
    :class:`RetrieverClient` for ``retriever_url`` with ``timeout`` seconds per attempt and
    ``retries`` retries (nothing is contacted before the first search).

    ``style``: ``native`` or ``original`` (see the module docstring).

    Raises:
        FileNotFoundError / DataNotFoundError: the QA file is missing. ValueError: bad rows or
        arguments.
    """
    if rows is None:
        rows = load_qa(resolve_qa_file(data, data_dir, split))
    owns = retriever is None
    if retriever is None:
        if corpus is not None:
            retriever = build_retriever(backend, corpus)
        else:
            retriever = RetrieverClient(retriever_url, timeout=timeout, retries=retries)
    return SearchEnv(rows, retriever, topk=topk, max_turns=max_turns, owns_retriever=owns, style=style)
