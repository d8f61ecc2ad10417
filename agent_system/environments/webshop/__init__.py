"""The ``webshop`` environment: a text WebShop over the processed 1k catalogue.

Search (BM25 over product text) -> results (10 a page) -> item page (options, Description,
Features, Reviews) -> ``Buy Now``, which ends the episode with the WebShop reward (the original
formula, quirks included: see :mod:`.reward`). Goals follow the original synthetic-goal rules
(6,910 from ``items_ins_v2_1000.json``; :mod:`.catalog`). Actions are ``search[query]`` and
``click[button]`` inside ``<think>…</think><action>…</action>`` (:mod:`.projection`). The task
type of an episode is the goal's category (beauty, electronics, fashion, garden, grocery;
:mod:`.taxonomy`).

``SPEC.play`` (scripted oracle/random/wrong runs) and ``SPEC.score`` (reward of given
purchases) serve ``skillrl env play|score webshop``; ``SPEC.contract`` drives the shared
contract test.
"""

from __future__ import annotations

from agent_system.environments.base import ContractCase, EnvSpec, ScriptedPlay
from agent_system.environments.webshop.catalog import Catalog, load_catalog
from agent_system.environments.webshop.env import Purchase, WebShopEnv, make
from agent_system.environments.webshop.play import POLICIES, contract_policy, play, score
from agent_system.environments.webshop.projection import project_action
from agent_system.environments.webshop.prompt import build_prompt
from agent_system.environments.webshop.taxonomy import CATEGORIES, TAXONOMY

TASK_TYPES = CATEGORIES

SPEC = EnvSpec(
    name="webshop",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(contract_policy, max_steps=10),
    play=ScriptedPlay(play, POLICIES),
    score=score,
)

__all__ = [
    "CATEGORIES",
    "SPEC",
    "TASK_TYPES",
    "TAXONOMY",
    "Catalog",
    "Purchase",
    "WebShopEnv",
    "build_prompt",
    "load_catalog",
    "make",
    "play",
    "project_action",
    "score",
]
