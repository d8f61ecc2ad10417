"""Record ALFWorld episodes of the scripted policies as an episode JSONL file for the distill pipeline.

    python skill_generation/example_episodes.py --games 8 --output_path episodes.jsonl

Plays ``--games`` games with the hand-coded expert (successes) and the same games with a uniformly
random admissible policy capped at ``--random_steps`` turns (failures), stepping the env directly,
and writes one record per episode (task, task type, actions, validity, observations, outcome).
It is a stop-gap until the unified env Policy lets ``skillrl distill --episodes-from expert,…``
play episodes itself; the records are what ``skillrl distill memories|bank --episodes`` reads.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent  # holds alfworld.py: keep it off sys.path (the alfworld package)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def record_episode(env, seed: int, policy: str, max_steps: int):
    from skillrl.distill import TrajStep, Trajectory

    rng = random.Random(seed)
    obs, info = env.reset(seed=seed)
    steps = []
    won = done = False
    for _ in range(max_steps):
        admissible = env.admissible_actions() or ["look"]
        action = info.get("expert_action") or "look" if policy == "expert" else rng.choice(admissible)
        obs, _reward, done, info = env.step(f"<think>{policy}</think><action>{action}</action>")
        steps.append(TrajStep(action=str(info.get("action") or action), valid=bool(info.get("is_action_valid", True)),
                              observation=str(obs)[:400]))
        if done:
            won = bool(info.get("won"))
            break
    return Trajectory(episode_id=f"alfworld:{info.get('game_id', seed)}:{seed}:{policy}", env_name="alfworld",
                      task=str(info.get("task", "")), task_type=str(info.get("task_type", "")), won=won,
                      reward=1.0 if won else 0.0, steps=tuple(steps), truncated=not done, game_id=str(info.get("game_id", "")))


def main(argv=None) -> int:
    from agent_system.environments.base import get_env_spec
    from skillrl.distill import write_episodes

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=8)
    parser.add_argument("--split", default="valid_seen")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random_steps", type=int, default=15)
    parser.add_argument("--output_path", required=True)
    args = parser.parse_args(argv)
    env = get_env_spec("alfworld").make(split=args.split)
    try:
        episodes = []
        for k in range(args.games):
            episodes.append(record_episode(env, args.seed + k, "expert", 60))
            episodes.append(record_episode(env, args.seed + k, "random", args.random_steps))
            print(f"game {k + 1}/{args.games}: {episodes[-2].task_type}: expert "
                  f"{'won' if episodes[-2].won else 'lost'}, random {'won' if episodes[-1].won else 'lost'}")
    finally:
        env.close()
    write_episodes(args.output_path, episodes)
    print(f"wrote {len(episodes)} episodes to {args.output_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
