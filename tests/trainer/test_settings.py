"""The typed settings: one definition per setting, reaching Hydra, the local trainer and the verl
agent loop; the loader names the full key of a bad value."""

from __future__ import annotations

import ast
import dataclasses
import inspect

import pytest

from skillrl.agent.loop import EpisodeConfig
from skillrl.skills.config import EvolutionSettings, LLMConfig, SkillsConfig
from skillrl.trainer.config import EnvConfig, RolloutConfig, UnknownKeyError, compose, load_config
from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.utils.config import ConfigError

CONFIG_CLASSES = [LLMConfig, EvolutionSettings, SkillsConfig, EpisodeConfig, RolloutConfig, EnvConfig, LocalTrainConfig]


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=lambda c: c.__name__)
def test_every_field_has_a_docstring(cls):
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    documented = {stmt.target.id for stmt, nxt in zip(body, body[1:])
                  if isinstance(stmt, ast.AnnAssign) and isinstance(nxt, ast.Expr)
                  and isinstance(getattr(nxt, "value", None), ast.Constant) and isinstance(nxt.value.value, str)}
    own = {f.name for f in dataclasses.fields(cls)} - {f.name for base in cls.__mro__[1:]
                                                       if dataclasses.is_dataclass(base) for f in dataclasses.fields(base)}
    assert own and own <= documented, own - documented


@pytest.mark.parametrize("name", ["skillrl_trainer", "local_quickstart", "main_job"])
def test_every_skill_and_episode_setting_reaches_every_config(name):
    """A field added to SkillsConfig / EpisodeConfig appears in each config without other edits."""
    env = compose(name).env
    assert {f.name for f in dataclasses.fields(SkillsConfig)} == set(env.skills_only_memory.keys())
    assert {f.name for f in dataclasses.fields(EpisodeConfig)} <= set(env.keys())
    assert {f.name for f in dataclasses.fields(EnvConfig)} == set(env.keys())


def test_defaults_are_defined_once():
    """The YAML files hold per-env values only; the generic defaults are the dataclasses'."""
    assert compose("skillrl_trainer").env.skills_only_memory.top_k == SkillsConfig().top_k
    assert EnvConfig(env_name="alfworld").episode == EpisodeConfig()
    assert load_config(EnvConfig, {"env_name": "webshop"}).max_steps == EpisodeConfig().max_steps


def test_loader_names_the_full_key():
    with pytest.raises(ConfigError, match=r"env\.skills_only_memory\.top_k: -1"):
        load_config(EnvConfig, {"env_name": "toy", "skills_only_memory": {"top_k": -1}}, key="env")
    with pytest.raises(ConfigError, match=r"env\.rollout\.n: 'many' \(allowed: an integer\)"):
        load_config(EnvConfig, {"env_name": "toy", "rollout": {"n": "many"}}, key="env")
    with pytest.raises(UnknownKeyError, match=r"'env\.bogus'"):
        load_config(EnvConfig, {"env_name": "toy", "bogus": 1}, key="env")
    with pytest.raises(ConfigError, match=r"env\.env_name: '\?\?\?'"):
        load_config(EnvConfig, {}, key="env")
    with pytest.raises(ConfigError, match=r"^invalid value for lr: 0\.0 \(allowed: a number > 0 or null\)$"):
        load_config(LocalTrainConfig, {"lr": 0.0})


def test_keys_added_with_plus_are_still_rejected():
    cfg = compose("local_quickstart", ["+env.skills_only_memory.tokp=3"])
    with pytest.raises(UnknownKeyError, match=r"env\.skills_only_memory\.tokp.*did you mean .*top_k"):
        load_config(LocalTrainConfig, cfg)


def test_direct_construction_checks_too():
    with pytest.raises(ConfigError, match="retrieval_mode: 'bm25'"):
        SkillsConfig(retrieval_mode="bm25")
    with pytest.raises(ConfigError, match="max_steps: 0"):
        EpisodeConfig(max_steps=0)
    with pytest.raises(ConfigError, match="evolution_hook: 'nocolon'"):
        SkillsConfig(evolution_hook="nocolon")
    with pytest.raises(ConfigError, match="update_threshold: nan"):
        SkillsConfig(update_threshold=float("nan"))


def test_evolution_settings_sit_beside_the_original_flags():
    """``distiller``, ``llm.*``, ``evolution_source``, ... are ``env.skills_only_memory.*`` keys in
    Hydra, the local trainer and the verl agent loop, defined once (EvolutionSettings)."""
    from skillrl.trainer.verl_agent_loop import env_settings

    assert issubclass(SkillsConfig, EvolutionSettings)
    evo = {f.name for f in dataclasses.fields(EvolutionSettings)}
    assert {"distiller", "llm", "evolution_source", "dedup_threshold", "max_skills_per_category",
            "retire_min_episodes", "retire_margin", "retire_max_per_cycle", "timeout_s"} <= evo
    overrides = ["env.skills_only_memory.enable_dynamic_update=true", "env.skills_only_memory.distiller=openai",
                 "env.skills_only_memory.llm.model=my-model", "env.skills_only_memory.evolution_source=validation",
                 "env.skills_only_memory.retire_margin=0.3"]
    local = load_config(LocalTrainConfig, compose("local_quickstart", overrides)).env.skills_only_memory
    verl_env = compose("skillrl_trainer", ["env=toy", *overrides]).env
    from omegaconf import OmegaConf

    remote = env_settings(OmegaConf.to_container(verl_env, resolve=True)).skills_only_memory
    for s in (local, remote):
        assert (s.enable_dynamic_update, s.distiller, s.llm.model, s.evolution_source, s.retire_margin) == (
            True, "openai", "my-model", "validation", 0.3)
    with pytest.raises(ConfigError, match=r"env\.skills_only_memory\.llm\.timeout_s: 0"):
        load_config(EnvConfig, {"env_name": "toy", "skills_only_memory": {"llm": {"timeout_s": 0}}}, key="env")
    with pytest.raises(ConfigError, match=r"env\.skills_only_memory\.evolution_source: 'test'"):
        load_config(EnvConfig, {"env_name": "toy", "skills_only_memory": {"evolution_source": "test"}}, key="env")
