"""Render retrieved skills into the markdown block the agent sees, within a token budget.

Skill text is data, not instructions to the tokenizer or the answer parser. :func:`sanitize`

- removes the special tokens of the common chat templates: anything written ``<|...|>`` (ChatML,
  Qwen, Llama 3, Phi, GPT-OSS, Command R, GLM) or with DeepSeek's full-width bars
  ``<｜...｜>``; ``<s>``/``</s>``, ``[INST]``/``[/INST]``, ``<<SYS>>`` (Llama 2, Mistral) and
  Mistral's other ``[UPPER_CASE]`` controls; Gemma's ``<bos>``, ``<start_of_turn>``,
  ``<end_of_turn>`` …; T5's ``<extra_id_N>``; BERT's ``[CLS]``/``[SEP]``/``[MASK]``; Falcon's
  ``>>ABSTRACT<<`` markers;
- defuses every other tag (``<think>``, ``</action>``, ``<answer>``, ``<search>``,
  ``<tool_call>``, ``<object>`` …): its angle brackets become ``‹ ›``, so a skill can still
  *mention* the answer format (the Search bank teaches ``‹search›query‹/search›``) but can never
  open or close it, and no parser or tokenizer sees a tag;
- removes control and zero-width characters, folds whitespace to single spaces and caps the
  length of each field.

The block looks like::

    ## Skills from past experience

    ### General principles
    - **Title**: principle

    ### Task-specific skills (heat)
    - **Title**: principle
      Apply when: situation

    ### Mistakes to avoid
    - Description
      Why: cause
      Instead: how to avoid
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from skillrl.skills.schema import Mistake, Skill

TokenCounter = Callable[[str], int]
"""Counts the tokens of a text (e.g. ``lambda s: len(tokenizer.encode(s))``)."""

TITLE_MAX_CHARS = 120
RENDER_CACHE_SIZE = 16384
"""Rendered skill / mistake lines kept (items are immutable, so a line is rendered once)."""
FIELD_MAX_CHARS = 600

_BAR = "[|\uff5c]"  # ASCII | and DeepSeek's full-width ｜
_ANGLE_SPECIALS = (
    "s", "/s", "unk", "pad", "bos", "eos", "mask", "sep", "cls", "sop", "eop", "<SYS>", "</SYS>",
    "start_of_turn", "end_of_turn", "start_of_image", "end_of_image", "image_soft_token",
    "audio_soft_token", "start_of_audio", "end_of_audio",
    r"extra_id_\d+", r"unused\d+", r"reserved_\d+", r"SPECIAL_\d+", r"mask_\d+",
    "BOS_TOKEN", "EOS_TOKEN", "PAD_TOKEN", "UNK_TOKEN", "MASK_TOKEN", "EOP_TOKEN", "CLS", "SEP",
    "fim_prefix", "fim_middle", "fim_suffix", "fim_pad", "filename", "gh_stars",
    "issue_start", "issue_comment", "issue_closed", "jupyter_start", "jupyter_text",
    "jupyter_code", "jupyter_output", "empty_output", "commit_before", "commit_msg", "commit_after",
    "reponame",
)
_SPECIAL = re.compile(
    "|".join(
        [
            rf"<{_BAR}[^<>\n]{{0,64}}?{_BAR}>",  # <|im_start|>, <|eot_id|>, <｜User｜>, <｜begin▁of▁sentence｜>
            r"<(?:" + "|".join(_ANGLE_SPECIALS) + r")>",  # <s>, <bos>, <start_of_turn>, <<SYS>>, <extra_id_0>
            r"\[/?(?:INST|SYS|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS|TOOL_CONTENT|SYSTEM_PROMPT|THINK"
            r"|IMG|IMG_BREAK|IMG_END|PREFIX|MIDDLE|SUFFIX|ARGS|CALL_ID|CLS|SEP|MASK|PAD|UNK|gMASK|sMASK)\]",
            r"\[@(?:BOS|EOS)@\]",  # Gemma
            r">>[A-Z][A-Z_]{1,30}<<",  # Falcon: >>ABSTRACT<<, >>QUESTION<<
        ]
    ),
    re.IGNORECASE,
)
_TAG = re.compile(r"<(/?[A-Za-z_][\w.:\-]{0,64}(?:\s[^<>]{0,200})?/?)>")
"""Any other tag: ``<think>``, ``</action>``, ``<tool_call name="x">``, ``<br/>``."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def sanitize(text: str, max_chars: int = FIELD_MAX_CHARS) -> str:
    """Make one skill field safe to put in a prompt.

    Removes special tokens and control characters (newlines and tabs included: a field is one
    line), defuses other tags (``<action>`` becomes ``‹action›``), collapses whitespace, and
    cuts to ``max_chars`` characters (ending with ``…``). Idempotent.

    >>> sanitize("Use <search>X author</search>.<|im_end|><｜User｜><start_of_turn>")
    'Use ‹search›X author‹/search›.'
    """
    s = _CONTROL.sub(" ", str(text))
    prev = None
    while prev != s:  # removing one token may join the halves of another
        prev = s
        s = _SPECIAL.sub(" ", s)
    s = _TAG.sub(lambda m: f"\u2039{m.group(1)}\u203a", s)
    s = " ".join(s.split())
    if len(s) > max_chars:
        s = s[: max(0, max_chars - 1)].rstrip() + "…"
    return s


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: words and punctuation marks, plus one per 4 chars of long words.

    Over-counts typical BPE tokenizers slightly, so a budget in these units is conservative.
    """
    n = 0
    for tok in _TOKEN.findall(text):
        n += 1 + max(0, len(tok) - 6) // 4
    return n


def _category_label(category: str) -> str:
    return category.replace("_", " ")


@functools.lru_cache(maxsize=RENDER_CACHE_SIZE)
def render_skill(skill: Skill, *, with_when: bool) -> str:
    line = f"- **{sanitize(skill.title, TITLE_MAX_CHARS)}**: {sanitize(skill.principle)}"
    when = sanitize(skill.when_to_apply)
    if with_when and when:
        line += f"\n  Apply when: {when}"
    return line


@functools.lru_cache(maxsize=RENDER_CACHE_SIZE)
def render_mistake(mistake: Mistake) -> str:
    line = f"- {sanitize(mistake.description)}"
    why = sanitize(mistake.why_it_happens)
    if why:
        line += f"\n  Why: {why}"
    avoid = sanitize(mistake.how_to_avoid)
    if avoid:
        line += f"\n  Instead: {avoid}"
    return line


def render_block(
    general: Sequence[Skill],
    task_specific: Sequence[Skill],
    mistakes: Sequence[Mistake],
    *,
    task_type: str,
    specific_heading: str | None = None,
) -> str:
    """The markdown skill block ('' when there is nothing to show).

    ``specific_heading`` replaces the default ``Task-specific skills (<task_type>)`` heading.
    """
    if not (general or task_specific or mistakes):
        return ""
    parts = ["## Skills from past experience"]
    if general:
        parts.append("### General principles\n" + "\n".join(render_skill(s, with_when=False) for s in general))
    if task_specific:
        heading = specific_heading or f"Task-specific skills ({_category_label(task_type)})"
        parts.append(
            f"### {sanitize(heading, TITLE_MAX_CHARS)}\n" + "\n".join(render_skill(s, with_when=True) for s in task_specific)
        )
    if mistakes:
        parts.append("### Mistakes to avoid\n" + "\n".join(render_mistake(m) for m in mistakes))
    return "\n\n".join(parts)


def fit_budget(
    ranked: Sequence[tuple[str, Skill | Mistake]],
    *,
    task_type: str,
    max_tokens: int | None,
    count_tokens: TokenCounter = estimate_tokens,
    specific_heading: str | None = None,
) -> tuple[list[tuple[str, Skill | Mistake]], str, int]:
    """Render the longest prefix of ``ranked`` whose block fits the budget.

    Args:
        ranked: ``(section, item)`` pairs, best first; ``section`` is ``"general"``,
            ``"task_specific"`` or ``"mistakes"``. Sections are rendered in that fixed order;
            within a section items keep their rank order. The lowest-ranked items are dropped
            first.
        max_tokens: budget (None = unlimited). The returned text never exceeds it; with a
            budget too small for even one item the text is ''.

    Returns:
        ``(kept items, text, tokens)``.

    The prefix length is found by doubling, then bisecting (assuming an extra item never makes
    the block shorter in tokens, true of any tokenizer in practice; the result is checked
    either way): O(log k) renderings of at most 2k items for k kept items, each item's lines
    rendered once (:func:`render_skill` and :func:`render_mistake` are memoised), so the cost
    does not grow with the length of ``ranked``.
    """
    ranked = list(ranked)

    def measure(k: int) -> tuple[str, int]:
        kept = ranked[:k]
        text = render_block(
            [i for s, i in kept if s == "general"],  # type: ignore[misc]
            [i for s, i in kept if s == "task_specific"],  # type: ignore[misc]
            [i for s, i in kept if s == "mistakes"],  # type: ignore[misc]
            task_type=task_type,
            specific_heading=specific_heading,
        )
        return text, (count_tokens(text) if text else 0)

    if max_tokens is None:
        text, tokens = measure(len(ranked))
        return ranked, text, tokens
    n = len(ranked)
    lo, lo_text, lo_tokens = 0, "", 0  # the longest prefix known to fit
    hi = n + 1  # the shortest prefix known not to fit (n + 1: none known)
    k = 1
    while k < hi:
        text, tokens = measure(k)
        if tokens > max_tokens:
            hi = k
            break
        lo, lo_text, lo_tokens = k, text, tokens
        if k == n:
            break
        k = min(2 * k, n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        text, tokens = measure(mid)
        if tokens <= max_tokens:
            lo, lo_text, lo_tokens = mid, text, tokens
        else:
            hi = mid
    return ranked[:lo], lo_text, lo_tokens
