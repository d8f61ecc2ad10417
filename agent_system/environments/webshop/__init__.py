"""The ``webshop`` environment: a text WebShop over the processed 1k catalogue.

Search (BM25 over product text) -> results (10 a page) -> item page (options, Description,
Features, Reviews) -> ``Buy Now``, which ends the episode with the WebShop reward (the original
formula, quirks included: see :mod:`.reward`). Goals follow the original synthetic-goal rules
(6,910 from ``items_ins_v2_1000.json``; :mod:`.catalog`). Actions are ``search[query]`` and
``click[button]`` inside ``<think>…</think><action>…</action>`` (:mod:`.projection`). The task
type of an episode is the goal's category (beauty, electronics, fashion, garden, grocery;
:mod:`.taxonomy`).

``SPEC.play`` (scripted oracle/random/wrong/perturbed policies, :mod:`.policies`, and run
defaults) serves ``skillrl eval`` and ``skillrl env play webshop``; ``SPEC.score`` (reward of given
purchases, :mod:`.scoring`) serves ``skillrl env score webshop``; ``SPEC.contract`` drives the
shared contract test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_system.environments.base import ContractCase, EnvSpec, Play
from agent_system.environments.webshop.catalog import Catalog, load_catalog
from agent_system.environments.webshop.env import Purchase, ShopState, WebShopEnv, make
from agent_system.environments.webshop.policies import SCRIPTS, contract_policy
from agent_system.environments.webshop.scoring import score
from agent_system.environments.webshop.projection import project_action
from agent_system.environments.webshop.prompt import build_prompt
from agent_system.environments.webshop.taxonomy import CATEGORIES, TAXONOMY

TASK_TYPES = CATEGORIES


def play_setup(split: str | None, data_dir: str | None, data: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Factory settings of a run outside training (see :class:`~agent_system.environments.base.Play`)."""
    del overrides
    if data:
        raise ValueError("webshop reads no data file (--data); point --data-dir at the catalogue folder")
    return {"data_dir": data_dir, "split": split or "test"}

SPEC = EnvSpec(
    name="webshop",
    make=make,
    build_prompt=build_prompt,
    project_action=project_action,
    taxonomy=TAXONOMY,
    task_types=TASK_TYPES,
    contract=ContractCase(contract_policy, max_steps=10),
    play=Play(SCRIPTS, play_setup, default_split="test", eval_splits=("test",), train_split="train", max_steps=15, history_length=2),
    score=score,
)

__all__ = [
    "CATEGORIES",
    "SPEC",
    "TASK_TYPES",
    "TAXONOMY",
    "Catalog",
    "Purchase",
    "ShopState",
    "WebShopEnv",
    "build_prompt",
    "load_catalog",
    "make",
    "project_action",
    "score",
]
