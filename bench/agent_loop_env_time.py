"""Env time inside a verl agent-loop worker: in-process envs vs env worker processes.

One verl agent-loop worker plays its share of a training step: ``--games`` ALFWorld games x
group ``--group`` episodes, through SkillRL's real ``EnvAgentLoop`` (prompt building, skills,
projection, the env), against a stand-in LLM server that answers each turn after ``--latency``
seconds (speaking verl's ``generate`` interface; it plays ``look`` so that episodes run their
``--turns`` turns). The same episodes run with the envs in the worker's own process
(``env.workers.num_processes=0``: threads, one env call at a time under the GIL) and in 1..N
env worker processes. For each run: the wall time, and the time the policy waits on the env =
wall - turns x latency (the episodes' generation alone).

Then the launch recipe at this machine's scale (``--ratio``, on by default): the ALFWorld recipe
gives each env core 8 episodes (16 games x group 8 = 128 episodes on 16 cores: 8 agent-loop
workers x 2 env processes); here one agent-loop worker plays 8 x cores episodes in ``cores`` env
processes, ``--ratio-turns`` turns each at ``--ratio-latency`` s per generate call (30 x 2 s:
a step whose generation takes 60 s). Env calls overlap the other episodes' generation as they
would on a GPU node, so ``wall - generation`` is the time the step waits on the env at the
recipe's episodes-per-core ratio. That is the headline; the last line is
``BENCH agent_loop_env_share_16_cores=<%>``.

For reference, the no-overlap bound: env CPU per step = episodes x (reset + turns x step) from
the per-call costs measured here, divided by the cores, as a share of env + 60 s.

    python bench/agent_loop_env_time.py [--games 2] [--group 4] [--turns 6] [--latency 0.25]
        [--processes 1,2] [--avg-turns 30] [--split valid_seen] [--no-ratio]
        [--episodes-per-core 8] [--ratio-turns 30] [--ratio-latency 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure_calls(split: str, n_games: int, steps: int) -> tuple[float, float]:
    """Seconds per ALFWorld reset (a new game) and per step, in this process."""
    from agent_system.environments.alfworld import ALFWorldEnv

    env = ALFWorldEnv(split=split, require_think=False)
    resets, moves = [], []
    for g in range(n_games):
        t0 = time.perf_counter()
        env.reset(seed=100 + g)
        resets.append(time.perf_counter() - t0)
        for _ in range(steps):
            t0 = time.perf_counter()
            env.step("<action> look </action>")
            moves.append(time.perf_counter() - t0)
    env.close()
    return statistics.median(resets), statistics.median(moves)


def tokenizer(split: str):
    """A word-level tokenizer over ALFWorld prompts (no download), with a chat template."""
    from agent_system.environments.alfworld import ALFWorldEnv
    from agent_system.environments.base import PromptContext, get_env_spec
    from skillrl.trainer.local.tiny import build_word_tokenizer

    spec = get_env_spec("alfworld")
    env = ALFWorldEnv(split=split, require_think=False)
    texts = ["user assistant : look"]
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        texts.append(spec.build_prompt(PromptContext(task=info["task"], observation=obs,
                                                     admissible_actions=env.admissible_actions())))
    env.close()
    tok = build_word_tokenizer(texts)
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
                         "{% if add_generation_prompt %}assistant :{% endif %}")
    return tok


class StandInServer:
    """verl's ``LLMServerClient.generate``: answers ``<action> look </action>`` after ``latency`` s."""

    def __init__(self, tok, latency: float) -> None:
        self.ids = tok.encode("<action> look </action>", add_special_tokens=False) + [tok.eos_token_id]
        self.latency = latency

    async def generate(self, request_id, *, prompt_ids, sampling_params, **kwargs):
        from skillrl.trainer import _verl

        await asyncio.sleep(self.latency)
        return _verl.TokenOutput(token_ids=list(self.ids), log_probs=[-0.1] * len(self.ids), num_preempted=0)


def play(tok, server, *, split: str, games: int, group: int, turns: int, processes: int) -> float:
    """Wall seconds of ``games x group`` episodes through the agent loop (pools warmed up first)."""
    from skillrl.trainer import _verl, verl_agent_loop as val
    from skillrl.trainer.config import compose

    cfg = compose("skillrl_trainer", ["env=alfworld", f"env.max_steps={turns}", f"env.val_split={split}",
                                      "env.env_kwargs.require_think=false", f"env.workers.num_processes={processes}",
                                      f"env.workers.envs_per_process={max(1, -(-games * group // max(processes, 1)))}",
                                      "data.max_prompt_length=4096"])
    rows = [{"raw_prompt": [], "extra_info": {"env_name": "alfworld", "seed": 200 + g, "split": split},
             "index": g, "uid": f"g{g}"} for g in range(games)]

    def loop():
        return val.EnvAgentLoop(trainer_config=_verl.DictConfigWrap(cfg), server_manager=server, tokenizer=tok,
                                processor=None, dataset_cls=_verl.RLHFDataset,
                                data_config=_verl.DictConfigWrap(cfg.data), hf_model_type=None)

    async def step() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*[loop().run({}, **row, session_id=s) for row in rows for s in range(group)])
        return time.perf_counter() - t0

    workers = val.env_settings(dict(cfg.env)).workers
    pool = val.env_pool(workers)
    warm = [pool.acquire("alfworld", {"split": split, "require_think": False})]  # start the processes
    for env in warm:
        pool.release("alfworld", {"split": split, "require_think": False}, env)
    try:
        return asyncio.run(step())
    finally:
        pool.close()
        val._POOLS.clear()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--games", type=int, default=2, help="games of this agent-loop worker")
    p.add_argument("--group", type=int, default=4, help="episodes per game (GRPO group)")
    p.add_argument("--turns", type=int, default=6, help="turns per episode (the server never finishes a game)")
    p.add_argument("--latency", type=float, default=0.25, help="seconds per generate call")
    p.add_argument("--processes", default="1,2", help="env worker process counts to try")
    p.add_argument("--avg-turns", type=float, default=30.0, help="mean turns of a launch-size ALFWorld episode")
    p.add_argument("--split", default="valid_seen")
    p.add_argument("--no-ratio", dest="ratio", action="store_false",
                   help="skip the run at the recipe's episodes-per-core ratio")
    p.add_argument("--episodes-per-core", default="8,2",
                   help="episodes per env core of the ratio runs (the first is the headline; recipe at 16 cores: "
                   "128 / 16 = 8; 2 is 128 episodes on 64 cores)")
    p.add_argument("--ratio-turns", type=int, default=30, help="turns per episode of the ratio run")
    p.add_argument("--ratio-latency", type=float, default=2.0, help="seconds per generate call of the ratio run")
    args = p.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    # verl warns once per agent loop that the word-level stand-in tokenizer has no model type
    logging.getLogger("verl.utils.tokenizer.continuous_token_wiring").setLevel(logging.ERROR)
    cores = os.cpu_count() or 1
    print(f"machine: {cores} CPU core(s), load average {os.getloadavg()[0]:.1f} (figures on a busy machine are noisy)")
    t_reset, t_step = measure_calls(args.split, 8, 6)
    print(f"ALFWorld per call, in-process: reset (new game) {t_reset:.2f} s, step {1000 * t_step:.0f} ms")
    tok = tokenizer(args.split)
    server = StandInServer(tok, args.latency)
    episodes = args.games * args.group
    generation = args.turns * args.latency
    print(f"agent-loop worker: {episodes} episodes x {args.turns} turns, {args.latency:.2f} s per generate call "
          f"(generation alone: {generation:.1f} s)")
    runs = {0: play(tok, server, split=args.split, games=args.games, group=args.group, turns=args.turns, processes=0)}
    for n in [int(x) for x in args.processes.split(",") if x.strip()]:
        runs[n] = play(tok, server, split=args.split, games=args.games, group=args.group, turns=args.turns, processes=n)
    for n, wall in runs.items():
        wait = max(wall - generation, 0.0)
        where = "in-process (threads)" if n == 0 else f"{n} env process(es)"
        print(f"  {where:>22}: wall {wall:6.1f} s, policy waits on env {wait:6.1f} s ({100 * wait / wall:4.1f}% of the step)")
    base = max(runs[0] - generation, 1e-9)
    best = max((n for n in runs if n), default=0)
    speedup = base / max(runs[best] - generation, 1e-9) if best else 1.0
    if best:
        print(f"env wait, in-process -> {best} process(es): {speedup:.2f}x faster (on {cores} core(s))")

    # launch sizes: 16 games x group 8, ALFWorld
    launch_episodes = 16 * 8
    env_cpu = launch_episodes * (t_reset + args.avg_turns * t_step)
    print(f"launch step (ALFWorld recipe): {launch_episodes} episodes x ~{args.avg_turns:.0f} turns -> env CPU "
          f"{env_cpu:.0f} s per step ({launch_episodes} resets x {t_reset:.2f} s + "
          f"{launch_episodes * args.avg_turns:.0f} steps x {1000 * t_step:.0f} ms)")
    print("  in-process envs: each of verl's 8 agent-loop workers steps its 16 episodes one call at a time: "
          f"{env_cpu / 8:.0f} s per step")
    no_overlap16 = None
    for c in (2, 8, 16, 32, 64):
        env_wall = env_cpu / c
        share = env_wall / (60.0 + env_wall)
        if c == 16:
            no_overlap16 = share
        print(f"  {c:>3} cores of env processes (rollout.agent.num_workers x env.workers.num_processes): "
              f"{env_wall:6.1f} s per step, {100 * share:4.1f}% of a 60 s-generation step (no overlap)")
    print("  assumption: env time divides by the cores given (measured here up to the cores this machine has)")
    headline = no_overlap16
    if args.ratio:
        generation = args.ratio_turns * args.ratio_latency
        for i, per_core in enumerate(int(x) for x in args.episodes_per_core.split(",") if x.strip()):
            episodes = cores * per_core
            per_game = 4 if episodes % 4 == 0 else 1
            games = episodes // per_game
            print(f"recipe ratio on this machine: {episodes} episodes ({games} games x group {per_game}) in "
                  f"{cores} env process(es) = {per_core} episodes per env core, as 128 episodes on "
                  f"{128 // per_core} cores; {args.ratio_turns} turns x {args.ratio_latency:.1f} s generation "
                  f"({generation:.0f} s alone)")
            wall = play(tok, StandInServer(tok, args.ratio_latency), split=args.split, games=games, group=per_game,
                        turns=args.ratio_turns, processes=cores)
            wait = max(wall - generation, 0.0)
            print(f"  wall {wall:.1f} s: the step waits {wait:.1f} s on the env = {100 * wait / wall:.1f}% of the "
                  f"step (env calls overlapping the other episodes' generation)")
            if i == 0:
                headline = wait / wall
    print(f"BENCH agent_loop_env_share_16_cores={100 * headline:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
