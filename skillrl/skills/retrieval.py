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
    task-specific skills (all, or the first ``task_specific_top_k``); plus the first ``top_k``
    general skills and the first ``mistakes_k`` common mistakes. Bank categories are matched
    through the taxonomy's aliases (a bank's ``examine`` serves ``look_at_obj_in_light``).
    Budget drop order (lowest rank first): mistakes from the last, then general skills from
    the last, then task-specific skills from the last. Without a taxonomy (``taxonomy=None``),
    a task-type hint that names a bank category selects that category.
``embedding``
    A sentence-transformers model embeds the skills (once per bank version) and the task.
    General and task-specific skills of *all* categories are ranked together by cosine
    similarity; the best ``top_k`` are kept (at most ``task_specific_top_k`` task-specific
    ones when set); mistakes are ranked the same way and the best ``mistakes_k`` kept.
    Query embeddings are cached (LRU); :meth:`EmbeddingRetriever.retrieve_batch` encodes all
    distinct uncached tasks of a batch in one call (a GRPO group repeats each task n times).
    Scores are rounded to 1e-4 and ties broken by bank order, so float noise between batched
    and single encodes does not reorder skills. Budget drop order: mistakes from the last,
    then skills from the lowest similarity.

Results are memoised per (bank version, task text, category) in an LRU, so the n copies of a
GRPO group cost one selection and one rendering. With ``max_skill_tokens`` the rendered block never exceeds the budget (tokens counted by
``token_counter``, default :func:`skillrl.skills.render.estimate_tokens`). Retired items are
never retrieved. The same bank, task and settings give the same result.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from cachetools import LRUCache

from skillrl.skills.bank import SkillBank
from skillrl.skills.render import TokenCounter, estimate_tokens, fit_budget
from skillrl.skills.schema import Mistake, Skill
from skillrl.skills.taxonomy import FALLBACK, TaskClassifier
from skillrl.utils.registry import Registry

log = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
QUERY_CACHE_SIZE = 4096
RESULT_CACHE_SIZE = 4096


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
        self._cat_version: int | None = None
        self._by_category: dict[str, list[Skill]] = {}
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

    def skills_by_category(self) -> dict[str, list[Skill]]:
        """Canonical category -> active task-specific skills (aliased bank categories merged in file order)."""
        with self._lock:
            if self._cat_version != self.bank.version or self._cat_version is None:
                merged: dict[str, list[Skill]] = {}
                for name, skills in self.bank.task_specific_skills.items():
                    key = (self.taxonomy.canonical(name) if self.taxonomy is not None else None) or name
                    merged.setdefault(key, []).extend(skills)
                self._by_category = merged
                self._cat_version = self.bank.version
            return self._by_category

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
        specific = list(self.skills_by_category().get(category, []))
        if self.task_specific_top_k is not None:
            specific = specific[: self.task_specific_top_k]
        general = list(self.bank.general_skills[: self.top_k])
        mistakes = list(self.bank.common_mistakes[: self.mistakes_k])
        return (
            [("task_specific", s) for s in specific]
            + [("general", s) for s in general]
            + [("mistakes", m) for m in mistakes]
        )


def _skill_text(item: Skill | Mistake) -> str:
    if isinstance(item, Skill):
        return " ".join(x for x in (item.title + ".", item.principle, item.when_to_apply) if x)
    return " ".join(x for x in (item.description, item.how_to_avoid) if x)


@RETRIEVERS.register("embedding")
class EmbeddingRetriever(Retriever):
    """Similarity-based retrieval over all categories (see the module docstring)."""

    specific_heading = "Task-specific skills (most relevant)"

    def __init__(self, bank: SkillBank, **kwargs: Any) -> None:
        encoder = kwargs.pop("encoder", None)
        model_path = kwargs.pop("embedding_model_path", None) or DEFAULT_EMBEDDING_MODEL
        super().__init__(bank, **kwargs)
        self.encoder: Encoder = encoder or SentenceTransformerEncoder(str(model_path))
        self._queries: LRUCache[str, np.ndarray] = LRUCache(QUERY_CACHE_SIZE)
        self._skill_version: int | None = None
        self._skills: list[tuple[str, Skill | Mistake]] = []
        self._skill_emb: np.ndarray = np.zeros((0, 0), dtype=np.float32)

    @property
    def query_cache_size(self) -> int:
        """Query embeddings kept (0 disables the cache); setting it empties the cache."""
        return int(self._queries.maxsize)

    @query_cache_size.setter
    def query_cache_size(self, size: int) -> None:
        with self._lock:
            self._queries = LRUCache(size)

    def _skill_matrix(self) -> tuple[list[tuple[str, Skill | Mistake]], np.ndarray]:
        """Active items and their embeddings, recomputed only when the bank version changes."""
        with self._lock:
            if self._skill_version is None or self._skill_version != self.bank.version:
                items: list[tuple[str, Skill | Mistake]] = [("general", s) for s in self.bank.general_skills]
                for skills in self.skills_by_category().values():
                    items.extend(("task_specific", s) for s in skills)
                items.extend(("mistakes", m) for m in self.bank.common_mistakes)
                if items:
                    emb = self.encoder.encode([_skill_text(i) for _, i in items], is_query=False)
                else:
                    emb = np.zeros((0, 0), dtype=np.float32)
                self._skills, self._skill_emb = items, emb
                self._skill_version = self.bank.version
            return self._skills, self._skill_emb

    def _prepare(self, tasks: Sequence[str]) -> None:
        with self._lock:
            self._skill_matrix()
            missing = [k for k in dict.fromkeys(map(_normalize, tasks)) if self._queries.get(k) is None]  # a hit refreshes recency
            if missing and self._queries.maxsize:
                self._queries.update(zip(missing, self.encoder.encode(missing, is_query=True)))

    def _query(self, task: str) -> np.ndarray:
        key = _normalize(task)
        with self._lock:
            vec = self._queries.get(key)
            if vec is None:  # not cached (evicted within a batch larger than the cache, or caching off)
                vec = self.encoder.encode([key], is_query=True)[0]
                if self._queries.maxsize:
                    self._queries[key] = vec
            return vec

    def _select(self, task: str, category: str) -> list[tuple[str, Skill | Mistake]]:
        items, emb = self._skill_matrix()
        if not items:
            return []
        scores = np.round(emb @ self._query(task), 4)
        order = sorted(range(len(items)), key=lambda i: (-float(scores[i]), i))
        skills: list[tuple[str, Skill | Mistake]] = []
        mistakes: list[tuple[str, Skill | Mistake]] = []
        n_specific = 0
        for i in order:
            section, item = items[i]
            if section == "mistakes":
                if len(mistakes) < self.mistakes_k:
                    mistakes.append(items[i])
            elif len(skills) < self.top_k:
                if section == "task_specific":
                    if self.task_specific_top_k is not None and n_specific >= self.task_specific_top_k:
                        continue
                    n_specific += 1
                skills.append(items[i])
        return skills + mistakes


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
