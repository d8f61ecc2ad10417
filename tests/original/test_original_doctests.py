"""The docstring examples of the original-style modules run as tests."""

import doctest
import importlib

import pytest

MODULES = [
    "agent_system.environments.original_style",
    "agent_system.environments.original_templates",
    "agent_system.environments.alfworld.original",
    "agent_system.environments.webshop.original",
    "agent_system.environments.search.original",
    "skillrl.skills.original",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
