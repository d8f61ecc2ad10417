"""Retrieve the skills for a task from a SkillBank and render them for the prompt.

Two retrievers, registered in :data:`RETRIEVERS` under one constructor signature
(``bank, *, taxonomy, top_k, task_specific_top_k, mistakes_k, max_skill_tokens,
token_counter, embedding_model_path, encoder``); build them with :func:`build_retriever`.

The environment's task taxonomy (``EnvSpec.taxonomy``, anything meeting
:class:`~skillrl.skills.taxonomy.TaskClassifier`) is passed in by the caller: it classifies a
task and maps the bank's category names (aliases included) to canonical ones. This layer holds
no environment knowledge.

``template``
    The task's category (``taxonomy.classify(task, hint)``) selects that category's
    task-specific skills (all, or ``task_specific_top_k``); plus ``top_k`` general skills and
    ``mistakes_k`` common mistakes. Bank categories are matched through the taxonomy's aliases
    (a bank's ``examine`` serves ``look_at_obj_in_light``). Without a taxonomy
    (``taxonomy=None``), a task-type hint that names a bank category selects that category.
``embedding``
    The semantics of the original SkillRL's embedding mode: a sentence-transformers model
    embeds the skills and the task; the ``top_k`` most similar *general* skills and the
    ``task_specific_top_k`` most similar *task-specific* skills, searched across all categories
    (``top_k`` when ``task_specific_top_k`` is None), are shown; mistakes are not ranked (as in
    template mode). Skills are embedded as ``"title. principle. when_to_apply"`` (the
    original's text). Query embeddings are cached (LRU); :meth:`EmbeddingRetriever.retrieve_batch`
    encodes all distinct uncached tasks of a batch in one call (a GRPO group repeats each task n
    times). Scores are rounded to 1e-4 and ties broken by the section order below, so float
    noise between batched and single encodes does not reorder skills.
``embedding_merged``
    One similarity ranking of general and task-specific skills together, ``top_k`` in total
    (at most ``task_specific_top_k`` task-specific); mistakes ranked by similarity too. Fewer
    tokens than ``embedding`` for the same ``top_k``.

Order within a section (:func:`skillrl.skills.bank.recency_order`): items added to the bank
(by evolution; they carry ``added_at_version``) come first, most recent first, then the seed
items in bank order. Slots (``top_k``, ``task_specific_top_k``, ``mistakes_k``) are filled in
that order, so a skill or mistake that an evolution cycle adds is in the very next episode's
prompt even when the seed bank already has more than ``top_k`` items in its section (the trap
the original fixed by listing its ``dyn_*`` skills first). In ``embedding`` mode the evolved
general skills and the evolved skills *of the task's category* also come first, most recent
first, and similarity ranks the seed items (and other categories' skills) into the remaining
slots: an evolved item was written for the failures of this task type (or for every type), and
an item that is never shown can neither help nor be judged by its usage counters, on which
retirement rests. A bank without evolved items is ranked exactly as the original ranks it.
``embedding_merged`` ranks everything by similarity alone.

Token budget (``max_skill_tokens``): items are ranked task-specific, general, mistakes (each
section in the order above, embedding modes by similarity) and the longest prefix of that
ranking whose rendered block fits is kept, so mistakes are dropped first, then general skills
from the last, then task-specific skills. The prefix is found by doubling then bisecting its
length, rendering each item once (memoised): the cost grows with what is shown, not with the
size of the bank or a category.

Skill embeddings are cached by the embedded text, per encoder (:func:`skill_embedding_cache`;
the default encoder is shared per model path, :func:`shared_encoder`): a new bank version, even
in a retriever rebuilt for it (the verl workers build one per version), encodes only the items
whose text is new (an evolution cycle that adds one skill costs one skill encode).

Results are memoised per (bank version, task text, category) in an LRU, so the n copies of a
GRPO group cost one selection and one rendering. With ``max_skill_tokens`` the rendered block
never exceeds the budget (tokens counted by ``token_counter``, default
:func:`skillrl.skills.render.estimate_tokens`). Retired items are never retrieved. The same
bank, task and settings give the same result.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from cachetools import LRUCache

from skillrl.skills.bank import SkillBank, added_at_version, recency_order
from skillrl.skills.render import TokenCounter, estimate_tokens, fit_budget
from skillrl.skills.schema import Mistake, Skill
from skillrl.skills.taxonomy import FALLBACK, TaskClassifier
from skillrl.utils.registry import Registry

log = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
QUERY_CACHE_SIZE = 4096
RESULT_CACHE_SIZE = 4096
SKILL_EMBEDDING_CACHE_SIZE = 32768
"""Skill embeddings kept per encoder (a 10k-skill bank and its churn; ~50 MB at 384 dims)."""


def _normalize(task: str) -> str:
    """Cache key of a task text (whitespace folded)."""
    return " ".join(str(task).split())


@dataclass(frozen=True)
class RetrievalResult:
    """The skills retrieved for one task and the block rendered from them."""

    task_type: str
    """The task's category (a taxonomy category or ``"general"``)."""
    general: tuple[str, ...]
    """Ids of the general skills shown, in display order."""
    task_specific: tuple[str, ...]
    """Ids of the task-specific skills shown, in display order."""
    mistakes: tuple[str, ...]
    """Ids of the common mistakes shown, in display order."""
    text: str
    """The rendered markdown block ('' when nothing is shown)."""
    tokens: int
    """Tokens of ``text`` as counted by the retriever's token counter."""

    @property
    def skill_ids(self) -> tuple[str, ...]:
        """All ids shown: general, then task-specific, then mistakes."""
        return self.general + self.task_specific + self.mistakes

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_type": self.task_type,
            "general": list(self.general),
            "task_specific": list(self.task_specific),
            "mistakes": list(self.mistakes),
            "tokens": self.tokens,
        }


class Encoder(Protocol):
    """Turns texts into L2-normalised embeddings, shape ``(len(texts), dim)``, float32."""

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded on first use.

    ``model_path`` is a hub id or a local directory. Queries use the model's ``query`` prompt
    when it defines one (Qwen3-Embedding does).
    """

    def __init__(self, model_path: str = DEFAULT_EMBEDDING_MODEL, device: str | None = None) -> None:
        self.model_path = str(model_path)
        self.device = device
        self._model: Any = None
        self.calls = 0
        """Number of ``encode`` calls made (for tests and benchmarks)."""

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ImportError(
                    "embedding retrieval needs sentence-transformers: pip install 'skillrl[embed]'"
                ) from exc
            log.info("loading embedding model %s", self.model_path)
            self._model = SentenceTransformer(self.model_path, device=self.device)
        return self._model

    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        model = self._load()
        self.calls += 1
        kwargs: dict[str, Any] = {}
        if is_query and "query" in (getattr(model, "prompts", None) or {}):
            kwargs["prompt_name"] = "query"
        emb = model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False, **kwargs
        )
        return np.asarray(emb, dtype=np.float32)


@dataclass(frozen=True)
class Sections:
    """The active items of one bank version, each section in retrieval order
    (:func:`~skillrl.skills.bank.recency_order`)."""

    version: int
    general: tuple[Skill, ...]
    by_category: dict[str, tuple[Skill, ...]]
    """Canonical category -> task-specific skills (aliased bank categories merged)."""
    mistakes: tuple[Mistake, ...]


class SkillEmbeddingCache(LRUCache):
    """Skill text -> embedding (an LRU of :data:`SKILL_EMBEDDING_CACHE_SIZE`), with its lock."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize or SKILL_EMBEDDING_CACHE_SIZE)
        self.lock = threading.Lock()


_SKILL_CACHES: weakref.WeakKeyDictionary[Any, SkillEmbeddingCache] = weakref.WeakKeyDictionary()
_SHARED_ENCODERS: dict[str, SentenceTransformerEncoder] = {}
_SHARED_LOCK = threading.Lock()


def skill_embedding_cache(encoder: Encoder) -> SkillEmbeddingCache:
    """The skill-embedding cache of ``encoder`` (one per encoder object, kept as long as it lives;
    an encoder that cannot be weakly referenced gets a cache of its own per call)."""
    with _SHARED_LOCK:
        try:
            cache = _SKILL_CACHES.get(encoder)
            if cache is None:
                cache = _SKILL_CACHES[encoder] = SkillEmbeddingCache()
            return cache
        except TypeError:
            return SkillEmbeddingCache()


def shared_encoder(model_path: str) -> SentenceTransformerEncoder:
    """The process's encoder for ``model_path`` (loaded on first use): retrievers rebuilt for new
    bank versions reuse the model and its skill embeddings."""
    with _SHARED_LOCK:
        enc = _SHARED_ENCODERS.get(model_path)
        if enc is None:
            enc = _SHARED_ENCODERS[model_path] = SentenceTransformerEncoder(model_path)
        return enc


class Retriever:
    """Shared parts of the retrievers: settings, category lookup, budgeted rendering.

    Implements ``skillrl.agent.loop.SkillSource``. Subclasses implement :meth:`_select`.
    """

    specific_heading: str | None = None

    def __init__(
        self,
        bank: SkillBank,
        *,
        taxonomy: TaskClassifier | None,
        top_k: int = 6,
        task_specific_top_k: int | None = None,
        mistakes_k: int = 5,
        max_skill_tokens: int | None = None,
        token_counter: TokenCounter | None = None,
        embedding_model_path: str | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        for name, value in (("top_k", top_k), ("mistakes_k", mistakes_k)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name, value in (("task_specific_top_k", task_specific_top_k), ("max_skill_tokens", max_skill_tokens)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be None or an integer >= 0, got {value!r}")
        self.bank = bank
        self.taxonomy = taxonomy
        """The environment's task taxonomy (None: hints name bank categories directly)."""
        self.top_k = top_k
        self.task_specific_top_k = task_specific_top_k
        self.mistakes_k = mistakes_k
        self.max_skill_tokens = max_skill_tokens
        self.count_tokens: TokenCounter = token_counter or estimate_tokens
        self._lock = threading.RLock()
        self._sections: Sections | None = None
        self._results: LRUCache[tuple[int, str, str], RetrievalResult] = LRUCache(RESULT_CACHE_SIZE)

    @property
    def result_cache_size(self) -> int:
        """Memoised results kept (0 disables the memo); setting it empties the memo."""
        return int(self._results.maxsize)

    @result_cache_size.setter
    def result_cache_size(self, size: int) -> None:
        with self._lock:
            self._results = LRUCache(size)

    @property
    def bank_version(self) -> int | None:
        """Version of the bank the results come from."""
        return self.bank.version

    def sections(self) -> Sections:
        """The bank's active items in retrieval order, recomputed when the bank version changes."""
        with self._lock:
            version = self.bank.version
            if self._sections is None or self._sections.version != version:
                merged: dict[str, list[Skill]] = {}
                for name, skills in self.bank.task_specific_skills.items():
                    key = (self.taxonomy.canonical(name) if self.taxonomy is not None else None) or name
                    merged.setdefault(key, []).extend(skills)
                self._sections = Sections(
                    version=version,
                    general=tuple(recency_order(self.bank.general_skills)),  # type: ignore[arg-type]
                    by_category={k: tuple(recency_order(v)) for k, v in merged.items()},  # type: ignore[misc]
                    mistakes=tuple(recency_order(self.bank.common_mistakes)),  # type: ignore[arg-type]
                )
            return self._sections

    def skills_by_category(self) -> dict[str, tuple[Skill, ...]]:
        """Canonical category -> active task-specific skills (aliased bank categories merged,
        recent first)."""
        return self.sections().by_category

    def classify(self, task: str, task_type: str | None) -> str:
        """The task's category: the taxonomy decides; without one, a hint that names a bank
        category is used as is (else :data:`~skillrl.skills.taxonomy.FALLBACK`)."""
        if self.taxonomy is not None:
            return self.taxonomy.classify(task, task_type)
        if task_type and task_type in self.skills_by_category():
            return task_type
        return FALLBACK

    def retrieve(self, task: str, task_type: str | None = None) -> RetrievalResult:
        """Skills for one task. ``task_type`` is the env's ``info["task_type"]`` (a hint)."""
        return self.retrieve_batch([task], [task_type])[0]

    def retrieve_batch(
        self, tasks: Sequence[str], task_types: Sequence[str | None] | None = None
    ) -> list[RetrievalResult]:
        """Skills for many tasks (same results as calling :meth:`retrieve` on each)."""
        hints = list(task_types) if task_types is not None else [None] * len(tasks)
        if len(hints) != len(tasks):
            raise ValueError(f"retrieve_batch: {len(tasks)} tasks but {len(hints)} task types")
        categories = [self.classify(t, h) for t, h in zip(tasks, hints)]
        with self._lock:
            version = self.bank.version
            keys = [(version, _normalize(t), c) for t, c in zip(tasks, categories)]
            found = {k: self._results[k] for k in keys if k in self._results}  # a hit refreshes recency
            todo = {k: t for k, t in zip(keys, tasks) if k not in found}
            if todo:
                self._prepare(list(todo.values()))
                for k, t in todo.items():
                    found[k] = self._result(t, k[2])
                    if self._results.maxsize:
                        self._results[k] = found[k]
            return [found[k] for k in keys]

    def _prepare(self, tasks: Sequence[str]) -> None:
        """Hook run once per batch before selection (embedding: encode uncached queries)."""

    def _select(self, task: str, category: str) -> list[tuple[str, Skill | Mistake]]:
        """``(section, item)`` pairs, best first (see :func:`render.fit_budget`)."""
        raise NotImplementedError

    def _mistakes(self) -> list[tuple[str, Skill | Mistake]]:
        """The first ``mistakes_k`` mistakes in section order (every mode but ``embedding_merged``)."""
        return [("mistakes", m) for m in self.sections().mistakes[: self.mistakes_k]]

    def _result(self, task: str, category: str) -> RetrievalResult:
        ranked = self._select(task, category)
        kept, text, tokens = fit_budget(
            ranked,
            task_type=category,
            max_tokens=self.max_skill_tokens,
            count_tokens=self.count_tokens,
            specific_heading=self.specific_heading,
        )
        return RetrievalResult(
            task_type=category,
            general=tuple(i.skill_id for s, i in kept if s == "general"),
            task_specific=tuple(i.skill_id for s, i in kept if s == "task_specific"),
            mistakes=tuple(i.skill_id for s, i in kept if s == "mistakes"),
            text=text,
            tokens=tokens,
        )


RETRIEVERS: Registry[type[Retriever]] = Registry("retriever")
"""Retrieval mode name -> retriever class (one constructor signature, see the module doc)."""


@RETRIEVERS.register("template")
class TemplateRetriever(Retriever):
    """Category-based retrieval (see the module docstring)."""

    def _select(self, task: str, category: str) -> list[tuple[str, Skill | Mistake]]:
        sec = self.sections()
        specific = sec.by_category.get(category, ())
        cap = self.task_specific_top_k
        if self.max_skill_tokens is not None:  # every item renders to >= 1 token: no more can fit
            cap = self.max_skill_tokens if cap is None else min(cap, self.max_skill_tokens)
        if cap is not None:
            specific = specific[:cap]
        return (
            [("task_specific", s) for s in specific]
            + [("general", s) for s in sec.general[: self.top_k]]
            + self._mistakes()
        )


def skill_text(item: Skill | Mistake) -> str:
    """The text an item is embedded as: the original's ``"title. principle. when_to_apply"``
    (empty fields left out) for skills; ``"description. how_to_avoid"`` for mistakes.

    >>> skill_text(Skill("a", "Check first", "Look before acting", ""))
    'Check first. Look before acting'
    """
    if isinstance(item, Skill):
        parts = (item.title, item.principle, item.when_to_apply)
    else:
        parts = (item.description, item.how_to_avoid)
    return ". ".join(p.strip() for p in parts if p and p.strip())


def _evolved_prefix(items: Sequence[Skill]) -> Sequence[Skill]:
    """The evolved items at the head of a section in recency order (those with ``added_at_version``)."""
    n = 0
    while n < len(items) and added_at_version(items[n]) > 0:
        n += 1
    return items[:n]


@dataclass(frozen=True)
class _Matrix:
    """Embedded items of one bank version: rows of ``emb`` for general, task-specific, mistakes."""

    version: int
    items: tuple[tuple[str, Skill | Mistake], ...]
    emb: np.ndarray
    general: np.ndarray
    """Row indices of general skills, in section order."""
    specific: np.ndarray
    """Row indices of task-specific skills (all categories), in section order."""
    mistakes: np.ndarray
    """Row indices of mistakes (only when the mode ranks them), in section order."""


@RETRIEVERS.register("embedding")
class EmbeddingRetriever(Retriever):
    """Similarity-based retrieval: general and task-specific skills ranked separately (module
    docstring)."""

    specific_heading = "Task-specific skills (most relevant)"
    rank_mistakes = False
    """Whether mistakes are embedded and ranked (``embedding_merged``) or taken in section order."""

    def __init__(self, bank: SkillBank, **kwargs: Any) -> None:
        encoder = kwargs.pop("encoder", None)
        model_path = kwargs.pop("embedding_model_path", None) or DEFAULT_EMBEDDING_MODEL
        super().__init__(bank, **kwargs)
        self.encoder: Encoder = encoder or shared_encoder(str(model_path))
        self._queries: LRUCache[str, np.ndarray] = LRUCache(QUERY_CACHE_SIZE)
        self._by_text = skill_embedding_cache(self.encoder)
        """Skill embeddings by embedded text, shared by every retriever on this encoder (a
        retriever rebuilt for a new bank version encodes only the new texts)."""
        self._matrix: _Matrix | None = None
        self._batch_scores: dict[str, np.ndarray] = {}
        """Scores of the distinct tasks of the batch being retrieved (filled by :meth:`_prepare`)."""
        self.skill_texts_encoded = 0
        """Skill texts sent to the encoder so far (for tests and benchmarks)."""

    @property
    def query_cache_size(self) -> int:
        """Query embeddings kept (0 disables the cache); setting it empties the cache."""
        return int(self._queries.maxsize)

    @query_cache_size.setter
    def query_cache_size(self, size: int) -> None:
        with self._lock:
            self._queries = LRUCache(size)

    def _skill_matrix(self) -> _Matrix:
        """Active items and their embeddings for the current bank version; only texts not
        embedded before are encoded (one call)."""
        with self._lock:
            sec = self.sections()
            if self._matrix is not None and self._matrix.version == sec.version:
                return self._matrix
            items: list[tuple[str, Skill | Mistake]] = [("general", s) for s in sec.general]
            for skills in sec.by_category.values():
                items.extend(("task_specific", s) for s in skills)
            if self.rank_mistakes:
                items.extend(("mistakes", m) for m in sec.mistakes)
            texts = [skill_text(i) for _, i in items]
            cache = self._by_text
            with cache.lock:
                found = {t: cache.get(t) for t in dict.fromkeys(texts)}  # a hit refreshes recency
            missing = [t for t, v in found.items() if v is None]
            if missing:
                new = self.encoder.encode(missing, is_query=False)
                found.update(zip(missing, new))
                with cache.lock:
                    cache.update(zip(missing, new))
                self.skill_texts_encoded += len(missing)
            emb = np.stack([found[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)
            sections = np.array([s for s, _ in items], dtype=object)
            self._matrix = _Matrix(
                version=sec.version, items=tuple(items), emb=emb,
                general=np.flatnonzero(sections == "general"), specific=np.flatnonzero(sections == "task_specific"),
                mistakes=np.flatnonzero(sections == "mistakes"),
            )
            return self._matrix

    def _prepare(self, tasks: Sequence[str]) -> None:
        with self._lock:
            m = self._skill_matrix()
            keys = list(dict.fromkeys(map(_normalize, tasks)))
            missing = [k for k in keys if self._queries.get(k) is None]  # a hit refreshes recency
            if missing and self._queries.maxsize:
                self._queries.update(zip(missing, self.encoder.encode(missing, is_query=True)))
            self._batch_scores = {}
            if m.items and all(k in self._queries for k in keys):  # one product for the whole batch
                scores = np.round(np.stack([self._queries[k] for k in keys]) @ m.emb.T, 4)
                self._batch_scores = dict(zip(keys, scores))

    def _query(self, task: str) -> np.ndarray:
        key = _normalize(task)
        with self._lock:
            vec = self._queries.get(key)
            if vec is None:  # not cached (evicted within a batch larger than the cache, or caching off)
                vec = self.encoder.encode([key], is_query=True)[0]
                if self._queries.maxsize:
                    self._queries[key] = vec
            return vec

    @staticmethod
    def _best(scores: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
        """The ``k`` rows with the highest score; ties keep the order of ``rows``.

        Scores are multiples of 1e-4 in [-1, 1], so ``(-score, position)`` packs into one
        integer key: a linear-time partition, then a sort of the ``k`` winners only.
        """
        n = int(rows.size)
        if k <= 0 or n == 0:
            return []
        key = -np.rint(scores[rows] * 10_000).astype(np.int64) * n + np.arange(n, dtype=np.int64)
        if k < n:
            top = np.argpartition(key, k - 1)[:k]
            top = top[np.argsort(key[top])]
        else:
            top = np.argsort(key)
        return [int(r) for r in rows[top]]

    def _scores(self, task: str) -> tuple[_Matrix, np.ndarray]:
        m = self._skill_matrix()
        if not m.items:
            return m, np.zeros(0, dtype=np.float32)
        row = self._batch_scores.pop(_normalize(task), None)
        if row is not None:
            return m, row
        return m, np.round(m.emb @ self._query(task), 4)

    def _select(self, task: str, category: str) -> list[tuple[str, Skill | Mistake]]:
        m, scores = self._scores(task)
        sec = self.sections()
        n_specific = self.task_specific_top_k if self.task_specific_top_k is not None else self.top_k
        out: list[tuple[str, Skill | Mistake]] = []
        for section, evolved, rows, k in (
            ("task_specific", _evolved_prefix(sec.by_category.get(category, ())), m.specific, n_specific),
            ("general", _evolved_prefix(sec.general), m.general, self.top_k),
        ):
            first = list(evolved[:k])  # evolved items first (module docstring), then by similarity
            ids = {s.skill_id for s in first}
            ranked = [m.items[r][1] for r in self._best(scores, rows, k)]
            out.extend((section, s) for s in (first + [s for s in ranked if s.skill_id not in ids])[:k])
        return out + self._mistakes()


@RETRIEVERS.register("embedding_merged")
class MergedEmbeddingRetriever(EmbeddingRetriever):
    """One similarity ranking of general and task-specific skills, ``top_k`` in total (at most
    ``task_specific_top_k`` task-specific); mistakes ranked by similarity, ``mistakes_k`` kept."""

    rank_mistakes = True

    def _select(self, task: str, category: str) -> list[tuple[str, Skill | Mistake]]:
        m, scores = self._scores(task)
        if not m.items:
            return []
        skills_rows = np.concatenate([m.general, m.specific])
        skills_rows.sort()  # bank order: general first, then the categories
        cap = self.task_specific_top_k
        picked: list[int] = []
        n_specific = 0
        # walk the ranking; candidates: top_k plus the task-specific skills the cap may skip
        extra = 0 if cap is None else max(0, int(m.specific.size) - cap)
        for r in self._best(scores, skills_rows, self.top_k + extra):
            if len(picked) >= self.top_k:
                break
            if m.items[r][0] == "task_specific":
                if cap is not None and n_specific >= cap:
                    continue
                n_specific += 1
            picked.append(r)
        mistakes = self._best(scores, m.mistakes, self.mistakes_k)
        return [m.items[r] for r in picked] + [m.items[r] for r in mistakes]


def build_retriever(
    bank: SkillBank | str | os.PathLike[str],
    *,
    taxonomy: TaskClassifier | None,
    mode: str = "template",
    top_k: int = 6,
    task_specific_top_k: int | None = None,
    max_skill_tokens: int | None = None,
    embedding_model_path: str | None = None,
    mistakes_k: int = 5,
    token_counter: TokenCounter | None = None,
    encoder: Encoder | None = None,
) -> Retriever:
    """Build the retriever for ``mode`` (a name in :data:`RETRIEVERS`).

    ``bank`` is a :class:`SkillBank` or a path to load. ``taxonomy`` is the environment's
    (``get_env_spec(name).taxonomy``), or None to route by task-type hints naming bank
    categories. The embedding model is loaded on the first retrieval, not here.

    Raises:
        skillrl.utils.registry.RegistryError: unknown mode (the message lists the known ones).
        SkillBankError: ``bank`` is a path to an invalid bank.
        ValueError: a negative or non-integer setting.
    """
    cls = RETRIEVERS.get(mode)
    if not isinstance(bank, SkillBank):
        bank = SkillBank.load(Path(bank))
    return cls(
        bank,
        taxonomy=taxonomy,
        top_k=top_k,
        task_specific_top_k=task_specific_top_k,
        mistakes_k=mistakes_k,
        max_skill_tokens=max_skill_tokens,
        token_counter=token_counter,
        embedding_model_path=embedding_model_path,
        encoder=encoder,
    )
