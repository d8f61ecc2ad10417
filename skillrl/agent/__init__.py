"""One episode: environment <-> prompt (with skills) <-> policy, recorded as an ``Episode``."""

from skillrl.agent.episode import Episode, Generation, Step
from skillrl.agent.loop import EpisodeConfig, ObservingPolicy, Policy, PolicyError, SkillSource, run_episode

__all__ = ["Episode", "EpisodeConfig", "Generation", "ObservingPolicy", "Policy", "PolicyError", "SkillSource", "Step",
           "run_episode"]
