"""The ``search`` environment: Search-R1-style question answering with a retrieval tool.

Modules: :mod:`.data` (QA files, corpora), :mod:`.reward` (exact match / F1, pure),
:mod:`.projection` (model output -> ``<search>``/``<answer>`` action, pure), :mod:`.prompt`
(turn prompt, pure), :mod:`.env` (the :class:`SearchEnv` and ``make``), :mod:`.taxonomy`
(question kinds for skill routing), :mod:`.retrievers` (in-process BM25 / dense backends, cached
indexes), :mod:`.server` (the ``/retrieve`` FastAPI server), :mod:`.client` (its HTTP client),
:mod:`.policies` (scripted policies).

Exported as :data:`SPEC`; ``SPEC.play`` names the scripted policies and run defaults of
``skillrl eval`` / ``skillrl env play search`` (by default an in-process BM25 index over the
search corpus beside the QA file; ``--env-arg retriever_url=URL`` uses a running server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_system.environments.base import ContractCase, EnvSpec, Play
from agent_system.environments.search.client import RetrieverClient, RetrieverError, RetrieverUnavailableError
from agent_system.environments.search.data import TASK_TYPES, Passage, QARow, default_corpus, load_qa, resolve_qa_file
from agent_system.environments.search.env import SearchEnv, SearchProgress, make
from agent_system.environments.search.policies import SCRIPTS, contract_policy
from agent_system.environments.search.projection import project_action
from agent_system.environments.search.prompt import build_prompt
from agent_system.environments.search.taxonomy import KINDS, TAXONOMY
from skillrl.utils.paths import DataNotFoundError

#: factory settings that choose the retriever (when the user sets one, no corpus is looked up)
_RETRIEVAL_SETTINGS = ("retriever", "retriever_url", "corpus")


def play_setup(split: str | None, data_dir: str | None, data: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Factory settings of a run outside training (see :class:`~agent_system.environments.base.Play`).

    Retrieval: an in-process BM25 index over the first ``corpus/*.jsonl`` beside the QA file (or
    in the search data folder), unless the overrides name a ``corpus`` or a ``retriever_url``.

    Raises:
        FileNotFoundError / DataNotFoundError: no QA file, or no corpus and no retriever named.
    """
    kwargs: dict[str, Any] = {"data": data, "data_dir": data_dir, "split": split}
    if not any(key in overrides for key in _RETRIEVAL_SETTINGS):
        qa_file = resolve_qa_file(data, data_dir, split)
        corpus = default_corpus(data_dir, near=qa_file)
        if corpus is None:
            raise DataNotFoundError(f"no search corpus (corpus/*.jsonl) found for {qa_file}; pass "
                                    "--env-arg corpus=PATH.jsonl or --env-arg retriever_url=http://HOST:PORT/retrieve")
        kwargs["corpus"] = str(corpus)
    return kwargs


SPEC = EnvSpec(
    name="search",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(contract_policy, max_steps=4),
    play=Play(SCRIPTS, play_setup, default_split="bamboogle_test",
              eval_splits=("nq_test", "hotpotqa_test", "musique_test", "2wiki_test", "bamboogle_test"),
              max_steps=4, history_length=4),
)

__all__ = [
    "KINDS",
    "SPEC",
    "TASK_TYPES",
    "TAXONOMY",
    "Passage",
    "QARow",
    "RetrieverClient",
    "RetrieverError",
    "RetrieverUnavailableError",
    "SearchEnv",
    "SearchProgress",
    "build_prompt",
    "load_qa",
    "make",
    "project_action",
]
