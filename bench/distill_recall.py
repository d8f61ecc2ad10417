"""Does the heuristic distiller find the failures the perturbed policies inject?

Plays ``perturbed`` (one labelled failure kind per episode, ``metadata.failure_kind``) on ALFWorld
and WebShop through the eval play path, mines each episode with the heuristic distiller, and
prints per-kind recall (episodes whose injected kind is among the mined findings), the share of
mined findings that match no injected kind, and which other kinds were mined beside each injected
one (most are consequences of the injected failure: a wrong purchase is also a purchase without
options, a loop through the search page repeats the search, a repeated idle action never reaches
the appliance). Last line: ``BENCH distill_failure_recall=<the lower of the two envs' recalls>``.

    python bench/distill_recall.py [--alfworld-games 20] [--webshop-games 100] [--max-steps 25]
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from agent_system.environments import get_env_spec
from skillrl.distill import Trajectory
from skillrl.distill.heuristic import mine_failures
from skillrl.eval import PlaySettings, play, plan
from skillrl.policies import load_policy


def recall(env: str, settings: PlaySettings) -> float:
    spec = get_env_spec(env)
    episodes: list = []
    play(spec, load_policy(spec, "perturbed"), plan(spec, settings), settings,
         on_episode=lambda item: episodes.append(item.episode))
    hit, total, extra, findings = Counter(), Counter(), 0, 0
    beside: dict[str, Counter[str]] = defaultdict(Counter)
    for ep in episodes:
        kind = ep.metadata["failure_kind"]
        found = {f.kind for f in mine_failures(Trajectory.from_episode(ep))}
        total[kind] += 1
        hit[kind] += kind in found
        findings += len(found)
        extra += len(found - {kind})
        beside[kind].update(found - {kind})
    for kind in sorted(total):
        others = ", ".join(f"{k} {n}" for k, n in beside[kind].most_common()) or "-"
        print(f"{env:>8} {kind:<22} recall {hit[kind]:>3}/{total[kind]:<3} = {hit[kind] / total[kind]:.2f}"
              f"   also mined: {others}")
    overall = sum(hit.values()) / max(1, sum(total.values()))
    print(f"{env:>8} overall recall {overall:.3f} over {len(episodes)} episodes; "
          f"{extra}/{findings} mined findings match no injected kind ({extra / max(1, findings):.2f}); "
          f"won {sum(e.won for e in episodes)}")
    return overall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alfworld-games", type=int, default=20)
    parser.add_argument("--webshop-games", type=int, default=100)
    parser.add_argument("--max-steps", type=int, default=25, help="ALFWorld turn cap of a perturbed episode")
    args = parser.parse_args()
    alf = recall("alfworld", PlaySettings(splits=("valid_train",), games=args.alfworld_games, max_steps=args.max_steps,
                                          workers=2, concurrency=2, progress=False))
    shop = recall("webshop", PlaySettings(splits=("train",), games=args.webshop_games, progress=False))
    print(f"BENCH distill_failure_recall={min(alf, shop):.3f}")


if __name__ == "__main__":
    main()
