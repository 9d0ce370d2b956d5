"""The hook's HTTP application: routes, the token and body-limit middleware, error bodies.

:func:`create_app` builds the FastAPI application around a loaded
:class:`~moderation.moderator.Moderator` (whose :class:`~moderation.policy.Decider` holds the
forum's thresholds and block/watch terms). Every error answer, from a route, from validation
or from the middleware, is ``{"error": {"code", "message"}}`` with a one-line message.

Examples
--------
>>> from fastapi.testclient import TestClient
>>> from moderation.policy import PolicyConfig
>>> policy = PolicyConfig.model_validate({"terms": {"block": ["闇バイト"]}})
>>> client = TestClient(create_app(None, policy, "/tmp/feedback.jsonl", None))   # no model: degraded
>>> client.post("/v1/review", json={"text": "闇バイトあります"}).json()["action"]
'reject'
>>> client.post("/v1/review", json={"text": 5}).json()["error"]["code"]
'validation_error'
"""

# No "from __future__ import annotations": FastAPI reads the endpoint annotations at run time.
import asyncio
import codecs
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ... import __version__
from ...context import build_context
from ...core import LABELS, Decision
from ...display import displayable
from ...labels import append_events, label_event
from ...moderator import Moderator
from ...policy import Decider, PolicyConfig
from .batch import BatchScorer, BusyError, HelperDiedError, OverBudgetError, batch_seconds
from .batch import dumps as _dumps
from .guard import BODY_TIMEOUT
from .perspective import (
    AnalyzeRequest,
    PerspectiveError,
    SuggestRequest,
    analyze_response,
    check_attributes,
    context_text,
    detected_languages,
    google_error_bytes,
    is_perspective_path,
    suggested_labels,
)
from .schemas import (
    MAX_BATCH_ITEMS,
    BatchRequest,
    BatchResult,
    ErrorBody,
    FeedbackRequest,
    FeedbackResult,
    Health,
    ReviewItem,
    ReviewRequest,
    ReviewResult,
    Thread,
)

#: Bytes of one review or one feedback body.
MAX_BODY_BYTES = 64 * 1024
#: Bytes of a batch body: 1,000 comments of 4,000 characters are 12 MB of UTF-8, and up to
#: 24 MB when a client escapes every non-ASCII character (``\\u30c1``), as ``json.dumps`` does.
MAX_BATCH_BODY_BYTES = 32 * 1024 * 1024
#: Bytes of UTF-8 checked at a time (the check never holds the whole body decoded).
UTF8_CHECK_BYTES = 1 << 20
#: A review of a comment up to this long runs on the event loop (longer ones in a thread).
INLINE_TEXT_CHARS = 2_000

#: ``error.code`` of each status the hook answers with.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "unavailable",
}

log = logging.getLogger("moderation.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --------------------------------------------------------------------------- errors and middleware


def error_bytes(code: str, message: str) -> bytes:
    """The JSON error body ``{"error": {"code", "message"}}``.

    Examples
    --------
    >>> error_bytes("not_found", "no endpoint GET /x")
    b'{"error": {"code": "not_found", "message": "no endpoint GET /x"}}'
    """
    return json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode("utf-8")


def error_body(path: str, status: int, code: str, message: str) -> bytes:
    """The error body for ``path``: Google's shape on Perspective's paths, ours elsewhere.

    Examples
    --------
    >>> error_body("/v1/review", 413, "payload_too_large", "too big")
    b'{"error": {"code": "payload_too_large", "message": "too big"}}'
    >>> error_body("/v1alpha1/comments:analyze", 413, "payload_too_large", "too big")
    b'{"error": {"code": 413, "message": "too big", "status": "INVALID_ARGUMENT"}}'
    """
    if is_perspective_path(path):
        return google_error_bytes(status, message)
    return error_bytes(code, message)


async def _send_error(
    send: Send,
    scope: Scope,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    body = error_body(scope.get("path", ""), status, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerToken:
    """ASGI middleware: every request but ``GET /healthz`` needs ``Authorization: Bearer <token>``.

    Without it, or with another token, the answer is ``401`` with a ``WWW-Authenticate``
    header, before the body is read. The token is compared in constant time.

    On Perspective's paths (``/v1alpha1/...``) the token may also come as ``?key=<token>``,
    as Perspective's clients send their API key, and the refusals are Google's: no key is
    ``403 PERMISSION_DENIED``, a wrong ``key`` is ``400 INVALID_ARGUMENT`` ("API key not
    valid"), a wrong bearer token ``401 UNAUTHENTICATED``.

    Parameters
    ----------
    app : ASGI application
    token : str
    """

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        scheme, _, credential = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self.token):
            return await self.app(scope, receive, send)
        if is_perspective_path(scope["path"]):
            keys = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key", [])
            key = keys[-1].encode("utf-8") if keys else None
            if key is not None and hmac.compare_digest(key.strip(), self.token):
                return await self.app(scope, receive, send)
            if given:
                status, message = 401, "wrong bearer token; send ?key=<token> or 'Authorization: Bearer <token>'"
            elif key is not None:
                status, message = 400, "API key not valid. Please pass a valid API key."
            else:
                status, message = 403, "The request is missing a valid API key (?key=<token>)."
            return await _send_error(send, scope, status, "unauthorized", message)
        message = "missing bearer token" if not given else "wrong bearer token"
        await _send_error(
            send,
            scope,
            401,
            "unauthorized",
            f"{message}; send 'Authorization: Bearer <token>'",
            [(b"www-authenticate", b'Bearer realm="moderation"')],
        )


class BodyLimit:
    """ASGI middleware: reads the body up front and replays it to the application as JSON.

    Too large is ``413`` (before reading, when ``Content-Length`` says so), not UTF-8 is
    ``400``; the body is then passed on with ``Content-Type: application/json`` whatever the
    client sent (``curl -d`` sends a form type).

    Parameters
    ----------
    app : ASGI application
    limits : dict of str to int
        Bytes allowed per path.
    default : int
        Bytes allowed on every other path.
    timeout : float
        Seconds the whole body may take to arrive (then ``408``).
    fast : dict of str to callable, optional
        Per path, an answer to ``POST`` without FastAPI's routing, dependencies and parsing
        (a fifth of a millisecond per request): called with the body, it returns the JSON of a
        ``200``, or None to leave the request to the application (any body it cannot take, so
        every error is the application's own).
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: dict[str, int],
        default: int,
        timeout: float = BODY_TIMEOUT,
        fast: dict[str, Callable[[bytes], Awaitable[bytes | None]]] | None = None,
    ):
        self.app = app
        self.limits = limits
        self.default = default
        self.timeout = timeout
        self.fast = fast or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.default)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _send_error(send, scope, 400, "bad_request", "Content-Length is not a number")
                if declared > limit:
                    return await _send_error(
                        send,
                        scope,
                        413,
                        "payload_too_large",
                        f"the body is {declared:,} bytes; the limit here is {limit:,}",
                    )
        try:
            chunks = await self._read(receive, limit)
        except asyncio.TimeoutError:
            late = f"the body did not arrive within {self.timeout:g} s; send it at once"
            return await _send_error(send, scope, 408, "request_timeout", late, [(b"connection", b"close")])
        except _TooLargeError:
            return await _send_error(
                send, scope, 413, "payload_too_large", f"the body is over the limit of {limit:,} bytes here"
            )
        if chunks is None:  # the client went away
            return
        body = b"".join(chunks)
        del chunks
        bad = utf8_error_at(body)
        if bad is not None:
            return await _send_error(
                send,
                scope,
                400,
                "invalid_utf8",
                f"the body is not UTF-8 (byte {bad}); send JSON encoded as UTF-8",
            )
        fast = self.fast.get(scope["path"]) if scope["method"] == "POST" else None
        if fast is not None:
            answer = await fast(body)
            if answer is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))],
                    }
                )
                return await send({"type": "http.response.body", "body": answer})
        # Every body here is JSON, whatever the Content-Type says (curl -d sends a form type).
        headers = [(n, v) for n, v in scope["headers"] if n != b"content-type"]
        scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, limit: int) -> list[bytes] | None:
        """The body's pieces (None when the client disconnected), within ``timeout`` and ``limit``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        chunks, size = [], 0
        while True:
            if _timeout_at is not None:  # Python 3.11+: a timer, not a task per piece as wait_for makes
                async with _timeout_at(deadline):
                    message = await receive()
            else:  # pragma: no cover - Python 3.10
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks


def utf8_error_at(body: bytes) -> int | None:
    """The offset of the first byte of ``body`` that is not UTF-8, or None when it all is.

    Decoded :data:`UTF8_CHECK_BYTES` at a time and thrown away: a 30 MB body is not held
    decoded beside itself (ASCII, the common case, is not decoded at all).

    Examples
    --------
    >>> utf8_error_at("チョン".encode()) is None, utf8_error_at(b"ok \\x83\\x60")
    (True, 3)
    """
    if body.isascii():
        return None
    if len(body) <= UTF8_CHECK_BYTES:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    for start in range(0, len(body), UTF8_CHECK_BYTES):
        try:
            decoder.decode(view[start : start + UTF8_CHECK_BYTES], final=start + UTF8_CHECK_BYTES >= len(body))
        except UnicodeDecodeError:
            # Where exactly: decoded again from a little before this piece (a character is at most 4 bytes).
            begin = max(0, start - 4)
            while begin < start and (body[begin] & 0xC0) == 0x80:
                begin += 1
            try:  # the bad byte is in this piece, or one of the last three before it
                body[begin : start + UTF8_CHECK_BYTES].decode("utf-8")
            except UnicodeDecodeError as exc:
                return begin + exc.start
            return start  # not reached: the piece holds the error
    return None


class _TooLargeError(Exception):
    pass


_timeout_at = getattr(asyncio, "timeout_at", None)


class StoreError(Exception):
    """The feedback file could not be appended to (a full disk, say); nothing was stored."""


def validation_message(errors: Sequence[dict[str, Any]]) -> tuple[int, str, str]:
    """Status, code and one readable line for a request that failed validation.

    Examples
    --------
    >>> validation_message([{"type": "missing", "loc": ("body", "text"), "msg": "Field required"}])
    (422, 'validation_error', 'text: Field required')
    >>> validation_message([{"type": "missing", "loc": ("body",), "msg": "Field required"}])[1:]
    ('invalid_json', 'the body is empty; send a JSON object')
    """
    for err in errors:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            return 400, "invalid_json", f"the body is not valid JSON ({ctx.get('error', 'parse error')})"
        if err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",):
            return 400, "invalid_json", "the body is empty; send a JSON object"
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = len(errors) - 5
    return 422, "validation_error", "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


# --------------------------------------------------------------------------- the application

#: Where the published schema of ``POST /v1/review:batch``'s body is (see :func:`_publish_batch_schema`).
BATCH_SCHEMA = {"$ref": "#/components/schemas/BatchRequest"}


def _without_input(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # A validation error's "input" can be the whole body: not kept.
    return [{k: v for k, v in err.items() if k != "input"} for err in errors]


def parse_batch(raw: bytes) -> BatchRequest:
    """The body of ``POST /v1/review:batch``, parsed and validated in one pass from its bytes.

    pydantic-core reads the JSON straight into the models (about a fifth of the peak memory
    of ``json.loads`` and then validating the dict). A body it cannot read is read again the
    way FastAPI reads the other endpoints' bodies (the standard library's ``json``), so the
    errors are theirs: an empty body, the parser's message, a lone surrogate escape
    (``"\\ud800"``) refused as a validation error of its field.

    Raises
    ------
    RequestValidationError
        Answered as the other endpoints' validation errors (``400`` or ``422``).

    Examples
    --------
    >>> parse_batch(b'{"items": [{"text": "a"}], "explain": false}').explain
    False
    >>> validation_message(_errors_of(lambda: parse_batch(b"")))
    (400, 'invalid_json', 'the body is empty; send a JSON object')
    """
    try:
        return BatchRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    if any(err["type"] == "json_invalid" for err in errors):
        if not raw.strip():
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
        try:
            obj = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "ctx": {"error": message}}]
            ) from None
        try:
            return BatchRequest.model_validate(obj)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
    raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in _without_input(errors)])


def _errors_of(call: Callable[[], Any]) -> Sequence[Any]:
    """The errors of the :class:`RequestValidationError` ``call`` raises (for the examples)."""
    try:
        call()
    except RequestValidationError as exc:
        return exc.errors()
    return []


def _publish_batch_schema(app: FastAPI) -> None:
    """Add :class:`BatchRequest` (and the models it holds) to the application's OpenAPI
    components: its route reads the raw body (:func:`parse_batch`), so FastAPI does not see it."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default()
            batch = BatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, sub in batch.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components["BatchRequest"] = batch
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def review_context(thread: Thread | None, reply_to_text: str | None) -> str:
    """The context a comment of a batch is scored in: what :meth:`Moderator.review` builds.

    Examples
    --------
    >>> review_context(Thread(title="題", text="本文"), "親の投稿")
    '題\\n親の投稿\\n本文'
    """
    title = thread.title if thread is not None else None
    text = thread.text if thread is not None else None
    return build_context(title, text, reply_to=reply_to_text).text


def feedback_id(item: FeedbackRequest) -> str:
    """The label event id of a feedback: the forum's id, or one derived from thread id and text.

    Two moderators' decisions on one comment thus share an id (majority vote in training).

    Examples
    --------
    >>> feedback_id(FeedbackRequest(id=7, text="x", labels={"slur": 1}, annotator="m"))
    '7'
    >>> feedback_id(FeedbackRequest(text="x", labels={"slur": 1}, annotator="m"))
    'feedback-3c7e9bc930dc93f0'
    """
    if item.id is not None:
        return str(item.id)
    thread_id = str(item.thread.id) if item.thread is not None and item.thread.id is not None else ""
    return "feedback-" + hashlib.sha256(f"{thread_id}\x00{item.text}".encode()).hexdigest()[:16]


def create_app(
    moderator: Moderator | None,
    policy: PolicyConfig | None,
    feedback_path: str | os.PathLike[str],
    token: str | None,
    *,
    body_timeout: float = BODY_TIMEOUT,
    batch_helpers: int = 0,
    batch_budget: float | None = None,
) -> FastAPI:
    """The FastAPI application of the hook.

    Parameters
    ----------
    moderator : Moderator or None
        Built with the forum's policy (``Moderator.load(path, policy=policy)``): its decider
        applies the policy's thresholds and block/watch terms to every answer. None serves
        ``allow`` for everything but the policy's terms (``/healthz`` says ``degraded``).
    policy : PolicyConfig, optional
        The forum's policy (default: the moderator's, else none). Without a model, its block
        and watch terms still apply.
    feedback_path : path
        The label file ``POST /v1/feedback`` appends to.
    token : str, optional
        The bearer token every endpoint but ``/healthz`` requires.
    body_timeout : float
        Seconds a request may take to send its body (then ``408``).
    batch_helpers : int
        Helper processes that score batches once ``app.state.batch.start()`` forked them
        (see :class:`~moderation.apps.serve.batch.BatchScorer`); until then, and with 0, a
        thread of the serving process scores them.
    batch_budget : float, optional
        Seconds a batch may take (then ``413``); default :func:`~moderation.apps.serve.batch.batch_seconds`.

    Returns
    -------
    FastAPI
        ``app.state.batch`` is its :class:`~moderation.apps.serve.batch.BatchScorer` (None without a model).

    Raises
    ------
    ValueError
        ``moderator`` was built with another policy than ``policy`` (its terms would be lost).
    """
    if moderator is not None and policy is not None and (moderator.policy or PolicyConfig()) != policy:
        raise ValueError("the moderator was built with another policy; use Moderator.load(path, policy=policy)")
    if policy is None:
        policy = (moderator.policy if moderator is not None else None) or PolicyConfig()
    feedback_path = Path(feedback_path)
    budget = batch_seconds() if batch_budget is None else float(batch_budget)
    scorer = BatchScorer(moderator, helpers=batch_helpers, seconds=budget) if moderator is not None else None
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": STATUS_CODES[status].replace("_", " ")}
        for status in (400, 401, 413, 422, 500)
    }
    info = moderator.info if moderator is not None else None
    manifest = {k: v for k, v in moderator.manifest.items() if k != "path"} if moderator is not None else None
    # Without a model: the policy's terms alone decide (block rejects, watch holds).
    terms_only = Decider({}, block=policy.terms.block, watch=policy.terms.watch)

    def degraded(text: str) -> dict:
        decision = Decision("allow", {label: None for label in LABELS}, [], [], {"version": None, "sha256": None})
        return terms_only.apply_terms(decision, text).to_dict()

    app = FastAPI(
        title="moderation",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Pre-moderation hook: ask before publishing a post whether to allow, hold or "
        "reject it, with the spans that decided. Errors are "
        '`{"error": {"code", "message"}}`.',
    )

    def json_response(obj: Any, status: int = 200) -> Response:
        return Response(_dumps(obj), status_code=status, media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            message = f"no endpoint {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return Response(
            error_body(request.url.path, exc.status_code, code, message),
            status_code=exc.status_code,
            media_type="application/json",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        status, code, message = validation_message(exc.errors())
        if is_perspective_path(request.url.path):
            status = 400  # Google answers every malformed request with 400 INVALID_ARGUMENT
        return Response(
            error_body(request.url.path, status, code, message), status_code=status, media_type="application/json"
        )

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return Response(
            error_body(request.url.path, 503, "unavailable", str(exc)), status_code=503, media_type="application/json"
        )

    @app.exception_handler(OverBudgetError)
    async def over_budget(request: Request, exc: OverBudgetError) -> Response:
        return Response(
            error_body(request.url.path, 413, "payload_too_large", str(exc)),
            status_code=413,
            media_type="application/json",
        )

    @app.exception_handler(BusyError)
    async def busy(request: Request, exc: BusyError) -> Response:
        return Response(
            error_body(request.url.path, 503, "unavailable", str(exc)),
            status_code=503,
            media_type="application/json",
            headers={"retry-after": str(exc.retry_after)},
        )

    @app.exception_handler(HelperDiedError)
    async def helper_died(request: Request, exc: HelperDiedError) -> Response:
        log.error("%s", exc)
        return Response(
            error_body(request.url.path, 503, "unavailable", str(exc)), status_code=503, media_type="application/json"
        )

    @app.exception_handler(PerspectiveError)
    async def perspective_error(request: Request, exc: PerspectiveError) -> Response:
        return Response(
            google_error_bytes(exc.status, exc.message), status_code=exc.status, media_type="application/json"
        )

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # The path and the message can carry a client's bytes: quoted, so one log line is one entry.
        log.error(
            "internal error on %s %s: %s: %s",
            displayable(request.method, one_line=True),
            displayable(request.url.path, one_line=True),
            type(exc).__name__,
            displayable(exc, one_line=True),
        )
        return Response(
            error_body(request.url.path, 500, "internal_error", "internal error; the server log has the details"),
            status_code=500,
            media_type="application/json",
        )

    def review_one(item: ReviewItem, explain: bool, with_context: bool = False) -> dict:
        if moderator is None:
            return degraded(item.text)
        thread = item.thread.model_dump() if item.thread is not None else None
        decision = moderator.review(item.text, thread=thread, reply_to_text=item.reply_to_text, explain=explain)
        return decision.to_dict(context=with_context)

    @app.post(
        "/v1/review",
        response_model=None,
        responses={200: {"model": ReviewResult}, **errors},
        summary="Review one comment before it is published",
    )
    async def review(body: ReviewRequest) -> Response:
        # A short comment is scored on the event loop: a millisecond, less than handing it to a
        # thread and back (and only one of them can hold the GIL). A long one goes to a thread,
        # so the loop keeps answering /healthz and reading other requests meanwhile.
        if len(body.text) <= INLINE_TEXT_CHARS:
            return json_response(review_one(body, body.explain, body.return_context))
        return json_response(await run_in_threadpool(review_one, body, body.explain, body.return_context))

    async def fast_review(raw: bytes) -> bytes | None:
        """``POST /v1/review`` without FastAPI's layers: what :func:`review` answers, for a body
        that validates (in one pass from its bytes); None leaves any other body, and any error
        while scoring, to FastAPI's route, whose answers and logs every error follows."""
        try:
            body = ReviewRequest.model_validate_json(raw)
        except ValidationError:
            return None
        try:
            if len(body.text) <= INLINE_TEXT_CHARS:
                return _dumps(review_one(body, body.explain, body.return_context))
            return _dumps(await run_in_threadpool(review_one, body, body.explain, body.return_context))
        except Exception:  # answered (500) and logged once, by the route
            return None

    @app.post(
        "/v1/review:batch",
        response_model=None,
        responses={200: {"model": BatchResult}, **errors},
        summary=f"Review up to {MAX_BATCH_ITEMS:,} comments, answered in order",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}},
    )
    async def review_batch(request: Request) -> Response:
        # The body is parsed and validated in one pass by pydantic-core, straight from the bytes
        # (no dict of it, no decoded copy beside it), then scored in chunks by the batch scorer.
        body = parse_batch(await request.body())
        items = body.items
        if scorer is None or not items:
            return json_response({"results": [degraded(item.text) for item in items]})
        texts = [item.text for item in items]
        contexts = [review_context(item.thread, item.reply_to_text) for item in items]
        explain = body.explain
        del body, items
        return Response(await scorer.score(texts, contexts, explain=explain), media_type="application/json")

    def store(event: dict) -> None:
        """Append ``event`` durably, or answer 503 with nothing stored (a full disk leaves no partial line)."""
        try:
            append_events(feedback_path, [event])
        except OSError as exc:
            log.error("cannot append to the feedback file %s: %s", feedback_path, exc.strerror or exc)
            raise StoreError(
                f"cannot store the feedback ({exc.strerror or exc}); nothing was stored, try again"
            ) from None

    @app.post(
        "/v1/feedback",
        response_model=None,
        responses={200: {"model": FeedbackResult}, **errors},
        summary="Record a moderator's decision as a label (fsync before 200)",
    )
    def feedback(body: FeedbackRequest) -> Response:
        thread = body.thread
        event = label_event(
            feedback_id(body),
            body.text,
            dict(body.labels),
            annotator=body.annotator,
            thread=str(thread.id) if thread is not None and thread.id is not None else None,
            source="feedback",
            thread_title=thread.title if thread is not None else None,
            thread_text=thread.text if thread is not None else None,
        )
        store(event)
        return json_response({"id": event["id"], "at": event["at"], "stored": True})

    perspective_errors: dict[int | str, dict[str, Any]] = {
        status: {"description": f"Google's error shape: {{'error': {{'code': {status}, 'message', 'status'}}}}"}
        for status in (400, 401, 403, 413, 500, 503)
    }

    def perspective_review(text: str, context: str, explain: bool) -> tuple[Decision, bool]:
        if moderator is None:
            raise PerspectiveError(503, 'no model is loaded (on_missing_model = "allow"); no scores to give')
        decision = moderator.review(text, thread={"text": context} if context else None, explain=explain)
        return decision, bool(decision.context.strip())

    @app.post(
        "/v1alpha1/comments:analyze",
        response_model=None,
        responses=perspective_errors,
        summary="Perspective API AnalyzeComment: TOXICITY, SEVERE_TOXICITY, IDENTITY_ATTACK, OFF_TOPIC",
    )
    def perspective_analyze(body: AnalyzeRequest) -> Response:
        check_attributes(list(body.requested_attributes))
        context, _metadata = context_text(body.context)
        decision, has_context = perspective_review(body.comment.text, context, body.span_annotations)
        assert moderator is not None
        return json_response(analyze_response(body, decision, moderator.decider, has_context))

    @app.post(
        "/v1alpha1/comments:suggestscore",
        response_model=None,
        responses=perspective_errors,
        summary="Perspective API SuggestCommentScore: recorded as a label (fsync before 200)",
    )
    def perspective_suggest(body: SuggestRequest) -> Response:
        labels = suggested_labels(body.attribute_scores)
        context, metadata = context_text(body.context)
        text = body.comment.text
        event = label_event(
            "feedback-" + hashlib.sha256(f"\x00{text}".encode()).hexdigest()[:16],
            text,
            labels,
            annotator=body.community_id or "suggestscore",
            source="suggestscore",
            thread_text=context or None,
            client_token=body.client_token,
            session_id=body.session_id,
            community_id=body.community_id,
            context_metadata=metadata or None,
        )
        store(event)
        answer: dict[str, Any] = {"detectedLanguages": detected_languages(text)}
        if body.languages:
            answer["requestedLanguages"] = list(body.languages)
        if body.client_token is not None:
            answer["clientToken"] = body.client_token
        return json_response(answer)

    @app.get(
        "/healthz",
        response_model=None,
        responses={200: {"model": Health}},
        summary="Liveness; 'degraded' when serving without a model",
    )
    async def healthz() -> Response:  # on the event loop: it answers even while every worker thread is scoring
        return json_response({"status": "ok" if moderator is not None else "degraded", "model": info})

    @app.get(
        "/v1/model",
        response_model=None,
        responses={401: errors[401], 503: {"model": ErrorBody}},
        summary="The model's manifest (its sha256 is model.sha256 of every answer)",
    )
    async def model_manifest() -> Response:
        if manifest is None:
            return Response(
                error_bytes("unavailable", 'no model is loaded (on_missing_model = "allow")'),
                status_code=503,
                media_type="application/json",
            )
        return json_response(manifest)

    app.state.batch = scorer
    _publish_batch_schema(app)
    # Added last is outermost: the token, then the body limit, then FastAPI's own layers.
    app.add_middleware(
        BodyLimit,
        limits={"/v1/review:batch": MAX_BATCH_BODY_BYTES},
        default=MAX_BODY_BYTES,
        timeout=body_timeout,
        fast={"/v1/review": fast_review},
    )
    if token:
        app.add_middleware(BearerToken, token=token)
    return app
