"""verl plugin (entry point group ``verl.plugins``): registers SkillRL's agent loop and trainer.

verl's ``__init__`` imports every ``verl.plugins`` entry point, so this module runs in every
process that imports verl — the driver, the TaskRunner and each agent-loop worker actor.

Importing verl's agent-loop and v1-trainer packages is heavy (Ray, TransferQueue, workers), and
this module runs *while* ``verl/__init__`` is still executing. So it registers lazily:

- if the target verl module is already imported, register now;
- otherwise install a post-import hook that registers right after that module finishes
  importing (``verl.experimental.agent_loop`` -> the agent loop,
  ``verl.trainer.ppo.v1`` -> the trainer).

Processes that only use verl's algorithm functions (the local backend) never pay for them.

verl itself logs a plugin that fails to load at DEBUG only, so every failure here is logged at
WARNING by this module (and ``python -m skillrl.main`` checks the entry point before Ray starts).
verl's own registration path, ``rollout.agent.agent_loop_config_path`` (``configs/verl/agent_loops.yaml``
in the SkillRL configs), registers the agent loop as well, in every agent-loop worker.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

AGENT_LOOP_MODULE = "verl.experimental.agent_loop"
TRAINER_MODULE = "verl.trainer.ppo.v1"


def register_agent_loop() -> None:
    """Register :class:`skillrl.trainer.verl_agent_loop.EnvAgentLoop` with verl (by dotted path)."""
    from skillrl.trainer import _verl
    from skillrl.trainer.verl_agent_loop import AGENT_LOOP_NAME, AGENT_LOOP_TARGET

    _verl.register_agent_loop(AGENT_LOOP_NAME, AGENT_LOOP_TARGET)


def register_trainer() -> None:
    """Register :class:`skillrl.trainer.verl_trainer.SkillRLTrainer` (import registers it)."""
    import skillrl.trainer.verl_trainer  # noqa: F401  (the @register_trainer decorator runs)


_HOOKS: dict[str, Callable[[], None]] = {AGENT_LOOP_MODULE: register_agent_loop, TRAINER_MODULE: register_trainer}
_done: set[str] = set()
_lock = threading.RLock()


def _run_hook(module_name: str) -> None:
    with _lock:
        if module_name in _done:
            return
        _done.add(module_name)
    try:
        _HOOKS[module_name]()
    except Exception:  # never break the user's import of verl
        log.warning("skillrl plugin: registering with %s failed", module_name, exc_info=True)


class _LoaderWrapper(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, module_name: str) -> None:
        self._loader = loader
        self._name = module_name

    def create_module(self, spec):  # noqa: D401 - loader protocol
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _run_hook(self._name)

    def __getattr__(self, item):
        return getattr(self._loader, item)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the watched modules so that our hook runs after they executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _HOOKS or fullname in _done:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoaderWrapper(spec.loader, fullname)
                return spec
        return None


def install() -> None:
    """Register now where verl's modules are loaded, else on their import. Idempotent."""
    for name in _HOOKS:
        module = sys.modules.get(name)
        if module is not None and getattr(getattr(module, "__spec__", None), "_initializing", False) is False:
            _run_hook(name)
    if not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())


try:
    install()
except Exception:  # verl would swallow it at DEBUG
    log.warning("skillrl plugin: installing the verl registration hooks failed", exc_info=True)
