"""The ``skillrl`` command line.

Sub-commands live in sibling modules (``skills``, ``env``, ``eval``, ``retriever``, ``train``); each keeps
heavy imports inside its commands so that ``skillrl --help`` stays fast. Shell completion:
``skillrl --install-completion``. Text from banks and data goes to rich only through
:func:`skillrl.cli.common.plain` (never parsed as markup).
"""

from __future__ import annotations

import logging
import sys

import typer

from skillrl.cli import distill as distill_cli
from skillrl.cli import env as env_cli
from skillrl.cli import eval as eval_cli
from skillrl.cli import report as report_cli
from skillrl.cli import retriever as retriever_cli
from skillrl.cli import sft as sft_cli
from skillrl.cli import skills as skills_cli
from skillrl.cli import train as train_cli
from skillrl.cli.common import plain_help

app = typer.Typer(
    name="skillrl",
    help="SkillRL: train LLM agents with RL and an evolving skill bank.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
app.add_typer(skills_cli.app, name="skills")
app.add_typer(env_cli.app, name="env")
app.add_typer(retriever_cli.app, name="retriever")
app.add_typer(distill_cli.app, name="distill")
app.add_typer(sft_cli.app, name="sft")
app.command("eval")(eval_cli.eval_command)
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    train_cli.train
)
app.command("report")(report_cli.report)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "urllib3", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


plain_help(app)  # after every command is registered: help without reST markup


def main() -> None:
    """Console-script entry point; user errors exit 2 with one ``error:`` line (see ``common.fail``)."""
    app()


if __name__ == "__main__":
    main()
