"""The ``moderation`` command line: a thin layer over the library's functions."""
from __future__ import annotations

import contextlib
import os
import sys

import click

from . import __version__
from .extract import INPUT_FORMATS, ExtractError, extract
from .files import atomic_write, write_csv, write_jsonl

OUTPUT_FORMATS = ("jsonl", "csv", "table")


def warn(message: str) -> None:
    """One line on stderr for a record the command had to report (and kept or skipped)."""
    click.echo(f"warning: {message}", err=True)


def default_format(out: str | None) -> str:
    """``table`` on a terminal, ``jsonl`` into a pipe or a file."""
    return "table" if out is None and sys.stdout.isatty() else "jsonl"


@contextlib.contextmanager
def output_stream(out: str | None, newline: str | None = None):
    """Standard output, or a file written atomically (no half-written file on failure)."""
    if out is None or out == "-":
        yield sys.stdout
    else:
        try:
            with atomic_write(out, newline=newline) as fh:
                yield fh
        except OSError as exc:
            raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moderation")
def cli():
    """Comment moderation for web forums: extract posts from thread dumps, score them
    for slurs, off-topic posts and posts a moderator would delete.

    Example:

        moderation extract seeds/
    """


@cli.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), default="auto", show_default=True,
              help="How to read the inputs; auto picks from content and extension.")
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect UTF-8, CP932, EUC-JP).")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=None,
              help="Output format (default: table on a terminal, jsonl otherwise).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
def extract_cmd(paths, input_format, encoding, fmt, out):
    """Split thread dumps into one clean record per post.

    PATHS are files or directories (walked): scraped page text, 2ch/5ch .dat, saved
    HTML thread pages, or CSV/JSONL comments with a `text` column.

    Example:

        moderation extract seeds/000_4f4399744ce36bb6.txt --format jsonl --out posts.jsonl
    """
    fmt = fmt or default_format(out)
    records = extract(paths, input_format=input_format, encoding=encoding, warn=warn)
    try:
        if fmt == "table":
            from .report import print_records

            rows = list(records)
            with output_stream(out) as fh:
                print_records(rows, fh)
            return
        with output_stream(out, newline="" if fmt == "csv" else None) as fh:
            dicts = (r.to_dict() for r in records)
            if fmt == "jsonl":
                write_jsonl(dicts, fh)
            else:
                from .extract import FIELDS

                write_csv(dicts, fh, columns=list(FIELDS))
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None


def _model_errors():
    from .model import ModelError, TrainingError

    return (ModelError, TrainingError, ExtractError)


@cli.command("train")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--cv", default=4, show_default=True, type=click.IntRange(2, 20),
              help="Cross-validation folds for choosing C, calibration and thresholds.")
@click.option("--reject-precision", default=0.9, show_default=True, type=click.FloatRange(0.5, 1.0),
              help="Cross-validated precision a label's reject threshold must reach.")
def train_cmd(data, out, cv, reject_precision):
    """Train the classifier on labelled comments and write a model directory.

    DATA are label files from `moderation label` (labels/*.jsonl), directories of them, or
    CSV/JSONL tables with a `text` column and 0/1 columns `slur`, `off_topic`, `delete`
    (any subset; a blank cell is unknown). Optional `thread_title` / `thread_text` columns
    give thread context. Prints cross-validated metrics per label.

    Example:

        moderation train labels/ ../shared/data/ja-toxicity-inspection/subset.csv --out models/default
    """
    from .labels import load_training_data
    from .model import ModerationModel, check_output_dir, save_model
    from .report import print_metrics

    try:
        check_output_dir(out)  # before training, not after
        frame, summary = load_training_data(data, warn=warn)
        timer_start = _now()
        model = ModerationModel(cv=cv, reject_precision=reject_precision).fit(frame, frame)
        manifest = save_model(model, out, training=summary)
    except _model_errors() as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write the model ({exc.strerror or exc})") from None
    print_metrics(manifest["labels"], sys.stdout, title=f"cross-validated on {summary['rows']:,} comments "
                  f"({cv} folds), trained in {_now() - timer_start:.1f} s")
    click.echo(f"wrote {out} (version {manifest['version']})")


@cli.command("eval")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", default=None, type=click.Path(), help="Model directory (default: models/default).")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write precision-recall curves here (PNG).")
def eval_cmd(data, model_dir, plot):
    """Measure a model on labelled comments: ROC-AUC, average precision, and precision /
    recall / F1 at its hold and reject thresholds, per label.

    Example:

        moderation eval labels/ --model models/default --plot pr.png
    """
    from .labels import load_training_data
    from .model import LABELS, ranking_metrics, threshold_metrics
    from .report import print_metrics
    from .score import Moderator

    try:
        frame, summary = load_training_data(data, warn=warn)
        moderator = Moderator.load(model_dir)
    except _model_errors() as exc:
        raise click.ClickException(str(exc)) from None
    scored = moderator.score(frame[["text", "context"]])
    results, curves = {}, {}
    for label in LABELS:
        known = frame[label].notna().to_numpy()
        p = scored[label].to_numpy()[known]
        if label not in moderator.thresholds or not known.any():
            results[label] = {"trained": label in moderator.thresholds, "reason": "no labelled examples"
                              if not known.any() else "not in the model"}
            continue
        y = frame[label].to_numpy()[known].astype(int)
        th = moderator.thresholds[label]
        results[label] = {"trained": True, "hold": th["hold"], "reject": th["reject"], "metrics": {
            "n": int(len(y)), "positives": int(y.sum()), **ranking_metrics(y, p),
            "hold": threshold_metrics(y, p, th["hold"]), "reject": threshold_metrics(y, p, th["reject"])}}
        curves[label] = (y, p)
    print_metrics(results, sys.stdout, title=f"{summary['rows']:,} comments, model {moderator.info['version']}")
    if plot:
        from .report import plot_pr_curves

        try:
            plot_pr_curves(curves, plot)
        except ImportError:
            raise click.ClickException("--plot needs matplotlib: pip install 'moderation[plot]'") from None
        click.echo(f"wrote {plot}")


@cli.command("score")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", default=None, type=click.Path(), help="Model directory (default: models/default).")
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), default="auto", show_default=True)
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect).")
@click.option("--format", "fmt", type=click.Choice(("table", "csv", "jsonl")), default=None,
              help="Output format (default: table on a terminal, jsonl otherwise).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@click.option("--only-flagged", is_flag=True, help="Only comments whose action is hold or reject.")
@click.option("--explain", is_flag=True, help="Add the spans that raised each flagged label.")
@click.option("--fail-on", type=click.Choice(("hold", "reject")), default=None,
              help="Exit 1 when any comment reaches this action (for pipelines).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Worker processes scoring chunks (default: the cores available, at most 2).")
def score_cmd(paths, model_dir, input_format, encoding, fmt, out, only_flagged, explain, fail_on, jobs):
    """Score comments in thread dumps or comment files: slur, off_topic and delete
    probabilities, an action (allow / hold / reject) and the flagged labels.

    PATHS are anything `moderation extract` reads; thread context (title, article,
    earlier posts) reaches the model by itself. CSV/JSONL files are streamed.

    Example:

        moderation score seeds/ --only-flagged --explain
    """
    from .score import Moderator, score_records
    from .report import Progress, print_scored

    fmt = fmt or default_format(out)
    try:
        moderator = Moderator.load(model_dir)
    except _model_errors() as exc:
        raise click.ClickException(str(exc)) from None
    records = extract(paths, input_format=input_format, encoding=encoding, warn=warn)
    progress = Progress(sys.stderr)
    if jobs is None:
        jobs = min(2, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else 1
    rows_iter = score_records(moderator, records, explain=explain or fmt == "table", skipped=warn, jobs=jobs)
    worst = {"allow": 0, "hold": 1, "reject": 2}
    seen = {"max": 0, "n": 0}

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
            progress.done()
            with output_stream(out) as fh:
                print_scored(rows, fh, moderator.manifest)
        else:
            with output_stream(out, newline="" if fmt == "csv" else None) as fh:
                if fmt == "jsonl":
                    write_jsonl(tracked(), fh)
                else:
                    cols = ["id", "thread", "no", "kind", "text", "slur", "off_topic", "delete", "action", "labels"]
                    write_csv(tracked(), fh, columns=cols + (["reasons"] if explain else []))
            progress.done()
    except _model_errors() as exc:
        progress.done()
        raise click.ClickException(str(exc)) from None
    elapsed = progress.elapsed
    click.echo(f"scored {seen['n']:,} comments in {elapsed:.2f} s "
               f"({seen['n'] / elapsed if elapsed > 0 else 0:,.0f} comments/s)", err=True)
    if fail_on and seen["max"] >= worst[fail_on]:
        sys.exit(1)


def _now() -> float:
    import time

    return time.perf_counter()


def main(argv=None):
    """Entry point: click's handling, plus a one-line message instead of a traceback."""
    try:
        cli.main(args=argv, prog_name="moderation", standalone_mode=True)
    except (BrokenPipeError, SystemExit):
        raise
    except _model_errors() as exc:  # raised while a generator was being consumed
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line; MODERATION_DEBUG=1 shows the traceback
        if os.environ.get("MODERATION_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); "
                   "rerun with MODERATION_DEBUG=1 for details and report it", err=True)
        sys.exit(2)


from .serve import serve_cmd  # noqa: E402  (the pre-moderation hook)

cli.add_command(serve_cmd)

from .labeling import label_cmd, labels_group  # noqa: E402

cli.add_command(label_cmd)
cli.add_command(labels_group)
