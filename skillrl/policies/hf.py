"""Local model policies: an HF checkpoint (``hf:PATH``) and a ``skillrl train --local`` checkpoint
(``ckpt:DIR``), both played by the local backend's batching :class:`LocalHFPolicy` (one
``model.generate`` call for the turns of all running episodes; CPU or GPU)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skillrl.policies.base import LoadedPolicy, PolicyLoadError, PolicyOptions

log = logging.getLogger(__name__)

DEFAULT_MAX_NEW_TOKENS = 256
"""Tokens per turn of an HF model when nothing else says (a think block and an action)."""
TRAINER_STATE = "trainer_state.json"
_STEP_DIR = re.compile(r"global_step_(\d+)$")


class _Constrained:
    """One episode's view of a constrained policy: hands the turn's admissible actions to
    ``generate`` (an :class:`~skillrl.agent.loop.ObservingPolicy`)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    async def act(self, prompt: str, view: Any) -> Any:
        return await self.policy.generate(prompt, admissible=view.admissible_actions)


def _load_model(path: str, options: PolicyOptions, *, max_new_tokens: int, max_prompt_tokens: int | None,
                name: str, kind: str, constrain_think: bool | None = None) -> tuple[LoadedPolicy, Any]:
    """``constrain_think``: None for free generation; else actions are constrained to the
    admissible ones (as the checkpoint was trained), with or without a think block first."""
    import torch

    from skillrl.trainer.local.model import load_tokenizer
    from skillrl.trainer.local.runtime import pick_device
    from skillrl.trainer.local.policy import LocalHFPolicy

    try:
        device = pick_device(options.device)
    except ValueError as exc:
        raise PolicyLoadError(str(exc)) from None
    try:
        from transformers import AutoModelForCausalLM

        tokenizer = load_tokenizer(path)
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    except (OSError, ValueError) as exc:
        raise PolicyLoadError(f"cannot load the model at {path}: {str(exc).splitlines()[0][:300]}") from None
    model.eval()
    torch.manual_seed(options.seed)
    vocab = None
    if constrain_think is not None:
        from skillrl.trainer.local.constrained import ActionVocabulary

        vocab = ActionVocabulary(tokenizer, tokenizer.eos_token_id, think=constrain_think)
    policy = LocalHFPolicy(model, tokenizer, max_new_tokens=max_new_tokens, temperature=options.temperature or 0.0,
                           max_batch_size=options.max_batch_size, max_prompt_tokens=max_prompt_tokens, constrain=vocab)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def stats() -> dict[str, Any]:
        return {"generate_calls": policy.num_generate_calls, "generate_s": round(policy.generate_seconds, 3)}

    loaded = LoadedPolicy(
        name=name,
        kind=kind,
        for_episode=(lambda seed: _Constrained(policy)) if vocab is not None else (lambda seed: policy),
        describe={"model": path, "device": str(device), "temperature": options.temperature or 0.0,
                  "constrained_actions": vocab is not None,
                  "max_new_tokens": max_new_tokens, "max_prompt_tokens": max_prompt_tokens,
                  "parameters": sum(p.numel() for p in model.parameters())},
        count_tokens=count,
        tokenizer_name=f"{type(tokenizer).__name__} of {path}",
        concurrency=options.max_batch_size,
        stats=stats,
    )
    return loaded, policy


def load_hf(path: str, options: PolicyOptions) -> LoadedPolicy:
    """``hf:PATH``: a causal LM saved with ``save_pretrained`` (or a hub id in the local cache).

    Raises:
        PolicyLoadError: nothing loadable there.
    """
    if not path:
        raise PolicyLoadError("hf: needs a model path, e.g. hf:/models/Qwen2.5-0.5B-Instruct")
    local = Path(path).expanduser()
    if not local.exists() and (path.startswith((".", "/", "~")) or path.count("/") > 1):
        raise PolicyLoadError(f"hf:{path}: no such model folder")
    loaded, _ = _load_model(str(local) if local.exists() else path, options,
                            max_new_tokens=options.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
                            max_prompt_tokens=options.max_prompt_tokens, name=f"hf:{path}", kind="hf")
    return loaded


def find_checkpoint(directory: str | Path) -> Path:
    """The checkpoint folder of ``directory``: itself when it holds ``trainer_state.json``, else
    its latest ``checkpoints/global_step_N`` (or ``global_step_N``) folder.

    Raises:
        PolicyLoadError: no checkpoint there.
    """
    root = Path(directory).expanduser()
    if (root / TRAINER_STATE).is_file():
        return root
    if not root.is_dir():
        raise PolicyLoadError(f"ckpt:{directory}: no such folder")
    steps = [(int(m.group(1)), p) for base in (root / "checkpoints", root) if base.is_dir()
             for p in base.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / TRAINER_STATE).is_file()]
    if not steps:
        raise PolicyLoadError(f"ckpt:{directory}: no checkpoint ({TRAINER_STATE}) there or under checkpoints/global_step_*")
    return max(steps)[1]


def _setting(config: Mapping[str, Any], key: str) -> Any:
    """A training setting from a checkpoint's config, flat (older files) or in its ``env`` /
    ``env.skills_only_memory`` sections."""
    sections: list[Mapping[str, Any]] = [config]
    env = config.get("env")
    if isinstance(env, Mapping):
        sections.append(env)
        if isinstance(env.get("skills_only_memory"), Mapping):
            sections.append(env["skills_only_memory"])
    for section in sections:
        if key in section and section[key] is not None:
            return section[key]
    return None


def checkpoint_env(state: Mapping[str, Any]) -> str | None:
    """The env a checkpoint was trained on (from its ``trainer_state.json``)."""
    config = state.get("config") or {}
    value = _setting(config, "env_name") if isinstance(config, Mapping) else None
    return str(value) if value else None


def load_checkpoint(directory: str, options: PolicyOptions, *, env_name: str | None = None) -> LoadedPolicy:
    """``ckpt:DIR``: a checkpoint written by ``skillrl train --local`` — its model and tokenizer,
    the bank at its version (``skill_bank.json``), and its generation, retrieval and episode settings
    (the caller's settings win).

    Raises:
        PolicyLoadError: no checkpoint, an unreadable ``trainer_state.json``, or a checkpoint of
            another env than ``env_name``.
    """
    if not directory:
        raise PolicyLoadError("ckpt: needs a folder, e.g. ckpt:outputs/local (a run) or ckpt:outputs/local/checkpoints/global_step_100")
    ckpt = find_checkpoint(directory)
    try:
        state = json.loads((ckpt / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PolicyLoadError(f"ckpt:{directory}: cannot read {ckpt / TRAINER_STATE}: {exc}") from None
    config = state.get("config") if isinstance(state.get("config"), Mapping) else {}
    trained_on = checkpoint_env(state)
    if env_name and trained_on and trained_on != env_name:
        raise PolicyLoadError(f"ckpt:{directory} was trained on {trained_on!r}, not {env_name!r}")
    max_new = options.max_new_tokens or _setting(config, "max_new_tokens") or DEFAULT_MAX_NEW_TOKENS
    max_prompt = options.max_prompt_tokens or _setting(config, "max_prompt_tokens")
    # a checkpoint trained with constrained actions is evaluated the same way
    constrain_think = None
    if state.get("constrained_actions"):
        constrain_think = str(_setting(config, "cold_start") or "") not in ("format", "none")
    loaded, _ = _load_model(str(ckpt), options, max_new_tokens=int(max_new),
                            max_prompt_tokens=int(max_prompt) if max_prompt else None, name=f"ckpt:{directory}",
                            kind="ckpt", constrain_think=constrain_think)
    bank_file = state.get("bank_file")
    if bank_file and (ckpt / bank_file).is_file():
        loaded.bank_path = str(ckpt / bank_file)
    loaded.skills = {k: v for k in ("retrieval_mode", "top_k", "task_specific_top_k", "max_skill_tokens",
                                    "embedding_model_path") if (v := _setting(config, k)) is not None}
    loaded.episode = {k: int(v) for k in ("max_steps", "history_length") if (v := _setting(config, k)) is not None}
    loaded.describe.update(checkpoint=str(ckpt), global_step=state.get("global_step"),
                           bank_version=state.get("bank_version"), trained_on=trained_on)
    return loaded
