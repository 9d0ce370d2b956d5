"""``moderation score --cluster``: the same scoring on a Dask cluster, into a directory of
partition files (:func:`moderation.cluster.score_to_directory`)."""

from __future__ import annotations

import sys

import click

from ...core import ACTIONS, ModerationError

#: Output formats with ``--cluster``.
CLUSTER_FORMATS = ("parquet", "jsonl")


def run_cluster(
    paths: tuple[str, ...],
    *,
    address: str,
    out: str | None,
    model_dir: str | None,
    input_format: str,
    encoding: str | None,
    fmt: str | None,
    partition_size: int | None,
    retries: int,
    only_flagged: bool,
    explain: bool,
    with_context: bool,
    fail_on: str | None,
) -> None:
    """Score ``paths`` on the cluster at ``address`` into the directory ``out``; counts on stderr.

    Exits 1 when ``fail_on`` is reached (as single-machine ``score`` does).
    """
    if not out:
        raise click.UsageError("--cluster needs --out DIR (one file per partition and a _SUCCESS summary)")
    fmt = fmt or "parquet"
    if fmt not in CLUSTER_FORMATS:
        raise click.UsageError(f"--format {fmt} with --cluster: choose one of {', '.join(CLUSTER_FORMATS)}")
    try:
        from ...cluster import DEFAULT_PARTITION_SIZE, ModelSpec, connect, require_dask, score_to_directory
        from ..report import Progress

        require_dask()
        spec = ModelSpec.resolve(model_dir)  # an unreadable model fails here, before a cluster starts
        with connect(address) as client, Progress(sys.stderr) as progress:
            result = score_to_directory(
                paths,
                out,
                client=client,
                model=spec,
                input_format=input_format,
                encoding=encoding,
                partition_size=partition_size or DEFAULT_PARTITION_SIZE,
                fmt=fmt,
                explain=explain,
                with_context=with_context,
                only_flagged=only_flagged,
                retries=retries,
                progress=progress.advance,
            )
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    counts = ", ".join(f"{result.actions[a]:,} {a}" for a in ACTIONS)
    click.echo(
        f"scored {result.rows:,} comments in {result.seconds:.2f} s "
        f"({result.rows / result.seconds if result.seconds > 0 else 0:,.0f} comments/s) on {result.workers} "
        f"worker{'s' if result.workers != 1 else ''}: {counts}; {len(result.files)} files in {out}",
        err=True,
    )
    worst = {action: rank for rank, action in enumerate(ACTIONS)}
    if fail_on and any(result.actions[a] for a in ACTIONS if worst[a] >= worst[fail_on]):
        sys.exit(1)
