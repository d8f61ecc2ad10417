"""The distillation modules' docstring examples run as tests."""

import doctest
import importlib

import pytest

MODULES = [
    "skillrl.distill.llm",
    "skillrl.distill.trajectory",
    "skillrl.distill.similarity",
    "skillrl.distill.planning",
    "skillrl.distill.heuristic",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
