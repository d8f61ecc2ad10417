"""Render recorded turns ("cases") in the original or the native prompt style.

A case file is JSON Lines, one case a line, in the format of the original-compatibility goldens
(``../shared/fixtures/original_prompts/``)::

    prompt case:     {"env", "case", "inputs": {...}, "turn": N, "prompt": "..."}
    projection case: {"env", "case", "inputs": {"text", "admissible_actions"?}, "action", "valid"}

``inputs`` of a prompt case hold the raw env outputs of one episode up to turn ``N``:
``observations[0..N]``, ``actions[0..N-1]`` (projected, as sent to the env), the current
admissible actions (ALFWorld ``admissible_actions``; WebShop ``available_actions``
``{has_search_bar, clickables}``; none for Search), the task (``task``; Search ``question``),
``history_length``, and the skill settings ``use_skills``, ``skills_json`` (relative to
``<original repo>/memory_data``), ``retrieval_mode`` (``template``), ``top_k``,
``task_specific_top_k`` (null = the env's default / all). ``prompt``, ``action`` and ``valid``
are the expected outputs and are not needed to render.

Native rendering feeds the same inputs to the project's own prompt builder (``EnvSpec``): the
recorded actions form the history, the env's raw admissible list is shown, and skills (when on)
come from the project's template retriever over the same bank (task type from the task text).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_system.environments.base import PromptContext
from agent_system.environments.original_templates import bank_file
from skillrl.agent.original import OriginalPromptStyle, load_original_style
from skillrl.skills.original import OriginalBank, load_original_bank

Style = Literal["original", "native"]
STYLES: tuple[str, ...] = ("original", "native")

_PROMPT_KEYS = ("env", "inputs", "turn")
_PROMPT_INPUT_KEYS = ("observations", "actions", "history_length")
_PROJECTION_KEYS = ("env", "inputs")


class CaseFileError(ValueError):
    """A case file is unreadable or a case in it is malformed (the message names file and line)."""


@dataclass(frozen=True)
class Case:
    """One line of a case file."""

    env: str
    """The environment kind."""
    name: str
    """The case's ``case`` label (``line N`` when absent)."""
    inputs: Mapping[str, Any]
    """The raw inputs (see the module docstring)."""
    line: int
    """1-based line number in the file (for messages)."""
    turn: int | None = None
    """The turn to render (prompt cases only)."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The whole decoded line."""


def read_cases(path: str | os.PathLike[str], kind: Literal["prompt", "projection"]) -> list[Case]:
    """Read and check a case file; blank lines are skipped.

    Raises:
        CaseFileError: missing/unreadable file, bad JSON on a line, a line that is not an
            object, missing keys, or a bad ``turn`` (every message names the file and line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError(f"{p}: case file not found") from None
    except IsADirectoryError:
        raise CaseFileError(f"{p}: is a directory, not a case file") from None
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{p}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise CaseFileError(f"{p}: cannot read ({exc.strerror or exc})") from None
    cases: list[Case] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CaseFileError(f"{where}: bad JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise CaseFileError(f"{where}: a case must be a JSON object, got {type(row).__name__}")
        cases.append(_check_case(row, kind, where, number))
    if not cases:
        raise CaseFileError(f"{p}: no cases in the file")
    return cases


def _missing(obj: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    return [k for k in keys if k not in obj]


def _check_case(row: dict[str, Any], kind: str, where: str, number: int) -> Case:
    keys = _PROMPT_KEYS if kind == "prompt" else _PROJECTION_KEYS
    missing = _missing(row, keys)
    if missing:
        raise CaseFileError(f"{where}: missing key(s) {', '.join(map(repr, missing))} in the case")
    inputs = row["inputs"]
    if not isinstance(inputs, dict):
        raise CaseFileError(f"{where}: 'inputs' must be an object")
    name = str(row.get("case") or f"line {number}")
    if kind == "projection":
        if "text" not in inputs:
            raise CaseFileError(f"{where}: missing key 'text' in inputs")
        if not isinstance(inputs["text"], str):
            raise CaseFileError(f"{where}: inputs.text must be a string")
        return Case(env=str(row["env"]), name=name, inputs=inputs, line=number, raw=row)
    missing = _missing(inputs, _PROMPT_INPUT_KEYS)
    if missing:
        raise CaseFileError(f"{where}: missing key(s) {', '.join(map(repr, missing))} in inputs")
    turn = row["turn"]
    observations, actions = inputs["observations"], inputs["actions"]
    if not isinstance(observations, list) or not isinstance(actions, list):
        raise CaseFileError(f"{where}: inputs.observations and inputs.actions must be lists")
    if not isinstance(turn, int) or isinstance(turn, bool) or not 0 <= turn < len(observations):
        raise CaseFileError(f"{where}: turn must be an integer in [0, {len(observations) - 1}] (one observation per turn), got {turn!r}")
    if len(actions) < turn:
        raise CaseFileError(f"{where}: {turn} earlier turn(s) need {turn} actions, got {len(actions)}")
    if not isinstance(inputs["history_length"], int):
        raise CaseFileError(f"{where}: inputs.history_length must be an integer")
    if inputs.get("use_skills"):
        if not inputs.get("skills_json"):
            raise CaseFileError(f"{where}: use_skills is true but inputs.skills_json is missing")
        mode = inputs.get("retrieval_mode") or "template"
        if mode != "template":
            raise CaseFileError(f"{where}: retrieval_mode {mode!r} is not supported (only 'template')")
    return Case(env=str(row["env"]), name=name, inputs=inputs, line=number, turn=turn, raw=row)


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer or null, got {value!r}")
    return value


class CaseRenderer:
    """Renders prompt cases and projects projection cases in one style.

    Templates and banks are loaded once per env / bank file. ``original_repo`` is required for
    the original style, and for either style when a case uses skills (the banks live there).
    """

    def __init__(self, style: Style, original_repo: str | os.PathLike[str] | None = None) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown prompt style {style!r}; known: {', '.join(STYLES)}")
        self.style = style
        self.original_repo = original_repo
        self._styles: dict[str, OriginalPromptStyle] = {}
        self._banks: dict[str, OriginalBank] = {}
        self._native_retrievers: dict[tuple[str, str, int, int | None], Any] = {}

    # -- lookups ----------------------------------------------------------------------------

    def original(self, env: str) -> OriginalPromptStyle:
        """The env's original style (templates loaded on first use)."""
        if env not in self._styles:
            self._styles[env] = load_original_style(env, self.original_repo)
        return self._styles[env]

    def _bank_path(self, skills_json: str) -> Path:
        return bank_file(self.original_repo, skills_json)

    def _original_bank(self, skills_json: str) -> OriginalBank:
        if skills_json not in self._banks:
            self._banks[skills_json] = load_original_bank(self._bank_path(skills_json))
        return self._banks[skills_json]

    # -- rendering --------------------------------------------------------------------------

    def render(self, case: Case) -> str:
        """The user prompt of ``case`` at its turn in this renderer's style.

        Raises:
            OriginalRepoError: the original checkout, a template or a bank is missing.
            RegistryError: unknown env.
            ValueError / KeyError: inputs that do not fit the env (wrapped by :func:`render_cases`).
        """
        inputs, turn = case.inputs, case.turn
        assert turn is not None, "render() needs a prompt case"
        style = self.original(case.env) if self.style == "original" else None
        env_style = style.env if style is not None else _env_style(case.env)
        task = env_style.case_task(inputs)
        ctx = PromptContext(
            task=task,
            observation=str(inputs["observations"][turn]),
            history=tuple((str(o), str(a)) for o, a in zip(inputs["observations"][:turn], inputs["actions"][:turn])),
            admissible_actions=env_style.case_admissible(inputs),
            skill_block=self._skill_block(case, task),
            turn=turn,
            history_length=int(inputs["history_length"]),
        )
        if style is not None:
            return style.build_prompt(ctx)
        return _native_spec(case.env).build_prompt(ctx)

    def _skill_block(self, case: Case, task: str) -> str:
        inputs = case.inputs
        if not inputs.get("use_skills"):
            return ""
        top_k = _int_or_none(inputs.get("top_k"), "top_k")
        specific_k = _int_or_none(inputs.get("task_specific_top_k"), "task_specific_top_k")
        skills_json = str(inputs["skills_json"])
        if self.style == "original":
            style = self.original(case.env)
            return style.skill_block(self._original_bank(skills_json), task, top_k=top_k, task_specific_top_k=specific_k)
        return self._native_skill_block(case.env, skills_json, task, top_k, specific_k)

    def _native_skill_block(self, env: str, skills_json: str, task: str, top_k: int | None, specific_k: int | None) -> str:
        """The native skill block: the project's template retriever over the same bank.

        ``top_k=None`` takes the project's default (6). The task type is inferred from the task
        text (a case carries no ground-truth type for every env). This is the one call into the
        native retrieval API (``build_retriever``); adapt it here if that signature changes.
        """
        from agent_system.environments import get_env_spec
        from skillrl.skills.retrieval import build_retriever

        k = 6 if top_k is None else top_k
        key = (env, skills_json, k, specific_k)
        if key not in self._native_retrievers:
            self._native_retrievers[key] = build_retriever(
                self._bank_path(skills_json), taxonomy=get_env_spec(env).taxonomy, mode="template", top_k=k,
                task_specific_top_k=specific_k,
            )
        return self._native_retrievers[key].retrieve(task, None).text

    def project(self, case: Case) -> tuple[str, bool]:
        """``(action, valid)`` of a projection case's ``inputs.text`` in this style."""
        text = case.inputs["text"]
        admissible = case.inputs.get("admissible_actions")
        if self.style == "original":
            parsed = _env_style(case.env).project_action(text, admissible)
        else:
            parsed = _native_spec(case.env).project_action(text, admissible)
        return parsed.action, parsed.valid


def _env_style(env: str):
    from agent_system.environments.original_style import get_original_style

    return get_original_style(env)


def _native_spec(env: str):
    from agent_system.environments import get_env_spec

    return get_env_spec(env)


def render_cases(
    cases: Sequence[Case],
    style: Style,
    original_repo: str | os.PathLike[str] | None = None,
    *,
    on_case: Callable[[Case], None] | None = None,
) -> list[str]:
    """Render every prompt case, in order.

    Raises:
        OriginalRepoError: the original checkout, a template or a bank is missing.
        CaseFileError: a case whose inputs do not fit its env (names the line and the problem).
        RegistryError: unknown env name in a case.
    """
    from agent_system.environments.original_templates import OriginalRepoError
    from skillrl.utils.registry import RegistryError

    renderer = CaseRenderer(style, original_repo)
    prompts = []
    for case in cases:
        try:
            prompts.append(renderer.render(case))
        except (OriginalRepoError, RegistryError):
            raise
        except KeyError as exc:
            raise CaseFileError(f"line {case.line} ({case.name}): missing key {exc} in inputs for env {case.env!r}") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise CaseFileError(f"line {case.line} ({case.name}): {exc}") from None
        if on_case is not None:
            on_case(case)
    return prompts


def project_cases(cases: Sequence[Case], style: Style) -> list[dict[str, Any]]:
    """``[{"action", "valid"}]`` for every projection case, in order (``valid`` as 0/1).

    Raises:
        RegistryError: unknown env name in a case.
    """
    renderer = CaseRenderer(style)
    out = []
    for case in cases:
        action, valid = renderer.project(case)
        out.append({"action": action, "valid": int(valid)})
    return out
