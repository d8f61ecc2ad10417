"""``python -m skillrl.main [hydra overrides]``: train with a config from ``configs/``.

The config picks the backend:

- ``skillrl_trainer`` (default) and the recipes ``grpo_<env>`` (the launch scripts): verl's v1
  PPO trainer with our agent loop and trainer subclass; needs GPUs and vLLM/SGLang. The checks
  in :func:`verl_preflight` run before Ray starts, so a machine without them fails in a second.
- ``local_quickstart`` and ``main_job`` (root: :class:`~skillrl.trainer.local.config.LocalTrainConfig`):
  the single-process backend. ``skillrl train --local`` composes the same configs with the
  same overrides.

Settings are typed once (:mod:`skillrl.trainer.config`): Hydra checks types and keys while
composing, :func:`typed_config` runs the dataclasses' own checks. Every bad setting ends the
run before anything is built with one ``error:`` line naming the key, the value and what is
allowed, and exit status 2. Hydra's own flags work: ``--cfg job [--resolve]`` prints the
composed config and exits.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from agent_system.environments.original_templates import OriginalRepoError
from skillrl.skills.schema import SkillBankError
from skillrl.trainer.config import (
    CONFIG_DIR,
    ComposeError,
    EnvConfig,
    compose,
    load_config,
    recipe_overrides,
    register_configs,
    verl_config_dir,
    with_verl_searchpath,
)
from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.utils.config import ConfigError
from skillrl.utils.paths import DataNotFoundError
from skillrl.utils.registry import RegistryError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "skillrl_trainer"

register_configs()


class PreflightError(RuntimeError):
    """The machine or the config cannot run the chosen backend; the message says why."""


#: errors that are the user's input, reported as one ``error:`` line with exit status 2
USER_ERRORS = (ConfigError, ComposeError, PreflightError, SkillBankError, DataNotFoundError, RegistryError,
               OriginalRepoError)


def is_local(cfg: DictConfig) -> bool:
    """Whether ``cfg`` is a local-backend config (its root is ``LocalTrainConfig``)."""
    return OmegaConf.get_type(cfg) is LocalTrainConfig


def typed_config(cfg: DictConfig) -> LocalTrainConfig | EnvConfig:
    """The typed settings of a composed config: the whole :class:`LocalTrainConfig` for a local
    config, the ``env`` section as :class:`EnvConfig` for a verl config (verl checks the rest).

    Raises:
        ConfigError: the first bad value, named by its full key.
    """
    if is_local(cfg):
        return load_config(LocalTrainConfig, cfg)
    if cfg.get("env") is None:
        raise ConfigError("env", None, "an env section (compose configs/env/<name>.yaml)")
    return load_config(EnvConfig, cfg.env, key="env")


PLUGIN_NAME = "skillrl"
PLUGIN_MODULE = "skillrl.trainer.plugin"


def plugin_problem(eps: Any = None, policy: str | None = None) -> str | None:
    """Why verl would not load SkillRL's ``verl.plugins`` entry point (None: it will).

    Args:
        eps: the ``verl.plugins`` entry points (None: the installed ones).
        policy: ``VERL_USE_EXTERNAL_PLUGINS`` (None: from the environment).
    """
    from importlib.metadata import entry_points

    eps = list(entry_points(group="verl.plugins") if eps is None else eps)
    ours = [ep for ep in eps if ep.name == PLUGIN_NAME]
    if not ours:
        return (f"the {PLUGIN_NAME!r} verl.plugins entry point is not installed, so Ray workers would not know "
                f"SkillRL's trainer (pip install -e . in the project folder, in the Python that runs verl)")
    policy = (os.environ.get("VERL_USE_EXTERNAL_PLUGINS", "auto") if policy is None else policy).strip().lower()
    if policy == "none" or (policy != "auto" and PLUGIN_NAME not in {p.strip() for p in policy.split(",")}):
        return f"VERL_USE_EXTERNAL_PLUGINS={policy!r} keeps verl from loading the {PLUGIN_NAME!r} plugin (unset it)"
    try:
        ours[0].load()
    except Exception as exc:  # noqa: BLE001 - any import failure is the message
        return f"the {PLUGIN_NAME!r} verl plugin ({ours[0].value}) cannot be imported: {type(exc).__name__}: {exc}"
    return None


def env_data_problems(env: EnvConfig) -> list[str]:
    """Build the env once per split the rows use (``train_split``, ``val_split``): a missing game
    folder or QA file fails here with the env's own message instead of in every Ray worker."""
    from agent_system.environments.base import get_env_spec

    spec = get_env_spec(env.env_name)
    problems = []
    for split in dict.fromkeys(s for s in (env.train_split, env.val_split)):
        try:
            spec.make(**env.factory_kwargs(split)).close()
        except Exception as exc:  # noqa: BLE001 - the env's own message says what is missing
            problems.append(f"env {env.env_name!r} split {split!r}: {exc}")
    return problems


def retriever_problem(env: EnvConfig, timeout_s: float = 5.0) -> str | None:
    """For the ``search`` env without an in-process corpus: one query to its retriever URL."""
    if env.env_name != "search" or env.env_kwargs.get("corpus") or env.env_kwargs.get("retriever"):
        return None
    from agent_system.environments.search.client import DEFAULT_URL, RetrieverClient, redact_url

    url = str(env.env_kwargs.get("retriever_url", DEFAULT_URL))
    try:
        with RetrieverClient(url, timeout=timeout_s, retries=0) as client:
            client.search_batch(["preflight"], 1)
    except Exception as exc:  # noqa: BLE001
        return (f"the search retriever at {redact_url(url)} does not answer ({type(exc).__name__}): start one "
                f"(skillrl retriever serve CORPUS.jsonl) or set env.env_kwargs.retriever_url, or "
                f"env.env_kwargs.corpus for an in-process index")
    return None


def verl_preflight(
    cfg: DictConfig,
    *,
    cuda_devices: int | None = None,
    have_module=lambda name: importlib.util.find_spec(name) is not None,
    plugin_check=plugin_problem,
) -> None:
    """Checks that would otherwise fail minutes later inside Ray actors, each with one line.

    Args:
        cuda_devices: visible CUDA devices (None: ask torch).
        have_module: whether a Python module is importable (injected in tests).
        plugin_check: :func:`plugin_problem` (injected in tests).
    Raises:
        PreflightError: no GPU, fewer GPUs than ``trainer.n_gpus_per_node``, the rollout
            engine (``actor_rollout_ref.rollout.name``) not installed, the SkillRL verl plugin
            not loadable, dataset files, env game data or the skill bank missing, the Search
            retriever not answering.
    """
    if cuda_devices is None:
        import torch

        cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    problems = []
    if cuda_devices == 0:
        problems.append(
            "no CUDA GPU is visible: the verl backend needs GPUs (on a CPU machine use the local backend: "
            "`skillrl train --local` or `python -m skillrl.main --config-name local_quickstart`)"
        )
    elif cuda_devices < int(cfg.trainer.n_gpus_per_node):
        problems.append(
            f"trainer.n_gpus_per_node={cfg.trainer.n_gpus_per_node} but only {cuda_devices} GPU(s) are visible"
        )
    engine = str(cfg.actor_rollout_ref.rollout.name)
    if not have_module(engine):
        problems.append(f"rollout engine {engine!r} is not installed (pip install {engine})")
    plugin = plugin_check()
    if plugin:
        problems.append(plugin)
    for key in ("train_files", "val_files"):
        files = cfg.data.get(key)
        for f in [files] if isinstance(files, str) else list(files or []):
            if not os.path.exists(os.path.expanduser(str(f))):
                problems.append(
                    f"data.{key} {f!r} does not exist: run `python examples/data_preprocess/prepare.py "
                    f"--env {cfg.env.env_name}` first"
                )
    if cfg.env.get("use_skills_only_memory"):
        bank = cfg.env.skills_only_memory.get("skills_json_path")
        if not bank or not os.path.isfile(os.path.expanduser(str(bank))):
            problems.append(f"env.skills_only_memory.skills_json_path {bank!r} is not a file")
    env = load_config(EnvConfig, cfg.env, key="env")
    problems.extend(env_data_problems(env))
    retriever = retriever_problem(env)
    if retriever:
        problems.append(retriever)
    style = str(cfg.env.get("prompt_style") or "native")
    if style != "native":
        from agent_system.environments.base import get_env_spec
        from skillrl.agent.style import build_prompt_style

        try:
            build_prompt_style(get_env_spec(str(cfg.env.env_name)), style, cfg.env.get("original_repo"))
        except OriginalRepoError as exc:
            problems.append(str(exc))
    if problems:
        raise PreflightError("cannot start the verl backend:\n  - " + "\n  - ".join(problems))


def absolute_paths(cfg: DictConfig, cwd: str | None = None) -> DictConfig:
    """Make the paths of a verl config absolute, in place (the TaskRunner and the agent-loop
    workers may run on other nodes, in other folders): data files, the env data folder (resolved
    here, so every worker reads the games the preflight checked), the skill bank, checkpoint
    folders, the agent-loop registry file, and TensorBoard's folder (``TENSORBOARD_DIR`` for
    the Ray workers). A relative bank path that is not under ``cwd`` is taken from the project
    folder (``memory_data/...``). Returns ``cfg``.
    """
    from omegaconf import open_dict

    from skillrl.trainer.config import PROJECT_ROOT
    from skillrl.utils.paths import ENV_VARS, DataNotFoundError as _Missing, resolve_data_dir

    base = cwd or os.getcwd()

    def absolute(path: Any, fallback: str | None = None) -> Any:
        if path is None or not isinstance(path, str) or "://" in path:
            return path
        path = os.path.expanduser(path)
        if os.path.isabs(path):
            return path
        here = os.path.join(base, path)
        if fallback and not os.path.exists(here) and os.path.exists(os.path.join(fallback, path)):
            return os.path.join(fallback, path)
        return here

    with open_dict(cfg):
        for key in ("train_files", "val_files"):
            files = cfg.data.get(key)
            cfg.data[key] = absolute(files) if isinstance(files, str) else [absolute(f) for f in files or []]
        if cfg.env.env_name in ENV_VARS:
            try:
                cfg.env.data_dir = str(resolve_data_dir(cfg.env.env_name, absolute(cfg.env.get("data_dir"))).resolve())
            except _Missing:
                pass  # the preflight reports it
        skills = cfg.env.skills_only_memory
        skills.skills_json_path = absolute(skills.get("skills_json_path"), PROJECT_ROOT)
        trainer = cfg.trainer
        for key in ("default_local_dir", "resume_from_path", "default_hdfs_dir", "rollout_data_dir",
                    "validation_data_dir"):
            if trainer.get(key) is not None:
                trainer[key] = absolute(str(trainer[key]))
        agent = cfg.actor_rollout_ref.rollout.agent
        if agent.get("agent_loop_config_path"):
            agent.agent_loop_config_path = absolute(str(agent.agent_loop_config_path), PROJECT_ROOT)
        if "tensorboard" in list(trainer.get("logger") or []) and not os.environ.get("TENSORBOARD_DIR"):
            runtime = cfg.ray_kwargs.ray_init.runtime_env
            env_vars = runtime.get("env_vars") or {}
            env_vars = {**env_vars, "TENSORBOARD_DIR": os.path.join(
                base, "tensorboard_log", str(trainer.project_name), str(trainer.experiment_name))}
            runtime.env_vars = env_vars
    return cfg


def run(cfg: DictConfig) -> Any:
    """Run the backend of ``cfg`` (see the module docstring) after checking its settings.

    Raises:
        ConfigError, PreflightError, SkillBankError, ...: see :data:`USER_ERRORS`.
    """
    typed = typed_config(cfg)
    if isinstance(typed, LocalTrainConfig):
        from skillrl.trainer.local.preflight import check_local_run
        from skillrl.trainer.local.trainer import train

        check_local_run(typed)
        return train(typed)
    absolute_paths(cfg)
    verl_preflight(cfg)
    OmegaConf.resolve(cfg)  # resolvers of ours (${skillrl_root:}) do not exist in Ray workers
    from skillrl.agent.original import warn_on_style_mismatch

    warn_on_style_mismatch(cfg.actor_rollout_ref.model.get("path"), typed.prompt_style, log)
    from skillrl.trainer import _verl

    return _verl.run_ppo(cfg)


@hydra.main(config_path=CONFIG_DIR, config_name=DEFAULT_CONFIG, version_base=None)
def main(cfg: DictConfig) -> None:
    from skillrl.trainer.local.trainer import EpisodesFailedError

    try:
        run(cfg)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except EpisodesFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def precheck(args: list[str]) -> str | None:
    """Compose the config that Hydra's command line ``args`` asks for and check its settings;
    return the problem in one line, or None when the config is fine (or when ``args`` ask for
    something else than one run: ``--help``, ``--multirun``, a ``--config-path``, ...)."""
    from hydra._internal.utils import get_args_parser

    try:
        parsed = get_args_parser().parse_args(args)
    except SystemExit:
        return None  # Hydra prints its own usage error
    if (parsed.help or parsed.hydra_help or parsed.shell_completion or parsed.info is not None or parsed.multirun
            or parsed.config_path or parsed.experimental_rerun):
        return None
    name = parsed.config_name or DEFAULT_CONFIG
    config_dir = os.path.abspath(parsed.config_dir) if parsed.config_dir else CONFIG_DIR
    try:
        typed_config(compose(name, parsed.overrides, config_dir=config_dir))
    except (ComposeError, ConfigError) as exc:
        message = str(exc)
        if "trainer.backend" in message:
            message += "; the local backend has its own configs: --config-name local_quickstart (or skillrl train --local)"
        return message
    return None


def with_recipes(args: list[str]) -> list[str]:
    """Hydra's command line with ``recipe=NAME`` rewritten by
    :func:`skillrl.trainer.config.recipe_overrides` (appended, ``NAME_local`` for local configs)."""
    from hydra._internal.utils import get_args_parser

    try:
        parsed = get_args_parser().parse_args(args)
    except SystemExit:
        return args
    if parsed.config_path:
        return args
    config_dir = os.path.abspath(parsed.config_dir) if parsed.config_dir else CONFIG_DIR
    rewritten = dict(zip(parsed.overrides, recipe_overrides(parsed.config_name or DEFAULT_CONFIG, parsed.overrides,
                                                             config_dir=config_dir)))
    return [rewritten.get(a, a) for a in args]


def cli(argv: list[str] | None = None) -> None:
    """Console entry: points Hydra at verl's config folder by path, checks the composed config
    (a bad setting exits 2 with one ``error:`` line), then runs :func:`main`."""
    args = with_verl_searchpath(list(sys.argv[1:] if argv is None else argv), verl_config_dir())
    args = with_recipes(args)
    problem = precheck(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    sys.argv = [sys.argv[0], *args]
    main()


if __name__ == "__main__":
    cli()
