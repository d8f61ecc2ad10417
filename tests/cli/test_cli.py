"""The ``skillrl`` command tree as a whole: help text of every command, shell completion."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from skillrl.cli import app
from skillrl.cli.common import strip_rest

runner = CliRunner()


def _command_paths(command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    if hasattr(command, "list_commands"):  # a group (typer vendors its own click)
        ctx = command.context_class(command)
        for name in command.list_commands(ctx):
            paths.extend(_command_paths(command.get_command(ctx, name), (*prefix, name)))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))
REST = re.compile(r"``|:(?:func|class|meth|data|mod|attr|obj|exc):`")


def test_the_tree_has_every_command_group() -> None:
    assert {("skills", "show"), ("skills", "diff"), ("retriever", "serve"), ("env", "play"), ("train",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "skillrl")
def test_help_has_no_rest_markup(path: tuple[str, ...]) -> None:
    res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Usage: skillrl" in res.stdout
    assert not REST.search(res.stdout), res.stdout


def test_strip_rest() -> None:
    assert strip_rest("``a=b`` and :func:`x.y` and :class:`~p.q.R` and :py:meth:`m`") == "`a=b` and `x.y` and `R` and `m`"
    assert strip_rest("no markup [here]") == "no markup [here]"


def test_completion_options_are_offered() -> None:
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in res.stdout and "--show-completion" in res.stdout


def _complete(words: str) -> list[str]:
    """What bash completion offers for the command line ``words`` (cursor after the last word)."""
    parts = words.split(" ")
    env = {"_SKILLRL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    res = runner.invoke(app, [], env=env, prog_name="skillrl")
    assert res.exit_code == 0, res.output
    return res.stdout.split()


def test_bash_completion_of_commands_and_registry_choices() -> None:
    assert _complete("skillrl sk") == ["skills"]
    assert set(_complete("skillrl skills ")) == {"validate", "show", "stats", "diff", "query"}
    assert _complete("skillrl skills query bank.json --mode ") == ["embedding", "embedding_merged", "template"]
    assert _complete("skillrl skills query bank.json --mode t") == ["template"]
    assert _complete("skillrl retriever build --backend ") == ["bm25", "dense"]


def test_show_completion_prints_a_script() -> None:
    from typer._completion_shared import _get_shell_name

    shell = _get_shell_name()
    if shell is None:
        pytest.skip("no shell to detect around this process")
    res = runner.invoke(app, ["--show-completion"], prog_name="skillrl")
    assert res.exit_code == 0, res.output
    assert "_SKILLRL_COMPLETE" in res.stdout
