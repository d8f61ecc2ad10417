"""An env's scripted policies (``EnvSpec.play.scripts``) as policies of the shared agent loop."""

from __future__ import annotations

from typing import Any

from agent_system.environments.base import Actor, EnvSpec, TurnView
from skillrl.agent.episode import Generation
from skillrl.policies.base import LoadedPolicy, PolicyLoadError, PolicyOptions


class ScriptedPolicy:
    """One episode's scripted actor as an :class:`~skillrl.agent.loop.ObservingPolicy`.

    The agent loop calls :meth:`act` with the turn's prompt (ignored) and its
    :class:`~agent_system.environments.base.TurnView`; the actor's raw text becomes the
    generation. :attr:`metadata` is what the episode records about it (``failure_kind`` for a
    perturbed actor, once it has chosen one).
    """

    def __init__(self, actor: Actor, name: str) -> None:
        self.actor = actor
        self.name = name

    async def act(self, prompt: str, view: TurnView) -> Generation:
        del prompt
        return Generation(text=self.actor.act(view))

    async def generate(self, prompt: str) -> Generation:
        raise TypeError(f"the scripted policy {self.name!r} reads the env's state: play it with run_episode, "
                        "which hands it a TurnView")

    @property
    def metadata(self) -> dict[str, Any]:
        kind = getattr(self.actor, "failure_kind", None)
        return {"failure_kind": kind} if kind else {}


def load_scripted(spec: EnvSpec, name: str, options: PolicyOptions) -> LoadedPolicy:
    """The scripted policy ``name`` of ``spec`` (a key of ``spec.play.scripts``).

    Raises:
        PolicyLoadError: the env has no scripted policies, or none of that name.
    """
    del options
    if spec.play is None:
        raise PolicyLoadError(f"environment {spec.name!r} has no scripted policies")
    scripts = spec.play.scripts
    if name not in scripts:
        raise PolicyLoadError(f"unknown {spec.name} scripted policy {name!r}; choose one of: {', '.join(scripts)}")
    script = scripts[name]
    return LoadedPolicy(
        name=name,
        kind="scripted",
        for_episode=lambda seed: ScriptedPolicy(script.make(seed), name),
        describe={"script": name, "summary": script.summary, "failure_kinds": list(script.failure_kinds)},
        scripted=True,
    )
