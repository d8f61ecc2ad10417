"""The SkillBank layer: bank format and store, retrieval, prompt rendering.

Pure Python (numpy for the similarity maths). ``sentence-transformers`` is imported only by the
embedding retriever, on first use; nothing here imports torch, verl or environments.
"""

from skillrl.skills.bank import HistoryRecord, SkillBank, Usage, history_path, read_history, usage_path
from skillrl.skills.retrieval import (
    RETRIEVERS,
    EmbeddingRetriever,
    RetrievalResult,
    Retriever,
    SentenceTransformerEncoder,
    TemplateRetriever,
    build_retriever,
)
from skillrl.skills.schema import Mistake, RetiredItem, Skill, SkillBankError
from skillrl.skills.taxonomy import FALLBACK, TaskClassifier

__all__ = [
    "FALLBACK",
    "RETRIEVERS",
    "EmbeddingRetriever",
    "HistoryRecord",
    "Mistake",
    "RetiredItem",
    "RetrievalResult",
    "Retriever",
    "SentenceTransformerEncoder",
    "Skill",
    "SkillBank",
    "SkillBankError",
    "TaskClassifier",
    "TemplateRetriever",
    "Usage",
    "build_retriever",
    "history_path",
    "read_history",
    "usage_path",
]
