"""Search's scripted policies: the oracle, a random answerer, a wrong answer, perturbed oracles.

Every actor reads the question through the :class:`~agent_system.environments.base.TurnView` the
agent loop hands it (``info.task``; the gold answers in :class:`~.env.SearchProgress`,
``info.extra``). Outputs are raw ``<search>…</search>`` / ``<answer>…</answer>`` text.

- ``oracle``: searches the question, then answers the first gold answer (reward 1 every game);
- ``random``: searches the question, then answers a random title of the retrieved passages;
- ``wrong``: searches the question, then answers a string that matches no gold (reward 0).

Perturbed oracles inject one labelled failure (``actor.failure_kind``) and score 0:

- ``answer_without_search``: answers at once, without searching, a wrong answer;
- ``repeated_action``: searches the same question until the turns run out;
- ``invalid_action``: writes output with neither tag.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent_system.environments.base import Script, TurnView
from agent_system.environments.scripts import episode_rng, perturbed_scripts

#: an answer that normalises to something no gold answer is
WRONG_ANSWER = "zzqx no such answer"
_TITLE = re.compile(r"Doc \d+\(Title: ([^)]*)\)")


def search(question: str) -> str:
    return f"<think>I should look this up.</think><search>{question}</search>"


def answer(text: str) -> str:
    return f"<think>I know the answer now.</think><answer>{text}</answer>"


def golds(view: TurnView) -> tuple[str, ...]:
    """The gold answers of the question (``info["golds"]``)."""
    found = tuple(view.info.get("golds") or ())
    if not found:
        raise TypeError("a Search scripted policy needs the gold answers in info.extra (SearchProgress.golds)")
    return found


class Oracle:
    """Searches the question, then answers the first gold answer."""

    failure_kind: str | None = None

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        return search(view.info.task) if view.turn == 0 else answer(golds(view)[0])


class RandomAnswer:
    """Searches the question, then answers the title of a random retrieved passage."""

    failure_kind: str | None = None

    def __init__(self, seed: int) -> None:
        self.rng = episode_rng(seed, "random")

    def act(self, view: TurnView) -> str:
        if view.turn == 0:
            return search(view.info.task)
        titles = _TITLE.findall(view.observation) or view.observation.split()[:20] or ["unknown"]
        return answer(self.rng.choice(titles))


class WrongAnswer:
    """Searches the question, then answers something no gold answer matches."""

    failure_kind: str | None = None

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        return search(view.info.task) if view.turn == 0 else answer(WRONG_ANSWER)


class AnswerWithoutSearch:
    """Answers at once, a wrong answer, without searching."""

    failure_kind = "answer_without_search"

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        return answer(WRONG_ANSWER)


class RepeatedSearch:
    """Searches the same question until the turns run out."""

    failure_kind = "repeated_action"

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        return search(view.info.task)


class Untagged:
    """Writes output with neither a search nor an answer tag."""

    failure_kind = "invalid_action"

    def __init__(self, seed: int) -> None:
        del seed

    def act(self, view: TurnView) -> str:
        return f"The answer is {WRONG_ANSWER}."


PERTURBATIONS = {
    "answer_without_search": AnswerWithoutSearch,
    "repeated_action": RepeatedSearch,
    "invalid_action": Untagged,
}


def applicable(view: TurnView) -> Sequence[str]:
    return list(PERTURBATIONS)


def contract_policy(observation: str, info: Mapping[str, Any], admissible: Any) -> str:
    """The shared contract test's policy: answer at once (no retriever needed), ending the episode."""
    return "<think>I will answer directly.</think><answer>unknown</answer>"


SCRIPTS: dict[str, Script] = {
    "oracle": Script(make=Oracle, summary="searches the question, answers the first gold answer"),
    "random": Script(make=RandomAnswer, summary="searches the question, answers a random retrieved title"),
    "wrong": Script(make=WrongAnswer, summary="searches the question, answers something no gold matches"),
    **perturbed_scripts(PERTURBATIONS, applicable, "oracle"),
}
"""Search's scripted policies by name; the first (``oracle``) is the default."""
