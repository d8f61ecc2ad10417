"""What an episode is worth to the trainer: its score, from the env's reward and two settings.

Both trainers (verl's agent loop and the local backend) take the GRPO outcome of an episode from
:meth:`EpisodeScoring.score`; :attr:`~skillrl.agent.episode.Episode.reward` stays the env's own
reward (the sum of step rewards) for metrics and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from skillrl.agent.episode import Episode


@dataclass(frozen=True)
class EpisodeScoring:
    """How an episode's score is made (``env.success_reward``, ``env.invalid_action_penalty``).

    The defaults leave the env's reward as it is. The original SkillRL recipe uses
    ``success_reward`` 10 (ALFWorld, WebShop) / 1 (Search) and a penalty of 0.1 / 0.1 / 0.01 per
    invalid step.
    """

    success_reward: float | None = None
    """None: the score is the env's reward. A number: the score is this number for a won episode
    and 0 otherwise (ALFWorld ``10 * won``; WebShop 10 only for a perfect purchase; Search the
    exact match)."""
    invalid_action_penalty: float = 0.0
    """Subtracted once per step whose output the projection flagged invalid."""

    def score(self, episode: Episode) -> float:
        """The score of ``episode``.

        >>> from skillrl.agent.episode import Generation, Step
        >>> ep = Episode("alfworld", "g", "t", "heat", 0, won=True, reward=1.0)
        >>> ep.steps = [Step(i, "p", Generation("x"), "a", ok, "o", 0.0, False) for i, ok in enumerate([True, False, False])]
        >>> EpisodeScoring().score(ep), EpisodeScoring(10.0, 0.1).score(ep)
        (1.0, 9.8)
        """
        base = float(episode.reward) if self.success_reward is None else self.success_reward * float(bool(episode.won))
        invalid = sum(not step.is_action_valid for step in episode.steps)
        return base - self.invalid_action_penalty * invalid
