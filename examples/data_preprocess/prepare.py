"""Write the train/val parquet files the SkillRL verl agent loop consumes.

One row per game: the agent loop resets the env with the row's seed (or its explicit task id),
so all ``rollout.n`` copies of a row play the same game. The ``prompt`` column is only a
placeholder that verl's dataset requires (the agent loop builds every turn's prompt itself).

    python examples/data_preprocess/prepare.py --env alfworld            # ~/data/skillrl/alfworld/
    python examples/data_preprocess/prepare.py --env webshop --train_size 1000 --val_size 200

Outputs ``<out>/train.parquet`` and ``<out>/<val_split>.parquet`` (the names the launch scripts and
``configs/skillrl_trainer.yaml`` use: ``data.val_files=.../${env.val_split}.parquet``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

AGENT_NAME = "skillrl_env_agent"

#: (train split, val split) per env, as in configs/env/<env>.yaml
DEFAULT_SPLITS = {
    "alfworld": ("train", "valid_unseen"),
    "webshop": ("train", "test"),
    "search": ("nq_test", "bamboogle_test"),
    "toy": ("train", "test"),
}


def make_rows(env_name: str, split: str, size: int, seed_offset: int, data_source: str | None = None) -> list[dict]:
    """``size`` rows for ``split`` with seeds ``seed_offset .. seed_offset + size - 1``.

    Columns: ``data_source``, ``prompt`` (chat messages), ``ability``, ``agent_name``,
    ``reward_model`` (``{"style": "env", "ground_truth": ""}``: the env scores episodes), and
    ``extra_info`` = ``{index, env_name, seed, split, task}`` (``task`` empty: the seed picks the game).
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    rows = []
    for i in range(size):
        seed = seed_offset + i
        rows.append(
            {
                "data_source": data_source or f"skillrl/{env_name}",
                "prompt": [{"role": "user", "content": f"{env_name} {split} game (seed {seed})"}],
                "ability": "agent",
                "agent_name": AGENT_NAME,
                "reward_model": {"style": "env", "ground_truth": ""},
                "extra_info": {"index": i, "env_name": env_name, "seed": seed, "split": split, "task": ""},
            }
        )
    return rows


def write_parquet(rows: list[dict], path: Path) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, choices=sorted(DEFAULT_SPLITS), help="environment name")
    p.add_argument("--out", default=None, help="output folder (default ~/data/skillrl/<env>)")
    p.add_argument("--train_size", type=int, default=1024, help="training rows (games)")
    p.add_argument("--val_size", type=int, default=128, help="validation rows (games)")
    p.add_argument("--train_split", default=None, help="env split for training rows")
    p.add_argument("--val_split", default=None, help="env split for validation rows")
    p.add_argument("--seed", type=int, default=0, help="first seed; validation seeds follow the training ones")
    p.add_argument("--skip_existing", action="store_true", help="keep files already in --out (write only missing ones)")
    args = p.parse_args(argv)

    train_split, val_split = DEFAULT_SPLITS[args.env]
    train_split = args.train_split or train_split
    val_split = args.val_split or val_split
    out = Path(os.path.expanduser(args.out or f"~/data/skillrl/{args.env}"))
    train = make_rows(args.env, train_split, args.train_size, args.seed)
    # validation rows index their own split; seeds start at args.seed so the first games are stable
    val = make_rows(args.env, val_split, args.val_size, args.seed)
    for kind, rows, path, split in (("train", train, out / "train.parquet", train_split),
                                    ("val", val, out / f"{val_split}.parquet", val_split)):
        if args.skip_existing and path.exists():
            print(f"kept {path} (exists)")
            continue
        write_parquet(rows, path)
        print(f"wrote {len(rows)} {kind} rows ({split}) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
