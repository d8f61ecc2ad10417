"""Prompt styles: how one episode turns env output into prompts, and model output into history.

A style is chosen once per run (``env.prompt_style``) and handed to
:func:`skillrl.agent.loop.run_episode`; the loop never branches on its name.

- ``native`` (:class:`NativeStyle`, the default for new runs): the env's own prompt builder
  (``EnvSpec.build_prompt``), the env's task text, skills from the project's retrievers (routed by
  the env's ground-truth task type), and the raw model output kept in the history when the
  projection found no action.
- ``original`` (:class:`skillrl.agent.original.OriginalPromptStyle`): the original SkillRL's
  prompts byte for byte, the task as its env manager extracts it from the first observation,
  its keyword-routed skill block, and the projected action in the history even when it is ``""``.
  It needs the env built with ``style="original"`` (raw observation text, the original's
  projection and dynamics) and a checkout of the original repository for the templates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agent_system.environments.base import EnvSpec, PromptContext

#: the values of ``env.prompt_style``
PROMPT_STYLES = ("native", "original")
#: the variable that names the original checkout when ``env.original_repo`` is not set
ORIGINAL_REPO_ENV = "SKILLRL_ORIGINAL_REPO"


@runtime_checkable
class PromptStyle(Protocol):
    """What :func:`~skillrl.agent.loop.run_episode` needs from a prompt style."""

    name: str

    def build_prompt(self, ctx: PromptContext) -> str:
        """One turn's user prompt."""
        ...

    def prompt_task(self, first_observation: str, env_task: str) -> str:
        """The task shown in the prompts (and given to skill retrieval), from the reset
        observation and the env's ``info.task``."""
        ...

    def history_action(self, action: str, output: str) -> str:
        """What the history records for a turn: from the projected ``action`` and the raw model
        ``output``."""
        ...

    def skill_source(self, bank: Any, retriever_kwargs: Mapping[str, Any]) -> Any:
        """A ``SkillSource`` over ``bank`` (a :class:`~skillrl.skills.bank.SkillBank`) with the
        ``env.skills_only_memory`` settings as :meth:`SkillsConfig.retriever_kwargs` gives them."""
        ...


@dataclass(frozen=True)
class NativeStyle:
    """The project's prompts (see the module docstring)."""

    spec: EnvSpec
    """The environment whose prompt builder and taxonomy are used."""
    name: str = "native"
    """Always ``native``."""

    def build_prompt(self, ctx: PromptContext) -> str:
        return self.spec.build_prompt(ctx)

    def prompt_task(self, first_observation: str, env_task: str) -> str:
        del first_observation
        return env_task

    def history_action(self, action: str, output: str) -> str:
        return action or output

    def skill_source(self, bank: Any, retriever_kwargs: Mapping[str, Any]) -> Any:
        from skillrl.skills.retrieval import build_retriever

        return build_retriever(bank, taxonomy=self.spec.taxonomy, **dict(retriever_kwargs))


def resolve_original_repo(original_repo: str | os.PathLike[str] | None) -> str | None:
    """``original_repo`` when set, else ``$SKILLRL_ORIGINAL_REPO`` (None when neither is)."""
    if original_repo is not None and str(original_repo).strip():
        return str(original_repo)
    return os.environ.get(ORIGINAL_REPO_ENV) or None


def _native(spec: EnvSpec, original_repo: str | os.PathLike[str] | None) -> PromptStyle:
    del original_repo
    return NativeStyle(spec)


def _original(spec: EnvSpec, original_repo: str | os.PathLike[str] | None) -> PromptStyle:
    from skillrl.agent.original import load_original_style

    return load_original_style(spec.name, resolve_original_repo(original_repo))


_BUILDERS: dict[str, Callable[[EnvSpec, str | os.PathLike[str] | None], PromptStyle]] = {
    "native": _native,
    "original": _original,
}


def build_prompt_style(spec: EnvSpec, style: str = "native", original_repo: str | os.PathLike[str] | None = None) -> PromptStyle:
    """The prompt style ``style`` for ``spec``'s env.

    ``original_repo`` (or ``$SKILLRL_ORIGINAL_REPO``) is the checkout of the original SkillRL
    whose templates the ``original`` style reads; the ``native`` style ignores it.

    Raises:
        ValueError: an unknown style.
        skillrl.utils.registry.RegistryError: ``original`` for an env the original never had.
        agent_system.environments.original_templates.OriginalRepoError: no checkout, or a
            template missing from it (one line naming the path).
    """
    if style not in _BUILDERS:
        raise ValueError(f"unknown prompt style {style!r}; known: {', '.join(PROMPT_STYLES)}")
    return _BUILDERS[style](spec, original_repo)


def env_style_kwargs(style: str) -> dict[str, str]:
    """The env factory setting a prompt style needs (``{"style": "original"}``; none for native).

    >>> env_style_kwargs("original"), env_style_kwargs("native")
    ({'style': 'original'}, {})
    """
    return {"style": "original"} if style == "original" else {}
