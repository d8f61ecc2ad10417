"""The policy model: the tiny built-in Qwen2 or an HF checkpoint, its tokenizer, helpers on both."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

#: shape of the tiny policy (2 layers x 128 wide, ~0.3M parameters plus embeddings)
TINY_HIDDEN_SIZE = 128
TINY_NUM_LAYERS = 2
TINY_NUM_HEADS = 4
#: the tiny policy's position table is at least this long (and twice the longest sample text)
TINY_MIN_POSITIONS = 4096


@dataclass(frozen=True)
class TinyShape:
    """Width and depth of the tiny built-in policy."""

    hidden_size: int = TINY_HIDDEN_SIZE
    """Model width (the MLP is twice as wide)."""
    num_layers: int = TINY_NUM_LAYERS
    """Transformer layers."""
    num_heads: int = TINY_NUM_HEADS
    """Attention heads (half as many key/value heads); must divide ``hidden_size``."""


@dataclass
class PolicyModel:
    """A model and its tokenizer."""

    model: Any
    tokenizer: Any
    tiny: bool
    """True when built in code (random init + word-level tokenizer)."""


def build_policy_model(model_path: str | None, *, device: torch.device, vocab_texts: Sequence[str] = (),
                       seed: int = 0, shape: TinyShape = TinyShape()) -> PolicyModel:
    """Load ``model_path`` (HF checkpoint dir or hub id, ``local_files_only`` when offline) or
    build the tiny policy of ``shape`` whose tokenizer covers ``vocab_texts``.

    Raises:
        FileNotFoundError: a local-looking ``model_path`` that does not exist.
    """
    if model_path is None:
        from skillrl.trainer.local.tiny import build_tiny_model, build_word_tokenizer

        tokenizer = build_word_tokenizer(vocab_texts)
        longest = max((len(tokenizer(t)["input_ids"]) for t in vocab_texts), default=256)
        model = build_tiny_model(len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id, seed=seed,
                                 hidden_size=shape.hidden_size, num_layers=shape.num_layers,
                                 num_heads=shape.num_heads, max_positions=max(TINY_MIN_POSITIONS, 2 * longest))
        log.info("tiny policy: %d layers x %d wide, vocab %d words, %.2fM params", shape.num_layers,
                 shape.hidden_size, len(tokenizer), sum(p.numel() for p in model.parameters()) / 1e6)
        return PolicyModel(model.to(device), tokenizer, tiny=True)
    from transformers import AutoModelForCausalLM

    path = Path(model_path).expanduser()
    if not path.exists() and (model_path.startswith((".", "/", "~")) or model_path.count("/") > 1):
        raise FileNotFoundError(f"model_path {model_path!r} does not exist")
    tokenizer = load_tokenizer(model_path)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    return PolicyModel(model.to(device), tokenizer, tiny=is_tiny_checkpoint(model_path))


def is_tiny_checkpoint(model_path: str) -> bool:
    """Whether ``model_path`` is a saved tiny policy (its word-level tokenizer gives it away)."""
    return _tokenizer_class(model_path) in ("TokenizersBackend", "PreTrainedTokenizerFast") and \
        (Path(model_path).expanduser() / "tokenizer.json").is_file() and _word_level(model_path)


def _word_level(model_path: str) -> bool:
    try:
        data = json.loads((Path(model_path).expanduser() / "tokenizer.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (data.get("model") or {}).get("type") == "WordLevel"


def _tokenizer_class(model_path: str) -> str | None:
    cfg = Path(model_path).expanduser() / "tokenizer_config.json"
    if not cfg.is_file():
        return None
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("tokenizer_class")
    except (OSError, json.JSONDecodeError):
        return None


def load_tokenizer(model_path: str) -> Any:
    """``AutoTokenizer``, except for generic ``tokenizers``-backed files (the tiny word-level
    tokenizer of a local checkpoint), which ``AutoTokenizer`` would rebuild as the model type's
    tokenizer class with a different pre-tokenizer."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if _tokenizer_class(model_path) in ("TokenizersBackend", "PreTrainedTokenizerFast"):
        return PreTrainedTokenizerFast.from_pretrained(model_path)
    return AutoTokenizer.from_pretrained(model_path)


def encode_target_fn(tokenizer: Any) -> Callable[[str], list[int]]:
    """Target text -> ids with EOS appended (what the model must emit)."""
    eos = tokenizer.eos_token_id

    def encode(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) + [eos]

    return encode


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """Text -> number of ``tokenizer`` tokens (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` in eval mode without gradients (the KL reference)."""
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
