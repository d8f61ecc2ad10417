"""Rollout overhead of the shared agent loop: time per turn spent outside the policy.

Plays one rollout batch (``--batch`` tasks × ``--group`` copies, ``--turns`` turns at most) with
the tiny local policy, once with skills off and once with skills on, and splits the time into
prompt building, skill retrieval, env step (projection/parsing included) + admissible actions,
and the policy's ``model.generate`` calls. Env resets are reported separately (ALFWorld loads a
game per reset: seconds, not per-turn cost).

The full setting of the brief is ``--batch 16 --group 8`` (128 episodes; several minutes on a
2-core CPU because of ALFWorld resets); the default ``--batch 4 --group 2`` keeps it short.

Usage: python bench/rollout_overhead.py [--env alfworld] [--batch 4] [--group 2] [--turns 5]
       [--split valid_seen] [--skills memory_data/alfworld/skills.json] [--warmup 30]
Last line: ``BENCH rollout_overhead_ms_per_turn=<skills-on overhead>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from agent_system.environments.base import TextEnv, get_env_spec
from skillrl.agent.loop import EpisodeConfig
from skillrl.trainer.local.model import build_policy_model, encode_target_fn
from skillrl.trainer.local.policy import LocalHFPolicy
from skillrl.trainer.local.rollout import collect_episodes, make_env_pool
from skillrl.trainer.local.skill_setup import build_skills, skill_block_fn
from skillrl.trainer.local.warmup import example_texts, sample_format_examples, supervised_warmup

TIMES: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)


def timed(name: str, fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name] += time.perf_counter() - t0
            COUNTS[name] += 1
    return wrapper


class TimedEnv(TextEnv):
    def __init__(self, env: TextEnv) -> None:
        self.env = env
        self.reset = timed("env_reset", env.reset)  # type: ignore[method-assign]
        self.step = timed("env_step", env.step)  # type: ignore[method-assign]
        self.admissible_actions = timed("admissible", env.admissible_actions)  # type: ignore[method-assign]

    def reset(self, seed=None, task=None):  # replaced per instance
        raise NotImplementedError

    def step(self, action_text):  # replaced per instance
        raise NotImplementedError

    def close(self) -> None:
        self.env.close()


class TimedRetriever:
    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever
        self.bank_version = retriever.bank_version
        self.retrieve = timed("retrieval", retriever.retrieve)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="alfworld")
    ap.add_argument("--split", default="valid_seen")
    ap.add_argument("--batch", type=int, default=4, help="tasks per batch (brief: 16)")
    ap.add_argument("--group", type=int, default=2, help="copies per task (brief: 8)")
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=30, help="format warm-up steps of the tiny policy")
    ap.add_argument("--skills", default=str(Path(__file__).resolve().parents[1] / "memory_data" / "alfworld" / "skills.json"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    spec = get_env_spec(args.env)
    env_kwargs = {} if args.env == "toy" else {"split": args.split}
    n = args.batch * args.group
    pool = make_env_pool(spec, n, env_kwargs)
    for locked in pool.envs:  # time inside the pool's lock: waiting for another env is not cost
        locked.env = TimedEnv(locked.env)  # type: ignore[attr-defined]
    envs = pool.envs
    skills = build_skills(args.env, skills_json_path=args.skills, retriever_kwargs={"mode": "template", "top_k": 6})
    examples = sample_format_examples(pool.envs[0].env.env, spec, episodes=2, max_steps=args.turns, history_length=2,
                                      rng=random.Random(0), skill_block=skill_block_fn(skills.retriever))
    pm = build_policy_model(None, device=torch.device("cpu"), vocab_texts=example_texts(examples))
    policy = LocalHFPolicy(pm.model, pm.tokenizer, max_new_tokens=16, temperature=1.0)
    supervised_warmup(pm.model, policy.encode_prompts, encode_target_fn(pm.tokenizer), examples,
                      steps=args.warmup, batch_size=8, pad_id=pm.tokenizer.pad_token_id)
    policy.generate_batch = timed("policy", policy.generate_batch)  # type: ignore[method-assign]
    seeds = [s for s in range(args.batch) for _ in range(args.group)]
    results = {}
    for label, retriever in (("skills_off", None), ("skills_on", TimedRetriever(skills.retriever))):
        TIMES.clear()
        COUNTS.clear()
        timed_spec = dataclasses.replace(spec, build_prompt=timed("prompt", spec.build_prompt))
        t0 = time.perf_counter()
        eps = collect_episodes(policy, envs, timed_spec, seeds, skills=retriever,
                               config=EpisodeConfig(max_steps=args.turns, history_length=2))
        wall = time.perf_counter() - t0
        turns = sum(e.num_turns for e in eps) or 1
        per_turn = {k: 1000 * TIMES[k] / turns for k in ("prompt", "retrieval", "env_step", "admissible", "policy")}
        overhead = per_turn["prompt"] + per_turn["retrieval"] + per_turn["env_step"] + per_turn["admissible"]
        share = overhead / (overhead + per_turn["policy"]) if overhead + per_turn["policy"] else 0.0
        results[label] = overhead
        print(f"[{label}] episodes={len(eps)} turns={turns} wall={wall:.1f}s "
              f"resets={COUNTS['env_reset']} ({1000 * TIMES['env_reset'] / max(COUNTS['env_reset'], 1):.0f} ms each) "
              f"generate_calls={COUNTS['policy']}")
        print("  per turn (ms): " + " ".join(f"{k}={v:.2f}" for k, v in per_turn.items()))
        print(f"  overhead outside the policy: {overhead:.2f} ms/turn = {100 * share:.1f}% of a turn "
              f"(policy: tiny local model, batched)")
    pool.close()
    print(f"skills on - off: {results['skills_on'] - results['skills_off']:+.2f} ms/turn")
    print(f"BENCH rollout_overhead_ms_per_turn={results['skills_on']:.3f}")


if __name__ == "__main__":
    main()
