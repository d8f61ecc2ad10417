"""Prompt templates of the original SkillRL, read from a checkout the user points to.

The original's prompt wording is not part of this project: the ``prompt_style=original`` mode
reads it, at run time, from a checkout of the original repository (aiming-lab/SkillRL; the
goldens were made at commit ``48c8446f``). The templates are module-level string constants of
``agent_system/environments/prompts/<env>.py`` in that checkout, three per environment::

    <PREFIX>_TEMPLATE_NO_HIS       turn 0, and every turn when history_length <= 0
    <PREFIX>_TEMPLATE              later turns, skills off
    <PREFIX>_TEMPLATE_WITH_MEMORY  later turns, skills on

They are ``str.format`` strings. The file is parsed with :mod:`ast` and never imported, so the
original package (and its dependencies) need not be installable; only plain string constants
(``NAME = "..."``, implicit concatenation included) are taken.

Every problem raises :class:`OriginalRepoError` with one line naming the path and what is
missing, before any prompt is rendered: a missing checkout, a missing template file, a file
that does not parse, a missing constant, or a template that asks for a field the renderer does
not supply.
"""

from __future__ import annotations

import ast
import os
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: where the templates live inside a checkout of the original repository
PROMPTS_DIR = Path("agent_system/environments/prompts")
#: where the original's skill banks live inside a checkout (``skills_json`` paths are relative to it)
MEMORY_DIR = Path("memory_data")

ORIGINAL_REPO_HINT = (
    "point env.original_repo (CLI: --original-repo, or SKILLRL_ORIGINAL_REPO) at a checkout of "
    "https://github.com/aiming-lab/SkillRL"
)


class OriginalRepoError(FileNotFoundError):
    """The original checkout, one of its template files or a template in it is missing/unusable."""


@dataclass(frozen=True)
class OriginalTemplates:
    """The three ``str.format`` templates of one environment, as found in the original checkout."""

    env_name: str
    """The environment they belong to (``alfworld``, ``webshop``, ``search``)."""
    no_history: str
    """``<PREFIX>_TEMPLATE_NO_HIS``: turn 0 (and every turn when ``history_length <= 0``)."""
    history: str
    """``<PREFIX>_TEMPLATE``: later turns without skills."""
    with_memory: str
    """``<PREFIX>_TEMPLATE_WITH_MEMORY``: later turns with the skill block."""
    source: str
    """The file they were read from (for messages and logs)."""


def check_repo(repo: str | os.PathLike[str] | None, needed_for: str = "the original prompt templates") -> Path:
    """Return ``repo`` as a path to an existing directory.

    Raises:
        OriginalRepoError: ``repo`` is unset or not a directory.
    """
    if repo is None or str(repo).strip() == "":
        raise OriginalRepoError(f"{needed_for} come from a checkout of the original SkillRL repository: {ORIGINAL_REPO_HINT}")
    path = Path(repo).expanduser()
    if not path.is_dir():
        raise OriginalRepoError(f"original SkillRL repository not found at {path}: {ORIGINAL_REPO_HINT}")
    return path


def original_file(
    repo: str | os.PathLike[str] | None,
    relative: str | os.PathLike[str],
    needed_for: str = "the original prompt templates",
) -> Path:
    """The file ``relative`` inside the original checkout, checked to exist.

    Raises:
        OriginalRepoError: no checkout at ``repo``, or no such file in it.
    """
    root = check_repo(repo, needed_for)
    path = root / relative
    if not path.is_file():
        raise OriginalRepoError(f"{path}: missing from the original SkillRL checkout at {root} ({ORIGINAL_REPO_HINT})")
    return path


def bank_file(repo: str | os.PathLike[str] | None, skills_json: str | os.PathLike[str]) -> Path:
    """A skill bank of the original checkout: ``skills_json`` relative to ``<repo>/memory_data``
    (an absolute ``skills_json`` is taken as is).

    Raises:
        OriginalRepoError: the checkout or the bank file is missing.
    """
    if Path(skills_json).is_absolute():
        path = Path(skills_json)
        if not path.is_file():
            raise OriginalRepoError(f"{path}: skill bank file not found")
        return path
    return original_file(repo, MEMORY_DIR / skills_json, f"skill banks such as {skills_json}")


def string_constants(path: Path) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments of a Python file, read without importing it.

    Raises:
        OriginalRepoError: the file cannot be read or parsed.
    """
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise OriginalRepoError(f"{path}: cannot read the original templates ({exc})") from None
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            out[node.target.id] = node.value.value
    return out


def template_fields(template: str) -> set[str]:
    """The ``{field}`` names a ``str.format`` template uses.

    >>> sorted(template_fields("Task: {task_description} at step {current_step}."))
    ['current_step', 'task_description']
    """
    fields: set[str] = set()
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None:
            fields.add(name.split(".", 1)[0].split("[", 1)[0])
    return fields


def load_templates(
    repo: str | os.PathLike[str] | None,
    env_name: str,
    file_name: str,
    prefix: str,
    *,
    no_history_fields: Iterable[str],
    history_fields: Iterable[str],
) -> OriginalTemplates:
    """Read ``<PREFIX>_TEMPLATE_NO_HIS`` / ``_TEMPLATE`` / ``_TEMPLATE_WITH_MEMORY`` from
    ``<repo>/agent_system/environments/prompts/<file_name>``.

    The ``*_fields`` arguments are the fields the renderer supplies to each template (the memory
    template gets the history fields plus ``retrieved_memories``); a template that uses any other
    field is rejected here rather than failing mid-rollout.

    Raises:
        OriginalRepoError: missing checkout/file/constant, or a template with unknown fields.
    """
    path = original_file(repo, PROMPTS_DIR / file_name)
    constants = string_constants(path)
    history = set(history_fields)
    wanted = {
        "no_history": (f"{prefix}_TEMPLATE_NO_HIS", set(no_history_fields)),
        "history": (f"{prefix}_TEMPLATE", history),
        "with_memory": (f"{prefix}_TEMPLATE_WITH_MEMORY", history | {"retrieved_memories"}),
    }
    found: dict[str, str] = {}
    for key, (name, supplied) in wanted.items():
        if name not in constants:
            raise OriginalRepoError(f"{path}: no string constant {name} (is this a checkout of the original SkillRL?)")
        template = constants[name]
        try:
            unknown = template_fields(template) - supplied
        except ValueError as exc:
            raise OriginalRepoError(f"{path}: {name} is not a valid str.format template ({exc})") from None
        if unknown:
            raise OriginalRepoError(
                f"{path}: {name} uses field(s) {', '.join(sorted(unknown))} that the original style does not "
                f"supply (supplied: {', '.join(sorted(supplied))})"
            )
        found[key] = template
    return OriginalTemplates(env_name=env_name, source=str(path), **found)
