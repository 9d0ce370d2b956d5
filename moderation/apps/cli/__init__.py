"""The ``moderation`` command line: one module per command, each a thin layer over a
library function the Python API exposes too.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(cli, ["--version"]).output.startswith("moderation")
True
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading

import click

from ... import __version__
from ...core import ModerationError
from ...display import displayable
from .adapt import adapt_cmd
from .extract import extract_cmd
from .label import label_cmd
from .labels import labels_group
from .score import score_cmd
from .serve import serve_cmd
from .train import eval_cmd, train_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moderation")
def cli():
    """Comment moderation for web forums: extract posts from thread dumps, score them
    for slurs, off-topic posts and posts a moderator would delete.

    Example:

        moderation extract seeds/
    """


for command in (extract_cmd, train_cmd, eval_cmd, score_cmd, adapt_cmd, serve_cmd, label_cmd, labels_group):
    cli.add_command(command)


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM as an exception: files being written are removed on the way out (no hidden
    ``.tmp`` file is left behind), and the exit status is the usual 128 + 15."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Entry point: click's handling, plus a one-line message instead of a traceback.

    Messages quote input (file names, values, lines of a file), so they are shown through
    :func:`moderation.display.displayable`: an argument or a file name cannot act on the
    terminal the error is read in.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)  # commands that serve install their own
    try:
        code = cli.main(args=argv, prog_name="moderation", standalone_mode=False)
    except (BrokenPipeError, SystemExit):
        raise
    except click.ClickException as exc:  # usage errors and the commands' one-line errors
        shown = io.StringIO()
        exc.show(file=shown)
        sys.stderr.write(displayable(shown.getvalue()))
        sys.exit(exc.exit_code)
    except ModerationError as exc:  # raised while a generator was being consumed
        click.echo(f"Error: {displayable(exc, one_line=True)}", err=True)
        sys.exit(1)
    except (KeyboardInterrupt, click.Abort):
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line; MODERATION_DEBUG=1 shows the traceback
        if os.environ.get("MODERATION_DEBUG"):
            raise
        click.echo(
            f"Error: internal error ({type(exc).__name__}: {displayable(exc, one_line=True)}); "
            "rerun with MODERATION_DEBUG=1 for details and report it",
            err=True,
        )
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
