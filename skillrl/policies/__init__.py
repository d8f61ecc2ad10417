"""Every way of acting, as a policy of the shared agent loop, behind one registry.

A policy is named ``NAME`` or ``KIND:ARG``:

========================= ======================================================================
name                      policy
========================= ======================================================================
``expert``, ``oracle`` …  a scripted policy of the env (``EnvSpec.play.scripts``: the ALFWorld
                          expert, the WebShop / Search oracles, ``random``, ``perturbed`` and
                          ``perturbed:<failure kind>``); the first of the env's is the default
``hf:PATH``               a local HF causal LM (batched generation, CPU or GPU)
``ckpt:DIR``              a ``skillrl train --local`` checkpoint: its model, tokenizer, the bank
                          at its version, its retrieval and episode settings
``openai:MODEL``          a model behind an OpenAI-compatible endpoint (``OPENAI_BASE_URL``,
                          ``OPENAI_API_KEY``): OpenAI, vLLM, SGLang, a proxy
``azure:DEPLOYMENT``      Azure OpenAI (``AZURE_OPENAI_*``)
========================= ======================================================================

:data:`POLICY_KINDS` maps a kind to its loader (one signature: ``(spec, arg, options) ->
LoadedPolicy``); :func:`load_policy` parses a name and calls the loader. Model kinds import
torch/transformers or openai only when used.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_system.environments.base import EnvSpec
from skillrl.policies.base import LoadedPolicy, PolicyLoadError, PolicyOptions
from skillrl.policies.scripted import ScriptedPolicy, load_scripted
from skillrl.utils.registry import Registry

PolicyLoader = Callable[[EnvSpec, str, PolicyOptions], LoadedPolicy]

#: policy kind -> loader ``(env spec, argument after "KIND:", options) -> LoadedPolicy``
POLICY_KINDS: Registry[PolicyLoader] = Registry("policy kind")


def _scripted(spec: EnvSpec, arg: str, options: PolicyOptions) -> LoadedPolicy:
    return load_scripted(spec, arg, options)


def _hf(spec: EnvSpec, arg: str, options: PolicyOptions) -> LoadedPolicy:
    from skillrl.policies.hf import load_hf

    return load_hf(arg, options)


def _ckpt(spec: EnvSpec, arg: str, options: PolicyOptions) -> LoadedPolicy:
    from skillrl.policies.hf import load_checkpoint

    return load_checkpoint(arg, options, env_name=spec.name)


def _openai(spec: EnvSpec, arg: str, options: PolicyOptions) -> LoadedPolicy:
    from skillrl.policies.endpoint import load_endpoint

    return load_endpoint("openai", arg, options)


def _azure(spec: EnvSpec, arg: str, options: PolicyOptions) -> LoadedPolicy:
    from skillrl.policies.endpoint import load_endpoint

    return load_endpoint("azure", arg, options)


POLICY_KINDS.register("scripted", _scripted)
POLICY_KINDS.register("hf", _hf)
POLICY_KINDS.register("ckpt", _ckpt)
POLICY_KINDS.register("openai", _openai)
POLICY_KINDS.register("azure", _azure)

#: how the model kinds are written (for help texts and error messages)
MODEL_FORMS = ("hf:PATH", "ckpt:DIR", "openai:MODEL", "azure:DEPLOYMENT")


def policy_choices(spec: EnvSpec) -> list[str]:
    """The names a user may give for ``spec``: its scripted policies, then the model forms."""
    scripts = list(spec.play.scripts) if spec.play is not None else []
    return scripts + list(MODEL_FORMS)


def parse_policy(spec: EnvSpec, name: str) -> tuple[str, str]:
    """``(kind, argument)`` of a policy name (see the module docstring).

    >>> from agent_system.environments import get_env_spec
    >>> parse_policy(get_env_spec("toy"), "oracle"), parse_policy(get_env_spec("toy"), "hf:/m")
    (('scripted', 'oracle'), ('hf', '/m'))

    Raises:
        PolicyLoadError: the name is neither a scripted policy of the env nor ``KIND:ARG`` of a
            known kind (the message lists the choices).
    """
    name = name.strip()
    if spec.play is not None and name in spec.play.scripts:
        return "scripted", name
    kind, sep, arg = name.partition(":")
    if sep and kind in POLICY_KINDS:
        return kind, arg.strip()
    raise PolicyLoadError(f"unknown {spec.name} policy {name!r}; choose one of: {', '.join(policy_choices(spec))}")


def load_policy(spec: EnvSpec, name: str | None, options: PolicyOptions = PolicyOptions()) -> LoadedPolicy:
    """Build the policy ``name`` for ``spec`` (None: the env's default scripted policy).

    Raises:
        PolicyLoadError: an unknown name or a policy that cannot be built (one-line message).
    """
    if name is None:
        if spec.play is None:
            raise PolicyLoadError(f"environment {spec.name!r} has no scripted policy; name one of: {', '.join(MODEL_FORMS)}")
        name = spec.play.default_script
    kind, arg = parse_policy(spec, name)
    return POLICY_KINDS.get(kind)(spec, arg, options)


__all__ = [
    "MODEL_FORMS",
    "POLICY_KINDS",
    "LoadedPolicy",
    "PolicyLoadError",
    "PolicyOptions",
    "ScriptedPolicy",
    "load_policy",
    "parse_policy",
    "policy_choices",
]
