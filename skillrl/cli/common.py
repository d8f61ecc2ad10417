"""Helpers shared by CLI modules."""

from __future__ import annotations

import inspect
import json
import re
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

T = TypeVar("T")

_REST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`]+)`")
_REST_LITERAL = re.compile(r"``(.+?)``", re.S)


def fail(message: str) -> "typer.Exit":
    """Print ``error: message`` to stderr and return an Exit(2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def positional_or_option(name: str, positional: T | None, flag: str, option: T | None, *, required: bool = True) -> T | None:
    """The one input given as the positional ``name`` or as the older ``flag`` option.

    Raises (as exits with code 2): both given with different values; neither given when
    ``required``.
    """
    if positional is not None and option is not None and positional != option:
        raise fail(f"{name} given twice ({positional!r} and {flag} {option!r}); pass it once")
    value = positional if positional is not None else option
    if value is None and required:
        raise fail(f"missing {name} (or {flag})")
    return value


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=None, sort_keys=False, default=str))


def console() -> "Console":
    """The rich console commands print tables to (stdout)."""
    from rich.console import Console

    return Console()


def plain(value: object) -> "Text":
    """``value`` as rich text that is shown verbatim: never parsed as markup or emoji codes.

    Wrap every piece of user or data text (skill text, ids, categories, paths) in it before
    handing it to rich, so ``search[gluten free snack crackers]`` keeps its brackets and
    ``[/INST]`` cannot break the output.
    """
    from rich.text import Text

    return Text(str(value))


def strip_rest(text: str) -> str:
    """A docstring's reST inline markup as a terminal should show it.

    >>> strip_rest("Extra ``key=value`` arguments override :class:`~pkg.Config` fields.")
    'Extra `key=value` arguments override `Config` fields.'
    """
    text = _REST_ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)
    return _REST_LITERAL.sub(r"`\1`", text)


def plain_help(app: typer.Typer) -> None:
    """Turn the reST markup of every command's help (docstring, option and argument help) into
    plain text, in ``app`` and its sub-apps. Docstrings stay reST for the API reference; the
    terminal gets ```x``` instead of ````x````. Call it once all commands are registered."""
    from typer.models import ArgumentInfo, OptionInfo

    for command in app.registered_commands:
        doc = command.help if command.help is not None else inspect.getdoc(command.callback)
        if doc:
            command.help = strip_rest(doc)
            if command.short_help is None:  # the command list shows the first paragraph on one line
                command.short_help = " ".join(command.help.split("\n\n")[0].split())
        for param in inspect.signature(command.callback).parameters.values():
            info = param.default
            if isinstance(info, (ArgumentInfo, OptionInfo)) and isinstance(info.help, str):
                info.help = strip_rest(info.help)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            if isinstance(group.typer_instance.info.help, str):
                group.typer_instance.info.help = strip_rest(group.typer_instance.info.help)
            plain_help(group.typer_instance)


def parse_env_args(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (numbers, true, null), else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--env-arg wants KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
