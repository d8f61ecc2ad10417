"""The ``heuristic`` distiller: skills from structured episodes, no LLM.

Failure mining: each :class:`FailureDetector` in :data:`FAILURE_DETECTORS` reads one
:class:`~skillrl.distill.trajectory.Trajectory` and reports at most one :class:`Finding` of its
kind. The detectors look at the action *grammar* (``go to X``, ``take X from Y``, ``search[…]``,
``click[buy now]``, ``<search>…</search>``, ``<answer>…</answer>``), never at the environment's
name, so a detector whose grammar does not occur in an episode simply finds nothing.

============================ =================================================================
kind                         finding
============================ =================================================================
``repeated_action``          the same action twice in a row with the same observation, or a
                             non-navigation action three times or more
``invalid_action``           two or more actions the environment rejected ("Nothing happens.")
``loop_two_locations``       going back and forth between two places (A, B, A, B), or two
                             actions alternating four times in a row
``wrong_object``             taking an object the goal does not mention
``skipped_appliance``        the goal needs heating / cooling / cleaning / a lamp and the matching
                             action (``heat``/``cool``/``clean``/``use``) never happened
``closed_container_skipped`` a receptacle was found closed and never opened
``premature_purchase``       ``click[buy now]`` on a product page that offered options, none
                             of which was selected
``answer_without_search``    an ``<answer>`` before any ``<search>``
``exhausted_steps``          (only when nothing else is found) the step limit ran out
============================ =================================================================

Success schemas: :func:`action_template` abstracts an action's objects into roles (``OBJECT``
named by the goal, ``TARGET`` receptacle of the goal, ``APPLIANCE`` used to change an object's
state, other ``PLACE``s; ``QUERY``, ``PRODUCT``, ``OPTION``, ``ANSWER``), :func:`schema` collapses
a successful episode into the ordered templates (exploration steps fold into ``search PLACEs``);
the most common schema of a task type becomes its routine skill.

Output has the same types as the LLM distiller's: memories in the original format, skills and
mistakes in the bank schema, and evolution ops.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from skillrl.distill.base import BankRequest, EvolutionRequest
from skillrl.distill.memory import FAILURE, SUCCESS, Memory, MemoryMistake, MemoryStep, memory_id_for
from skillrl.distill.ops import AddMistake, AddSkill, EvolutionOp, UpdateSkill
from skillrl.distill.similarity import content_words
from skillrl.distill.trajectory import Trajectory
from skillrl.skills.schema import Mistake, Skill
from skillrl.utils.registry import Registry

# ----------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class FailureKind:
    """A failure pattern and the lesson that counters it.

    Texts may use ``{a_task}`` ("a heat task" / "a task"), ``{a_goal}`` ("a heat goal" / "a goal")
    and ``{state_change}`` (what the goal's adjective asks for, e.g. "heat it with the appliance
    (heat <object> with <appliance>)"); see :func:`_fmt`.
    """

    name: str
    scope: str
    """``general`` (any task type) or ``task`` (specific to the failing type)."""
    title: str
    """Title of the remedy skill."""
    principle: str
    when_to_apply: str
    description: str
    """The common mistake, as a sentence."""
    why_it_happens: str
    how_to_avoid: str
    fallback: bool = False
    """Reported only when no other kind was found in the episode."""


@dataclass(frozen=True)
class Finding:
    """One failure pattern found in one episode."""

    kind: str
    step: int
    """Index of the step where it shows (the offending action)."""
    bad_action: str
    trigger: str
    """The situation, in words."""
    evidence: str
    """What was seen, e.g. ``"'go to desk 1' 4 times"``."""
    detail: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Values for the kind's text placeholders (``verb`` …)."""


@dataclass(frozen=True)
class FailureDetector:
    kind: FailureKind
    detect: Callable[[Trajectory], Finding | None]


#: failure kind name -> detector (one signature: ``Trajectory -> Finding | None``)
FAILURE_DETECTORS: Registry[FailureDetector] = Registry("failure detector")


def failure_detector(kind: FailureKind) -> Callable[[Callable[[Trajectory], Finding | None]], Callable[[Trajectory], Finding | None]]:
    """Register the decorated function as the detector of ``kind``."""

    def deco(fn: Callable[[Trajectory], Finding | None]) -> Callable[[Trajectory], Finding | None]:
        FAILURE_DETECTORS.register(kind.name, FailureDetector(kind, fn))
        return fn

    return deco


def failure_kind(name: str) -> FailureKind:
    return FAILURE_DETECTORS.get(name).kind


# -- action grammar -------------------------------------------------------------------------

_GO = re.compile(r"^go to (.+)$")
_TAKE = re.compile(r"^(?:take|pick up) (.+?) from (.+)$")
_PUT = re.compile(r"^(?:put|move) (.+?) (?:in/on|into|onto|to|in|on) (.+)$")
_CHANGE = re.compile(r"^(heat|cool|clean) (.+?) with (.+)$")
_USE = re.compile(r"^(?:use|turn on|toggle) (.+)$")
_VERB_ONE = re.compile(r"^(open|close|examine|slice) (.+)$")
_SEARCH_TAG = re.compile(r"^<search>(.*)</search>$", re.DOTALL)
_ANSWER_TAG = re.compile(r"^<answer>(.*)</answer>$", re.DOTALL)
_SEARCH_BR = re.compile(r"^search\[(.*)\]$", re.DOTALL)
_CLICK = re.compile(r"^click\[(.*)\]$", re.DOTALL)
_ASIN = re.compile(r"^(?=.*\d)[a-z0-9]{10}$")
_NAV_CLICKS = {"next >", "< prev", "back to search", "description", "features", "reviews", "attributes", "buy now"}
_ENTITY_NUM = re.compile(r"\s+\d+$")
_TARGET = re.compile(r"\b(?:in|on|into|onto|in/on)\s+(?:the\s+|a\s+|an\s+|some\s+)?([a-z]+)\s*\.?\s*$")

#: requirement word in a goal -> the action verb that satisfies it
_REQUIREMENTS = (
    (re.compile(r"\b(hot|heat|heated|warm)\b"), "heat"),
    (re.compile(r"\b(cool|cold|cooled|chilled)\b"), "cool"),
    (re.compile(r"\b(clean|cleaned|washed|rinsed)\b"), "clean"),
    (re.compile(r"\b(desklamp|floorlamp|lamp|light)\b"), "use"),
)
_VERB_OF_TYPE = {"heat": "heat", "cool": "cool", "clean": "clean", "look_at_obj_in_light": "use", "examine": "use"}


def _norm(action: str) -> str:
    return " ".join(action.strip().lower().split())


def entity_type(name: str) -> str:
    """``"apple 1"`` -> ``"apple"``."""
    return _ENTITY_NUM.sub("", name.strip().lower())


def _household(traj: Trajectory) -> bool:
    """Whether the episode speaks the household grammar (go to / take / put …)."""
    return any(_GO.match(a) or _TAKE.match(a) or _PUT.match(a) for a in map(_norm, traj.actions))


def goal_target(task: str) -> str | None:
    """The receptacle a household goal ends on (``"put a hot apple in fridge."`` -> ``"fridge"``)."""
    m = _TARGET.search(task.lower().strip())
    return m.group(1) if m else None


def required_verbs(task: str, task_type: str = "") -> list[str]:
    """State changes a goal needs, as action verbs (``heat``, ``cool``, ``clean``, ``use``)."""
    text = task.lower()
    verbs = [verb for pat, verb in _REQUIREMENTS if pat.search(text)]
    typed = _VERB_OF_TYPE.get(task_type)
    if typed and typed not in verbs:
        verbs.append(typed)
    return verbs


# -- detectors -------------------------------------------------------------------------------

REPEATED = FailureKind(
    name="repeated_action",
    scope="general",
    title="Change course after no progress",
    principle="If an action did not change the situation, do not send it again: pick a different action or target that can make progress.",
    when_to_apply="The last observation is the same as before the action, or the same action was already tried twice.",
    description="Sending the same action again and again although it does not change anything.",
    why_it_happens="The agent does not check whether its previous action had an effect and falls back on the same choice.",
    how_to_avoid="Compare the new observation with the previous one; after one ineffective attempt, choose another action from the admissible list.",
)
INVALID = FailureKind(
    name="invalid_action",
    scope="general",
    title="Act only from the admissible list",
    principle="Copy actions exactly from the list of admissible actions (names, numbers and syntax); an action that is not listed wastes a turn.",
    when_to_apply="Before every action, especially after an action was rejected.",
    description="Issuing actions the environment does not accept (wrong syntax, wrong object number, or an action not offered).",
    why_it_happens="The agent paraphrases or invents actions instead of choosing from the admissible ones.",
    how_to_avoid="Pick the action verbatim from the admissible actions; if it was rejected, read the list again rather than retrying a variant.",
)
LOOP = FailureKind(
    name="loop_two_locations",
    scope="general",
    title="Break back-and-forth loops",
    principle="Do not alternate between the same two places or actions; once both were checked, move on to an unvisited place or a new action.",
    when_to_apply="The last few actions alternate between two targets.",
    description="Going back and forth between the same two locations (or two actions) without new information.",
    why_it_happens="The agent forgets that both places were already inspected and keeps re-checking them.",
    how_to_avoid="Keep track of the places already inspected and choose an unvisited one; stop alternating as soon as a pattern A, B, A appears.",
)
WRONG_OBJECT = FailureKind(
    name="wrong_object",
    scope="task",
    title="Take or buy only what the goal names",
    principle="Before taking an object or buying a product, check that its name matches what the goal asks for; leave look-alikes where they are.",
    when_to_apply="An object is within reach, or a product page is open, during {a_task}.",
    description="Picking up, handling or buying something that the goal does not ask for.",
    why_it_happens="The agent takes the first visible object or the first listed product instead of matching it against the goal.",
    how_to_avoid="Match the name against the goal text before the take or buy action (compare the listed results); if it does not match, keep searching.",
)
SKIPPED_APPLIANCE = FailureKind(
    name="skipped_appliance",
    scope="task",
    title="Use the appliance the goal names",
    principle="{A_goal} is only met after {state_change}; do it before the final step.",
    when_to_apply="Holding the goal object of {a_task}, before the final step.",
    description="Placing or finishing without the state change the goal requires (heating, cooling, cleaning or using the lamp).",
    why_it_happens="The agent focuses on moving the object and forgets the adjective in the goal (hot, cool, clean, under the lamp).",
    how_to_avoid="Read the goal for hot/cool/clean/light; go to the matching appliance and use it on the object before the last step.",
)
CLOSED = FailureKind(
    name="closed_container_skipped",
    scope="general",
    title="Open closed receptacles",
    principle="A closed drawer, cabinet, fridge or box has not been searched: open it and look inside before moving on.",
    when_to_apply="The observation says a receptacle is closed.",
    description="Leaving closed receptacles unopened while the goal object is still missing.",
    why_it_happens="The agent treats a closed receptacle as empty.",
    how_to_avoid="Open every closed receptacle you visit during a search, then close it or move on.",
)
PREMATURE_PURCHASE = FailureKind(
    name="premature_purchase",
    scope="task",
    title="Select options before buying",
    principle="On a product page with options, click every option the instruction asks for (size, colour, style …) before clicking Buy Now.",
    when_to_apply="A product page lists options and the instruction specifies some of them.",
    description="Clicking Buy Now without selecting the options (size, colour, …) that the instruction requires.",
    why_it_happens="The agent stops at the first matching product and forgets the attribute constraints.",
    how_to_avoid="List the required options from the instruction, click each of them on the product page, then buy.",
)
ANSWER_WITHOUT_SEARCH = FailureKind(
    name="answer_without_search",
    scope="task",
    title="Search before answering",
    principle="Issue at least one search for the entities in the question and answer only from what the retrieved passages say.",
    when_to_apply="Before giving the answer in {a_task}.",
    description="Answering from memory without searching, so the answer is not grounded in retrieved evidence.",
    why_it_happens="The agent is over-confident about facts it has not checked.",
    how_to_avoid="Search first (one query per entity or hop), read the passages, then answer with the exact span they give.",
)
EXHAUSTED = FailureKind(
    name="exhausted_steps",
    scope="general",
    title="Keep a plan and finish it",
    principle="Decompose the goal into ordered sub-goals at the start and check off one per few steps; when a sub-goal stalls, switch strategy instead of wandering.",
    when_to_apply="Many steps have passed without completing a sub-goal.",
    description="Running out of steps without completing the task.",
    why_it_happens="The agent explores without a plan and loses track of what remains.",
    how_to_avoid="Write down the sub-goals first, act on the next unfinished one, and stop exploring once its target is found.",
    fallback=True,
)


@failure_detector(REPEATED)
def _detect_repeated(traj: Trajectory) -> Finding | None:
    acts = [_norm(a) for a in traj.actions]
    for i in range(1, len(traj.steps)):
        a, prev = traj.steps[i], traj.steps[i - 1]
        if acts[i] and acts[i] == acts[i - 1] and a.observation.strip() == prev.observation.strip():
            return Finding("repeated_action", i, a.action, "the previous identical action changed nothing",
                           f"{a.action!r} twice in a row with the same result")
    counts = Counter(a for a in acts if a and not _GO.match(a))
    for action, n in counts.most_common(1):
        if n >= 3:
            i = max(j for j, a in enumerate(acts) if a == action)
            return Finding("repeated_action", i, traj.steps[i].action, "the same action was already tried twice",
                           f"{action!r} {n} times")
    return None


_NOTHING = re.compile(r"^\s*(nothing happens|invalid action)", re.IGNORECASE)


@failure_detector(INVALID)
def _detect_invalid(traj: Trajectory) -> Finding | None:
    bad = [i for i, s in enumerate(traj.steps) if not s.valid or _NOTHING.match(s.observation)]
    if len(bad) >= 2:
        i = bad[0]
        return Finding("invalid_action", i, traj.steps[i].action or "(malformed output)",
                       "choosing the next action", f"{len(bad)} rejected actions")
    return None


def _alternation(seq: Sequence[str]) -> int | None:
    """Index (in ``seq``) where a window x, y, x, y with x != y ends, or None."""
    for i in range(3, len(seq)):
        a, b, c, d = seq[i - 3 : i + 1]
        if a == c and b == d and a != b:
            return i
    return None


@failure_detector(LOOP)
def _detect_loop(traj: Trajectory) -> Finding | None:
    acts = [_norm(a) for a in traj.actions]
    places: list[tuple[str, int]] = []
    for i, a in enumerate(acts):
        m = _GO.match(a)
        if m and (not places or places[-1][0] != m.group(1)):
            places.append((m.group(1), i))
    end = _alternation([p for p, _ in places])
    if end is not None:
        a, b = places[end - 1][0], places[end][0]
        i = places[end][1]
        return Finding("loop_two_locations", i, traj.steps[i].action, f"moving between {a} and {b} again",
                       f"back and forth between {a!r} and {b!r}")
    end = _alternation(acts)
    if end is not None and acts[end]:
        return Finding("loop_two_locations", end, traj.steps[end].action, "alternating between two actions",
                       f"alternating {acts[end - 1]!r} and {acts[end]!r}")
    return None


_RESULT_ASIN = re.compile(r"^(?=.*\d)[A-Z0-9]{10}$")
#: a bought product whose title names fewer of the goal's product words than this is the wrong one
WRONG_PRODUCT_MAX_OVERLAP = 0.2
#: ... and so is one whose title matches the goal worse, by this much, than another listed result
WRONG_PRODUCT_MARGIN = 0.1


def _goal_product_words(task: str) -> set[str]:
    """Content words of a shopping instruction's product phrase (before ``with``: the options and
    price come after it)."""
    head = re.split(r"\bwith\b|\band price\b", task.lower(), maxsplit=1)[0]
    return set(content_words(head)) - {"find", "buy", "need", "want", "looking", "get"}


def _item_title(observation: str) -> str | None:
    """The product title of a WebShop item page (the element before ``Price:``)."""
    parts = [p.strip() for p in observation.split("[SEP]")]
    k = next((i for i, p in enumerate(parts) if p.lower().startswith("price:")), None)
    return parts[k - 1] if k else None


def _listed_results(observation: str) -> list[tuple[str, str]]:
    """``(asin, title)`` of the products on a WebShop results page."""
    parts = [p.strip() for p in observation.split("[SEP]")]
    return [(p.lower(), parts[i + 1]) for i, p in enumerate(parts[:-1]) if _RESULT_ASIN.match(p)]


def _wrong_purchase(traj: Trajectory, goal: set[str]) -> Finding | None:
    """A WebShop purchase of a product whose title misses the goal's product words, or that a
    listed result matched clearly better."""
    acts = [_norm(a) for a in traj.actions]
    for i, a in enumerate(acts):
        if a != "click[buy now]" or i == 0:
            continue
        title = next((t for k in range(i - 1, -1, -1) if (t := _item_title(traj.steps[k].observation))), None)
        opened = next((k for k in range(i - 1, -1, -1) if (m := _CLICK.match(acts[k])) and _ASIN.match(m.group(1))), None)
        if title is None or opened is None:
            return None

        def overlap(text: str) -> float:
            return len(goal & set(content_words(text))) / len(goal)

        bought = overlap(title)
        listed = next((_listed_results(traj.steps[k].observation) for k in range(opened - 1, -1, -1)
                       if _listed_results(traj.steps[k].observation)), [])
        asin = _CLICK.match(acts[opened]).group(1).strip()  # type: ignore[union-attr]
        better = max((overlap(t) for x, t in listed if x != asin), default=0.0)
        if bought < WRONG_PRODUCT_MAX_OVERLAP or better - bought >= WRONG_PRODUCT_MARGIN:
            why = (f"a listed result matched the goal better ({better:.0%} vs {bought:.0%} of its words)"
                   if better - bought >= WRONG_PRODUCT_MARGIN else f"its title names {bought:.0%} of the goal's words")
            return Finding("wrong_object", i, traj.steps[i].action, "on the page of a product to buy",
                           f"bought {title[:60]!r}: {why}")
    return None


@failure_detector(WRONG_OBJECT)
def _detect_wrong_object(traj: Trajectory) -> Finding | None:
    if any(_norm(a) == "click[buy now]" for a in traj.actions):
        goal = _goal_product_words(traj.task)
        return _wrong_purchase(traj, goal) if goal else None
    goal = set(content_words(traj.task))
    if not goal:
        return None
    for i, a in enumerate(map(_norm, traj.actions)):
        m = _TAKE.match(a)
        if m:
            obj = entity_type(m.group(1))
            if obj and not (set(content_words(obj)) & goal):
                return Finding("wrong_object", i, traj.steps[i].action, f"{obj} is within reach",
                               f"took {obj!r}, which the goal does not mention")
    return None


@failure_detector(SKIPPED_APPLIANCE)
def _detect_skipped_appliance(traj: Trajectory) -> Finding | None:
    if not _household(traj):
        return None
    acts = [_norm(a) for a in traj.actions]
    for verb in required_verbs(traj.task, traj.task_type):
        done = any(a.startswith(verb + " ") or (verb == "use" and _USE.match(a)) for a in acts)
        if not done:
            puts = [i for i, a in enumerate(acts) if _PUT.match(a)]
            i = puts[-1] if puts else len(acts) - 1
            return Finding("skipped_appliance", max(i, 0), traj.steps[i].action if acts else "",
                           f"holding the goal object, before finishing (needs: {verb})",
                           f"the goal needs '{verb}' and no such action was taken", {"verb": verb})
    return None


_CLOSED = re.compile(r"\bthe ([a-z]+ \d+) is closed\b")


@failure_detector(CLOSED)
def _detect_closed(traj: Trajectory) -> Finding | None:
    acts = [_norm(a) for a in traj.actions]
    for i, s in enumerate(traj.steps):
        for recep in _CLOSED.findall(s.observation.lower()):
            if not any(a == f"open {recep}" for a in acts[i:]):
                return Finding("closed_container_skipped", i, s.action, f"{recep} is closed",
                               f"{recep!r} was found closed and never opened")
    return None


def _product_options(observation: str) -> list[str]:
    """Option names/values listed on a WebShop item page (text between ``< Prev`` and the title)."""
    parts = [p.strip() for p in observation.split("[SEP]")]
    low = [p.lower() for p in parts]
    if "buy now" not in low or "< prev" not in low:
        return []
    start = low.index("< prev") + 1
    price = next((k for k, p in enumerate(low) if p.startswith("price:")), None)
    if price is None or price - 1 <= start:
        return []
    return [p for p in low[start : price - 1] if p]


@failure_detector(PREMATURE_PURCHASE)
def _detect_premature_purchase(traj: Trajectory) -> Finding | None:
    acts = [_norm(a) for a in traj.actions]
    for i, a in enumerate(acts):
        if a != "click[buy now]":
            continue
        # the product page the purchase was made from: the latest observation listing Buy Now
        page = next((k for k in range(i - 1, -1, -1) if "buy now" in traj.steps[k].observation.lower()), None)
        if page is not None:
            opened = page
            while opened - 1 >= 0 and "buy now" in traj.steps[opened - 1].observation.lower():
                opened -= 1
            options = set(_product_options(traj.steps[page].observation))
            if not options:
                return None
            chosen = any((m := _CLICK.match(x)) and m.group(1).strip() in options for x in acts[opened + 1 : i])
            if chosen:
                return None
            return Finding("premature_purchase", i, traj.steps[i].action, "on a product page that lists options",
                           f"bought without selecting any of {len(options)} listed options")
        prev = acts[i - 1] if i else ""
        m = _CLICK.match(prev)
        if m and _ASIN.match(m.group(1).strip()):
            return Finding("premature_purchase", i, traj.steps[i].action, "right after opening a product",
                           "bought immediately after opening the product page")
    return None


@failure_detector(ANSWER_WITHOUT_SEARCH)
def _detect_answer_without_search(traj: Trajectory) -> Finding | None:
    acts = [a.strip() for a in traj.actions]
    for i, a in enumerate(acts):
        if _ANSWER_TAG.match(a):
            if not any(_SEARCH_TAG.match(x) for x in acts[:i]):
                return Finding("answer_without_search", i, a, "about to answer", "answered before any search")
            return None
    return None


@failure_detector(EXHAUSTED)
def _detect_exhausted(traj: Trajectory) -> Finding | None:
    if traj.truncated and traj.steps:
        i = len(traj.steps) - 1
        return Finding("exhausted_steps", i, traj.steps[i].action, "many steps without finishing",
                       f"step limit reached after {len(traj.steps)} steps")
    return None


def mine_failures(traj: Trajectory) -> list[Finding]:
    """All findings of a (failed) episode, one per kind at most, in registry order.

    Fallback kinds are reported only when no other kind was found.
    """
    found: list[Finding] = []
    fallbacks: list[Finding] = []
    for name in FAILURE_DETECTORS.names():
        det = FAILURE_DETECTORS.get(name)
        f = det.detect(traj)
        if f is not None:
            (fallbacks if det.kind.fallback else found).append(f)
    return found or fallbacks


# ----------------------------------------------------------------------------- schemas


def _roles(traj: Trajectory) -> tuple[set[str], set[str], str | None]:
    appliances: set[str] = set()
    for a in map(_norm, traj.actions):
        if m := _CHANGE.match(a):
            appliances.add(entity_type(m.group(3)))
        elif (m := _USE.match(a)) and not _GO.match(a):
            appliances.add(entity_type(m.group(1)))
    return appliances, set(content_words(traj.task)), goal_target(traj.task)


def action_template(action: str, *, appliances: set[str] = frozenset(), goal_words: set[str] = frozenset(), target: str | None = None) -> str:
    """The action with its objects replaced by roles.

    >>> action_template("heat egg 1 with microwave 1", appliances={"microwave"}, goal_words={"egg"}, target="countertop")
    'heat OBJECT with APPLIANCE'
    >>> action_template("search[red shirt under 30 dollars]")
    'search[QUERY]'
    """
    a = _norm(action)

    def role(name: str) -> str:
        t = entity_type(name)
        if t in appliances:
            return "APPLIANCE"
        if target and t == target:
            return "TARGET"
        if set(content_words(t)) & goal_words:
            return "OBJECT"
        return "PLACE"

    if _SEARCH_TAG.match(a):
        return "<search>QUERY</search>"
    if _ANSWER_TAG.match(a):
        return "<answer>ANSWER</answer>"
    if _SEARCH_BR.match(a):
        return "search[QUERY]"
    if m := _CLICK.match(a):
        arg = m.group(1).strip()
        if arg in _NAV_CLICKS:
            return f"click[{arg}]"
        return "click[PRODUCT]" if _ASIN.match(arg) else "click[OPTION]"
    if m := _GO.match(a):
        return f"go to {role(m.group(1))}"
    if m := _TAKE.match(a):
        return f"take {role(m.group(1))} from {role(m.group(2))}"
    if m := _PUT.match(a):
        return f"put {role(m.group(1))} in/on {role(m.group(2))}"
    if m := _CHANGE.match(a):
        return f"{m.group(1)} {role(m.group(2))} with {role(m.group(3))}"
    if m := _USE.match(a):
        return f"use {role(m.group(1))}"
    if m := _VERB_ONE.match(a):
        return f"{m.group(1)} {role(m.group(2))}"
    return re.sub(r"\d+", "N", a)


_MOVE = re.compile(r"^go to (PLACE|TARGET|APPLIANCE|OBJECT)$")
_KEY_HOUSEHOLD = re.compile(r"^(take|put|heat|cool|clean|use) ")


def _is_key(template: str) -> bool:
    """Steps that change the task state (kept in a schema); the rest is moving and looking."""
    if _KEY_HOUSEHOLD.match(template):
        return True
    if template.startswith(("search[", "click[", "<search>", "<answer>", "browse")):
        return True
    return template.startswith("examine OBJECT")


def schema(traj: Trajectory) -> tuple[str, ...]:
    """Ordered action templates of an episode.

    Valid steps only. Steps that change the task state are kept (take, put, heat/cool/clean, use,
    searches, clicks, answers); each run of moving/looking/opening between them folds into one
    step: ``go to TARGET`` / ``go to APPLIANCE`` when the run ends at such a place, else
    ``search PLACEs``. Consecutive repeats collapse.
    """
    appliances, words, target = _roles(traj)
    out: list[str] = []
    run: list[str] = []

    def fold() -> None:
        if run:
            moves = [m.group(1) for t in run if (m := _MOVE.match(t))]
            out.append(f"go to {moves[-1]}" if moves and moves[-1] in ("TARGET", "APPLIANCE") else "search PLACEs")
            run.clear()

    for s in traj.steps:
        if not s.valid or not s.action.strip():
            continue
        t = action_template(s.action, appliances=appliances, goal_words=words, target=target)
        if t in ("click[next >]", "click[< prev]"):
            t = "browse result pages"
        if _is_key(t):
            fold()
            out.append(t)
        else:
            run.append(t)
    fold()
    collapsed = [t for i, t in enumerate(out) if i == 0 or out[i - 1] != t]
    # a trailing run of looking around after the last key step is noise
    while collapsed and collapsed[-1] == "search PLACEs" and len(collapsed) > 1:
        collapsed.pop()
    return tuple(collapsed)


def pattern_text(steps: Sequence[str]) -> str:
    return " -> ".join(steps)


# ----------------------------------------------------------------------------- the distiller


def _label(category: str) -> str:
    return category.replace("_", " ")


_STATE_CHANGE = {
    "heat": "the object was heated with the appliance (heat <object> with <appliance>)",
    "cool": "the object was cooled with the appliance (cool <object> with <appliance>)",
    "clean": "the object was cleaned at the sink (clean <object> with <sinkbasin>)",
    "use": "the lamp was turned on while holding the object (use <lamp>)",
}
_ANY_STATE_CHANGE = ("the object was changed as its adjective says (heated, cooled, cleaned, or looked at under a "
                     "turned-on lamp) with the matching appliance")


def _fmt(text: str, finding: Finding | None, category: str) -> str:
    """Fill a kind's text for ``category`` ('' for general skills) and a finding's details."""
    verbs = required_verbs("", category)
    verb = (finding.detail.get("verb") if finding is not None else None) or (verbs[0] if verbs else None)
    values = {
        "a_task": f"a {_label(category)} task" if category else "a task",
        "a_goal": f"a {_label(category)} goal" if category else "a goal",
        "A_goal": f"A {_label(category)} goal" if category else "A goal",
        "state_change": _STATE_CHANGE.get(verb or "", _ANY_STATE_CHANGE),
    }
    try:
        return text.format(**values)
    except (KeyError, IndexError):
        return text


def remedy_skill(kind: FailureKind, category: str, finding: Finding | None = None, skill_id: str = "new") -> Skill:
    """The skill that counters ``kind`` (texts filled for ``category``)."""
    return Skill(skill_id=skill_id, title=_fmt(kind.title, finding, category),
                 principle=_fmt(kind.principle, finding, category),
                 when_to_apply=_fmt(kind.when_to_apply, finding, category))


def kind_mistake(kind: FailureKind, category: str = "", finding: Finding | None = None, mistake_id: str = "new") -> Mistake:
    """The common mistake of ``kind``."""
    return Mistake(mistake_id=mistake_id, description=_fmt(kind.description, finding, category),
                   why_it_happens=_fmt(kind.why_it_happens, finding, category),
                   how_to_avoid=_fmt(kind.how_to_avoid, finding, category))


def routine_skill(category: str, pattern: str, n: int, skill_id: str = "new") -> Skill:
    """The routine skill of a task type from its most common success schema."""
    return Skill(
        skill_id=skill_id,
        title=f"Routine for {_label(category)} tasks",
        principle=f"Successful {_label(category)} episodes follow this order: {pattern}.",
        when_to_apply=f"Planning a {_label(category)} task; re-check the order before the final action.",
        extra={"support": n},
    )


def _most_common_schema(trajs: Sequence[Trajectory]) -> tuple[str, int, list[str]] | None:
    """(pattern text, support, episode ids) of the most frequent non-trivial schema."""
    by_pattern: dict[str, list[str]] = defaultdict(list)
    for t in trajs:
        s = schema(t)
        if len(s) >= 2:
            by_pattern[pattern_text(s)].append(t.episode_id)
    if not by_pattern:
        return None
    pattern, ids = max(by_pattern.items(), key=lambda kv: (len(kv[1]), -len(kv[0])))
    return pattern, len(ids), ids


class HeuristicDistiller:
    """Rule-based distiller (module docstring); deterministic, no LLM."""

    name = "heuristic"
    cache_key = "heuristic-v1"

    def __repr__(self) -> str:
        return "HeuristicDistiller()"

    # -- offline: memories -------------------------------------------------------------

    def memory(self, trajectory: Trajectory) -> Memory:
        t = trajectory
        findings = [] if t.won else mine_failures(t)
        kept = []
        prev = None
        for s in t.steps:  # the refined trajectory: valid actions, no immediate repeats
            a = _norm(s.action)
            if not s.valid or not a or a == prev:
                continue
            prev = a
            kept.append(MemoryStep(action=s.action, reasoning=s.thought,
                                   critical_observation=" ".join(s.observation.split())[:200]))
        label = f"{t.env_name} {_label(t.task_type) or 'task'}".strip()
        if t.won:
            desc = f"{label}: {t.task} Solved in {len(t.steps)} steps."
        else:
            kinds = ", ".join(f.kind.replace("_", " ") for f in findings) or "no clear pattern"
            desc = f"{label}: {t.task} Failed after {len(t.steps)} steps ({kinds})."
        tags = {"environment": t.env_name, "source": "heuristic"}
        if t.hint:
            tags["data_source"] = t.hint
        return Memory(
            memory_id=memory_id_for(t.env_name, t.fingerprint()),
            goal=t.task,
            outcome=SUCCESS if t.won else FAILURE,
            contextual_description=desc,
            refined_trajectory=tuple(kept),
            planning_pattern=pattern_text(schema(t)) if t.won else "",
            mistakes_to_avoid=tuple(
                MemoryMistake(bad_action=f.bad_action or "(no action)", trigger_condition=f.trigger,
                              correction=_fmt(failure_kind(f.kind).how_to_avoid, f, t.task_type), kind=f.kind)
                for f in findings
            ),
            task_type=t.task_type,
            env_name=t.env_name,
            episode_id=t.episode_id,
            tags=tags,
            task_meta={"game_id": t.game_id} if t.game_id else {},
        )

    # -- offline: bank -----------------------------------------------------------------

    @staticmethod
    def _kinds(memories: Sequence[Memory]) -> Counter[str]:
        return Counter(m.kind for mem in memories for m in mem.mistakes_to_avoid if m.kind in FAILURE_DETECTORS)

    def general_skills(self, request: BankRequest) -> tuple[Skill, ...]:
        failures_by_type = {t: g.get("failure", ()) for t, g in request.groups.items()}
        types_of_kind: dict[str, set[str]] = defaultdict(set)
        total: Counter[str] = Counter()
        for t, mems in failures_by_type.items():
            for kind, n in self._kinds(mems).items():
                types_of_kind[kind].add(t)
                total[kind] += n
        picked = [k for k, _ in total.most_common()
                  if failure_kind(k).scope == "general" or len(types_of_kind[k]) >= 2]
        return tuple(remedy_skill(failure_kind(k), "", skill_id=f"gen_{i + 1:03d}")
                     for i, k in enumerate(picked[: request.n_general]))

    def task_skills(self, request: BankRequest, task_type: str) -> tuple[Skill, ...]:
        group = request.groups.get(task_type, {})
        out: list[Skill] = []
        patterns = Counter(m.planning_pattern for m in group.get("success", ()) if m.planning_pattern)
        for rank, (pattern, n) in enumerate(patterns.most_common(2)):
            if rank == 0 or n >= 2:
                out.append(routine_skill(task_type, pattern, n, skill_id=f"tmp_{len(out) + 1:03d}"))
        for kind, _ in self._kinds(group.get("failure", ())).most_common():
            if failure_kind(kind).scope == "task":
                out.append(remedy_skill(failure_kind(kind), task_type, skill_id=f"tmp_{len(out) + 1:03d}"))
        return tuple(out[: request.n_task])

    def mistakes(self, request: BankRequest) -> tuple[Mistake, ...]:
        failures = request.memories("failure")
        out = [kind_mistake(failure_kind(k), mistake_id=f"err_{i + 1:03d}")
               for i, (k, _) in enumerate(self._kinds(failures).most_common())]
        # mistakes without a known kind (memories written elsewhere): the most frequent texts
        texts = Counter(" ".join(m.bad_action.split()) for mem in failures for m in mem.mistakes_to_avoid
                        if m.kind not in FAILURE_DETECTORS and m.bad_action.strip())
        corrections = {" ".join(m.bad_action.split()): (m.correction, m.trigger_condition)
                       for mem in failures for m in mem.mistakes_to_avoid}
        for text, n in texts.most_common():
            if len(out) >= request.n_mistakes:
                break
            correction, trigger = corrections.get(text, ("", ""))
            out.append(Mistake(
                mistake_id=f"err_{len(out) + 1:03d}",
                description=text[:300],
                why_it_happens=(f"Seen when {trigger}" if trigger else f"Seen in {n} failed episode(s)."),
                how_to_avoid=correction or "Notice this situation early and choose a different action than the one that failed.",
            ))
        return tuple(out[: request.n_mistakes])

    # -- evolution -----------------------------------------------------------------------

    def propose(self, request: EvolutionRequest) -> tuple[EvolutionOp, ...]:
        cat = request.task_type
        by_kind: dict[str, list[tuple[Trajectory, Finding]]] = defaultdict(list)
        for t in request.failures:
            for f in mine_failures(t):
                by_kind[f.kind].append((t, f))
        ops: list[EvolutionOp] = []
        n_fail = len(request.failures)
        for kind_name, hits in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            kind = failure_kind(kind_name)
            ids = tuple(dict.fromkeys(t.episode_id for t, _ in hits))
            example = hits[0][1]
            reason = (f"{len(ids)}/{n_fail} failed {_label(cat)} episodes show '{kind_name}' "
                      f"(e.g. {example.evidence})")
            category = None if kind.scope == "general" else cat
            ops.append(AddSkill(category, remedy_skill(kind, cat, example), reason=reason, episode_ids=ids))
            ops.append(AddMistake(kind_mistake(kind, cat, example), reason=reason, episode_ids=ids))
            ops.extend(self._sharpen(request, kind, hits, reason))
        best = _most_common_schema(request.successes)
        if best is not None:
            pattern, n, ids = best
            ops.append(AddSkill(cat, routine_skill(cat, pattern, n), episode_ids=tuple(ids),
                                reason=f"routine shared by {n} successful {_label(cat)} episodes"))
        return tuple(ops)

    def _sharpen(self, request: EvolutionRequest, kind: FailureKind, hits: list[tuple[Trajectory, Finding]], reason: str) -> list[EvolutionOp]:
        """An update for a task skill that was injected into these failures and speaks of the same
        thing but did not prevent them: append the concrete counter-measure."""
        bank = request.bank
        if bank is None or kind.scope != "task":
            return []
        injected = Counter(sid for t, _ in hits for sid in set(t.skill_ids))
        remedy = remedy_skill(kind, request.task_type, hits[0][1])
        remedy_words = set(content_words(f"{remedy.title} {remedy.principle}"))
        how = _fmt(kind.how_to_avoid, hits[0][1], request.task_type)
        for skill in bank.task_specific_skills.get(request.task_type, ()):
            if injected.get(skill.skill_id, 0) < 2:
                continue
            words = set(content_words(f"{skill.title} {skill.principle}"))
            overlap = len(words & remedy_words) / max(1, len(words | remedy_words))
            if overlap >= 0.1 and how not in skill.principle:
                ids = tuple(t.episode_id for t, _ in hits if skill.skill_id in t.skill_ids)
                return [UpdateSkill(skill.skill_id, {"principle": f"{skill.principle.rstrip()} Concretely: {how}"},
                                    reason=f"injected into {len(ids)} of these failures; {reason}", episode_ids=ids)]
        return []
