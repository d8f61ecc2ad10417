"""Cold start, side by side: what each stage of the SkillRL cycle buys the tiny CPU policy.

On held-out household games (``valid_unseen``, the main job's validation games: the same seeds,
turn limit and greedy decoding), success per task type of

1. ``random``: a uniformly random admissible policy (``skillrl env play household --policy random``);
2. ``format``: the format warm-up alone (SFT on random admissible actions, no GRPO);
3. ``sft``: SFT on the searching teacher with skills (the main job's cold start, measured
   before its first GRPO step);
4. ``sft+grpo``: 3 followed by GRPO without skills (the SFT data, rollouts and validation have
   no skill block);
5. ``sft+grpo+skills``: the main job itself (SFT with skills, then GRPO with skills);

for every ``--seeds`` seed (model init, teacher games, rollouts), then the mean. Every run is
``configs/main_job.yaml`` with overrides, so the table describes the main job. With
``--alfworld-games N`` (needs the ALFWorld data) one more row: the same tiny policy with the
ALFWorld expert's SFT and a few GRPO steps on ``valid_seen``, however low, so the gap to a real
model is visible.

Prints one table (rates per task type and overall) and seconds per run; the last line is
``BENCH cold_start_main_job_success=<mean held-out success of sft+grpo+skills>``.

    python bench/cold_start.py [--seeds 0 1] [--alfworld-games 20] [--out outputs/bench/cold_start]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ROWS = ("random", "format", "sft", "sft+grpo", "sft+grpo+skills")


def _train(overrides: list[str], config: str = "main_job"):
    from skillrl.cli.train import resolve_config
    from skillrl.trainer.local.trainer import train

    cfg = resolve_config(overrides, config_name=config)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = train(cfg)
    return cfg, result, time.perf_counter() - t0, time.process_time() - c0


def _rates(by_type: dict[str, list[int]]) -> dict[str, float]:
    out = {k: w / t for k, (w, t) in by_type.items() if t}
    won = sum(w for w, _ in by_type.values())
    total = sum(t for _, t in by_type.values())
    out["overall"] = won / total if total else 0.0
    return out


def run_variant(task: tuple[str, int, str, list[str]]) -> dict:
    """One training run of the table (in a worker process): ``(variant, seed, out, common)`` ->
    ``{"variant", "seed", "rows": {row: rates}, "wall_s", "cpu_s", "sft_accuracy"}``."""
    variant, seed, out, common = task
    base = [f"env.seed={seed}", *common, f"output_dir={out}/seed{seed}/{variant}"]
    if variant == "skills":  # the main job: SFT with skills (validated before GRPO), GRPO with skills
        _, res, wall, cpu = _train(base)
        rows = {"sft": _rates(res.initial_success_by_type), "sft+grpo+skills": _rates(res.success_by_type)}
    elif variant == "noskills":  # SFT data, rollouts and validation without the skill block
        _, res, wall, cpu = _train([*base, "env.use_skills_only_memory=false"])
        rows = {"sft+grpo": _rates(res.success_by_type)}
    elif variant == "format":  # the format warm-up alone
        _, res, wall, cpu = _train([*base, "cold_start=format", "warmup_steps=300", "total_training_steps=0",
                                    "val_before_train=false"])
        rows = {"format": _rates(res.success_by_type)}
    else:
        raise ValueError(f"unknown variant {variant!r}")
    acc = res.cold_start.get("heldout_action_accuracy")
    print(f"seed {seed} {variant}: {wall:.0f}s wall, {cpu:.0f}s cpu; held-out "
          + ", ".join(f"{k} {v['overall']:.3f}" for k, v in rows.items())
          + (f"; SFT held-out exact-action accuracy {acc:.3f}" if acc is not None else ""), flush=True)
    return {"variant": variant, "seed": seed, "rows": rows, "wall_s": wall, "cpu_s": cpu, "sft_accuracy": acc}


def random_rows(seed: int, *, env_name: str = "household", split: str | None = None, games: int | None = None,
                max_steps: int | None = None) -> dict[str, float]:
    """A uniformly random admissible policy on the main job's validation games (game ``k`` is
    ``reset(VAL_SEED_BASE + k)`` of the validation split; the policy's RNG is seeded per game);
    ``env_name``/``split``/``games``/``max_steps`` replace the main job's for the ALFWorld row."""
    import random

    from agent_system.environments.base import get_env_spec
    from skillrl.cli.train import resolve_config
    from skillrl.trainer.local.trainer import VAL_SEED_BASE
    from skillrl.utils.metrics import success_by_task_type

    cfg = resolve_config([f"env.seed={seed}"], config_name="main_job")
    env = get_env_spec(env_name).make(split=split or cfg.env.val_split)
    records = []
    for k in range(games or cfg.val_batch_size):
        game_seed = VAL_SEED_BASE + k
        rng = random.Random(game_seed)
        _, info = env.reset(seed=game_seed)
        won = False
        for _ in range(max_steps or cfg.env.max_steps):
            action = rng.choice(env.admissible_actions() or ["look"])
            _, _, done, info = env.step(f"<think>explore</think><action>{action}</action>")
            if done:
                won = bool(info["won"])
                break
        records.append({"task_type": info["task_type"], "won": won})
    env.close()
    return _rates(success_by_task_type(records))


#: turn limit of the ALFWorld row's episodes
ALFWORLD_MAX_STEPS = 30


def alfworld_row(task: tuple[int, str, int, int, list[str]]) -> dict:
    """The tiny policy on ALFWorld ``valid_seen``: a random admissible policy on the same games,
    the expert SFT with skills (validated before GRPO), then a few GRPO steps with skills."""
    games, out, sft_steps, grpo_steps, common = task
    random_rates = random_rows(0, env_name="alfworld", split="valid_seen", games=games, max_steps=ALFWORLD_MAX_STEPS)
    _, res, wall, cpu = _train([
        *common, "env=alfworld", "env.train_split=valid_train", "env.val_split=valid_seen",
        f"env.max_steps={ALFWORLD_MAX_STEPS}",
        "env.skills_only_memory.skills_json_path=" + str(ROOT / "memory_data/alfworld/skills.json"),
        "cold_start=expert", f"warmup_episodes={max(40, games)}", f"warmup_steps={sft_steps}",
        f"total_training_steps={grpo_steps}", f"val_batch_size={games}", "train_batch_size=2",
        "test_freq=0", f"output_dir={out}/alfworld"])
    rows = {"random": random_rates, "sft": _rates(res.initial_success_by_type), "sft+grpo+skills": _rates(res.success_by_type)}
    acc = res.cold_start.get("heldout_action_accuracy")
    print(f"alfworld valid_seen: {wall:.0f}s wall, {cpu:.0f}s cpu; "
          + ", ".join(f"{k} {v['overall']:.3f}" for k, v in rows.items())
          + (f"; SFT held-out exact-action accuracy {acc:.3f}" if acc is not None else ""), flush=True)
    return {"rows": rows, "wall_s": wall, "cpu_s": cpu, "sft_accuracy": acc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--out", default=str(ROOT / "outputs" / "bench" / "cold_start"))
    ap.add_argument("--alfworld-games", type=int, default=0, help="ALFWorld valid_seen games (0: no ALFWorld row)")
    ap.add_argument("--alfworld-sft-steps", type=int, default=300)
    ap.add_argument("--alfworld-grpo-steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per run (cpu_threads)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (worker processes)")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides applied to every household run "
                    "(e.g. total_training_steps=4)")
    args = ap.parse_args()
    out = Path(args.out)
    common = ["progress=false", "loggers=[jsonl]", *args.overrides]
    if args.threads:
        common.append(f"cpu_threads={args.threads}")

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    tasks = [(variant, seed, str(out), common) for seed in args.seeds for variant in ("skills", "noskills", "format")]
    per_seed: dict[int, dict[str, dict[str, float]]] = {seed: {"random": random_rows(seed)} for seed in args.seeds}
    runs: list[dict] = []
    alf = None
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        alf_future = pool.submit(alfworld_row, (args.alfworld_games, str(out), args.alfworld_sft_steps,
                                                args.alfworld_grpo_steps, common)) if args.alfworld_games else None
        for got in pool.map(run_variant, tasks):
            runs.append(got)
            per_seed[got["seed"]].update(got["rows"])
        alf = alf_future.result() if alf_future is not None else None
    wall = time.perf_counter() - t0
    types = sorted({t for rows in per_seed.values() for r in rows.values() for t in r if t != "overall"})
    cols = [*types, "overall"]
    mean = {row: {c: statistics.fmean(per_seed[s][row].get(c, 0.0) for s in args.seeds) for c in cols} for row in ROWS}
    width = max(len(c) for c in cols) + 1
    print()
    print(f"household valid_unseen, mean of seeds {args.seeds} (per-seed overall in brackets)")
    print(f"{'':<18}" + "".join(f"{c:>{width}}" for c in cols) + "   per seed")
    for row in ROWS:
        seeds_txt = ", ".join(f"{per_seed[s][row]['overall']:.3f}" for s in args.seeds)
        print(f"{row:<18}" + "".join(f"{mean[row][c]:>{width}.3f}" for c in cols) + f"   [{seeds_txt}]")
    if alf is not None:
        alf_cols = sorted({t for r in alf["rows"].values() for t in r if t != "overall"}) + ["overall"]
        alf_width = max(len(c) for c in alf_cols) + 1
        print(f"alfworld valid_seen ({args.alfworld_games} games, {ALFWORLD_MAX_STEPS} turns), tiny policy, expert SFT "
              f"({args.alfworld_sft_steps} steps) + {args.alfworld_grpo_steps} GRPO steps with skills, seed 0")
        print(f"{'':<18}" + "".join(f"{c:>{alf_width}}" for c in alf_cols))
        for row, rates in alf["rows"].items():
            print(f"{row:<18}" + "".join(f"{rates.get(c, 0.0):>{alf_width}.3f}" for c in alf_cols))
    for r in runs:
        print(f"seconds: seed {r['seed']} {r['variant']}: {r['wall_s']:.0f} wall, {r['cpu_s']:.0f} cpu")
    print(f"all runs: {wall:.0f}s wall with {args.jobs} worker processes")
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.json").write_text(json.dumps({"per_seed": per_seed, "mean": mean, "runs": runs, "alfworld": alf,
                                                "wall_s": wall}, indent=2))
    print(f"BENCH cold_start_main_job_success={mean['sft+grpo+skills']['overall']:.3f}")


if __name__ == "__main__":
    main()
