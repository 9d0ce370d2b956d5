"""``moderation label``: the labeling tool in the terminal (:mod:`moderation.apps.labeling`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ...core import ExtractError, LabelFileError, ModelError
from ...io import INPUT_FORMATS
from ...labels.events import check_label_file, read_label_files
from ..labeling.session import ORDERS
from .common import warn


def default_annotator() -> str:
    """``$MODERATION_ANNOTATOR``, else the login name (``unknown`` without one).

    Examples
    --------
    >>> import os
    >>> os.environ["MODERATION_ANNOTATOR"] = "mod-sato"
    >>> default_annotator()
    'mod-sato'
    >>> del os.environ["MODERATION_ANNOTATOR"]
    """
    import getpass

    name = os.environ.get("MODERATION_ANNOTATOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "unknown"


def _check_writable(labels_path: str) -> None:
    target = Path(labels_path)
    parent = target.parent if str(target.parent) else Path(".")
    if (target.exists() and not os.access(target, os.W_OK)) or (
        not target.exists() and parent.exists() and not os.access(parent, os.W_OK)
    ):
        raise click.ClickException(f"{labels_path}: not writable")


@click.command("label")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(),
    help="Label file (JSON Lines) to append to; created if missing.",
)
@click.option(
    "--annotator",
    default=None,
    help="Your name in the label file (default: $MODERATION_ANNOTATOR, else your login name).",
)
@click.option(
    "--order",
    type=click.Choice(ORDERS),
    default="sequential",
    show_default=True,
    help="sequential: input order; uncertain: the model's least certain first, re-ranked as you "
    "label (uses the default model unless --model is given); random: shuffled.",
)
@click.option(
    "--model",
    "model_dir",
    default=None,
    type=click.Path(),
    help="Model directory: show its scores and spans (e.g. models/default).",
)
@click.option(
    "--refit-every",
    default=20,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="With --order uncertain: refit the light model on your labels and re-rank after this many saves.",
)
@click.option("--seed", default=None, type=int, help="Seed for --order random.")
@click.option(
    "--hide-scores",
    is_flag=True,
    help="Do not show the model's scores and spans (the model still orders with --order uncertain).",
)
@click.option(
    "--input-format",
    default="auto",
    show_default=True,
    type=click.Choice(INPUT_FORMATS),
    help="How to read the inputs; auto picks from content and extension.",
)
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect).")
def label_cmd(inputs, labels_path, annotator, order, model_dir, refit_every, seed, hide_scores, input_format, encoding):
    """Label comments in the terminal, one keystroke each.

    INPUTS are anything `moderation extract` reads. Their comments are offered one at a
    time (not articles, titles, page furniture or deleted posts), with the thread title,
    the post each replies to and lexicon hits highlighted. With a model you also see its
    scores and spans. Keys: s/o/d toggle slur/off_topic/delete, Enter saves the toggled
    labels (none = clean), n saves as clean, x skips, u undoes the last label, ? shows
    help, q quits. Every label is on disk before the next comment shows. Started again, the
    tool skips what ANNOTATOR has already labeled. See labels/GUIDELINES.md for what each
    label means.

    Example:

    \b
        moderation label seeds/ --labels labels/seed.jsonl --model models/default
    """
    from ...io import extract
    from ..labeling.items import collect_items
    from ..labeling.session import Session
    from ..labeling.terminal import TerminalError, run_terminal

    annotator = (annotator if annotator is not None else default_annotator()).strip()
    if not annotator or any(not ch.isprintable() for ch in annotator):
        raise click.ClickException("--annotator must be a non-empty printable name")
    # Cheap checks first, so bad arguments are reported with or without a terminal.
    for p in inputs:
        if not Path(p).exists():
            raise click.ClickException(f"{p}: no such file or directory")
    try:
        check_label_file(labels_path)
    except LabelFileError as exc:
        raise click.ClickException(str(exc)) from None
    _check_writable(labels_path)
    if not os.isatty(sys.stdin.fileno()):
        raise click.ClickException(
            "moderation label is interactive and needs a terminal, but stdin is not a TTY "
            "(run it in a terminal, not in a pipe or a script)"
        )
    notices: list[str] = []

    def note(message: str) -> None:
        notices.append(message)
        warn(message)

    try:
        events = read_label_files([labels_path], warn=note) if Path(labels_path).exists() else []
        records = list(extract(list(inputs), input_format=input_format, encoding=encoding, warn=note))
    except (LabelFileError, ExtractError) as exc:
        raise click.ClickException(str(exc)) from None
    items = collect_items(records)
    if not items:
        raise click.ClickException(
            f"no comments to label in {', '.join(inputs)} (articles, titles and deleted posts are not offered)"
        )
    view = None
    if model_dir is not None or order == "uncertain":
        from ...moderator import Moderator
        from ..labeling.model_view import ModelView

        click.echo(f"scoring {len(items):,} comments with {model_dir or 'the default model'}…", err=True)
        try:
            view = ModelView(Moderator.load(model_dir), items, keep_features=order == "uncertain")
        except ModelError as exc:
            raise click.ClickException(str(exc)) from None
    session = Session(
        items,
        labels_path,
        annotator,
        events=events,
        order=order,
        model=view,
        refit_every=refit_every,
        seed=seed,
        show_scores=not hide_scores,
        notices=notices,
    )
    already = session.done_count
    if session.current is None:
        click.echo(
            f"nothing to label: all {len(items):,} comments in the input are already labeled by "
            f"{annotator} in {labels_path}"
        )
        return
    try:
        run_terminal(session)
    except TerminalError as exc:
        raise click.ClickException(f"moderation label needs a terminal: {exc}") from None
    click.echo(
        f"labeled {session.saved_this_session} this session; {session.done_count} of {len(items)} "
        f"comments in the input are labeled by {annotator} in {labels_path} "
        f"({already} before this session); {len(session.queue)} left"
        + (f", {session.skipped} skipped" if session.skipped else "")
    )
    if session.toggles and session.current is not None:
        click.echo("(the toggles on the last comment were not saved)")
