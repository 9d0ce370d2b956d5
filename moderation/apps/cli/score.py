"""``moderation score``: comments in thread dumps or comment files, scored and decided."""

from __future__ import annotations

import os
import sys

import click

from ...core import ACTIONS, ModerationError
from ...io import INPUT_FORMATS, extract
from ...io.files import write_csv, write_jsonl
from .common import default_format, max_file_size_option, output_stream, refuse_output_over_input, warn

SCORE_COLUMNS = ["id", "thread", "no", "kind", "text", "slur", "off_topic", "delete", "action", "labels"]


def default_jobs() -> int:
    """The cores this process may use, at most 2 (more rarely pays for the copies)."""
    return min(2, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else 1


@click.command("score")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--model", "model_dir", default=None, type=click.Path(), help="Model directory (default: models/default)."
)
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), default="auto", show_default=True)
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "csv", "jsonl", "parquet")),
    default=None,
    help="Output format (default: table on a terminal, jsonl otherwise; parquet with --cluster).",
)
@click.option(
    "--out", type=click.Path(), default=None, help="Write here instead of stdout (a directory with --cluster)."
)
@click.option(
    "--spreadsheet-safe",
    "for_spreadsheet",
    is_flag=True,
    help="With --format csv: prefix text cells that start like a formula (= + - @, tab, CR) with ' so a "
    "spreadsheet shows them as text (OWASP). Without it the CSV is exact, for pipelines.",
)
@click.option("--only-flagged", is_flag=True, help="Only comments whose action is hold or reject.")
@click.option("--explain", is_flag=True, help="Add the spans that raised each flagged label.")
@click.option("--with-context", is_flag=True, help="Add the thread context each comment was judged in (jsonl, csv).")
@click.option(
    "--fail-on",
    type=click.Choice(("hold", "reject")),
    default=None,
    help="Exit 1 when any comment reaches this action (for pipelines).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes scoring chunks (default: the cores available, at most 2).",
)
@click.option(
    "--cluster",
    "cluster_address",
    default=None,
    metavar="local[:N]|tcp://HOST:PORT",
    help="Score on a Dask cluster: N local worker processes, or an existing scheduler; "
    "writes one file per partition and _SUCCESS into --out DIR (pip install 'moderation[cluster]').",
)
@click.option(
    "--partition-size",
    type=click.IntRange(1),
    default=None,
    help="With --cluster: comments per partition (default 10,000; a thread dump is never split).",
)
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=2,
    show_default=True,
    help="With --cluster: tries of a failed partition.",
)
@max_file_size_option
def score_cmd(
    paths,
    model_dir,
    input_format,
    encoding,
    fmt,
    out,
    for_spreadsheet,
    only_flagged,
    explain,
    with_context,
    fail_on,
    jobs,
    cluster_address=None,
    partition_size=None,
    retries=2,
):
    """Score comments in thread dumps or comment files: slur, off_topic and delete
    probabilities, an action (allow / hold / reject) and the flagged labels.

    PATHS are anything `moderation extract` reads; thread context (title, article,
    earlier posts) reaches the model by itself. CSV/JSONL files are streamed.

    Example:

        moderation score seeds/ --only-flagged --explain
    """
    refuse_output_over_input(out, paths)
    if cluster_address:
        if jobs:
            raise click.UsageError("--jobs is for one machine; with --cluster the cluster's workers score")
        from .score_cluster import run_cluster

        return run_cluster(
            paths,
            address=cluster_address,
            out=out,
            model_dir=model_dir,
            input_format=input_format,
            encoding=encoding,
            fmt=fmt,
            partition_size=partition_size,
            retries=retries,
            only_flagged=only_flagged,
            explain=explain,
            with_context=with_context,
            fail_on=fail_on,
        )
    if partition_size:
        raise click.UsageError("--partition-size is for --cluster")
    from ...moderator import Moderator, score_records
    from ..report import Progress, print_scored

    fmt = fmt or default_format(out)
    if fmt == "parquet" and out in (None, "-"):
        raise click.UsageError("--format parquet needs --out FILE")
    try:
        moderator = Moderator.load(model_dir)
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    records = extract(paths, input_format=input_format, encoding=encoding, warn=warn)
    rows_iter = score_records(
        moderator,
        records,
        explain=explain or fmt == "table",
        skipped=warn,
        jobs=jobs or default_jobs(),
        with_context=with_context,
    )
    worst = {action: rank for rank, action in enumerate(ACTIONS)}
    seen = {"max": 0, "n": 0}

    with Progress(sys.stderr) as progress:

        def tracked():
            for row in rows_iter:
                seen["n"] += 1
                seen["max"] = max(seen["max"], worst[row["action"]])
                progress.advance(seen["n"])
                if only_flagged and row["action"] == "allow":
                    continue
                yield row

        try:
            if fmt == "table":
                rows = list(tracked())
                progress.stop()
                with output_stream(out) as fh:
                    print_scored(rows, fh, moderator.manifest)
            elif fmt == "parquet":
                from ...io.parquet import write_parquet

                extra = (["reasons"] if explain else []) + (["context"] if with_context else [])
                try:
                    write_parquet(tracked(), out, columns=SCORE_COLUMNS + extra)
                except OSError as exc:
                    raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None
            else:
                with output_stream(out, newline="" if fmt == "csv" else None) as fh:
                    if fmt == "jsonl":
                        write_jsonl(tracked(), fh)
                    else:
                        extra = (["reasons"] if explain else []) + (["context"] if with_context else [])
                        write_csv(tracked(), fh, columns=SCORE_COLUMNS + extra, for_spreadsheet=for_spreadsheet)
        except ModerationError as exc:
            raise click.ClickException(str(exc)) from None
    elapsed = progress.elapsed
    click.echo(
        f"scored {seen['n']:,} comments in {elapsed:.2f} s "
        f"({seen['n'] / elapsed if elapsed > 0 else 0:,.0f} comments/s)",
        err=True,
    )
    if fail_on and seen["max"] >= worst[fail_on]:
        sys.exit(1)
