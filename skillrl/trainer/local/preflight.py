"""Checks of what a :class:`LocalTrainConfig` points at, run before anything is built.

The config's own checks cover values; these cover the files and folders it names (the skill
bank, the model folder, the output folder), so that a bad path fails in a second with one
message instead of after the environments and the model are built.
"""

from __future__ import annotations

from pathlib import Path

from skillrl.trainer.local.config import LocalTrainConfig
from skillrl.utils.config import ConfigError


def check_local_run(config: LocalTrainConfig) -> None:
    """Raise for the first path in ``config`` that cannot work.

    Raises:
        ConfigError: the bank is missing, the model folder has no ``config.json``, the output
            folder is a file (or lies under one), the cold start names no teacher of the env and
            no export folder, or ``resume_from`` is not a checkpoint.
        skillrl.skills.SkillBankError: the bank file is not a valid bank (the message has the
            JSON path).
        agent_system.environments.original_templates.OriginalRepoError: ``prompt_style=original``
            and the original checkout or one of its templates is missing.
    """
    if config.env.prompt_style != "native":
        from agent_system.environments.base import get_env_spec
        from skillrl.agent.style import build_prompt_style

        build_prompt_style(get_env_spec(config.env.env_name), config.env.prompt_style, config.env.original_repo)
    skills = config.env.skills
    if skills is not None:
        from skillrl.skills.bank import SkillBank

        key = "env.skills_only_memory.skills_json_path"
        bank = Path(str(skills.skills_json_path)).expanduser()
        if not bank.is_file():
            raise ConfigError(key, skills.skills_json_path, "an existing SkillBank JSON file")
        SkillBank.load(bank)
    if config.model_path is not None:
        path = Path(config.model_path).expanduser()
        looks_local = config.model_path.startswith((".", "/", "~")) or config.model_path.count("/") > 1
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ConfigError("model_path", config.model_path,
                                  "an HF checkpoint folder with config.json (this folder has none)")
        elif path.exists() or looks_local:
            raise ConfigError("model_path", config.model_path, "an existing HF checkpoint folder or a hub id")
    _check_cold_start(config)
    if config.resume_from not in (None, "auto"):
        from skillrl.trainer.local.checkpoint import CheckpointError, read_checkpoint

        try:
            read_checkpoint(config.resume_from)
        except CheckpointError as exc:
            raise ConfigError("resume_from", config.resume_from, f"auto or a checkpoint folder ({exc})") from None
    out = Path(config.output_dir).expanduser()
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError("output_dir", config.output_dir, f"a folder ({folder} is a file)")
            break


def _check_cold_start(config: LocalTrainConfig) -> None:
    from skillrl.trainer.local.config import FORMAT_COLD_START, NO_COLD_START

    kind = config.cold_start
    if kind in (FORMAT_COLD_START, NO_COLD_START):
        return
    folder = Path(kind).expanduser()
    if folder.is_dir() or "/" in kind or kind.startswith("."):
        if not (folder / "examples.jsonl").is_file():
            raise ConfigError("cold_start", kind, "a folder written by `skillrl sft export` (examples.jsonl is missing)")
        return
    from agent_system.environments.base import get_env_spec
    from skillrl.sft.teachers import TEACHERS, teacher_names

    spec = get_env_spec(config.env.env_name)
    name = kind.partition(":")[0]
    envs = TEACHERS.get(name).envs if name in TEACHERS else ()
    if envs is not None and spec.name not in envs:
        raise ConfigError("cold_start", kind, f"format, none, an export folder or a teacher of {spec.name}: "
                          + ", ".join(teacher_names(spec.name)))
