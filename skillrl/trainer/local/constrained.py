"""Constrained action decoding: the text inside ``<action>…</action>`` is one of the admissible actions.

A small local policy spends most of its early learning on *spelling* commands; with the
constraint every sampled action is admissible, so learning is about *which* action. The
constraint is a ``transformers`` logits processor (the generation API's own hook), one state
machine per row of the batch:

1. ``think`` formats start with the tokens of ``<think>`` (forced), then free text until the
   decoded text ends with ``</think>``; EOS and the action tags are masked meanwhile. When the
   budget left is just enough for ``</think>`` and the longest admissible action, ``</think>``
   is forced.
2. Then a token trie over ``tokenize("<action>" + a + "</action>") + [EOS]`` for every admissible
   ``a``: only the children of the current trie node are allowed, so the row ends with EOS right
   after a complete admissible action.

Rows without admissible actions (``None``), or with an open action such as WebShop's
``search[<your query>]``, or whose actions the tokenizer cannot spell (an action that does not
survive encode → decode) are left unconstrained. The masked distribution is what is sampled
from; the log-probabilities the policy records (and PPO trains) are the model's own, before the
mask (see :class:`~skillrl.trainer.local.policy.LocalHFPolicy`). A token the mask left alone
(a forced tag, the only continuation of an action once it is told apart from the others) was
no decision of the policy: :attr:`ActionConstraint.forced` records those positions, and PPO
gives them no loss (pushing their unmasked probability up or down would only move mass the
mask removes anyway).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

OPEN_THINK, CLOSE_THINK = "<think>", "</think>"
OPEN_ACTION, CLOSE_ACTION = "<action>", "</action>"

#: phases of one row
_FORCED, _THINK, _ACTION, _FREE = "forced", "think", "action", "free"


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass
class TrieNode:
    """One node of a token trie; ``depth`` is the longest path below it (tokens)."""

    children: dict[int, "TrieNode"] = field(default_factory=dict)
    depth: int = 0


def build_trie(sequences: Sequence[Sequence[int]]) -> TrieNode:
    """A trie over token-id ``sequences`` (each node knows the longest continuation below it).

    >>> root = build_trie([[5, 6, 1], [5, 7, 1]])
    >>> sorted(root.children), sorted(root.children[5].children), root.depth
    ([5], [6, 7], 3)
    """
    root = TrieNode()
    for seq in sequences:
        node = root
        for tok in seq:
            node = node.children.setdefault(int(tok), TrieNode())
    _fill_depth(root)
    return root


def _fill_depth(node: TrieNode) -> int:
    node.depth = max((1 + _fill_depth(c) for c in node.children.values()), default=0)
    return node.depth


class ActionVocabulary:
    """Turns admissible actions into tries for one tokenizer (cached per action list).

    Args:
        tokenizer: the policy's tokenizer.
        eos_id: the token that must follow ``</action>``.
        think: whether outputs carry a ``<think>`` block before the action (the env's format).
    """

    def __init__(self, tokenizer: Any, eos_id: int, *, think: bool) -> None:
        self.tokenizer = tokenizer
        self.eos_id = int(eos_id)
        self.think = think
        self.open_think = self._ids(OPEN_THINK)
        self.close_think = self._ids(CLOSE_THINK)
        #: single-token tags masked while thinking (so the think block cannot open an action)
        self.tag_tokens = sorted({ids[0] for ids in (self._ids(OPEN_ACTION), self._ids(CLOSE_ACTION),
                                                      self.open_think) if len(ids) == 1})
        self._cache = functools.lru_cache(maxsize=4096)(self._trie)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def trie(self, admissible: Sequence[str] | None) -> TrieNode | None:
        """The trie of ``admissible`` (None: leave the row unconstrained)."""
        if not admissible:
            return None
        return self._cache(tuple(admissible))

    def _trie(self, admissible: tuple[str, ...]) -> TrieNode | None:
        if any("<" in a and ">" in a for a in admissible):  # an open action (free text inside)
            return None
        texts = [f"{OPEN_ACTION}{a}{CLOSE_ACTION}" for a in admissible]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        keep = []
        for action, ids in zip(admissible, encoded):
            inside = self.tokenizer.decode(ids, skip_special_tokens=False)
            if _norm(inside) == _norm(f"{OPEN_ACTION} {action} {CLOSE_ACTION}") or \
                    _norm(inside) == _norm(f"{OPEN_ACTION}{action}{CLOSE_ACTION}"):
                keep.append(list(ids) + [self.eos_id])
        return build_trie(keep) if keep else None


@dataclass
class _Row:
    phase: str
    trie: TrieNode | None
    node: TrieNode | None = None
    forced: list[int] = field(default_factory=list)
    after_forced: str = _ACTION
    text: str = ""


class ActionConstraint:
    """A ``transformers`` logits processor constraining each row's action (module docstring).

    Args:
        vocab: the :class:`ActionVocabulary` of the policy's tokenizer.
        admissible: one admissible-action list per batch row (None: that row is free).
        prompt_width: columns of the padded prompt (``input_ids`` beyond it were generated).
        max_new_tokens: the generation budget (to force ``</think>`` in time).
    """

    def __init__(self, vocab: ActionVocabulary, admissible: Sequence[Sequence[str] | None], *, prompt_width: int,
                 max_new_tokens: int) -> None:
        self.vocab = vocab
        self.prompt_width = prompt_width
        self.max_new_tokens = max_new_tokens
        self.rows: list[_Row] = []
        for adm in admissible:
            trie = vocab.trie(adm)
            if trie is None:
                self.rows.append(_Row(_FREE, None))
            elif vocab.think:
                self.rows.append(_Row(_FORCED, trie, forced=list(vocab.open_think), after_forced=_THINK))
            else:
                self.rows.append(_Row(_ACTION, trie, node=trie))
        self._started = False
        #: per row, per generated position: whether the mask allowed exactly one token
        self.forced: list[list[bool]] = [[] for _ in self.rows]

    @property
    def active(self) -> bool:
        """Whether any row is constrained at all."""
        return any(r.phase != _FREE for r in self.rows)

    def _advance(self, row: _Row, token: int) -> None:
        """Move ``row``'s state past the token it just generated."""
        if row.phase == _FORCED:
            row.forced.pop(0)
            if not row.forced:
                row.phase = row.after_forced
                if row.phase == _ACTION:
                    row.node = row.trie
        elif row.phase == _THINK:
            row.text += self.vocab.tokenizer.decode([token], skip_special_tokens=False)
            if row.text.rstrip().endswith(CLOSE_THINK):
                row.phase, row.node = _ACTION, row.trie
        elif row.phase == _ACTION and row.node is not None:
            row.node = row.node.children.get(token)
            if row.node is None:  # cannot happen under the mask; stop constraining this row
                row.phase = _FREE

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids.shape[1] - self.prompt_width
        if self._started:
            last = input_ids[:, -1].tolist()
            for row, tok in zip(self.rows, last):
                self._advance(row, int(tok))
        self._started = True
        remaining = self.max_new_tokens - generated
        mask = torch.zeros_like(scores, dtype=torch.bool)  # True = forbidden
        for i, row in enumerate(self.rows):
            if row.phase == _THINK and row.trie is not None and \
                    remaining <= len(self.vocab.close_think) + row.trie.depth:
                row.phase, row.forced, row.after_forced = _FORCED, list(self.vocab.close_think), _ACTION
            if row.phase == _FORCED:
                allowed: list[int] | None = row.forced[:1]
            elif row.phase == _ACTION and row.node is not None and row.node.children:
                allowed = list(row.node.children)
            elif row.phase == _THINK:
                mask[i, self.vocab.eos_id] = True
                if self.vocab.tag_tokens:
                    mask[i, self.vocab.tag_tokens] = True
                self.forced[i].append(False)
                continue
            else:
                self.forced[i].append(False)
                continue
            self.forced[i].append(len(allowed) == 1)
            mask[i] = True
            mask[i, allowed] = False
        return scores.masked_fill(mask, float("-inf"))
