"""Record ALFWorld episodes of the scripted policies as an episode JSONL file for the distill pipeline.

    python skill_generation/example_episodes.py --games 8 --output_path episodes.jsonl

Plays ``--games`` games with the hand-coded expert (successes) and the same games with the random
admissible policy capped at ``--random_steps`` turns (failures), through the eval play path (the
shared agent loop, as ``skillrl eval`` and ``skillrl distill --episodes-from expert,random`` do),
and writes one record per episode (task, task type, actions, validity, observations, outcome):
what ``skillrl distill memories|bank --episodes`` reads. ``skillrl distill … --episodes-from``
plays such episodes itself; this script keeps a file for the repository's examples.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent  # holds alfworld.py: keep it off sys.path (the alfworld package)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def record(policy: str, games: int, split: str, seed: int, max_steps: int) -> list:
    from agent_system.environments import get_env_spec
    from skillrl.distill import Trajectory
    from skillrl.eval import PlaySettings, play, plan
    from skillrl.policies import load_policy

    spec = get_env_spec("alfworld")
    settings = PlaySettings(splits=(split,), games=games, start=seed, max_steps=max_steps, progress=False)
    episodes: list = []
    play(spec, load_policy(spec, policy), plan(spec, settings), settings, on_episode=lambda item: episodes.append(item))
    episodes.sort(key=lambda item: item.job.seed)
    return [Trajectory.from_episode(item.episode) for item in episodes]


def main(argv=None) -> int:
    from skillrl.distill import write_episodes

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=8)
    parser.add_argument("--split", default="valid_seen")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random_steps", type=int, default=15)
    parser.add_argument("--output_path", required=True)
    args = parser.parse_args(argv)
    expert = record("expert", args.games, args.split, args.seed, 60)
    random_ = record("random", args.games, args.split, args.seed, args.random_steps)
    episodes = []
    for k, (e, r) in enumerate(zip(expert, random_)):
        episodes += [e, r]
        print(f"game {k + 1}/{args.games}: {e.task_type}: expert {'won' if e.won else 'lost'}, "
              f"random {'won' if r.won else 'lost'}")
    write_episodes(args.output_path, episodes)
    print(f"wrote {len(episodes)} episodes to {args.output_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
