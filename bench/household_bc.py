"""Can the tiny CPU policy imitate a household teacher? Behaviour cloning, then greedy play.

Teacher turns come from ``--games`` ``train`` games played by ``--teacher`` (``search``: the
expert that knows only what it has seen, or ``expert``: shortest plans from the full state),
with ALFWorld's prompt builder (history 2) and ``<think>act</think><action>…</action>``
targets. The tiny policy of the local trainer (word-level tokenizer, 2 × 128 Qwen2) is trained
with the trainer's supervised warm-up code for ``--steps`` steps (batch 32, lr 1e-3), then plays
``--eval-games`` games of ``valid_seen`` and ``valid_unseen`` greedily (``--max-steps`` turns).
Prints success per task type and the valid-action rate; the last line is
``BENCH household_bc_unseen_success=<rate>``.

This is a probe for the SFT recipe, not the recipe itself.

    python bench/household_bc.py [--teacher search] [--steps 800] [--games 400]
"""

from __future__ import annotations

import argparse
import time


def teacher_examples(teacher: str, games: int) -> list:
    from agent_system.environments.base import PromptContext
    from agent_system.environments.household import SPEC, HouseholdEnv
    from skillrl.trainer.local.warmup import FormatExample, format_target

    key = {"search": "search_action", "expert": "expert_action"}[teacher]
    env = HouseholdEnv("train")
    out = []
    for seed in range(games):
        obs, info = env.reset(seed=seed)
        history: list[tuple[str, str]] = []
        for turn in range(20):
            action = info[key]
            prompt = SPEC.build_prompt(PromptContext(task=info["task"], observation=obs, history=tuple(history),
                                                     admissible_actions=tuple(env.admissible_actions()), turn=turn,
                                                     history_length=2))
            out.append(FormatExample(prompt, format_target(action, think=True)))
            nxt, _, done, info = env.step(format_target(action, think=True))
            history.append((obs, action))
            obs = nxt
            if done:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", choices=("search", "expert"), default="search")
    ap.add_argument("--steps", type=int, default=800, help="supervised steps (batch 32)")
    ap.add_argument("--games", type=int, default=400, help="teacher games (train split)")
    ap.add_argument("--eval-games", type=int, default=60, help="greedy games per evaluation split")
    ap.add_argument("--max-steps", type=int, default=15, help="turns per evaluation game")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()

    import torch

    from agent_system.environments.base import get_env_spec
    from agent_system.environments.household import HouseholdEnv
    from skillrl.agent.loop import EpisodeConfig
    import random

    from skillrl.trainer.local.metrics import rollout_metrics
    from skillrl.trainer.local.model import build_policy_model, encode_target_fn
    from skillrl.trainer.local.policy import LocalHFPolicy
    from skillrl.trainer.local.rollout import collect_episodes
    from skillrl.trainer.local.warmup import example_texts, sample_format_examples, supervised_warmup
    from skillrl.utils.metrics import success_by_task_type

    torch.set_num_threads(args.threads)
    spec = get_env_spec("household")
    examples = teacher_examples(args.teacher, args.games)
    # the vocabulary as `skillrl train --local` builds it (random-action episodes) plus the teacher's
    random_examples = sample_format_examples(HouseholdEnv("train"), spec, episodes=64, max_steps=12, history_length=2,
                                             rng=random.Random(7919), skill_block=None)
    pm = build_policy_model(None, device=torch.device("cpu"), vocab_texts=example_texts(random_examples + examples),
                            seed=0)
    policy = LocalHFPolicy(pm.model, pm.tokenizer, max_new_tokens=16, temperature=0.0)
    t0 = time.perf_counter()
    losses = supervised_warmup(pm.model, policy.encode_prompts, encode_target_fn(pm.tokenizer), examples,
                               steps=args.steps, lr=1e-3, pad_id=pm.tokenizer.pad_token_id, seed=0, progress=True)
    print(f"teacher {args.teacher}: {len(examples)} turns from {args.games} games; {args.steps} steps in "
          f"{time.perf_counter() - t0:.0f}s, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    rate = 0.0
    for split in ("valid_seen", "valid_unseen"):
        envs = [HouseholdEnv(split) for _ in range(args.eval_games)]
        episodes = collect_episodes(policy, envs, spec, list(range(args.eval_games)), skills=None,
                                    config=EpisodeConfig(max_steps=args.max_steps, history_length=2))
        by_type = success_by_task_type(ep.summary() for ep in episodes)
        won = sum(w for w, _ in by_type.values())
        rate = won / len(episodes)
        valid = rollout_metrics(episodes, "val")["val/valid_action_rate"]
        per = ", ".join(f"{k} {w}/{t}" for k, (w, t) in by_type.items())
        print(f"{split}: {won}/{len(episodes)} won ({per}); valid actions {valid:.2f}")
    print(f"BENCH household_bc_unseen_success={rate:.3f}")


if __name__ == "__main__":
    main()
