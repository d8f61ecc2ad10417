"""Docstring examples are run as tests where they are cheap."""

import doctest
import importlib

import pytest

MODULES = [
    "skillrl.utils.metrics",
    "skillrl.cli.common",
    "agent_system.environments.alfworld.projection",
    "agent_system.environments.alfworld.env",
    "agent_system.environments.toy.env",
    "skillrl.trainer.local.policy",
    "skillrl.trainer.verl_agent_loop",
    "skillrl.utils.config",
    "skillrl.skills.config",
    "skillrl.trainer.config",
    "skillrl.cli.train",
    "skillrl.policies",
    "skillrl.eval.records",
    "skillrl.eval.tables",
    "agent_system.environments.scripts",
    "agent_system.environments.alfworld.policies",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
