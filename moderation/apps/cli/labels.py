"""``moderation labels stats`` and ``moderation labels export``: label files written by
``moderation label`` (:mod:`moderation.labels`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

import click

from ...core import LABELS, LabelFileError
from ...display import displayable
from ...io import INPUT_FORMATS
from ...labels.events import labels_text, read_label_files
from .common import max_file_size_option, refuse_output_over_input, warn


def print_stats(stats: dict, fh: IO[str], *, max_disagreements: int = 50) -> None:
    """The stats of :func:`moderation.labels.agreement.label_stats` as tables (rich).

    Parameters
    ----------
    stats : dict
    fh : text file
    max_disagreements : int
        Disagreements listed (the rest are counted).

    Examples
    --------
    >>> import io
    >>> from moderation.labels.agreement import label_stats
    >>> out = io.StringIO()
    >>> print_stats(label_stats([{"id": "a", "text": "x", "annotator": "m1", "labels": {"slur": 1}}]), out)
    >>> out.getvalue().splitlines()[0].strip()
    '1 comments labeled, 1 events'
    """
    from rich.table import Table
    from rich.text import Text

    from ..report import console_for

    console = console_for(fh)
    table = Table(
        title=Text(f"{stats['comments']:,} comments labeled, {stats['events']:,} events"), title_justify="left"
    )
    table.add_column("annotator")
    for col in ("comments", *LABELS):
        table.add_column(col, justify="right")
    for annotator, counts in stats["annotators"].items():
        table.add_row(Text(displayable(annotator, one_line=True)), *(f"{counts[c]:,}" for c in ("comments", *LABELS)))
    resolved = stats["resolved"]
    table.add_row(
        Text("resolved", style="bold"),
        "",
        *(f"{resolved[label]['positive']:,} / {resolved[label]['known']:,}" for label in LABELS),
    )
    console.print(table)
    agreement = Table(title=Text("agreement on comments labeled by two or more annotators"), title_justify="left")
    for col in ("label", "comments", "observed", "measure", "value"):
        agreement.add_column(col, justify="left" if col in ("label", "measure") else "right")
    for label, info in stats["agreement"].items():
        measure = {
            "cohen_kappa": "Cohen's kappa",
            "krippendorff_alpha": "Krippendorff's alpha (nominal)",
            None: "— (one annotator)",
        }[info["measure"]]
        observed = "—" if info["observed"] is None else f"{info['observed']:.3f}"
        value = info["value"]
        shown = (
            ("—" if info["measure"] is None else "undefined (no variation)" if info["items"] else "no overlap")
            if value is None
            else f"{value:.3f}"
        )
        agreement.add_row(label, str(info["items"]), observed, measure, shown)
    console.print(agreement)
    dis = stats["disagreements"]
    if not dis:
        console.print("no disagreements")
        return
    table = Table(title=Text(f"{len(dis)} disagreements"), title_justify="left", show_lines=False)
    for col, kw in (
        ("id", {"no_wrap": True}),
        ("differs on", {"no_wrap": True}),
        ("labels by annotator", {}),
        ("text", {"overflow": "fold"}),
    ):
        table.add_column(col, **kw)
    for d in dis[:max_disagreements]:
        by = "; ".join(f"{a}: {labels_text(labels)}" for a, labels in d["by"].items())
        text = d["text"][:80] + ("…" if len(d["text"]) > 80 else "")
        table.add_row(
            Text(displayable(d["id"], one_line=True)),
            ", ".join(d["labels"]),
            Text(displayable(by, one_line=True)),
            Text(displayable(text.replace("\n", " ⏎ "), one_line=True)),
        )
    console.print(table)
    if len(dis) > max_disagreements:
        console.print(f"… and {len(dis) - max_disagreements} more (use --format json for all)")


def _read(files: tuple[str, ...]) -> list[dict]:
    try:
        return read_label_files(files, warn=warn)
    except LabelFileError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("labels")
def labels_group():
    """Label files written by `moderation label`: agreement statistics, adjudication of
    disagreements, export to a training table, and labeling in other tools (queue a file for
    a spreadsheet or Label Studio, import what was labeled there).

    Example:

        moderation labels stats labels/seed.jsonl labels/other.jsonl
    """


@labels_group.command("stats")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)
@click.option(
    "--max-disagreements",
    default=50,
    show_default=True,
    type=click.IntRange(0, None),
    help="Disagreements listed in the table (json lists all).",
)
@max_file_size_option
def stats_cmd(files, fmt, max_disagreements):
    """Counts per label and annotator, and agreement between annotators.

    Agreement is measured per label on the comments that two or more annotators labeled
    (each annotator's latest label, undo applied). With two annotators it is Cohen's kappa,
    with more Krippendorff's alpha (nominal). The comments they disagree on are listed.
    Corrupt lines are reported with their line number and skipped.

    Example:

        moderation labels stats labels/seed.jsonl --format json
    """
    from ...labels.agreement import label_stats

    stats = label_stats(_read(files))
    if fmt == "json":
        click.echo(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print_stats(stats, sys.stdout, max_disagreements=max_disagreements)


@labels_group.command("export")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "jsonl")),
    default=None,
    help="Output format (default: from the --out extension, else jsonl).",
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@click.option(
    "--spreadsheet-safe/--exact",
    "for_spreadsheet",
    default=True,
    show_default=True,
    help="CSV: prefix cells that start like a formula (= + - @, tab, CR) with ' so a spreadsheet shows "
    "them as text (OWASP); --exact writes every text as it is, for pipelines. JSON Lines is always exact.",
)
@max_file_size_option
def export_cmd(files, fmt, out, for_spreadsheet):
    """One row per comment with its labels resolved, ready for `moderation train`.

    A comment's adjudication (`labels adjudicate`) counts first; else each annotator's latest
    label (undo applied), then the majority. A tie nobody adjudicated is left blank (unknown)
    and named in the unresolved column. The columns are id, thread, text, slur, off_topic,
    delete, annotators, thread_title, thread_text, source, adjudicated, unresolved and notes.
    A label nobody gave is blank (unknown).

    A CSV is made for spreadsheets by default: a comment that starts with =, +, -, @, a tab
    or a carriage return gets a leading ' so it cannot run as a formula. Use --exact (or
    JSON Lines) for a file that keeps every text byte for byte.

    Example:

        moderation labels export labels/ --out labels.csv
    """
    from ...labels.export import export_rows, write_export
    from .common import output_stream

    fmt = fmt or ("csv" if out and out.lower().endswith((".csv", ".tsv")) else "jsonl")
    refuse_output_over_input(out, files)
    rows = export_rows(_read(files))
    with output_stream(out, newline="" if fmt == "csv" else None) as fh:
        n = write_export(rows, fh, fmt, for_spreadsheet=for_spreadsheet)
    if out is not None and out != "-":
        click.echo(f"wrote {n:,} comments to {out}", err=True)
    if fmt == "csv" and for_spreadsheet:
        from ...io.files import FORMULA_LEADS

        changed = sum(isinstance(v, str) and v.startswith(FORMULA_LEADS) for row in rows for v in row.values())
        if changed:
            click.echo(
                f"note: {changed:,} cells start like a spreadsheet formula and were written with a leading ' "
                "(use --exact for a byte-exact CSV)",
                err=True,
            )


@labels_group.command("adjudicate")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--labels",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Label file the decisions are appended to (default: the first FILE).",
)
@click.option("--annotator", default=None, help="Your name (default: $MODERATION_ANNOTATOR, else your login name).")
@click.option("--all", "again", is_flag=True, help="Also the disagreements that were adjudicated already.")
@click.option("--web", is_flag=True, help="Serve it as a local web page on 127.0.0.1 instead of the terminal.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="With --web: the port.")
@max_file_size_option
def adjudicate_cmd(files, out, annotator, again, web, port):
    """Decide the comments annotators disagree on, one keystroke each.

    Each disagreement is shown with every annotator's labels and notes; toggle the final
    labels (s/o/d), write a note (/) and press Enter: the decision is appended as an
    adjudication event, which `labels export` and `train` take before any majority. u undoes
    the last decision. Same keys and screen as `moderation label`.

    Example:

        moderation labels adjudicate labels/team.jsonl
    """
    from ...labels.agreement import label_stats
    from ...labels.events import check_label_file
    from ..labeling.items import items_from_events
    from ..labeling.session import Session
    from ..labeling.terminal import TerminalError, hold_keys, release_keys, run_terminal
    from .label import _serve_web, default_annotator

    out = out or files[0]
    annotator = (annotator if annotator is not None else default_annotator()).strip()
    if not annotator or any(not ch.isprintable() for ch in annotator):
        raise click.ClickException("--annotator must be a non-empty printable name")
    try:
        check_label_file(out)
    except LabelFileError as exc:
        raise click.ClickException(str(exc)) from None
    if not web and not sys.stdin.isatty():
        raise click.ClickException("moderation labels adjudicate is interactive and needs a terminal (or --web)")

    def read_all() -> list[dict]:
        from pathlib import Path

        paths = list(files) + ([out] if out not in files and Path(out).exists() else [])
        return _read(tuple(paths))

    events = read_all()
    wanted = {d["id"] for d in label_stats(events)["disagreements"]}
    if not again:
        from ...labels.events import latest_adjudications

        wanted -= set(latest_adjudications(events))
    items = [i for i in items_from_events(events) if i.id in wanted]
    if not items:
        click.echo("no disagreements to adjudicate" + ("" if again else " (--all shows the decided ones too)"))
        return

    def make_session(name: str) -> Session:
        return Session(items, out, name, events=read_all(), mode="adjudicate")

    if web:
        _serve_web(make_session, port)
        return
    held = hold_keys()
    try:
        session = make_session(annotator)
        run_terminal(session, restore=held)
    except TerminalError as exc:
        raise click.ClickException(f"moderation labels adjudicate needs a terminal: {exc}") from None
    finally:
        release_keys(held)
    click.echo(f"decided {session.saved_this_session} of {len(items)} disagreements; {len(session.queue)} left")


@labels_group.command("queue")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The queue file to write ('-': stdout).")
@click.option(
    "--order",
    type=click.Choice(("sequential", "uncertain", "random")),
    default="sequential",
    show_default=True,
    help="As `moderation label --order`: input order, the model's least certain first, or shuffled.",
)
@click.option(
    "--model",
    "model_dir",
    default=None,
    type=click.Path(),
    help="Model directory for the score columns (--order uncertain uses the default model without it).",
)
@click.option("--limit", default=None, type=click.IntRange(1, None), help="Write the first N comments only.")
@click.option("--seed", default=None, type=int, help="Seed for --order random (the same as `label --seed`).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "jsonl", "json")),
    default=None,
    help="csv for a spreadsheet (default for .csv), json a list of Label Studio tasks (default for .json), "
    "jsonl exact (default otherwise).",
)
@click.option(
    "--labels",
    "labels_files",
    multiple=True,
    type=click.Path(),
    help="Leave out comments that already have a label in this label file (repeatable).",
)
@click.option(
    "--input-format",
    default="auto",
    show_default=True,
    type=click.Choice(INPUT_FORMATS),
    help="How to read the inputs (as `moderation extract`); auto picks from content and extension.",
)
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect).")
def queue_cmd(inputs, out, order, model_dir, limit, seed, fmt, labels_files, input_format, encoding):
    """Write the comments to label, in the order `moderation label` would offer them, for
    labeling in another tool (a spreadsheet, Label Studio); `labels import` reads the result.

    Each row has the comment, its thread title, the posts it replies to and the thread context
    (article and earlier posts), with --model the model's action, flags and scores, empty slur,
    off_topic, delete and note columns to fill in, and a check with which `labels import`
    proves the id and text came back unchanged. The CSV is made for spreadsheets: a UTF-8
    byte order mark, control and bidi characters as visible escapes (kept exact in the exact
    column) and formula-like cells prefixed with '. JSON (a list of Label Studio tasks, one per
    comment, to import into a Label Studio project) and JSON Lines are exact.

    Example:

    \b
        moderation labels queue dumps/ --model models/default --order uncertain --limit 500 --out queue.csv
    """
    from ...core import ExtractError, ModelError
    from ...io import extract
    from ...labels.events import latest_by_annotator
    from ..labeling.items import collect_items
    from ..labeling.queue import queue_rows, write_queue
    from .common import output_stream

    fmt = fmt or (
        "csv" if out.lower().endswith((".csv", ".tsv")) else "json" if out.lower().endswith(".json") else "jsonl"
    )
    for p in inputs:
        if not Path(p).exists():
            raise click.ClickException(f"{p}: no such file or directory")
    done = {cid for (cid, _ann) in latest_by_annotator(_read(labels_files))} if labels_files else set()
    try:
        items = collect_items(extract(list(inputs), input_format=input_format, encoding=encoding, warn=warn))
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None
    if not items:
        raise click.ClickException(f"no comments to label in {', '.join(inputs)}")
    view = None
    if model_dir is not None or order == "uncertain":
        from ...moderator import Moderator
        from ..labeling.model_view import ModelView

        click.echo(f"scoring {len(items):,} comments with {model_dir or 'the default model'}…", err=True)
        try:
            view = ModelView(Moderator.load(model_dir), items)
        except ModelError as exc:
            raise click.ClickException(str(exc)) from None
    rows = queue_rows(items, order=order, model=view, seed=seed, limit=limit, done_ids=done)
    with output_stream(out, newline="" if fmt == "csv" else None) as fh:
        if fmt == "csv" and out != "-":
            fh.write("\ufeff")  # a byte order mark: Excel then reads the UTF-8 (Japanese) text as UTF-8
        n = write_queue(rows, fh, fmt)
    left = f" ({len(done & {i.id for i in items}):,} already labeled left out)" if done else ""
    click.echo(f"wrote {n:,} of {len(items):,} comments to {out} in {order} order{left}", err=True)


@labels_group.command("import")
@click.argument("file", type=click.Path())
@click.option("--labels", "out", required=True, type=click.Path(dir_okay=False), help="Label file to append to.")
@click.option(
    "--annotator",
    default=None,
    help="Annotator of rows without an annotator column (default: $MODERATION_ANNOTATOR, else your login name); "
    "Label Studio annotations keep their completed_by.",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="COLUMN=LABEL",
    help="A column (or Label Studio choice) that holds a label, e.g. --map Toxic=slur; LABEL may be clean. "
    "Columns named slur, off_topic and delete need none. Repeatable.",
)
@click.option(
    "--blank",
    type=click.Choice(("0", "unknown")),
    default="0",
    show_default=True,
    help="What a blank label cell means in a row where another label cell is filled.",
)
@click.option("--encoding", default=None, help="Text encoding of a CSV (default: detect UTF-8 or CP932).")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would be imported; write nothing.")
def import_cmd(file, out, annotator, mapping, blank, encoding, dry_run):
    """Append the labels of a spreadsheet or a Label Studio export to a label file.

    FILE is a CSV/TSV or JSON Lines table (the `labels queue` file filled in: a row counts once
    one of its label cells holds 1/0, x, yes/no...; its blank label cells then mean 0), or a
    Label Studio JSON export read as it is (each annotation's choices name the labels, a
    textarea is the note). Bad rows are reported with their line and skipped; the good ones
    are appended as label events in one locked, fsynced write (all or nothing), as the
    labeling tool writes them. Labels already standing in the label file are not appended again.

    Example:

    \b
        moderation labels import filled.csv --labels labels/team.jsonl --annotator sato --map 関係ない=off_topic
    """
    from ...labels.events import append_events, check_label_file
    from ...labels.importer import import_file, parse_mapping
    from .label import default_annotator

    if not Path(file).exists():
        raise click.ClickException(f"{file}: no such file")
    annotator = (annotator if annotator is not None else default_annotator()).strip()
    if not annotator or any(not ch.isprintable() for ch in annotator):
        raise click.ClickException("--annotator must be a non-empty printable name")
    try:
        columns = parse_mapping(mapping)
        check_label_file(out)
        existing = _read((out,)) if Path(out).exists() else []
        result = import_file(
            file, annotator=annotator, mapping=columns, blank=blank, encoding=encoding, existing=existing
        )
    except (ValueError, LabelFileError) as exc:
        raise click.ClickException(str(exc)) from None
    for problem in result.problems:
        warn(problem + "; skipped")
    if result.events and not dry_run:
        try:
            append_events(out, result.events)  # one write under the lock, then fsync: all or nothing
        except OSError as exc:
            raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc}); nothing was imported") from None
    counts = [
        f"{'would import' if dry_run else 'imported'} {len(result.events):,} labels into {out}",
        f"{len(result.problems):,} bad rows skipped" if result.problems else "",
        f"{result.unlabeled:,} rows without a label" if result.unlabeled else "",
        f"{result.cancelled:,} cancelled annotations" if result.cancelled else "",
        f"{result.already:,} already in {out}" if result.already else "",
    ]
    click.echo("; ".join(c for c in counts if c), err=True)
    if result.problems and not result.events and not result.already:
        raise click.ClickException(f"nothing imported from {file}: every labeled row was bad")
