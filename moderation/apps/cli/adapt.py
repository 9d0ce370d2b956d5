"""``moderation adapt``: a model fitted to one forum's own unlabeled dumps."""

from __future__ import annotations

import sys

import click

from ...core import ModerationError
from ...io import INPUT_FORMATS
from .common import max_file_size_option, refuse_output_over_input, warn
from .score import default_jobs


@click.command("adapt")
@click.argument("dumps", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", default=None, type=click.Path(), help="Model to adapt (default: models/default).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option(
    "--max-hold-rate",
    default=0.08,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of the forum's posts that may be held for a moderator.",
)
@click.option(
    "--max-reject-rate",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of the forum's posts that may be rejected (never below the labelled data's threshold).",
)
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), default="auto", show_default=True)
@click.option("--encoding", default=None, help="Text encoding of the dumps (default: detect).")
@max_file_size_option
def adapt_cmd(dumps, model_dir, out, max_hold_rate, max_reject_rate, input_format, encoding):
    """Fit a model to your forum from its own thread dumps, without labels.

    DUMPS are anything `moderation extract` reads (files or directories of threads).
    The term weights are refitted on your text, off_topic is re-learned from your
    threads (posts moved between them), and the thresholds are set so that on your
    traffic at most --max-hold-rate of posts are held and --max-reject-rate rejected.
    Two passes over the dumps, in flat memory.

    Example:

        moderation adapt dumps/ --out models/myforum --max-hold-rate 0.05 --max-reject-rate 0.01
    """
    from ...adapt import adapt
    from ..report import Progress

    refuse_output_over_input(out, dumps)  # the model being adapted: adapt() says so itself
    try:
        with Progress(sys.stderr, "reading") as progress:
            result = adapt(
                dumps,
                out=out,
                model=model_dir,
                max_hold_rate=max_hold_rate,
                max_reject_rate=max_reject_rate,
                input_format=input_format,
                encoding=encoding,
                warn=warn,
                progress=progress.advance,
                jobs=default_jobs(),
            )
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write the model ({exc.strerror or exc})") from None
    ot = result.off_topic
    click.echo(
        f"adapted on {result.comments:,} comments ({result.threads_sampled:,} threads sampled) "
        f"in {result.seconds:.1f} s"
    )
    if ot:
        click.echo(
            f"off_topic re-learned on {ot['pairs']:,} own/slipped-in pairs: ROC-AUC {ot['roc_auc']}, "
            f"hold {ot['hold']:.3f}"
        )
    click.echo(
        f"on this traffic: {result.rates['hold']:.1%} held, {result.rates['reject']:.1%} rejected "
        f"(asked: at most {max_hold_rate:.1%} and {max_reject_rate:.1%})"
    )
    click.echo(f"wrote {out} (version {result.manifest['version']})")
