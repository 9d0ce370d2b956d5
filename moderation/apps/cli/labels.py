"""``moderation labels stats`` and ``moderation labels export``: label files written by
``moderation label`` (:mod:`moderation.labels`)."""

from __future__ import annotations

import json
import sys
from typing import IO

import click

from ...core import LABELS, LabelFileError
from ...display import displayable
from ...labels.events import labels_text, read_label_files
from .common import warn


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
    disagreements, and export to a training table.

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
