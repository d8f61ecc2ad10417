"""The ``verl.plugins`` entry point: importing verl registers our agent loop and trainer, lazily."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

pytest.importorskip("verl")

SCRIPT = """
import sys
import verl
assert "skillrl.trainer.plugin" in sys.modules, "entry point not loaded by verl"
assert "verl.trainer.ppo.v1" not in sys.modules, "plugin must not import the v1 trainer eagerly"
from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
assert _agent_loop_registry["skillrl_env_agent"] == {"_target_": "skillrl.trainer.verl_agent_loop.EnvAgentLoop"}
from verl.trainer.ppo.v1 import get_trainer_cls
cls = get_trainer_cls("skillrl_sync")
assert cls.__module__ == "skillrl.trainer.verl_trainer", cls
print("OK")
"""


def test_entry_point_is_declared():
    names = {ep.name: ep.value for ep in entry_points(group="verl.plugins")}
    assert names.get("skillrl") == "skillrl.trainer.plugin"


def test_import_verl_registers_everything_in_a_fresh_process():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


IDEMPOTENT = """
import sys
import verl
import verl.experimental.agent_loop
import verl.trainer.ppo.v1
from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
from verl.trainer.ppo.v1 import trainer_base
assert "skillrl.trainer.plugin" not in sys.modules, "the entry point must be off in this process"
assert "skillrl_env_agent" not in _agent_loop_registry
registered = []
real = trainer_base.register_trainer
def counting(name):
    registered.append(name)
    return real(name)
trainer_base.register_trainer = counting
import skillrl.trainer.verl_trainer  # noqa: F401  (first registration, by the decorator)
from skillrl.trainer import plugin   # verl is loaded: registers at once
assert _agent_loop_registry["skillrl_env_agent"] == {"_target_": "skillrl.trainer.verl_agent_loop.EnvAgentLoop"}
plugin.install()
plugin.install()
finders = [f for f in sys.meta_path if type(f).__name__ == "_PostImportFinder"]
assert len(finders) == 1, finders
assert registered == ["skillrl_sync"], registered
assert trainer_base.get_trainer_cls("skillrl_sync").__module__ == "skillrl.trainer.verl_trainer"
print("OK")
"""


def test_registration_is_idempotent_when_verl_is_already_loaded():
    """In a fresh process with verl's plugin discovery off (so the test can fail): importing the
    plugin after verl registers the loop at once, and installing again changes nothing."""
    env = {**os.environ, "VERL_USE_EXTERNAL_PLUGINS": "none"}
    proc = subprocess.run([sys.executable, "-c", IDEMPOTENT], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


def test_a_failing_registration_is_logged_at_warning(monkeypatch, caplog):
    import logging

    from skillrl.trainer import plugin

    def broken():
        raise ImportError("no module named vllm_thing")

    monkeypatch.setitem(plugin._HOOKS, "verl.fake_module", broken)
    with caplog.at_level(logging.WARNING, logger=plugin.__name__):
        plugin._run_hook("verl.fake_module")
    (record,) = [r for r in caplog.records if r.name == plugin.__name__]
    assert record.levelno == logging.WARNING and "verl.fake_module" in record.getMessage()
    assert "vllm_thing" in caplog.text
    plugin._done.discard("verl.fake_module")
