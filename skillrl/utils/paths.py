"""Where datasets live.

Resolution order for an environment's data directory (first hit wins):

1. an explicit path (config / CLI flag);
2. the environment's own variable (``ALFWORLD_DATA``, ``WEBSHOP_DATA``, ``SEARCH_DATA``);
3. ``$SKILLRL_DATA/<env>``;
4. ``./data/<env>``, then ``../shared/data/<env>`` relative to the working directory and to
   the project checkout.

Nothing is ever written into a data directory: caches go to :func:`cache_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VARS = {"alfworld": "ALFWORLD_DATA", "webshop": "WEBSHOP_DATA", "search": "SEARCH_DATA"}

DOWNLOAD_HINTS = {
    "alfworld": (
        "Download the official games with `pip install alfworld && alfworld-download` "
        "(they land in ~/.cache/alfworld) and point ALFWORLD_DATA (or env.data_dir) at the "
        "folder that holds json_2.1.1/."
    ),
    "webshop": (
        "Get the WebShop catalogue (items_shuffle*.json, items_ins_v2*.json) with the official "
        "princeton-nlp/WebShop setup script and point WEBSHOP_DATA (or env.data_dir) at it; "
        "the 1k processed catalogue products_1k.json + items_ins_v2_1000.json also works."
    ),
    "search": (
        "Prepare the Search-R1 QA files (nq/hotpotqa/... as jsonl or parquet) and a wiki-18 "
        "corpus jsonl, and point SEARCH_DATA (or env.data_dir) at the folder holding qa/ and corpus/."
    ),
}

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DataNotFoundError(FileNotFoundError):
    """A dataset directory or file is missing; the message says how to get it."""


def candidate_dirs(env_name: str) -> list[Path]:
    out: list[Path] = []
    var = ENV_VARS.get(env_name)
    if var and os.environ.get(var):
        out.append(Path(os.environ[var]).expanduser())
    if os.environ.get("SKILLRL_DATA"):
        out.append(Path(os.environ["SKILLRL_DATA"]).expanduser() / env_name)
    for base in (Path.cwd(), _PROJECT_ROOT):
        out.append(base / "data" / env_name)
        out.append(base.parent / "shared" / "data" / env_name)
    return out


def resolve_data_dir(env_name: str, explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory of ``env_name``.

    Raises:
        DataNotFoundError: nothing found; the message lists where we looked and how to download.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise DataNotFoundError(
                f"{env_name} data directory {str(path)!r} does not exist. {DOWNLOAD_HINTS.get(env_name, '')}"
            )
        return path
    tried = candidate_dirs(env_name)
    for path in tried:
        if path.is_dir():
            return path
    looked = ", ".join(str(p) for p in tried)
    raise DataNotFoundError(
        f"no {env_name} data directory found (looked in: {looked}). {DOWNLOAD_HINTS.get(env_name, '')}"
    )


def cache_dir(*parts: str) -> Path:
    """A writable cache folder, created on demand: ``$SKILLRL_CACHE/<parts>`` when the variable
    is set and not empty, else the platform's user cache dir (``platformdirs``: ``~/.cache/skillrl``
    or ``$XDG_CACHE_HOME/skillrl`` on Linux, ``~/Library/Caches/skillrl`` on macOS)."""
    from platformdirs import user_cache_path

    root = Path(os.environ.get("SKILLRL_CACHE") or user_cache_path("skillrl", appauthor=False)).expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
