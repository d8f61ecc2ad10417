"""Search's task taxonomy: question kinds, classified from the question text.

The env's task type is the question's data source (``nq``, ``hotpotqa`` …, see
:data:`~agent_system.environments.search.data.TASK_TYPES`), which says little about the skill a
question needs; skills are routed by question kind (:data:`KINDS`) instead. The source is a
weak hint: it only breaks ties.
"""

from __future__ import annotations

import re

from agent_system.environments.taxonomy import TaskTaxonomy, normalize_name

KINDS = ("single_hop_fact", "multi_hop", "comparison", "temporal", "numeric")
"""Question kinds, in display order."""

ALIASES = {
    "single_hop": "single_hop_fact",
    "fact": "single_hop_fact",
    "multihop": "multi_hop",
    "bridge": "multi_hop",
    "date": "temporal",
    "number": "numeric",
    "count": "numeric",
}
"""Other names of the kinds (normalised) -> kind."""

_MULTI_HOP_SOURCES = {"hotpotqa", "hotpot_qa", "2wiki", "2wikimultihopqa", "musique", "bamboogle"}

_COMPARISON = re.compile(
    r"\b(same|both|either|neither)\b|\b(older|younger|earlier|later|larger|smaller|bigger|taller|shorter|"
    r"longer|higher|lower|more|fewer|less|first|last)\b.*\bor\b|\bor\b.*\b(older|younger|earlier|later|first|"
    r"larger|smaller|more|fewer)\b|^(which|who)\b[^?]*\bor\b|\bcompared\b|\bdifference between\b"
)
_NUMERIC = re.compile(
    r"\bhow (many|much|long|far|old|tall|big|high|large|wide|deep|heavy)\b|\bwhat (is the )?(number|"
    r"population|percentage|amount|size|length|height|area|capacity|age)\b|\bnumber of\b"
)
_TEMPORAL = re.compile(
    r"^when\b|\bwhen (was|were|did|does|is|will)\b|\b(what|which) (year|date|day|month|decade|century|"
    r"era|season)\b|\bin what year\b|\bwhat time\b|\bhow long ago\b|\bon what date\b"
)
_MULTI_HOP = re.compile(
    r"\bwhose\b|\b(the|a|an) [\w\s'\-]{1,40}? (who|which|that) \w+|\bof the (film|movie|song|album|book|"
    r"band|company|team|city|country|novel|show|series|director|author|singer|performer|creator|founder|"
    r"spouse|wife|husband|father|mother|son|daughter)\b|\b(director|author|composer|founder|spouse|father|"
    r"mother|performer|creator|producer|husband|wife) of\b|'s (father|mother|wife|husband|director|"
    r"birthplace|spouse|capital|author|founder)\b"
)


def classify_question(text: str, hint: str | None = None) -> str | None:
    """The kind of a question (``None`` for an empty one). ``hint`` is the data source
    (``nq``, ``hotpotqa`` …): it only tips a question no pattern decides towards
    ``multi_hop`` when the source is a multi-hop dataset.

    >>> classify_question("Who is older, Annie Morton or Terry Richardson?"), classify_question("Jane Doe invented what?", "bamboogle")
    ('comparison', 'multi_hop')
    """
    t = " ".join(text.lower().split())
    m = re.search(r"question:\s*(.*)", t)  # a full Search-R1 prompt: keep the question
    if m:
        t = m.group(1)
    if _COMPARISON.search(t):
        return "comparison"
    if _MULTI_HOP.search(t):
        return "multi_hop"
    if _NUMERIC.search(t):
        return "numeric"
    if _TEMPORAL.search(t):
        return "temporal"
    source = normalize_name(hint or "").split("_")[0] if hint else ""
    if source and (source in _MULTI_HOP_SOURCES or normalize_name(hint or "") in _MULTI_HOP_SOURCES):
        return "multi_hop"
    return "single_hop_fact" if t.strip() else None


TAXONOMY = TaskTaxonomy(
    categories=KINDS,
    aliases=ALIASES,
    classify_text=classify_question,
    hint_is_authoritative=False,
)
"""Search's :class:`TaskTaxonomy` (``SPEC.taxonomy``): the hint (data source) never overrides the text."""
