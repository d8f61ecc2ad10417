"""Typed settings at the entry points: the ``env`` section, Hydra's schema, one loader.

Every setting is a field of a frozen dataclass, defined once with its docstring and checks:

- :class:`skillrl.skills.config.SkillsConfig` — ``env.skills_only_memory.*`` (skill bank);
- :class:`skillrl.agent.loop.EpisodeConfig` — ``env.max_steps``, ``env.history_length``;
- :class:`EnvConfig` — the ``env`` section of every config (the original SkillRL flag names),
  made of the two above plus the env factory settings and the GRPO group size;
- :class:`skillrl.trainer.local.config.LocalTrainConfig` — the root of the local backend's
  configs (``configs/local_quickstart.yaml``, ``configs/main_job.yaml``).

:func:`register_configs` puts them into Hydra's ``ConfigStore`` as schemas (``env/_schema`` for
the env group files, ``local_train_schema`` for the local roots), so Hydra itself rejects
``env.max_steps=abc`` or an unknown key. :func:`load_config` turns a composed (or plain) mapping
into the dataclasses, running each one's checks, and reports the first bad value as a
:class:`~skillrl.utils.config.ConfigError` naming its full key. :func:`compose` composes a
config with Hydra's compose API and turns Hydra's errors into the same one-line messages.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from skillrl.agent.loop import EpisodeConfig
from skillrl.agent.scoring import EpisodeScoring
from skillrl.agent.style import ORIGINAL_REPO_ENV, PROMPT_STYLES, env_style_kwargs, resolve_original_repo
from skillrl.skills.config import SkillsConfig
from skillrl.utils.config import ConfigError, check_choice, check_int, check_number, require

T = TypeVar("T")

#: the project folder (``configs/``, ``memory_data/``); ``${skillrl_root:}`` in a config
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
#: the project's Hydra configs (``configs/`` beside the package)
CONFIG_DIR = str(Path(PROJECT_ROOT) / "configs")
#: ConfigStore names of the schemas (YAML files extend them through their defaults lists)
ENV_SCHEMA = "_schema"
LOCAL_SCHEMA = "local_train_schema"


@dataclass(frozen=True)
class RolloutConfig:
    """``env.rollout``: how many times each task is played."""

    n: int = 8
    """GRPO group size: every copy plays the same game (same env seed)."""

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=1)


@dataclass(frozen=True)
class EnvWorkersConfig:
    """``env.workers``: where a verl agent-loop worker runs its envs.

    In-process envs are stepped from threads, so the envs of one agent-loop worker run one at a
    time under the GIL (an ALFWorld reset takes ~1.7 s, a step ~60 ms). With worker processes
    they run in parallel: the node's env CPU is ``rollout.agent.num_workers x num_processes``
    cores (``bench/agent_loop_env_time.py`` measures the effect).
    """

    num_processes: int = 0
    """Env worker processes per agent-loop worker, each one CPU core's worth of env work
    (0: envs run inside the agent-loop worker's own process)."""
    envs_per_process: int = 4
    """Envs each worker process holds; more concurrent episodes than
    ``num_processes x envs_per_process`` wait for a free env."""
    call_timeout_s: float = 300.0
    """A worker process that takes longer than this for one env call is restarted and the
    episode fails (reported as a failed rollout)."""

    def __post_init__(self) -> None:
        check_int("num_processes", self.num_processes, minimum=0)
        check_int("envs_per_process", self.envs_per_process, minimum=1)
        require(isinstance(self.call_timeout_s, (int, float)) and not isinstance(self.call_timeout_s, bool)
                and self.call_timeout_s > 0, "call_timeout_s", self.call_timeout_s, "a number of seconds > 0")


@dataclass(frozen=True, kw_only=True)
class EnvConfig(EpisodeConfig):
    """The ``env`` section: which environment, how episodes run, and the skill bank.

    The flag names are those of the original SkillRL (``env.max_steps``, ``env.rollout.n``,
    ``env.use_skills_only_memory``, ``env.skills_only_memory.*``). ``max_steps`` and
    ``history_length`` are the fields of :class:`~skillrl.agent.loop.EpisodeConfig` (inherited,
    so a new episode setting appears here by itself); per-environment values live in
    ``configs/env/<name>.yaml``.

    Raises:
        ConfigError: an unknown environment, skills switched on without a bank, or a bad value.
    """

    env_name: str
    """Registered environment kind (``alfworld``, ``webshop``, ``search``, ``toy``)."""
    data_dir: str | None = None
    """Data folder passed to the env factory (None: the env's variable, ``$SKILLRL_DATA/<env>``,
    ``./data/<env>``, ``../shared/data/<env>``)."""
    seed: int = 0
    """Seeds the task sampler, torch and data preparation."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the env factory (``env.env_kwargs.KEY=VALUE``)."""
    train_split: str | None = None
    """Split of training games (passed to the factory as ``split``; verl rows carry their own)."""
    val_split: str | None = None
    """Split of validation games."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """``rollout.n``: the GRPO group size."""
    use_skills_only_memory: bool = False
    """Inject skills retrieved from the bank into every prompt."""
    skills_only_memory: SkillsConfig = field(default_factory=SkillsConfig)
    """The skill-bank settings (:class:`~skillrl.skills.config.SkillsConfig`)."""
    workers: EnvWorkersConfig = field(default_factory=EnvWorkersConfig)
    """Env worker processes of the verl agent-loop workers (:class:`EnvWorkersConfig`)."""
    prompt_style: str = "native"
    """``native`` (the project's prompts; the default for new runs) or ``original`` (the original
    SkillRL's prompts, projection, skill block and invalid-action dynamics, byte for byte: what
    its released checkpoints were trained on; see :mod:`skillrl.agent.style`). The whole original
    recipe (rewards, penalty, lengths, steps, validation split) is ``+recipe=skillrl_original``."""
    original_repo: str | None = None
    """Checkout of the original SkillRL repository whose prompt templates the ``original`` style
    reads (None: ``$SKILLRL_ORIGINAL_REPO``)."""
    success_reward: float | None = None
    """None: an episode's score is the env's reward. A number: the score is this on success and
    0 otherwise (the original: 10 ALFWorld/WebShop, 1 Search)."""
    invalid_action_penalty: float = 0.0
    """Subtracted from an episode's score per step with invalid output (the original: 0.1
    ALFWorld/WebShop, 0.01 Search)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        from agent_system.environments.base import ENVIRONMENTS

        check_choice("env_name", self.env_name, ENVIRONMENTS.names())
        require(isinstance(self.env_kwargs, Mapping) and all(isinstance(k, str) for k in self.env_kwargs),
                "env_kwargs", self.env_kwargs, "a mapping of keyword arguments, e.g. {split: train}")
        check_int("seed", self.seed)
        if self.use_skills_only_memory and not self.skills_only_memory.skills_json_path:
            raise ConfigError("skills_only_memory.skills_json_path", None,
                              "a SkillBank JSON file when use_skills_only_memory=true")
        check_choice("prompt_style", self.prompt_style, PROMPT_STYLES)
        check_number("success_reward", self.success_reward, minimum=0.0, exclusive_minimum=True, optional=True)
        check_number("invalid_action_penalty", self.invalid_action_penalty, minimum=0.0)
        require("style" not in self.env_kwargs, "env_kwargs", dict(self.env_kwargs),
                "no 'style' key: the env's style follows env.prompt_style")
        if self.prompt_style == "original":
            self._check_original()

    def _check_original(self) -> None:
        from agent_system.environments.original_style import ORIGINAL_STYLES

        envs = ORIGINAL_STYLES.names()
        require(self.env_name in envs, "prompt_style", self.prompt_style,
                f"native for env {self.env_name!r} (the original SkillRL has only {', '.join(envs)})")
        require(resolve_original_repo(self.original_repo) is not None, "original_repo", None,
                f"a checkout of https://github.com/aiming-lab/SkillRL (or ${ORIGINAL_REPO_ENV}) "
                "when prompt_style=original")
        mode = self.skills_only_memory.retrieval_mode
        require(mode == "template", "skills_only_memory.retrieval_mode", mode,
                "template when prompt_style=original (the original's keyword routing)")

    @property
    def episode(self) -> EpisodeConfig:
        """The episode limits as the agent loop takes them."""
        return EpisodeConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(EpisodeConfig)})

    @property
    def skills(self) -> SkillsConfig | None:
        """The skill settings when skills are on, else None."""
        return self.skills_only_memory if self.use_skills_only_memory else None

    @property
    def scoring(self) -> EpisodeScoring:
        """How the trainers score an episode (``success_reward``, ``invalid_action_penalty``)."""
        return EpisodeScoring(success_reward=self.success_reward, invalid_action_penalty=self.invalid_action_penalty)

    def factory_kwargs(self, split: str | None) -> dict[str, Any]:
        """Keyword arguments of the env factory: ``env_kwargs``, ``data_dir`` and ``split`` when
        set, and ``style="original"`` with ``prompt_style=original``.

        >>> EnvConfig(env_name="toy", data_dir="/d").factory_kwargs("test")
        {'data_dir': '/d', 'split': 'test'}
        >>> EnvConfig(env_name="search", prompt_style="original", original_repo="/r").factory_kwargs(None)
        {'style': 'original'}
        """
        kwargs = {**self.env_kwargs, **env_style_kwargs(self.prompt_style)}
        if self.data_dir is not None:
            kwargs["data_dir"] = str(self.data_dir)
        if split is not None:
            kwargs["split"] = split
        return kwargs


# --- loading ---------------------------------------------------------------------------------


class UnknownKeyError(ConfigError):
    """A key that no config section has."""

    def __init__(self, key: str, suggestions: Sequence[str] = ()) -> None:
        self.suggestions = tuple(suggestions)
        super().__init__(key, None, "")

    def under(self, prefix: str) -> "UnknownKeyError":
        return UnknownKeyError(f"{prefix}.{self.key}" if prefix else self.key, self.suggestions)

    def __str__(self) -> str:
        text = f"unknown config key {self.key!r}"
        if self.suggestions:
            text += " (did you mean " + " or ".join(self.suggestions) + "?)"
        return text


def schema_node(cls: type) -> Any:
    """``cls`` as an OmegaConf structured node that overrides may write to.

    OmegaConf marks frozen dataclasses read-only; the schema only checks types and keys, and
    the dataclass checks run when :func:`load_config` builds the objects. Free-form mappings
    (``env_kwargs``) accept new keys without Hydra's ``+``.
    """
    from omegaconf import DictConfig, OmegaConf

    node = OmegaConf.structured(cls)

    def open_up(n: Any) -> None:
        if isinstance(n, DictConfig):
            OmegaConf.set_readonly(n, None)
            if OmegaConf.get_type(n) is dict:
                OmegaConf.set_struct(n, False)
            for key in n.keys():
                open_up(n._get_node(key))

    open_up(node)
    return node


def load_config(cls: type[T], data: Any, *, key: str = "") -> T:
    """Build ``cls`` (a config dataclass, nested ones included) from ``data``.

    ``data`` is a mapping or an OmegaConf node (interpolations are resolved first). Values are
    type-checked against the dataclass, unknown keys are rejected, then each dataclass runs its
    own checks. ``key`` is the path of ``data`` in the whole config, used in messages.

    Raises:
        ConfigError: the first bad value, its key given in full (``env.skills_only_memory.top_k``);
            :class:`UnknownKeyError` for a key that ``cls`` does not have.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    schema = schema_node(cls)
    try:
        if isinstance(data, (DictConfig, ListConfig)):
            data = OmegaConf.to_container(data, resolve=True)
        node = OmegaConf.merge(schema, data if data is not None else {})
    except OmegaConfBaseException as exc:
        error = omegaconf_error(exc, prefix=key)
        if isinstance(error, UnknownKeyError):
            error = UnknownKeyError(error.key, suggest_keys(error.key, leaf_keys(schema, key)))
        raise error from None
    return _build(cls, node, key)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _build(cls: type[T], node: Any, prefix: str) -> T:
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for extra in set(node.keys()) - names:
        raise UnknownKeyError(_join(prefix, str(extra)), _close(str(extra), names))
    kwargs: dict[str, Any] = {}
    for name in sorted(names & set(node.keys())):
        path = _join(prefix, name)
        try:
            value = node[name]
        except MissingMandatoryValue:
            raise ConfigError(path, "???", "a value: this setting has no default") from None
        except OmegaConfBaseException as exc:
            raise omegaconf_error(exc, prefix="") from None
        kind = hints.get(name)
        if dataclasses.is_dataclass(kind) and isinstance(value, DictConfig):
            value = _build(kind, value, path)  # type: ignore[arg-type]
        elif isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise exc.under(prefix) from None


def _close(name: str, candidates: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(name, sorted(candidates), n=2, cutoff=0.6)


# --- Hydra -------------------------------------------------------------------------------------


def register_configs() -> None:
    """Register the schemas with Hydra's ``ConfigStore`` (idempotent; call before composing).

    ``env/_schema`` (:class:`EnvConfig`) is extended by every ``configs/env/<name>.yaml``;
    ``local_train_schema`` (``LocalTrainConfig``) is the root of the local backend's configs.
    Also registers the ``${skillrl_root:}`` resolver (the project folder).
    """
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from skillrl.trainer.local.config import LocalTrainConfig

    store = ConfigStore.instance()
    store.store(group="env", name=ENV_SCHEMA, node=schema_node(EnvConfig))
    store.store(name=LOCAL_SCHEMA, node=schema_node(LocalTrainConfig))
    if not OmegaConf.has_resolver("skillrl_root"):
        OmegaConf.register_new_resolver("skillrl_root", lambda: PROJECT_ROOT)
    if not OmegaConf.has_resolver("skillrl_original"):
        OmegaConf.register_new_resolver("skillrl_original", original_setting)
    if not OmegaConf.has_resolver("skillrl_original_bank"):
        OmegaConf.register_new_resolver("skillrl_original_bank", original_bank)


#: what ``${skillrl_original:ENV,KEY}`` reads from :data:`skillrl.agent.original.ORIGINAL_RECIPES`
ORIGINAL_SETTINGS = ("max_steps", "history_length", "success_reward", "invalid_action_penalty", "max_prompt_length",
                     "max_response_length", "truncation", "val_split", "top_k")


def original_setting(env_name: str, key: str) -> Any:
    """One fact of the original SkillRL recipe for ``env_name`` (the ``${skillrl_original:ENV,KEY}``
    resolver of ``configs/recipe/skillrl_original*.yaml``; every value is cited in
    :mod:`skillrl.agent.original`).

    >>> original_setting("alfworld", "max_prompt_length"), original_setting("search", "invalid_action_penalty")
    (4096, 0.01)

    Raises:
        ValueError: an env the original never had, or an unknown key.
    """
    from skillrl.agent.original import ORIGINAL_RECIPES

    if env_name not in ORIGINAL_RECIPES:
        raise ValueError(f"the original SkillRL recipe has no env {env_name!r} (it has {', '.join(ORIGINAL_RECIPES)})")
    if key not in ORIGINAL_SETTINGS:
        raise ValueError(f"unknown original setting {key!r}; known: {', '.join(ORIGINAL_SETTINGS)}")
    recipe = ORIGINAL_RECIPES[env_name]
    return recipe.skills.top_k if key == "top_k" else getattr(recipe, key)


def original_bank(env_name: str, original_repo: str | None) -> str:
    """The original launch script's skill bank for ``env_name`` inside the checkout
    ``original_repo`` (None: ``$SKILLRL_ORIGINAL_REPO``), checked to exist (the
    ``${skillrl_original_bank:ENV,REPO}`` resolver).

    Raises:
        ValueError: no checkout configured, or an env the original never had.
        OriginalRepoError: the checkout or the bank file is missing.
    """
    from agent_system.environments.original_templates import bank_file
    from skillrl.agent.original import ORIGINAL_RECIPES

    if env_name not in ORIGINAL_RECIPES:
        raise ValueError(f"the original SkillRL recipe has no env {env_name!r} (it has {', '.join(ORIGINAL_RECIPES)})")
    repo = resolve_original_repo(original_repo)
    if repo is None:
        raise ValueError(f"set env.original_repo (or ${ORIGINAL_REPO_ENV}) to a checkout of the original SkillRL")
    return str(bank_file(repo, ORIGINAL_RECIPES[env_name].skills.skills_json))


_EXPECTED = (
    (re.compile(r"could not be converted to Integer"), "an integer"),
    (re.compile(r"could not be converted to Float"), "a number"),
    (re.compile(r"could not be converted to Boolean"), "true or false"),
    (re.compile(r"is not a ListConfig, list or tuple"), "a list, e.g. [a,b]"),
    (re.compile(r"Cannot assign \S+ to Dict|is not a DictConfig|is not a subclass of|Cannot assign"),
     "a mapping, e.g. {key: value}"),
    (re.compile(r"is not Optional|Non optional field"), "a value (not null)"),
)


def omegaconf_error(exc: Exception, *, prefix: str = "") -> ConfigError:
    """An OmegaConf type/key error as a :class:`ConfigError` naming the full key."""
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, InterpolationResolutionError

    full_key = str(getattr(exc, "full_key", "") or getattr(exc, "key", "") or "")
    key = _join(prefix, full_key) if full_key else prefix or "(config)"
    message = str(getattr(exc, "msg", "") or exc).splitlines()[0]
    if isinstance(exc, (ConfigAttributeError, ConfigKeyError)) and "not in" in message:
        return UnknownKeyError(key)
    if isinstance(exc, InterpolationResolutionError):
        return ConfigError(key, getattr(exc, "value", None), f"a resolvable value ({message})")
    allowed = next((words for pattern, words in _EXPECTED if pattern.search(message)), message)
    return ConfigError(key, getattr(exc, "value", None), allowed)


def leaf_keys(node: Any, prefix: str = "") -> list[str]:
    """Every key path of a (composed) config, nodes and leaves."""
    from omegaconf import DictConfig

    out = []
    if isinstance(node, DictConfig):
        for k in node.keys():
            path = _join(prefix, str(k))
            out.append(path)
            child = node._get_node(k)
            if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
                out.extend(leaf_keys(child, path))
    return out


def suggest_keys(unknown: str, known: Sequence[str]) -> list[str]:
    """Known keys the user may have meant.

    Inside a section that exists, only its close siblings; otherwise keys anywhere with the same
    last part (a flag given without its section), else close spellings.

    >>> suggest_keys("retrieval_mode", ["env.skills_only_memory.retrieval_mode", "lr"])
    ['env.skills_only_memory.retrieval_mode']
    >>> suggest_keys("local.lr", ["lr", "env", "env.seed"])
    ['lr']
    >>> suggest_keys("env.max_step", ["env", "env.max_steps", "env.seed"])
    ['env.max_steps']
    >>> suggest_keys("env.foo", ["env", "env.max_steps", "env.seed"])
    []
    """
    parent, _, last = unknown.rpartition(".")
    if parent and parent in known:
        siblings = [k for k in known if k.rpartition(".")[0] == parent]
        return [f"{parent}.{m}" for m in _close(last, [k.rpartition(".")[2] for k in siblings])]
    same = [k for k in known if k.rpartition(".")[2] == last and k != unknown]
    return same[:3] if same else _close(unknown, known)


def hydra_error(exc: Exception, *, known_keys: Sequence[str] = ()) -> ConfigError | str:
    """One line for an error raised by Hydra's composition (and the OmegaConf error behind it)."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    cause = exc.__cause__
    if isinstance(cause, OmegaConfBaseException):
        err = omegaconf_error(cause)
        if isinstance(err, UnknownKeyError):
            asked = re.search(r"Could not override '([^']+)'", str(exc))
            key = asked.group(1) if asked else err.key
            return UnknownKeyError(key, suggest_keys(key, known_keys))
        return err
    if isinstance(exc, OmegaConfBaseException):
        return omegaconf_error(exc)
    text = str(exc)
    if isinstance(exc, MissingConfigException):
        options = [o for o in (getattr(exc, "options", None) or []) if not o.startswith("_")]
        match = re.search(r"Could not find '([^/']+)/([^']+)'", text)
        if match and options:
            return ConfigError(match.group(1), match.group(2), "one of " + ", ".join(sorted(options)))
        if "primary config" in text:
            name = re.search(r"primary config '([^']+)'", text)
            found = sorted(p.stem for p in Path(CONFIG_DIR).glob("*.yaml"))
            return ConfigError("config name", name.group(1) if name else text, "one of " + ", ".join(found))
    if isinstance(exc, OverrideParseException):
        return f"cannot parse the override: {text.splitlines()[0]} (see https://hydra.cc/docs/advanced/override_grammar/basic)"
    return " ".join(line.strip() for line in text.splitlines() if line.strip() and "search path" not in line.lower()
                    and "provider=" not in line)


def verl_config_dir() -> str | None:
    """Folder of verl's Hydra configs (``ppo_trainer.yaml``), found *without* importing verl
    (which would start Ray and friends, ~10 s, just to print a config). None when verl is not
    installed."""
    import importlib.util

    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "trainer" / "config"
    return str(folder) if folder.is_dir() else None


def with_verl_searchpath(args: Sequence[str], folder: str | None) -> list[str]:
    """Add ``hydra.searchpath=[file://<folder>]`` to Hydra's command line (unless the caller set
    a search path). Hydra's overrides must stay one contiguous run of arguments, so it goes just
    before the first override (an argument with ``=`` that is no option), else at the end.

    >>> with_verl_searchpath(["a=1", "--cfg", "job"], "/v")
    ['hydra.searchpath=[file:///v]', 'a=1', '--cfg', 'job']
    >>> with_verl_searchpath(["--cfg", "job"], "/v")
    ['--cfg', 'job', 'hydra.searchpath=[file:///v]']
    """
    if not folder or any("hydra.searchpath" in a for a in args):
        return list(args)
    override = f"hydra.searchpath=[file://{folder}]"
    for i, a in enumerate(args):
        if "=" in a and not a.startswith("-"):
            return [*args[:i], override, *args[i:]]
    return [*args, override]


class ComposeError(ValueError):
    """Hydra could not compose the config; the message is one line for the user."""


_RECIPE = re.compile(r"^\+{0,2}recipe=(.+)$")


def recipe_overrides(config_name: str, overrides: Sequence[str], *, config_dir: str = CONFIG_DIR) -> list[str]:
    """``recipe=NAME`` overrides as Hydra needs them (other overrides unchanged).

    A recipe (``configs/recipe/NAME.yaml``, e.g. ``skillrl_original``) is appended to the
    config's defaults (``+recipe=NAME``), so that it is merged after the config's own values and
    before the command line's other overrides; with a local-backend config, ``NAME_local.yaml``
    is taken when it exists (the local configs name lengths differently).
    """
    found = [i for i, o in enumerate(overrides) if _RECIPE.match(o)]
    if not found:
        return list(overrides)
    rest = [o for i, o in enumerate(overrides) if i not in found]
    local: bool | None = None
    out = list(overrides)
    for i in found:
        name = _RECIPE.match(overrides[i]).group(1)  # type: ignore[union-attr]
        if (Path(config_dir) / "recipe" / f"{name}_local.yaml").is_file():
            if local is None:
                local = _is_local_config(config_name, rest, config_dir)
            name = f"{name}_local" if local else name
        out[i] = f"+recipe={name}"
    return out


def _is_local_config(config_name: str, overrides: Sequence[str], config_dir: str) -> bool:
    from omegaconf import OmegaConf

    from skillrl.trainer.local.config import LocalTrainConfig

    try:
        return OmegaConf.get_type(compose(config_name, overrides, config_dir=config_dir)) is LocalTrainConfig
    except ComposeError:
        return False  # the real composition reports the problem


def compose(config_name: str, overrides: Sequence[str] = (), *, config_dir: str = CONFIG_DIR) -> Any:
    """Compose ``config_name`` from ``config_dir`` with Hydra ``overrides`` (the command-line
    syntax of ``python -m skillrl.main``; ``recipe=NAME`` as :func:`recipe_overrides` reads it),
    the schemas registered and verl's config folder on the search path.

    Raises:
        ComposeError: the config cannot be composed (unknown key, wrong type, unknown group
            option, bad override syntax); the message names the key and what is allowed.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_configs()
    overrides = with_verl_searchpath(recipe_overrides(config_name, overrides, config_dir=config_dir), verl_config_dir())
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        try:
            return hydra_compose(config_name, overrides=list(overrides))
        except (HydraException, OmegaConfBaseException) as exc:
            failure = exc
        known: list[str] = []
        if isinstance(failure.__cause__, OmegaConfBaseException):
            try:  # the keys of the config without the user's overrides, for suggestions
                known = leaf_keys(hydra_compose(config_name, overrides=[o for o in overrides
                                                                       if o.startswith("hydra.")]))
            except (HydraException, OmegaConfBaseException):
                known = []
    raise ComposeError(str(hydra_error(failure, known_keys=known))) from None
