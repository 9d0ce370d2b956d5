"""``moderation label``: the labeling tool in the terminal (:mod:`moderation.apps.labeling`)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from ...core import ExtractError, LabelFileError, ModelError
from ...io import INPUT_FORMATS
from ...labels.events import check_label_file, read_label_files
from ..labeling.session import ORDERS
from .common import max_file_size_option, warn


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


#: What ``--review --only`` can select.
REVIEW_FILTERS = ("slur", "off_topic", "delete", "clean", "disagreement", "model")


@click.command("label")
@click.argument("inputs", nargs=-1, required=False, type=click.Path())
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
@click.option(
    "--review",
    is_flag=True,
    help="Walk your past labels in the label file (INPUTS optional: the label file keeps each comment's text "
    "and context); a save appends a new label, notes included.",
)
@click.option(
    "--only",
    "only",
    type=click.Choice(REVIEW_FILTERS),
    default=None,
    help="With --review: only your labels with this label on, clean ones, those another annotator labeled "
    "differently, or those the model (--model, else the default) disagrees with.",
)
@click.option(
    "--web",
    is_flag=True,
    help="Serve the session as a local web page on 127.0.0.1 instead of the terminal: each moderator opens it "
    "with their own annotator name; same keys, same label file.",
)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="With --web: the port.")
@max_file_size_option
def label_cmd(
    inputs,
    labels_path,
    annotator,
    order,
    model_dir,
    refit_every,
    seed,
    hide_scores,
    input_format,
    encoding,
    review,
    only,
    web,
    port,
):
    """Label comments in the terminal, one keystroke each.

    INPUTS are anything `moderation extract` reads. Their comments are offered one at a
    time (not articles, titles, page furniture or deleted posts), with the thread title,
    the post each replies to and lexicon hits highlighted. With a model you also see its
    scores and spans. Keys: s/o/d toggle slur/off_topic/delete, Enter saves the toggled
    labels (none = clean), n saves as clean, x skips, u undoes the last label, ? shows
    help, q quits; space pages a long comment (all of it must be shown before saving), c shows
    the article and earlier posts, / writes a note. Every label is on disk before the next
    comment shows. Started again, the tool skips what ANNOTATOR has already labeled. See
    labels/GUIDELINES.md for what each label means.

    --review walks your past labels instead; --web serves the session as a page on 127.0.0.1.

    Example:

    \b
        moderation label seeds/ --labels labels/seed.jsonl --model models/default
    """
    from ..labeling.terminal import hold_keys, release_keys

    if not inputs and not review:
        raise click.UsageError("give the INPUTS to label (or --review to go over your labels)")
    if only and not review:
        raise click.UsageError("--only goes with --review")

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
    if review and not Path(labels_path).exists():
        raise click.ClickException(f"{labels_path}: no such file (nothing to review)")
    if not web and not os.isatty(sys.stdin.fileno()):
        raise click.ClickException(
            "moderation label is interactive and needs a terminal, but stdin is not a TTY "
            "(run it in a terminal, not in a pipe or a script; or use --web)"
        )
    held = None if web else hold_keys()  # keys typed while the inputs and the model load are kept
    try:
        _label(
            inputs,
            labels_path,
            annotator,
            order,
            model_dir,
            refit_every,
            seed,
            hide_scores,
            input_format,
            encoding,
            review,
            only,
            web,
            port,
            held,
        )
    finally:
        release_keys(held)


def _label(
    inputs,
    labels_path,
    annotator,
    order,
    model_dir,
    refit_every,
    seed,
    hide_scores,
    input_format,
    encoding,
    review,
    only,
    web,
    port,
    held,
):
    from ...io import extract
    from ..labeling.items import collect_items, items_from_events
    from ..labeling.session import Session
    from ..labeling.terminal import TerminalError, run_terminal

    notices: list[str] = []

    def note(message: str) -> None:
        notices.append(message)
        warn(message)

    try:
        events = read_label_files([labels_path], warn=note) if Path(labels_path).exists() else []
        records = list(extract(list(inputs), input_format=input_format, encoding=encoding, warn=note)) if inputs else []
    except (LabelFileError, ExtractError) as exc:
        raise click.ClickException(str(exc)) from None
    items = collect_items(records) if inputs else items_from_events(events)
    all_items = items
    if review and not web:
        items = _review_items(items, events, annotator, only, model_dir)
        if not items:
            raise click.ClickException(
                f"nothing to review: {annotator} has no labels in {labels_path}"
                + (f" matching --only {only}" if only else "")
                + (" for these inputs" if inputs else "")
            )
    if not items:
        raise click.ClickException(
            f"no comments to label in {', '.join(inputs)} (articles, titles and deleted posts are not offered)"
        )
    view = None
    if model_dir is not None or order == "uncertain":
        click.echo(f"scoring {len(items):,} comments with {model_dir or 'the default model'}…", err=True)
        view = _model_view(model_dir, items, order)

    def make_session(name: str) -> Session:
        try:  # each session reads the file as it is when it starts: others may be labeling into it
            now = read_label_files([labels_path]) if Path(labels_path).exists() else []
        except LabelFileError:
            now = events
        own, own_view, own_notices = items, view, notices
        if review and web:  # on the page each moderator reviews their own labels
            own = _review_items(all_items, now, name, only, model_dir)
            own_view = _model_view(model_dir, own, order) if own and view is not None else None
            if not own:
                own_notices = [*notices, f"nothing to review: {name} has no labels in {labels_path}"]
        return Session(
            own,
            labels_path,
            name,
            events=now,
            order=order,
            model=own_view,
            refit_every=refit_every,
            seed=seed,
            show_scores=not hide_scores,
            notices=own_notices,
            mode="review" if review else "label",
        )

    if web:
        _serve_web(make_session, port, model=None if review else view)  # reviews: a model view each
        return
    session = make_session(annotator)
    already = session.done_count
    if session.current is None:
        click.echo(
            f"nothing to label: all {len(items):,} comments in the input are already labeled by "
            f"{annotator} in {labels_path}"
        )
        return
    try:
        run_terminal(session, restore=held)
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


def _model_view(model_dir, items, order):
    from ...moderator import Moderator
    from ..labeling.model_view import ModelView

    try:
        return ModelView(Moderator.load(model_dir), items, keep_features=order == "uncertain")
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None


def _review_items(items, events, annotator, only, model_dir):
    """The items this annotator has a standing label for, filtered by ``--only``, in label order."""
    from ...labels.events import latest_by_annotator

    standing = latest_by_annotator(events)
    mine = {cid: e for (cid, ann), e in standing.items() if ann == annotator}
    order = {cid: n for n, cid in enumerate(mine)}
    picked = sorted((i for i in items if i.id in mine), key=lambda i: order[i.id])
    if only in ("slur", "off_topic", "delete"):
        picked = [i for i in picked if (mine[i.id].get("labels") or {}).get(only) == 1]
    elif only == "clean":
        picked = [i for i in picked if not any(v == 1 for v in (mine[i.id].get("labels") or {}).values())]
    elif only == "disagreement":
        others: dict[str, list[dict]] = {}
        for (cid, ann), e in standing.items():
            if ann != annotator:
                others.setdefault(cid, []).append(e)
        picked = [i for i in picked if any(o.get("labels") != mine[i.id].get("labels") for o in others.get(i.id, ()))]
    elif only == "model":
        from ...moderator import Moderator
        from ..labeling.model_view import ModelView

        try:
            model = ModelView(Moderator.load(model_dir), picked)
        except ModelError as exc:
            raise click.ClickException(str(exc)) from None
        picked = [
            i
            for n, i in enumerate(picked)
            if set(model.flagged[n]) != {k for k, v in (mine[i.id].get("labels") or {}).items() if v == 1}
        ]
    return picked


def _serve_web(make_session, port: int, model=None) -> None:
    from ..labeling.web import LabelingServer

    try:
        server = LabelingServer(make_session, port=port, model=model)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); try --port 0") from None
    click.echo(f"labeling page on {server.url} (open it, type your annotator name; Ctrl-C stops)", err=True)
    # Ctrl-C and SIGTERM stop the page even when the process was started with SIGINT ignored
    # (as a shell's background job is): Python then never raises KeyboardInterrupt by itself.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    for name, session in server.sessions.items():
        click.echo(f"{name}: labeled {session.saved_this_session} this session", err=True)
