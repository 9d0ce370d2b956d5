"""Starting the hook: the checks before it listens, and :func:`serve`, the entry point.

Everything the server reads comes from here, once, before it listens: the policy file
(:func:`moderation.policy.load_policy`), the token file (:func:`read_token`), the feedback
file's place (:func:`check_feedback_path`) and the model (:func:`load_moderator`). A problem
with any of them is a :class:`~moderation.core.PolicyError` whose message is one line naming
the file, and the server does not start.

This module imports nothing heavy, so the command line can read :data:`DEFAULT_FEEDBACK`
cheaply.

Examples
--------
>>> read_token(None) is None
True
>>> check_feedback_path("/tmp/feedback.jsonl").name
'feedback.jsonl'
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import ModelError, PolicyError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ...moderator import Moderator
    from ...policy import PolicyConfig

#: The label file ``POST /v1/feedback`` appends to unless ``--feedback`` says otherwise.
DEFAULT_FEEDBACK = "labels/feedback.jsonl"

Announce = Callable[[str], None]


def read_token(path: str | os.PathLike[str] | None) -> str | None:
    """The bearer token in a file (surrounding blanks stripped); None without a file.

    Raises
    ------
    PolicyError
        The file cannot be read, or does not hold exactly one printable token.
    """
    if path is None:
        return None
    from ...io.inputs import read_input

    try:
        token = read_input(path, error=PolicyError, what="the token file").decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: cannot read the token file (not UTF-8 text)") from None
    if not token or any(c.isspace() for c in token) or not token.isprintable():
        raise PolicyError(f"{path}: the token file must hold one token (printable, no blanks inside)")
    return token


def check_feedback_path(path: str | os.PathLike[str]) -> Path:
    """An absolute feedback path the server will be able to append to (nothing is created yet).

    Raises
    ------
    PolicyError
        The path is a directory, an unwritable file, or in a directory that cannot be written.
    """
    path = Path(path).absolute()
    if path.is_dir():
        raise PolicyError(f"{path}: the feedback file is a directory")
    if path.exists():
        if path.is_fifo() or path.is_socket():  # an append would block, or go nowhere
            raise PolicyError(f"{path}: the feedback file is a FIFO or a socket, not a regular file")
        if not os.access(path, os.W_OK):
            raise PolicyError(f"{path}: the feedback file is not writable")
        return path
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise PolicyError(f"{path}: cannot create the feedback file ({parent} is not a writable directory)")
    return path


def load_moderator(
    model_dir: str | os.PathLike[str] | None, policy: PolicyConfig
) -> tuple[Moderator | None, str | None]:
    """The moderator with the policy's thresholds and terms, and ``None``; or ``(None, reason)``
    when the model cannot be loaded and the policy allows serving without one.

    Parameters
    ----------
    model_dir : path, optional
        The model directory (default: :func:`moderation.moderator.default_model_path`).
    policy : PolicyConfig

    Raises
    ------
    PolicyError
        The model cannot be loaded and ``on_missing_model`` is ``refuse``, or the policy's
        thresholds do not fit the model's.
    """
    from ...moderator import Moderator

    try:
        return Moderator.load(model_dir, policy=policy), None
    except ModelError as exc:
        if policy.on_missing_model == "allow":
            return None, str(exc)
        raise PolicyError(
            f"{exc} (to serve 'allow' without a model, set on_missing_model = \"allow\" in the --config file)"
        ) from None


def build(
    *,
    model_dir: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    token_file: str | os.PathLike[str] | None = None,
    feedback: str | os.PathLike[str] | None = None,
    announce: Announce | None = None,
    body_timeout: float | None = None,
    expect_model: str | None = None,
    batch_helpers: int | None = None,
) -> tuple[FastAPI, Moderator | None, Path]:
    """The application from the command line's settings, every file checked first.

    Parameters
    ----------
    model_dir, config, token_file : path, optional
        The model directory, the policy TOML and the bearer token file.
    feedback : path, optional
        The label file feedback is appended to (default: :data:`DEFAULT_FEEDBACK`).
    announce : callable, optional
        Receives the warning when the server will run without a model.
    batch_helpers : int, optional
        Helper processes per serving process for batches, forked by :func:`serve` (default:
        :func:`~moderation.apps.serve.batch.batch_helpers`; see :class:`~moderation.apps.serve.batch.BatchScorer`).

    Returns
    -------
    app : FastAPI
    moderator : Moderator or None
        None when serving without a model.
    feedback_path : Path
        Absolute.

    Raises
    ------
    PolicyError
        One line naming the file that is wrong.
    """
    from ...policy import load_policy
    from .app import create_app
    from .batch import batch_helpers as default_helpers
    from .batch import batch_seconds

    policy = load_policy(config)
    token = read_token(token_file)
    feedback_path = check_feedback_path(feedback or DEFAULT_FEEDBACK)
    moderator, missing = load_moderator(model_dir, policy)
    if expect_model is not None:
        digest = moderator.info["sha256"] if moderator is not None else None
        if digest != expect_model.strip().lower():
            raise PolicyError(
                f"the model's manifest sha256 is {digest or 'unknown (no model loaded)'}, not the {expect_model} "
                "given with --expect-model; refusing to serve it"
            )
    if moderator is not None:
        # First use builds lazy state (the sentencepiece processor): do it before any thread does.
        moderator.review("テスト", thread={"title": "テスト"}, explain=True)
    elif announce:
        announce(f"warning: serving without a model, every answer is 'allow': {missing}")
    try:
        budget = batch_seconds()
        helpers = default_helpers() if batch_helpers is None else batch_helpers
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    app = create_app(
        moderator,
        policy,
        feedback_path,
        token,
        batch_helpers=helpers,
        batch_budget=budget,
        **({} if body_timeout is None else {"body_timeout": body_timeout}),
    )
    return app, moderator, feedback_path


class RedactKey(logging.Filter):
    """Logging filter: the ``key=`` query parameter (a Perspective client's token) of an
    access-log line is written as ``key=[redacted]``, so ``--access-log`` never logs a token.

    Examples
    --------
    >>> record = logging.LogRecord("uvicorn.access", 20, "", 0, "%s %s", ("POST", "/v1alpha1/c?a=1&key=s3cret"), None)
    >>> RedactKey().filter(record), record.args
    (True, ('POST', '/v1alpha1/c?a=1&key=[redacted]'))
    """

    _KEY = re.compile(r"([?&]key=)[^&#\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._KEY.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args)
        return True


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(
    *,
    model_dir: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    token_file: str | os.PathLike[str] | None = None,
    feedback: str | os.PathLike[str] = DEFAULT_FEEDBACK,
    access_log: bool = False,
    announce: Announce = _stderr,
    header_timeout: float | None = None,
    body_timeout: float | None = None,
    max_connections: int | None = None,
    expect_model: str | None = None,
) -> int:
    """Serve the hook until SIGTERM or SIGINT: what ``moderation serve`` runs.

    The model is loaded and every file checked before the socket is bound; then one line
    says where it listens, and ``workers`` processes (forked after the model is loaded, so
    they share its memory) serve requests.

    Parameters
    ----------
    model_dir, config, token_file, feedback : path, optional
        See :func:`build`.
    host : str
    port : int
        0 picks a free port (the line printed at start says which).
    workers : int
        Worker processes; with 1, this process serves.
    access_log : bool
        Log every request (method, path, status; never the text).
    header_timeout, body_timeout : float, optional
        Seconds a request may take to send its headers, and its body (default:
        :data:`~moderation.apps.serve.guard.HEADER_TIMEOUT`, :data:`~moderation.apps.serve.guard.BODY_TIMEOUT`).
    expect_model : str, optional
        The sha256 the model's manifest must have (``model.sha256`` of every answer).
    max_connections : int, optional
        Open connections per worker (default :data:`~moderation.apps.serve.guard.MAX_CONNECTIONS`);
        the soft limit on open files is raised to fit.
    announce : callable
        Receives the lines for the operator (default: standard error).

    Returns
    -------
    int
        The exit status: 0 after a clean stop, 1 when the server could not run.

    Raises
    ------
    PolicyError
        Before listening: a file, the model or the address cannot be used (one line).
    """
    import gc
    import signal

    import uvicorn

    from . import guard
    from .workers import bind, run_workers

    header_timeout = guard.HEADER_TIMEOUT if header_timeout is None else header_timeout
    body_timeout = guard.BODY_TIMEOUT if body_timeout is None else body_timeout
    max_connections = guard.MAX_CONNECTIONS if max_connections is None else max_connections
    fds = guard.raise_fd_limit(max_connections + guard.SPARE_FDS)
    if fds < max_connections + guard.SPARE_FDS:
        max_connections = max(16, fds - guard.SPARE_FDS)
        announce(f"warning: {fds} open files allowed (ulimit -n): at most {max_connections} connections per worker")
    app, moderator, feedback_path = build(
        model_dir=model_dir,
        config=config,
        token_file=token_file,
        feedback=Path(feedback).absolute(),
        announce=announce,
        body_timeout=body_timeout,
        expect_model=expect_model,
    )
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    model = f"model {moderator.info['version']}" if moderator is not None else "NO MODEL (allowing everything)"
    announce(
        f"moderation serve: listening on http://{shown}:{bound_port} ({model}; "
        f"{'token required' if token_file else 'no token'}; feedback to {feedback_path}; "
        f"{workers} worker{'s' if workers > 1 else ''})"
    )
    if not token_file and not _is_loopback(bound_host):
        announce(
            f"warning: listening on {shown} without --token-file: anyone who can reach this port can use the hook "
            "and write to the feedback file"
        )
    uvicorn_config = uvicorn.Config(
        app,
        http=guard.guarded_protocol(header_timeout=header_timeout, max_connections=max_connections),
        timeout_keep_alive=guard.KEEP_ALIVE_TIMEOUT,
        lifespan="off",
        log_level="warning",
        access_log=access_log,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    for name in ("asyncio", "uvicorn.error", "moderation.serve"):  # a failing accept loop cannot flood the log
        logging.getLogger(name).addFilter(guard.RateLimit())
    access = logging.getLogger("uvicorn.access")
    access.addFilter(RedactKey())
    if access_log:  # log_level="warning" set this logger to WARNING too, and its lines are INFO
        access.setLevel(logging.INFO)
    scorer = app.state.batch

    def before_serving() -> None:
        # In the serving process, before its event loop and threads exist: fork the batch
        # helpers, then freeze what is loaded, so that no garbage collection ever walks the
        # model (a full collection of it took 0.7 s: a request's p99) or writes to its pages.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:  # a SIGTERM meanwhile is handled once this is done, not in the middle of a fork
            if scorer is not None:
                scorer.start(close_fds=[sock.fileno()])
            gc.collect()
            gc.freeze()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    if workers == 1:
        before_serving()
        server = uvicorn.Server(uvicorn_config)
        server.run(sockets=[sock])
        return 0 if server.started else 1
    gc.collect()
    gc.freeze()  # the workers share the master's pages: their collectors do not write to them
    return run_workers(uvicorn_config, sock, workers, announce, before_serving=before_serving)
