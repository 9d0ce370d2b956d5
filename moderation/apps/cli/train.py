"""``moderation train`` and ``moderation eval``."""

from __future__ import annotations

import sys

import click

from ...core import ModerationError
from .common import max_file_size_option, refuse_output_over_input, warn


@click.command("train")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option(
    "--cv",
    default=4,
    show_default=True,
    type=click.IntRange(2, 20),
    help="Cross-validation folds for choosing C, calibration and thresholds.",
)
@click.option(
    "--reject-precision",
    default=0.9,
    show_default=True,
    type=click.FloatRange(0.5, 1.0),
    help="Cross-validated precision a label's reject threshold must reach.",
)
@click.option(
    "--unlabeled",
    multiple=True,
    type=click.Path(),
    help="A thread dump without labels (any format `extract` reads; repeat for more): its comments "
    "teach the term weights and its threads self-supervised off_topic.",
)
@max_file_size_option
def train_cmd(data, out, cv, reject_precision, unlabeled):
    """Train the classifier on labelled comments and write a model directory.

    DATA are label files from `moderation label` (labels/*.jsonl), directories of them, or
    CSV/JSONL tables with a `text` column and 0/1 columns `slur`, `off_topic`, `delete`
    (any subset; a blank cell is unknown). Optional `thread_title` / `thread_text` columns
    give thread context. Prints cross-validated metrics per label.

    --unlabeled dumps (your forum's threads, no labels needed) add off_topic examples made by
    slipping posts of one thread into another, and term weights fitted on your text.

    Example:

        moderation train labels/ --unlabeled dumps/ --out models/mine
    """
    from ...training import train
    from ..report import print_metrics

    refuse_output_over_input(out, [*data, *unlabeled])
    try:
        result = train(data, out, cv=cv, reject_precision=reject_precision, unlabeled=unlabeled, warn=warn)
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write the model ({exc.strerror or exc})") from None
    print_metrics(
        result.manifest["labels"],
        sys.stdout,
        title=f"cross-validated on {result.summary['rows']:,} comments ({cv} folds), trained in {result.seconds:.1f} s",
    )
    click.echo(f"wrote {out} (version {result.manifest['version']})")


@click.command("eval")
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option(
    "--model", "model_dir", default=None, type=click.Path(), help="Model directory (default: models/default)."
)
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write precision-recall curves here (PNG).")
@max_file_size_option
def eval_cmd(data, model_dir, plot):
    """Measure a model on labelled comments: ROC-AUC, average precision, and precision /
    recall / F1 at its hold and reject thresholds, per label.

    Example:

        moderation eval labels/ --model models/default --plot pr.png
    """
    from ...moderator import default_model_path
    from ...training import evaluate
    from ..report import print_metrics

    refuse_output_over_input(plot, [*data, model_dir or default_model_path()], option="--plot")
    try:
        result = evaluate(data, model_dir, warn=warn)
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    print_metrics(result.results, sys.stdout, title=f"{result.summary['rows']:,} comments, model {result.version}")
    if plot:
        from ..report import plot_pr_curves

        try:
            plot_pr_curves(result.curves, plot)
        except ImportError:
            raise click.ClickException("--plot needs matplotlib: pip install 'moderation[plot]'") from None
        except OSError as exc:
            raise click.ClickException(f"{plot}: cannot write the plot ({exc.strerror or exc})") from None
        click.echo(f"wrote {plot}")
