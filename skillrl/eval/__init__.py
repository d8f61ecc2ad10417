"""Evaluation: any policy on any env's games, summaries, and the paper's tables.

- :mod:`.play` — the one play path (concurrent episodes through the shared agent loop, envs in
  this process or in worker processes, failures recorded per episode);
- :mod:`.run` — :func:`evaluate`: play, write ``OUT.episodes.jsonl`` as episodes end (resumable)
  and ``OUT.json`` (run, summary, table, episodes);
- :mod:`.records` — episode records and :func:`summarize` (success by type, pass@k / mean@k,
  invalid-action rate, prompt and skill tokens per turn);
- :mod:`.tables` — the paper's layouts and :func:`compare` (text, Markdown, CSV);
- :mod:`.tokens` — token counting (the policy's tokenizer, else MiniLM's WordPiece).
"""

from skillrl.eval.play import PlayError, PlaySettings, Played, play, plan
from skillrl.eval.records import Job, summarize
from skillrl.eval.run import EvalError, SkillSettings, default_bank, episodes_path, evaluate
from skillrl.eval.tables import compare, table_row

__all__ = [
    "EvalError",
    "Job",
    "PlayError",
    "PlaySettings",
    "Played",
    "SkillSettings",
    "compare",
    "default_bank",
    "episodes_path",
    "evaluate",
    "plan",
    "play",
    "summarize",
    "table_row",
]
