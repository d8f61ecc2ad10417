"""``skillrl distill …``: the offline pipeline (episodes -> memories -> an initial skill bank).

- ``skillrl distill memories --env E --episodes EPISODES.jsonl --output-path MEMORIES.json``
- ``skillrl distill bank --env E (--memory-path MEMORIES.json | --episodes EPISODES.jsonl |
  --episodes-from expert,perturbed --games 20) --output-path BANK.json``

``--episodes-from`` plays policies of the env through the eval play path (``skillrl eval``): its
scripted ones (expert / oracle, random, perturbed: one labelled failure per episode) or a model
(``hf:PATH``, ``ckpt:DIR``, ``openai:MODEL``), on ``--games`` games of the env's training split.

``--llm heuristic|openai|azure`` picks the distiller (``heuristic`` needs no key). Work is cached
per trajectory / bank section under ``--cache-dir`` (default ``$SKILLRL_CACHE/distill``), so a
rerun skips what is done. Every error exits 2 with one ``error: …`` line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from skillrl.cli.common import fail

if TYPE_CHECKING:
    from skillrl.distill import Distiller, Trajectory

app = typer.Typer(help="Distil episodes into memories and skill banks (offline pipeline).", no_args_is_help=True)

#: one line per environment for LLM prompts (the env packages know nothing of distillation)
ENV_DESCRIPTIONS = {
    "alfworld": "A household agent moves between receptacles (go to, open, take, put/move) and changes object "
                "states with appliances (heat with a microwave, cool with a fridge, clean with a sink, use a lamp).",
    "webshop": "A shopping agent searches a product catalogue (search[query]), opens products, selects options "
               "(click[option]) and buys (click[buy now]) to match an instruction's attributes and price.",
    "search": "A question-answering agent issues search queries (<search>q</search>), reads retrieved passages "
              "and answers (<answer>a</answer>) with a short exact span.",
}


def env_taxonomy(env_name: str) -> tuple[Callable[[str, Optional[str]], str], tuple[str, ...]]:
    """``(classify(task, hint) -> type, categories)`` of an environment.

    Uses the env's own taxonomy (``EnvSpec.taxonomy``); an env without one routes every task to
    the ``general`` category.

    Raises:
        KeyError: unknown environment (the message lists the known ones).
    """
    from agent_system.environments.base import get_env_spec

    spec = get_env_spec(env_name)
    if spec.taxonomy is not None:
        return spec.taxonomy.classify, tuple(spec.taxonomy.categories)
    from skillrl.skills.taxonomy import FALLBACK

    return (lambda task, hint: FALLBACK), ()


@dataclass(frozen=True)
class EpisodeRequest:
    """What an episode source is asked for (``--episodes`` / ``--episodes-from`` and the play options)."""

    env_name: str
    arg: str
    """The source's argument: a file path, or a policy name (``expert``, ``perturbed``, ``hf:PATH`` …)."""
    games: int = 20
    """Games to play (policy sources)."""
    split: Optional[str] = None
    """Split to play (None: the env's training split, ``EnvSpec.play.train_split``)."""
    seed: int = 0
    """Seed of the first game."""
    data_dir: Optional[str] = None
    """The env's data folder."""
    progress: bool = True


def _file_source(req: EpisodeRequest) -> Iterator["Trajectory"]:
    from skillrl.distill import read_episodes

    return iter(read_episodes(req.arg, env_name=req.env_name))


def _policy_source(req: EpisodeRequest) -> Iterator["Trajectory"]:
    """Play ``req.games`` games with the policy ``req.arg`` through the eval play path (no skills)
    and yield the episodes (a perturbed policy's failure kind is in ``extra["metadata"]``)."""
    import logging

    from skillrl.cli.eval import env_spec
    from skillrl.distill import Trajectory
    from skillrl.eval import PlayError, PlaySettings, play, plan
    from skillrl.eval.play import auto_workers
    from skillrl.policies import PolicyLoadError, load_policy
    from skillrl.utils.paths import DataNotFoundError

    spec = env_spec(req.env_name)
    split = req.split or spec.play.train_split
    if split is None:
        logging.getLogger(__name__).warning(
            "%s has no training split here: episodes come from %s (evaluation games)", spec.name,
            spec.play.default_split or "its default games")
    try:
        loaded = load_policy(spec, req.arg)
    except PolicyLoadError as exc:
        raise fail(f"--episodes-from {req.arg}: {exc}") from None
    episodes: list[Any] = []
    try:
        workers = min(auto_workers(spec, loaded), req.games)
        settings = PlaySettings(splits=(split or "",), games=req.games, start=req.seed, data_dir=req.data_dir,
                                workers=workers, concurrency=max(workers, loaded.concurrency, 1), progress=req.progress)
        play(spec, loaded, plan(spec, settings), settings, on_episode=lambda item: episodes.append(item.episode))
    except (PlayError, DataNotFoundError, FileNotFoundError, ValueError) as exc:
        raise fail(f"--episodes-from {req.arg}: {exc}") from None
    finally:
        loaded.close()
    failed = [e for e in episodes if e.error]
    if failed:
        typer.echo(f"--episodes-from {req.arg}: {len(failed)} of {len(episodes)} episodes failed "
                   f"(e.g. {failed[0].error}); they are left out", err=True)
    return iter(Trajectory.from_episode(e) for e in episodes if not e.error)


#: ``--episodes`` / ``--episodes-from`` sources: name -> ``(EpisodeRequest) -> trajectories``.
#: ``file`` reads an episode JSONL file (``skillrl eval`` writes them too); ``policy`` plays any
#: policy of the env through the eval play path: its scripted ones (expert / oracle, random,
#: wrong, perturbed, perturbed:KIND) or a model (hf:PATH, ckpt:DIR, openai:MODEL, azure:DEPLOYMENT).
EPISODE_SOURCES: dict[str, Callable[[EpisodeRequest], Iterator["Trajectory"]]] = {
    "file": _file_source,
    "policy": _policy_source,
}


def _episode_specs(episodes: Sequence[Path], episodes_from: Optional[str]) -> list[tuple[str, str]]:
    """``(source, argument)`` pairs: ``file:PATH`` or a ``.jsonl``/``.json`` path is a file, anything
    else a policy name (checked against the env when played)."""
    specs = [("file", str(p)) for p in episodes]
    for part in (episodes_from or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, arg = part.partition(":")
        if name == "file":
            specs.append(("file", arg))
        elif Path(part).suffix in (".jsonl", ".json"):
            specs.append(("file", part))
        else:
            specs.append(("policy", part))
    if not specs:
        raise fail("no episodes given: pass --episodes FILE.jsonl or --episodes-from POLICY[,POLICY…] "
                   "(expert, oracle, random, perturbed, hf:PATH, ckpt:DIR, openai:MODEL, file:PATH)")
    return specs


def _load_episodes(env_name: str, specs: Sequence[tuple[str, str]], play: "PlayOptions") -> list["Trajectory"]:
    from skillrl.distill import TrajectoryError

    out: list[Trajectory] = []
    for name, arg in specs:
        req = EpisodeRequest(env_name=env_name, arg=arg, games=play.games, split=play.split, seed=play.seed,
                             data_dir=play.data_dir, progress=play.progress)
        try:
            out.extend(EPISODE_SOURCES[name](req))
        except TrajectoryError as exc:
            raise fail(str(exc)) from None
    if not out:
        raise fail("the episode sources gave no episodes")
    return out


@dataclass(frozen=True)
class PlayOptions:
    """How policy sources play (the ``--games/--split/--seed/--data-dir`` options)."""

    games: int = 20
    split: Optional[str] = None
    seed: int = 0
    data_dir: Optional[str] = None
    progress: bool = True


def _cache_dir(cache_dir: Optional[Path], no_cache: bool) -> Optional[Path]:
    if no_cache:
        return None
    if cache_dir is not None:
        return cache_dir
    return Path(os.environ.get("SKILLRL_CACHE") or Path.home() / ".cache" / "skillrl") / "distill"


def _distiller(llm: str, model: Optional[str], base_url: Optional[str], api_version: Optional[str], timeout: float,
               max_retries: int, price_in: Optional[float], price_out: Optional[float],
               record_calls: Optional[Path]) -> "Distiller":
    from skillrl.distill import LLMConfig, LLMError, build_distiller
    from skillrl.utils.registry import RegistryError

    kwargs: dict[str, Any] = dict(base_url=base_url, api_version=api_version, timeout_s=timeout, max_retries=max_retries,
                                  price_input_per_1m=price_in, price_output_per_1m=price_out)
    if model:
        kwargs["model"] = model
    try:
        config = LLMConfig(**kwargs)
        return build_distiller(llm, config, record_path=record_calls)
    except (RegistryError, ValueError, LLMError, FileNotFoundError) as exc:
        raise fail(f"--llm {llm}: {exc}") from None


EPISODES_FROM_HELP = ("Comma-separated episode sources: policies of the env that play --games games (expert, oracle, "
                      "random, perturbed, perturbed:KIND, hf:PATH, ckpt:DIR, openai:MODEL) or file:PATH.")
LLM_HELP = "Distiller: heuristic (no LLM), openai (OPENAI_API_KEY / OPENAI_BASE_URL), azure (AZURE_OPENAI_*)."


def _memories_from(
    env: str, distiller: "Distiller", specs: Sequence[tuple[str, str]], cache: Optional[Path], keep_going: bool,
    progress: bool, play: PlayOptions = PlayOptions(),
) -> list[Any]:
    from skillrl.distill import JsonCache, LLMError, distill_memories

    try:
        classify, _ = env_taxonomy(env)
    except KeyError as exc:
        raise fail(str(exc)) from None
    trajs = _load_episodes(env, specs, play)
    try:
        run = distill_memories(trajs, distiller, cache=JsonCache(cache), classify=classify, keep_going=keep_going,
                               progress=progress)
    except LLMError as exc:
        hint = f" (finished memories are cached in {cache}; rerun to resume)" if cache else ""
        raise fail(f"{exc}{hint}") from None
    typer.echo(f"memories: {len(run.memories)} from {len(trajs)} episodes ({run.cached} cached, "
               f"{len(run.failed)} failed)", err=True)
    if not run.memories:
        raise fail("no memory could be distilled")
    return run.memories


@app.command("memories")
def memories(
    env: str = typer.Option(..., help="Environment: alfworld, webshop, search."),
    episodes: list[Path] = typer.Option([], "--episodes", help="Episode JSONL file (Episode records or summaries); repeatable."),
    episodes_from: Optional[str] = typer.Option(None, help=EPISODES_FROM_HELP),
    games: int = typer.Option(20, min=1, help="Games each policy of --episodes-from plays."),
    split: Optional[str] = typer.Option(None, help="Split they play (default: the env's training split)."),
    seed: int = typer.Option(0, help="Seed of the first game they play."),
    data_dir: Optional[Path] = typer.Option(None, help="The env's data directory."),
    output_path: Path = typer.Option(..., help="Where to write the memories (JSON array, original format)."),
    llm: str = typer.Option("heuristic", help=LLM_HELP),
    model: Optional[str] = typer.Option(None, help="Model / Azure deployment name."),
    base_url: Optional[str] = typer.Option(None, help="Endpoint (overrides OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT)."),
    api_version: Optional[str] = typer.Option(None, help="Azure API version."),
    timeout: float = typer.Option(60.0, help="Seconds per LLM request."),
    max_retries: int = typer.Option(3, help="SDK retries on 429/5xx/connection errors."),
    price_in: Optional[float] = typer.Option(None, help="USD per 1M input tokens (for the cost figure)."),
    price_out: Optional[float] = typer.Option(None, help="USD per 1M output tokens."),
    record_calls: Optional[Path] = typer.Option(None, help="JSONL file recording every LLM call."),
    cache_dir: Optional[Path] = typer.Option(None, help="Resume cache (default $SKILLRL_CACHE/distill)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the cache."),
    keep_going: bool = typer.Option(False, help="Skip trajectories whose LLM call fails instead of stopping."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Distil episodes into memories (one per episode, in the original memory format)."""
    from skillrl.distill import write_memories

    specs = _episode_specs(episodes, episodes_from)
    d = _distiller(llm, model, base_url, api_version, timeout, max_retries, price_in, price_out, record_calls)
    play = PlayOptions(games, split, seed, str(data_dir) if data_dir else None, progress)
    mems = _memories_from(env, d, specs, _cache_dir(cache_dir, no_cache), keep_going, progress, play)
    try:
        write_memories(output_path, mems)
    except OSError as exc:
        raise fail(f"cannot write {output_path}: {exc.strerror or exc}") from None
    _usage_line(d)
    typer.echo(f"wrote {len(mems)} memories to {output_path}")


@app.command("bank")
def bank(
    env: str = typer.Option(..., help="Environment: alfworld, webshop, search."),
    memory_path: list[Path] = typer.Option([], "--memory-path", help="Memory file(s) in the original format; repeatable."),
    episodes: list[Path] = typer.Option([], "--episodes", help="Episode JSONL file(s): distilled into memories first."),
    episodes_from: Optional[str] = typer.Option(None, help=EPISODES_FROM_HELP),
    games: int = typer.Option(20, min=1, help="Games each policy of --episodes-from plays."),
    split: Optional[str] = typer.Option(None, help="Split they play (default: the env's training split)."),
    seed: int = typer.Option(0, help="Seed of the first game they play."),
    data_dir: Optional[Path] = typer.Option(None, help="The env's data directory."),
    output_path: Path = typer.Option(..., help="Where to write the bank."),
    llm: str = typer.Option("heuristic", help=LLM_HELP),
    model: Optional[str] = typer.Option(None, help="Model / Azure deployment name."),
    base_url: Optional[str] = typer.Option(None, help="Endpoint (overrides OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT)."),
    api_version: Optional[str] = typer.Option(None, help="Azure API version."),
    timeout: float = typer.Option(60.0, help="Seconds per LLM request."),
    max_retries: int = typer.Option(3, help="SDK retries on 429/5xx/connection errors."),
    price_in: Optional[float] = typer.Option(None, help="USD per 1M input tokens (for the cost figure)."),
    price_out: Optional[float] = typer.Option(None, help="USD per 1M output tokens."),
    record_calls: Optional[Path] = typer.Option(None, help="JSONL file recording every LLM call."),
    n_general: int = typer.Option(10, min=1, help="General skills to aim for."),
    n_task: int = typer.Option(5, min=1, help="Skills per task type to aim for."),
    n_mistakes: int = typer.Option(10, min=1, help="Common mistakes to aim for."),
    save_memories: Optional[Path] = typer.Option(None, help="With --episodes: also write the memories here."),
    cache_dir: Optional[Path] = typer.Option(None, help="Resume cache (default $SKILLRL_CACHE/distill)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the cache."),
    keep_going: bool = typer.Option(False, help="Skip trajectories whose LLM call fails instead of stopping."),
    force: bool = typer.Option(False, help="Overwrite an existing output file."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Build an initial skill bank (general, per task type, common mistakes) that `skillrl skills validate` accepts."""
    from skillrl.distill import LLMError, MemoryFormatError, build_bank, read_memories, write_memories
    from skillrl.distill.pipeline import JsonCache
    from skillrl.skills import SkillBankError

    if output_path.exists() and not force:
        raise fail(f"{output_path} exists; pass --force to overwrite it")
    if not memory_path and not episodes and not episodes_from:
        raise fail("give --memory-path MEMORIES.json or --episodes EPISODES.jsonl")
    try:
        classify, categories = env_taxonomy(env)
    except KeyError as exc:
        raise fail(str(exc)) from None
    d = _distiller(llm, model, base_url, api_version, timeout, max_retries, price_in, price_out, record_calls)
    cache = _cache_dir(cache_dir, no_cache)
    mems: list[Any] = []
    for p in memory_path:
        try:
            mems.extend(read_memories(p))
        except MemoryFormatError as exc:
            raise fail(str(exc)) from None
    if episodes or episodes_from:
        play = PlayOptions(games, split, seed, str(data_dir) if data_dir else None, progress)
        distilled = _memories_from(env, d, _episode_specs(episodes, episodes_from), cache, keep_going, progress, play)
        if save_memories is not None:
            write_memories(save_memories, distilled)
        mems.extend(distilled)
    if not mems:
        raise fail("the memory files hold no memories")
    try:
        b = build_bank(mems, d, env_name=env, classify=classify, categories=categories,
                       env_description=ENV_DESCRIPTIONS.get(env, ""), n_general=n_general, n_task=n_task,
                       n_mistakes=n_mistakes, cache=JsonCache(cache), progress=progress)
        b.save(output_path)
    except LLMError as exc:
        hint = f" (finished sections are cached in {cache}; rerun to resume)" if cache else ""
        raise fail(f"{exc}{hint}") from None
    except (SkillBankError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write {output_path}: {exc.strerror or exc}") from None
    _usage_line(d)
    n_task_skills = sum(len(v) for v in b.task_specific_skills.values())
    typer.echo(f"wrote {output_path}: {len(b.general_skills)} general, {n_task_skills} task-specific "
               f"({len(b.task_specific_skills)} types), {len(b.common_mistakes)} mistakes from {len(mems)} memories")


def _usage_line(d: "Distiller") -> None:
    client = getattr(d, "client", None)
    if client is not None:
        typer.echo(f"LLM usage: {client.usage_line()}", err=True)
