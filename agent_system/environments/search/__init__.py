"""The ``search`` environment: Search-R1-style question answering with a retrieval tool.

Modules: :mod:`.data` (QA files, corpora), :mod:`.reward` (exact match / F1, pure),
:mod:`.projection` (model output -> ``<search>``/``<answer>`` action, pure), :mod:`.prompt`
(turn prompt, pure), :mod:`.env` (the :class:`SearchEnv` and ``make``), :mod:`.taxonomy`
(question kinds for skill routing), :mod:`.retrievers` (in-process BM25 / dense backends, cached
indexes), :mod:`.server` (the ``/retrieve`` FastAPI server), :mod:`.client` (its HTTP client),
:mod:`.play` (scripted runs).

Exported as :data:`SPEC`; ``SPEC.play`` runs :func:`.play.play`.
"""

from __future__ import annotations

from agent_system.environments.base import ContractCase, EnvSpec, ScriptedPlay
from agent_system.environments.search.client import RetrieverClient, RetrieverError, RetrieverUnavailableError
from agent_system.environments.search.data import TASK_TYPES, Passage, QARow, load_qa
from agent_system.environments.search.env import SearchEnv, SearchProgress, make
from agent_system.environments.search.play import SCRIPTED_POLICIES, contract_policy, play
from agent_system.environments.search.projection import project_action
from agent_system.environments.search.prompt import build_prompt
from agent_system.environments.search.taxonomy import KINDS, TAXONOMY

SPEC = EnvSpec(
    name="search",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(contract_policy, max_steps=4),
    play=ScriptedPlay(play, tuple(SCRIPTED_POLICIES)),
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
    "play",
    "project_action",
]
