"""Builders and update steps of the local trainer (the recipe in ``trainer.py`` wires them).

Builders take plain arguments, never the config object.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agent_system.environments.base import EnvSpec, TextEnv
from skillrl.agent.episode import Episode
from skillrl.trainer._verl import clipped_policy_loss, kl_penalty
from skillrl.trainer.local.batch import TurnBatch, response_logprobs
from skillrl.trainer.local.warmup import FormatExample, example_texts, sample_format_examples

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# runtime

def pick_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU raises ``ValueError``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available (use device=auto or cpu)")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------
# skills

@dataclass
class SkillsSetup:
    """The loaded bank and the retriever over it (both None when skills are off)."""

    bank: Any = None
    retriever: Any = None
    source_path: str | None = None


def build_skills(env_name: str, *, skills_json_path: str | None, retriever_kwargs: Mapping[str, Any],
                 style: Any = None) -> SkillsSetup:
    """Load the SkillBank and build the prompt style's skill source over it (native, the default:
    ``skillrl.skills.build_retriever`` with ``retriever_kwargs``, routing tasks with the env's
    taxonomy; original: the original's keyword routing and skill block); ``None`` path -> skills off."""
    if not skills_json_path:
        return SkillsSetup()
    from agent_system.environments import get_env_spec
    from skillrl.agent.style import build_prompt_style
    from skillrl.skills.bank import SkillBank

    bank = SkillBank.load(skills_json_path)
    style = style if style is not None else build_prompt_style(get_env_spec(env_name))
    retriever = style.skill_source(bank, retriever_kwargs)
    return SkillsSetup(bank=bank, retriever=retriever, source_path=str(skills_json_path))


def skill_block_fn(retriever: Any) -> Callable[[str, str], str] | None:
    if retriever is None:
        return None
    return lambda task, task_type: retriever.retrieve(task, task_type or None).text


# --------------------------------------------------------------------------------------------
# policy model

@dataclass
class PolicyModel:
    model: Any
    tokenizer: Any
    tiny: bool
    """True when built in code (random init + word-level tokenizer)."""


def build_policy_model(model_path: str | None, *, device: torch.device, vocab_texts: Sequence[str] = (),
                       seed: int = 0) -> PolicyModel:
    """Load ``model_path`` (HF checkpoint dir or hub id, ``local_files_only`` when offline) or
    build the tiny policy whose tokenizer covers ``vocab_texts``."""
    if model_path is None:
        from skillrl.trainer.local.tiny import build_tiny_model, build_word_tokenizer

        tokenizer = build_word_tokenizer(vocab_texts)
        longest = max((len(tokenizer(t)["input_ids"]) for t in vocab_texts), default=256)
        model = build_tiny_model(len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id, seed=seed,
                                 max_positions=max(4096, 2 * longest))
        log.info("tiny policy: vocab %d words, %.2fM params", len(tokenizer),
                 sum(p.numel() for p in model.parameters()) / 1e6)
        return PolicyModel(model.to(device), tokenizer, tiny=True)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_path).expanduser()
    if not path.exists() and (model_path.startswith((".", "/", "~")) or model_path.count("/") > 1):
        raise FileNotFoundError(f"model_path {model_path!r} does not exist")
    tokenizer = load_tokenizer(model_path)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    return PolicyModel(model.to(device), tokenizer, tiny=False)


def load_tokenizer(model_path: str) -> Any:
    """``AutoTokenizer``, except for generic ``tokenizers``-backed files (the tiny word-level
    tokenizer of a local checkpoint), which ``AutoTokenizer`` would rebuild as the model type's
    tokenizer class with a different pre-tokenizer."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    cfg = Path(model_path).expanduser() / "tokenizer_config.json"
    if cfg.is_file():
        try:
            cls = json.loads(cfg.read_text(encoding="utf-8")).get("tokenizer_class")
        except (OSError, json.JSONDecodeError):
            cls = None
        if cls in ("TokenizersBackend", "PreTrainedTokenizerFast"):
            return PreTrainedTokenizerFast.from_pretrained(model_path)
    return AutoTokenizer.from_pretrained(model_path)


def sample_examples(env: TextEnv, spec: EnvSpec, *, episodes: int, max_steps: int, history_length: int,
                    seed: int, skill_block: Callable[[str, str], str] | None, style: Any = None) -> list[FormatExample]:
    """Random-admissible-action examples (for the warm-up and the tiny vocabulary), with prompts
    in the prompt ``style`` (default: native)."""
    return sample_format_examples(env, spec, episodes=episodes, max_steps=max_steps, history_length=history_length,
                                  rng=random.Random(seed + 7919), skill_block=skill_block, style=style)


def vocab_corpus(examples: Sequence[FormatExample], extra: Sequence[str] = ()) -> list[str]:
    return example_texts(examples) + list(extra)


def encode_target_fn(tokenizer: Any) -> Callable[[str], list[int]]:
    """Target text -> ids with EOS appended (what the model must emit)."""
    eos = tokenizer.eos_token_id

    def encode(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) + [eos]

    return encode


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


# --------------------------------------------------------------------------------------------
# PPO update

def ppo_update(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: TurnBatch, *,
               old_logprobs: torch.Tensor, ref_logprobs: torch.Tensor | None, epochs: int, mini_batches: int,
               micro_batch_size: int, clip_ratio: float, kl_coef: float, grad_clip: float, temperature: float,
               loss_agg_mode: str, rollout_n: int, generator: torch.Generator) -> dict[str, float]:
    """PPO epochs × mini-batches over ``batch`` (one optimizer step per mini-batch).

    ``old_logprobs``/``ref_logprobs`` are ``(bs, R)`` aligned with ``batch``. Micro-batches
    accumulate gradients weighted by their share of the mini-batch's response tokens.
    Returns mean metrics (``actor/pg_loss``, ``actor/kl``, ``actor/grad_norm``, clip stats).
    """
    device = next(model.parameters()).device
    model.train()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(k: str, v: float) -> None:
        sums[k] = sums.get(k, 0.0) + float(v)
        counts[k] = counts.get(k, 0) + 1

    n = batch.size
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for mb in torch.tensor_split(perm, min(mini_batches, n)):
            if mb.numel() == 0:
                continue
            optimizer.zero_grad(set_to_none=True)
            mb_tokens = float(batch.response_mask[mb].sum().clamp(min=1))
            for micro in torch.split(mb, micro_batch_size):
                sub = batch.select(micro)
                R = sub.response_len
                mask = sub.response_mask.to(device)
                logp = response_logprobs(model, sub, temperature)
                old = old_logprobs[micro][:, :R].to(device)
                adv = sub.advantages.to(device)
                pg_loss, pg_metrics = clipped_policy_loss(old, logp, adv, mask, clip_ratio=clip_ratio,
                                                          loss_agg_mode=loss_agg_mode, rollout_n=rollout_n)
                loss = pg_loss
                if ref_logprobs is not None and kl_coef > 0:
                    kl = kl_penalty(logp, ref_logprobs[micro][:, :R].to(device))
                    kl_mean = (kl * mask).sum() / mask.sum().clamp(min=1)
                    loss = loss + kl_coef * kl_mean
                    add("actor/kl", float(kl_mean.detach()))
                weight = float(mask.sum()) / mb_tokens
                (loss * weight).backward()
                add("actor/pg_loss", float(pg_loss.detach()))
                for k, v in pg_metrics.items():
                    add(k if k.startswith("actor/") else f"actor/{k}", v)
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            add("actor/grad_norm", float(grad_norm))
            optimizer.step()
    return {k: sums[k] / counts[k] for k in sums}


@torch.no_grad()
def batch_logprobs(model: torch.nn.Module, batch: TurnBatch, *, temperature: float, micro_batch_size: int) -> torch.Tensor:
    """``(bs, R)`` response log-probs under ``model`` (no grad), computed in micro-batches."""
    was_training = model.training
    model.eval()
    out = torch.zeros(batch.response_ids.shape, dtype=torch.float32)
    for idx in torch.split(torch.arange(batch.size), micro_batch_size):
        sub = batch.select(idx)
        out[idx, : sub.response_len] = response_logprobs(model, sub, temperature).float().cpu()
    if was_training:
        model.train()
    return out


# --------------------------------------------------------------------------------------------
# metrics

def rollout_metrics(episodes: Sequence[Episode], prefix: str = "train", scoring: Any = None) -> dict[str, float]:
    """Mean reward/success/turns/valid-action rate/response length of a batch of episodes (and
    the mean score, ``<prefix>/score_mean``, when an ``EpisodeScoring`` is given)."""
    if not episodes:
        return {f"{prefix}/num_episodes": 0.0}
    steps = [s for ep in episodes for s in ep.steps]
    return {
        f"{prefix}/num_episodes": float(len(episodes)),
        f"{prefix}/reward_mean": sum(ep.reward for ep in episodes) / len(episodes),
        **({f"{prefix}/score_mean": sum(scoring.score(ep) for ep in episodes) / len(episodes)} if scoring else {}),
        f"{prefix}/success_rate": sum(ep.won for ep in episodes) / len(episodes),
        f"{prefix}/turns_mean": sum(ep.num_turns for ep in episodes) / len(episodes),
        f"{prefix}/valid_action_rate": (sum(s.is_action_valid for s in steps) / len(steps)) if steps else 0.0,
        f"{prefix}/response_length": (sum(len(s.generation.response_ids) for s in steps) / len(steps)) if steps else 0.0,
        f"{prefix}/episode_errors": float(sum(ep.error is not None for ep in episodes)),
    }


def report_metrics(episodes: Sequence[Episode], count_tokens: Callable[[str], int],
                   skill_block: Callable[[str, str], str] | None, prefix: str = "train") -> dict[str, float]:
    """What ``skillrl report`` plots beyond :func:`rollout_metrics`: success per task type
    (``{prefix}/success_rate/<type>``) and prompt size per turn in the policy's tokens —
    ``{prefix}/prompt_tokens_mean`` (the prompts as the policy saw them) and
    ``{prefix}/skill_tokens_mean`` (the episode's skill block, re-retrieved through
    ``skill_block(task, task_type)`` and counted with ``count_tokens``; 0 when skills are off).
    Turns without prompt ids (scripted policies) are left out of the token means."""
    from skillrl.utils.metrics import success_by_task_type, success_metrics

    out = {k: v for k, v in success_metrics(success_by_task_type(ep.summary() for ep in episodes), prefix).items()
           if k != f"{prefix}/success_rate"}
    turns = [(ep, s) for ep in episodes for s in ep.steps if s.generation.prompt_ids]
    if turns:
        out[f"{prefix}/prompt_tokens_mean"] = sum(len(s.generation.prompt_ids) for _, s in turns) / len(turns)
        block_tokens: dict[tuple[str, str], int] = {}
        total = 0
        for ep, _ in turns:
            key = (ep.task, ep.task_type)
            if key not in block_tokens:
                block_tokens[key] = count_tokens(skill_block(*key)) if skill_block is not None else 0
            total += block_tokens[key]
        out[f"{prefix}/skill_tokens_mean"] = total / len(turns)
    return out


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """Text -> number of ``tokenizer`` tokens (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


# --------------------------------------------------------------------------------------------
# checkpoints

def _copy_bank_history(bank: Any, bank_file: Path) -> None:
    """Put the history of an evolving bank (its working copy's ``.history.jsonl``, pending
    records flushed first) beside the checkpoint's bank copy, so the copy carries its version
    *and* how it got there."""
    from skillrl.skills.bank import history_path

    if bank.path is None:
        return
    if bank.pending_history:
        bank.save()
    src = history_path(bank.path)
    if src.is_file():
        shutil.copyfile(src, history_path(bank_file))


def save_checkpoint(directory: Path, *, model: Any, tokenizer: Any, bank: Any, state: Mapping[str, Any]) -> Path:
    """Write ``model``/``tokenizer`` (``save_pretrained``), ``skill_bank.json`` (+ usage and
    history sidecars) when a bank is given, and ``trainer_state.json``. Returns ``directory``."""
    tmp = directory.with_name(directory.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    state = dict(state)
    if bank is not None:
        bank_file = tmp / "skill_bank.json"
        bank_file.write_text(json.dumps(bank.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            bank.save_usage(bank_file)
        except Exception as exc:  # usage counters are best-effort
            log.warning("could not write skill usage next to %s: %s", bank_file, exc)
        _copy_bank_history(bank, bank_file)
        state["bank_version"] = bank.version
        state["bank_file"] = "skill_bank.json"
    (tmp / "trainer_state.json").write_text(json.dumps(state, indent=2, default=str) + "\n", encoding="utf-8")
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)
    return directory


def _copy_bank_history(bank: Any, bank_file: Path) -> None:
    """Write the bank's history up to its current version next to ``bank_file``: the records of
    its history file (when the bank has one) followed by the changes not saved yet, so that a
    checkpoint tells how its bank came to be (``skillrl report`` reads it)."""
    from skillrl.skills.bank import history_path

    lines: list[str] = []
    if getattr(bank, "path", None) is not None and history_path(bank.path).is_file():
        lines = [ln for ln in history_path(bank.path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    lines += [json.dumps(rec.to_dict(), ensure_ascii=False) for rec in bank.pending_history]
    if lines:
        history_path(bank_file).write_text("\n".join(lines) + "\n", encoding="utf-8")
