"""``moderation serve``: the pre-moderation hook over HTTP (see :mod:`moderation.apps.serve`)."""

from __future__ import annotations

import sys

import click

from ...core import ModerationError
from ..serve.server import DEFAULT_FEEDBACK
from .common import max_file_size_option


@click.command("serve")
@click.option(
    "--model",
    "model_dir",
    default=None,
    type=click.Path(),
    help="Model directory (default: $MODERATION_MODEL, else models/default).",
)
@click.option(
    "--config",
    "config",
    default=None,
    type=click.Path(),
    help="Policy TOML: threshold overrides, block/watch terms, on_missing_model.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port, printed at start).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes, forked after the model is loaded (they share its memory).",
)
@click.option(
    "--token-file",
    default=None,
    type=click.Path(),
    help="File holding a bearer token every endpoint but /healthz requires.",
)
@click.option(
    "--feedback",
    default=DEFAULT_FEEDBACK,
    show_default=True,
    type=click.Path(),
    help="Label file POST /v1/feedback appends to (train on it with 'moderation train').",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (method, path, status; never the text).",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds a client may take to send a request's headers; then the connection is closed.",
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds a client may take to send a request's body; then 408.",
)
@click.option(
    "--max-connections",
    default=4096,
    show_default=True,
    type=click.IntRange(16, 1_000_000),
    help="Open connections per worker; beyond it the longest-idle one is closed to make room.",
)
@click.option(
    "--expect-model",
    default=None,
    metavar="SHA256",
    help="Refuse to start unless the model's manifest has this sha256 (model.sha256 of every answer).",
)
@max_file_size_option
def serve_cmd(
    model_dir: str | None,
    config: str | None,
    host: str,
    port: int,
    workers: int,
    token_file: str | None,
    feedback: str,
    access_log: bool,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    expect_model: str | None,
) -> None:
    """Serve the pre-moderation hook over HTTP: a forum asks before publishing a post
    whether to allow, hold or reject it.

    Endpoints: POST /v1/review, POST /v1/review:batch, POST /v1/feedback, GET /healthz,
    GET /v1/model, GET /openapi.json. Bodies are JSON, at most 64 KiB (32 MiB for a batch);
    errors are {"error": {"code", "message"}}.

    Example:

        moderation serve --config policy.toml --token-file token.txt --port 8000
    """
    from ..serve.server import serve

    def announce(message: str) -> None:
        click.echo(message, err=True)

    try:
        status = serve(
            model_dir=model_dir,
            config=config,
            host=host,
            port=port,
            workers=workers,
            token_file=token_file,
            feedback=feedback,
            access_log=access_log,
            announce=announce,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            max_connections=max_connections,
            expect_model=expect_model,
        )
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(status)
