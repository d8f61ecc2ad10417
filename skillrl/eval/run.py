"""``evaluate``: play a policy on an env's games and write the summary, resumably.

Output: ``OUT.json`` holds ``run`` (what was evaluated: env, splits, policy, skills, episode
settings, tokenizer, wall time), ``summary`` (:func:`~skillrl.eval.records.summarize`), ``table``
(the paper-layout row, :mod:`skillrl.eval.tables`) and ``episodes`` (every record without its
steps). Beside it, ``OUT.episodes.jsonl`` gets one full record per finished episode, appended and
flushed as it ends: rerunning the same command skips the episodes already there (a torn last line
from a kill is dropped), so an interrupted run resumes; records of other settings are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_system.environments.base import EnvSpec
from skillrl.eval.play import PlaySettings, Played, episode_config, plan, play
from skillrl.eval.records import episode_record, summarize
from skillrl.eval.tokens import TokenCounter, counter_for
from skillrl.policies.base import LoadedPolicy

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class EvalError(ValueError):
    """The run cannot go on as asked (episodes of another run in the output, a bad bank …)."""


@dataclass(frozen=True)
class SkillSettings:
    """Skills injected into the prompts (plain values from the entry point)."""

    bank_path: str | None = None
    """The bank (None: skills off)."""
    retrieval_mode: str = "template"
    """Retriever name (``template`` or ``embedding``)."""
    top_k: int = 6
    """General skills per prompt."""
    task_specific_top_k: int | None = None
    """Task-specific skills per prompt (None: all of the task type)."""
    max_skill_tokens: int | None = None
    """Token budget of the skill block (None: unlimited)."""
    embedding_model_path: str | None = None
    """Sentence-embedding model of ``embedding`` retrieval (None: the shipped MiniLM)."""


def default_bank(env_name: str) -> Path | None:
    """The project's bank for an env (``memory_data/<env>/skills.json``), if there is one."""
    path = PROJECT_ROOT / "memory_data" / env_name / "skills.json"
    return path if path.is_file() else None


def build_skill_source(spec: EnvSpec, skills: SkillSettings) -> tuple[Any, dict[str, Any] | None]:
    """``(retriever, description)`` for ``skills`` (``(None, None)`` when skills are off).

    Raises:
        EvalError: the bank cannot be loaded, or a bad retrieval setting.
    """
    if not skills.bank_path:
        return None, None
    from skillrl.skills.bank import SkillBank, SkillBankError
    from skillrl.skills.retrieval import build_retriever
    from skillrl.utils.registry import RegistryError

    try:
        bank = SkillBank.load(skills.bank_path)
    except SkillBankError as exc:
        raise EvalError(str(exc)) from None
    model = skills.embedding_model_path
    if skills.retrieval_mode == "embedding" and not model:
        from skillrl.distill.similarity import default_dedup_model

        model = default_dedup_model()
    try:
        retriever = build_retriever(bank, taxonomy=spec.taxonomy, mode=skills.retrieval_mode, top_k=skills.top_k,
                                    task_specific_top_k=skills.task_specific_top_k,
                                    max_skill_tokens=skills.max_skill_tokens, embedding_model_path=model)
    except (RegistryError, ValueError) as exc:
        raise EvalError(f"skills: {exc}") from None
    return retriever, {"bank": str(skills.bank_path), "bank_version": bank.version, "retrieval_mode": skills.retrieval_mode,
                       "top_k": skills.top_k, "task_specific_top_k": skills.task_specific_top_k,
                       "max_skill_tokens": skills.max_skill_tokens,
                       **({"embedding_model": model} if skills.retrieval_mode == "embedding" else {})}


def episodes_path(output: str | os.PathLike[str]) -> Path:
    """``OUT.json`` -> ``OUT.episodes.jsonl`` (beside it)."""
    out = Path(output)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(stem + ".episodes.jsonl")


def fingerprint(identity: Mapping[str, Any]) -> str:
    """A short hash of the settings that make two runs comparable episode by episode."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def read_records(path: Path, *, run: str | None = None) -> list[dict[str, Any]]:
    """Records of an episodes file, in order (a torn last line is dropped and cut from the file).

    Raises:
        EvalError: a record of another run (``run`` given and different), or a corrupt line
            that is not the last.
    """
    if not path.is_file():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        keep = raw.rfind(b"\n") + 1
        log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", path, len(raw) - keep)
        with open(path, "r+b") as fh:
            fh.truncate(keep)
        raw = raw[:keep]
    out: list[dict[str, Any]] = []
    for lineno, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path}:{lineno}: not a JSON record ({exc.msg}); move the file away or pass --force") from None
        if run is not None and rec.get("run") != run:
            raise EvalError(f"{path} holds episodes of a run with other settings (run {rec.get('run')!r}, this one "
                            f"{run!r}); pass --force to start over or choose another --output")
        out.append(rec)
    return out


def latest(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each key."""
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        out[str(rec["key"])] = rec
    return out


def evaluate(spec: EnvSpec, policy: LoadedPolicy, settings: PlaySettings, skills: SkillSettings, *,
             output: str | os.PathLike[str] | None = None, force: bool = False, retry_errors: bool = False,
             counter: TokenCounter | None = None) -> dict[str, Any]:
    """Play ``policy`` on the games of ``settings`` and return ``{"run", "summary", "table",
    "episodes"}``, also written to ``output`` (see the module docstring) when given.

    Raises:
        EvalError: episodes of another run in the output's episode file, or bad skill settings.
        PlayError, ValueError, DataNotFoundError: bad play settings or missing data.
    """
    from skillrl.eval.tables import table_row

    started = time.perf_counter()
    config = episode_config(spec, settings, policy.episode)
    retriever, skills_info = build_skill_source(spec, skills)
    counter = counter or counter_for(policy.count_tokens, policy.tokenizer_name)
    plans = plan(spec, settings)
    identity = {
        "env": spec.name, "splits": [p.split for p in plans], "games": settings.games, "n": settings.n,
        "start": settings.start, "max_steps": config.max_steps, "history_length": config.history_length,
        "data": settings.data, "env_args": dict(settings.env_args), "policy": policy.name,
        "policy_settings": {k: v for k, v in policy.describe.items() if k in ("temperature", "max_new_tokens", "max_tokens")},
        "skills": skills_info,
    }
    run_id = fingerprint(identity)
    jsonl = episodes_path(output) if output is not None else None
    done: dict[str, dict[str, Any]] = {}
    if jsonl is not None:
        jsonl.parent.mkdir(parents=True, exist_ok=True)
        if force and jsonl.exists():
            jsonl.unlink()
        done = latest(read_records(jsonl, run=run_id))
        if retry_errors:
            done = {k: r for k, r in done.items() if r.get("error") is None}
        if done:
            log.info("resuming: %d episode(s) already in %s", len(done), jsonl)
    fresh: list[dict[str, Any]] = []
    sink = open(jsonl, "a", encoding="utf-8") if jsonl is not None else None

    def on_episode(item: Played) -> None:
        rec = episode_record(item.job, item.episode, run=run_id,
                             prompt_tokens=[counter.count(s.prompt) for s in item.episode.steps],
                             skill_tokens=counter.count(item.skill_block) if item.skill_block else 0,
                             wall_s=item.wall_s)
        fresh.append(rec)
        if sink is not None:
            sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
            sink.flush()
            os.fsync(sink.fileno())

    try:
        play(spec, policy, plans, settings, skills=retriever, skip=frozenset(done), on_episode=on_episode, config=config)
    finally:
        if sink is not None:
            sink.close()
    by_key = {**done, **latest(fresh)}
    planned = [j.key for p in plans for j in p.jobs]
    records = [by_key[k] for k in planned if k in by_key]
    summary = summarize(records, n=settings.n)
    summary["tokenizer"] = counter.name
    result = {
        "run": {**identity, "id": run_id, "policy_info": policy.describe, "policy_stats": policy.stats(),
                "wall_s": round(time.perf_counter() - started, 2), "resumed_episodes": len(done),
                "episodes_file": str(jsonl) if jsonl is not None else None,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "summary": summary,
        "table": table_row(spec.name, summary),
        "episodes": [{k: v for k, v in r.items() if k != "steps"} for r in records],
    }
    if output is not None:
        out = Path(output)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, out)
    return result
