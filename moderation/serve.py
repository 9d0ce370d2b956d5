"""The pre-moderation hook: an HTTP service a forum calls before it publishes a post.

``moderation serve`` answers, in milliseconds and on the forum's own machine, whether to
publish a post (``allow``), hold it for a moderator (``hold``) or refuse it (``reject``),
with the spans that led to the decision:

- ``POST /v1/review``: one comment in its thread, scored by :meth:`Moderator.review`.
- ``POST /v1/review:batch``: up to :data:`MAX_BATCH_ITEMS` comments in one vectorised pass
  (:meth:`Moderator.decide`), answered in order.
- ``POST /v1/feedback``: a moderator's decision, appended durably (fsync before the 200)
  to a label file in the labeling tool's format, so the next ``moderation train`` learns it.
- ``GET /healthz``, ``GET /v1/model`` (the model's manifest) and ``GET /openapi.json``.

A forum's policy lives in a TOML file (:func:`load_policy`): per-label thresholds that
override the model's, ``block`` terms (reject) and ``watch`` terms (hold) matched on the
normalised, obfuscation-folded text the way the lexicon is, and what to do when the model
is missing. No endpoint reads a file or loads a model from a path a client sends: every path
comes from the command line, before the server starts.

Examples
--------
>>> from moderation.score import Moderator
>>> from fastapi.testclient import TestClient                       # doctest: +SKIP
>>> app = create_app(Moderator.load(), Policy(), "labels/feedback.jsonl", None)
>>> TestClient(app).post("/v1/review", json={"text": "いい試合だった"}).json()["action"]  # doctest: +SKIP
'allow'
"""
# No "from __future__ import annotations": FastAPI reads the endpoint annotations at run time.
import hashlib
import hmac
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import click

from .lexicon import Entry, Lexicon
from .text import WILDCARD, fold, normalize

MAX_BODY_BYTES = 64 * 1024            # one review or one feedback
MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024  # a batch: up to 1,000 comments need more than 64 KiB
MAX_TEXT_CHARS = 10_000
MAX_BATCH_ITEMS = 1_000
MAX_NAME_CHARS = 200                  # ids, authors, annotators
DEFAULT_FEEDBACK = "labels/feedback.jsonl"
MISSING_MODEL_CHOICES = ("refuse", "allow")

log = logging.getLogger("moderation.serve")


class ServeError(Exception):
    """A configuration the server cannot start with; the message is one line naming the file."""


# --------------------------------------------------------------------------- policy

class _TermMatcher(Lexicon):
    """A forum's own terms, matched exactly like the lexicon: CJK spellings on the folded
    view (separators inside a word dropped, masks as wildcards), Latin ones on word
    boundaries of the normalised text, spans mapped back to the original text."""

    def __init__(self, terms: list[str], kind: str):
        entries = [Entry(t, t, "policy", "ja", kind, 1.0) for t in terms]
        super().__init__(entries, (), version="policy")


@dataclass
class Policy:
    """A forum's policy: threshold overrides, block and watch terms, missing-model behaviour.

    Parameters
    ----------
    thresholds : dict
        ``{label: {"hold": p, "reject": p}}``; either key may be left out (the model's is kept).
    block, watch : list of str
        Terms that make a comment ``reject`` / ``hold`` whatever the model says.
    on_missing_model : {'refuse', 'allow'}
        ``refuse``: the server does not start without a usable model. ``allow``: it starts,
        answers ``allow`` (block and watch terms still apply) and ``/healthz`` says ``degraded``.
    """

    thresholds: dict = field(default_factory=dict)
    block: list = field(default_factory=list)
    watch: list = field(default_factory=list)
    on_missing_model: str = "refuse"
    source: Optional[str] = None

    def __post_init__(self):
        where = self.source or "the policy"
        self.block = _check_terms(list(self.block), f"{where}: [terms] block")
        self.watch = _check_terms(list(self.watch), f"{where}: [terms] watch")
        self._block = _TermMatcher(self.block, "block") if self.block else None
        self._watch = _TermMatcher(self.watch, "watch") if self.watch else None

    def reasons(self, text: str) -> list[dict]:
        """Block, then watch, term hits in ``text`` as reasons (spans in the original text)."""
        out = []
        for label, matcher in (("block", self._block), ("watch", self._watch)):
            if matcher is None:
                continue
            for hit in matcher.find(text):
                a, b = hit.span
                out.append({"label": label, "span": [a, b], "excerpt": text[a:b], "weight": 1.0,
                            "source": "policy"})
        return out

    def apply(self, result: dict, text: str) -> dict:
        """``result`` (a decision as a dict) with the term hits added to its reasons and action."""
        reasons = self.reasons(text)
        if not reasons:
            return result
        action = result["action"]
        if any(r["label"] == "block" for r in reasons):
            action = "reject"
        elif action == "allow":
            action = "hold"
        return {**result, "action": action, "reasons": reasons + result["reasons"]}

    def effective_thresholds(self, model_thresholds: dict) -> dict:
        """The model's thresholds with this policy's overrides, checked (hold ≤ reject)."""
        where = self.source or "the policy"
        out = {}
        for label in set(model_thresholds) | set(self.thresholds):
            merged = {**model_thresholds.get(label, {}), **self.thresholds.get(label, {})}
            if "hold" not in merged or "reject" not in merged:
                raise ServeError(f"{where}: [thresholds.{label}]: the model has no '{label}' classifier to take "
                                 "the missing threshold from; give both hold and reject")
            if merged["hold"] > merged["reject"]:
                raise ServeError(f"{where}: [thresholds.{label}]: hold ({merged['hold']}) is above reject "
                                 f"({merged['reject']}) once the model's thresholds are filled in")
            out[label] = merged
        return out


def _check_terms(terms, where: str) -> list[str]:
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise ServeError(f"{where}: must be a list of strings")
    out = []
    for term in terms:
        norm = normalize(term).text.strip()
        folded = fold(term, kana=False).text.replace(WILDCARD, "")
        if not norm or not folded:
            raise ServeError(f"{where}: term {term!r} is empty once normalised (only blanks, separators or masks)")
        out.append(term)
    return out


def _threshold_value(value, where: str) -> float:
    if value == "never":
        return float("inf")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ServeError(f"{where}: must be a number from 0 to 1 (or \"never\"), not {value!r}")
    return float(value)


def parse_policy(data: dict, source: str = "the policy") -> Policy:
    """A :class:`Policy` from parsed TOML, every key checked (a typo is an error, not a no-op)."""
    from .model import LABELS

    known = {"on_missing_model", "thresholds", "terms"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ServeError(f"{source}: unknown key(s) {', '.join(unknown)}; "
                         f"the keys are {', '.join(sorted(known))}")
    on_missing = data.get("on_missing_model", "refuse")
    if on_missing not in MISSING_MODEL_CHOICES:
        raise ServeError(f"{source}: on_missing_model must be \"refuse\" or \"allow\", not {on_missing!r}")
    thresholds = {}
    table = data.get("thresholds", {})
    if not isinstance(table, dict):
        raise ServeError(f"{source}: thresholds must be a table of [thresholds.<label>] tables")
    for label, values in table.items():
        where = f"{source}: [thresholds.{label}]"
        if label not in LABELS:
            raise ServeError(f"{where}: unknown label; the labels are {', '.join(LABELS)}")
        if not isinstance(values, dict) or not values or set(values) - {"hold", "reject"}:
            raise ServeError(f"{where}: give hold and/or reject, nothing else")
        thresholds[label] = {k: _threshold_value(v, f"{where} {k}") for k, v in values.items()}
        if "hold" in values and "reject" in values and thresholds[label]["hold"] > thresholds[label]["reject"]:
            raise ServeError(f"{where}: hold ({values['hold']}) is above reject ({values['reject']})")
    terms = data.get("terms", {})
    if not isinstance(terms, dict) or set(terms) - {"block", "watch"}:
        raise ServeError(f"{source}: [terms] takes block = [...] and watch = [...], nothing else")
    block = _check_terms(terms.get("block", []), f"{source}: [terms] block")
    watch = _check_terms(terms.get("watch", []), f"{source}: [terms] watch")
    return Policy(thresholds, block, watch, on_missing, source)


def load_policy(path: str | os.PathLike | None) -> Policy:
    """The policy in a TOML file (the default policy when ``path`` is None).

    Raises
    ------
    ServeError
        One line naming the file: unreadable, not TOML, or a key or value that is wrong.
    """
    if path is None:
        return Policy()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ServeError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ServeError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ServeError(f"{path}: not valid TOML ({exc})") from None
    return parse_policy(data, str(path))


def read_token(path: str | os.PathLike | None) -> str | None:
    """The bearer token in a file (surrounding blanks stripped); None without a file."""
    if path is None:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text" \
            if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise ServeError(f"{path}: cannot read the token file ({reason})") from None
    if not token or any(c.isspace() for c in token) or not token.isprintable():
        raise ServeError(f"{path}: the token file must hold one token (printable, no blanks inside)")
    return token


def check_feedback_path(path: str | os.PathLike) -> Path:
    """An absolute feedback path the server will be able to append to (nothing is created yet)."""
    path = Path(path).absolute()
    if path.is_dir():
        raise ServeError(f"{path}: the feedback file is a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ServeError(f"{path}: the feedback file is not writable")
        return path
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ServeError(f"{path}: cannot create the feedback file ({parent} is not a writable directory)")
    return path


def load_moderator(model_dir, policy: Policy):
    """The moderator with the policy's thresholds, or ``(None, reason)`` when the model cannot
    be loaded and the policy allows serving without one."""
    from .model import ModelError
    from .score import Moderator

    try:
        moderator = Moderator.load(model_dir)
    except ModelError as exc:
        if policy.on_missing_model == "allow":
            return None, str(exc)
        raise ServeError(f"{exc} (to serve 'allow' without a model, set on_missing_model = \"allow\" "
                         "in the --config file)") from None
    thresholds = policy.effective_thresholds(moderator.model.thresholds())
    return Moderator(moderator.model, moderator.manifest, thresholds), None


# --------------------------------------------------------------------------- request and response bodies

def _no_lone_surrogates(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate escape (\\ud800-\\udfff); not valid Unicode") from None
    return value


def _models():
    """Pydantic models of the bodies (built lazily so that importing this module stays cheap)."""
    from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

    from .model import LABELS

    Str = Annotated[str, AfterValidator(_no_lone_surrogates)]
    Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), AfterValidator(_no_lone_surrogates)]
    Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS),
                     AfterValidator(_no_lone_surrogates)]
    Id = Union[Name, int]
    strict = ConfigDict(extra="forbid")

    class Thread(BaseModel):
        """The thread a comment is posted in: its title and text (article, earlier posts)."""
        model_config = strict
        id: Optional[Id] = Field(None, description="The forum's thread id (kept with feedback).")
        title: Optional[Str] = None
        text: Optional[Str] = Field(None, description="Article and earlier posts; the first 4,000 "
                                                      "characters of title + text are the context.")

    class ReviewItem(BaseModel):
        """One comment before it is published."""
        model_config = strict
        text: Text = Field(description=f"The comment, at most {MAX_TEXT_CHARS:,} characters.")
        thread: Optional[Thread] = None
        reply_to_text: Optional[Str] = Field(None, description="The post it replies to (counts as context).")
        author: Optional[Name] = Field(None, description="Accepted and ignored: decisions never depend on who.")

    class ReviewRequest(ReviewItem):
        explain: bool = Field(True, description="Add the spans behind each flagged label (slower).")

    class BatchRequest(BaseModel):
        model_config = strict
        items: list[ReviewItem] = Field(max_length=MAX_BATCH_ITEMS,
                                        description=f"Up to {MAX_BATCH_ITEMS:,} comments.")
        explain: bool = True

    class FeedbackRequest(BaseModel):
        """A moderator's decision on a comment: ground truth for the next training run."""
        model_config = strict
        id: Optional[Id] = Field(None, description="The forum's comment id (default: derived from thread "
                                                   "id and text, so two moderators' decisions meet).")
        text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS),
                        AfterValidator(_no_lone_surrogates)]
        thread: Optional[Thread] = None
        labels: Annotated[dict[Literal[LABELS], Literal[0, 1]], Field(min_length=1)] = Field(
            description="0 or 1 per label the moderator decided; leave out the others.")
        annotator: Name

    class Reason(BaseModel):
        label: str = Field(description="A model label, or 'block' / 'watch' for a policy term.")
        span: list[int] = Field(description="[start, end) in characters of the submitted text.")
        excerpt: str
        weight: float
        source: Literal["lexicon", "model", "policy"]

    class ModelInfo(BaseModel):
        version: Optional[str]
        sha256: Optional[str]

    class ReviewResult(BaseModel):
        action: Literal["allow", "hold", "reject"]
        scores: dict[str, Optional[float]] = Field(description="Calibrated probability per label "
                                                               "(null without a model).")
        labels: list[str] = Field(description="Labels past their hold or reject threshold.")
        reasons: list[Reason]
        model: ModelInfo

    class BatchResult(BaseModel):
        results: list[ReviewResult]

    class FeedbackResult(BaseModel):
        id: str
        at: str
        stored: bool

    class Health(BaseModel):
        status: Literal["ok", "degraded"]
        model: Optional[ModelInfo]

    class ErrorDetail(BaseModel):
        code: str
        message: str

    class ErrorBody(BaseModel):
        error: ErrorDetail

    return {name: obj for name, obj in locals().items() if isinstance(obj, type) and issubclass(obj, BaseModel)}


# --------------------------------------------------------------------------- errors and middleware

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
                 422: "validation_error", 500: "internal_error", 503: "unavailable"}


def _error_bytes(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode("utf-8")


async def _send_error(send, status: int, code: str, message: str, headers=()) -> None:
    body = _error_bytes(code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class _BearerToken:
    """Every request but ``GET /healthz`` needs ``Authorization: Bearer <token>`` (401 otherwise)."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope, receive, send):
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
        message = "missing bearer token" if not given else "wrong bearer token"
        await _send_error(send, 401, "unauthorized", f"{message}; send 'Authorization: Bearer <token>'",
                          [(b"www-authenticate", b'Bearer realm="moderation"')])


class _BodyLimit:
    """Reads the body up front: too large is 413 (before reading, when Content-Length says so),
    not UTF-8 is 400; then replays it to the application as JSON."""

    def __init__(self, app, limits: dict[str, int], default: int):
        self.app = app
        self.limits = limits
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.default)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _send_error(send, 400, "bad_request", "Content-Length is not a number")
                if declared > limit:
                    return await _send_error(send, 413, "payload_too_large",
                                             f"the body is {declared:,} bytes; the limit here is {limit:,}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _send_error(send, 413, "payload_too_large",
                                         f"the body is over the limit of {limit:,} bytes here")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return await _send_error(send, 400, "invalid_utf8",
                                     f"the body is not UTF-8 (byte {exc.start}); send JSON encoded as UTF-8")
        # Every body here is JSON, whatever the Content-Type says (curl -d sends a form type).
        headers = [(n, v) for n, v in scope["headers"] if n != b"content-type"]
        scope = {**scope, "headers": headers + [(b"content-type", b"application/json")]}
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _validation_message(errors) -> tuple[int, str, str]:
    """Status, code and one readable line for a request that failed validation."""
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

def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _review_context(thread, reply_to_text) -> str:
    """The context :meth:`Moderator.review` builds for a comment (kept identical here for batches)."""
    from .score import thread_context

    title = thread.title if thread is not None else None
    text = thread.text if thread is not None else None
    return thread_context(title, "\n".join(p for p in (reply_to_text, text) if isinstance(p, str) and p))


def _feedback_id(item) -> str:
    if item.id is not None:
        return str(item.id)
    thread_id = str(item.thread.id) if item.thread is not None and item.thread.id is not None else ""
    return "feedback-" + hashlib.sha256(f"{thread_id}\x00{item.text}".encode("utf-8")).hexdigest()[:16]


def create_app(moderator, policy: Policy | None, feedback_path: str | os.PathLike, token: str | None):
    """The FastAPI application of the hook.

    Parameters
    ----------
    moderator : Moderator or None
        None serves ``allow`` for everything (``/healthz`` says ``degraded``).
    policy : Policy, optional
        Block and watch terms are applied to every answer; its thresholds must already be in
        ``moderator`` (see :func:`load_moderator`).
    feedback_path : path
        The label file ``POST /v1/feedback`` appends to.
    token : str, optional
        The bearer token every endpoint but ``/healthz`` requires.
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from . import __version__
    from .labels import append_events, label_event
    from .model import LABELS

    policy = policy or Policy()
    feedback_path = Path(feedback_path)
    M = _models()
    ReviewRequest, BatchRequest, FeedbackRequest = M["ReviewRequest"], M["BatchRequest"], M["FeedbackRequest"]
    errors = {status: {"model": M["ErrorBody"], "description": _STATUS_CODES[status].replace("_", " ")}
              for status in (400, 401, 413, 422, 500)}
    info = moderator.info if moderator is not None else None
    manifest = ({k: v for k, v in moderator.manifest.items() if k != "path"} if moderator is not None else None)
    degraded = {"action": "allow", "scores": {label: None for label in LABELS}, "labels": [], "reasons": [],
                "model": {"version": None, "sha256": None}}

    app = FastAPI(title="moderation", version=__version__, docs_url=None, redoc_url=None,
                  description="Pre-moderation hook: ask before publishing a post whether to allow, hold or "
                              "reject it, with the spans that decided. Errors are "
                              "`{\"error\": {\"code\", \"message\"}}`.")

    def json_response(obj, status: int = 200) -> Response:
        return Response(_dumps(obj), status_code=status, media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404:
            message = f"no endpoint {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return Response(_error_bytes(code, message), status_code=exc.status_code, media_type="application/json",
                        headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        status, code, message = _validation_message(exc.errors())
        return Response(_error_bytes(code, message), status_code=status, media_type="application/json")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.error("internal error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return Response(_error_bytes("internal_error", "internal error; the server log has the details"),
                        status_code=500, media_type="application/json")

    def review_one(item, explain: bool) -> dict:
        if moderator is None:
            return policy.apply(degraded, item.text)
        thread = item.thread.model_dump() if item.thread is not None else None
        decision = moderator.review(item.text, thread=thread, reply_to_text=item.reply_to_text, explain=explain)
        return policy.apply(decision.to_dict(), item.text)

    @app.post("/v1/review", response_model=None, responses={200: {"model": M["ReviewResult"]}, **errors},
              summary="Review one comment before it is published")
    def review(body: ReviewRequest):
        return json_response(review_one(body, body.explain))

    @app.post("/v1/review:batch", response_model=None, responses={200: {"model": M["BatchResult"]}, **errors},
              summary=f"Review up to {MAX_BATCH_ITEMS:,} comments, answered in order")
    def review_batch(body: BatchRequest):
        items = body.items
        if moderator is None or not items:
            return json_response({"results": [policy.apply(degraded, item.text) for item in items]})
        import pandas as pd

        frame = pd.DataFrame({"text": [item.text for item in items],
                              "context": [_review_context(item.thread, item.reply_to_text) for item in items]})
        decisions = moderator.decide(frame, explain=body.explain)
        return json_response({"results": [policy.apply(d.to_dict(), item.text) for d, item in zip(decisions, items)]})

    @app.post("/v1/feedback", response_model=None, responses={200: {"model": M["FeedbackResult"]}, **errors},
              summary="Record a moderator's decision as a label (fsync before 200)")
    def feedback(body: FeedbackRequest):
        thread = body.thread
        event = label_event(_feedback_id(body), body.text, dict(body.labels), annotator=body.annotator,
                            thread=str(thread.id) if thread is not None and thread.id is not None else None,
                            source="feedback",
                            thread_title=thread.title if thread is not None else None,
                            thread_text=thread.text if thread is not None else None)
        append_events(feedback_path, [event])
        return json_response({"id": event["id"], "at": event["at"], "stored": True})

    @app.get("/healthz", response_model=None, responses={200: {"model": M["Health"]}},
             summary="Liveness; 'degraded' when serving without a model")
    async def healthz():  # on the event loop: it answers even while every worker thread is scoring
        return json_response({"status": "ok" if moderator is not None else "degraded", "model": info})

    @app.get("/v1/model", response_model=None, responses={401: errors[401], 503: {"model": M["ErrorBody"]}},
             summary="The model's manifest (its sha256 is model.sha256 of every answer)")
    async def model_manifest():
        if manifest is None:
            return Response(_error_bytes("unavailable", "no model is loaded (on_missing_model = \"allow\")"),
                            status_code=503, media_type="application/json")
        return json_response(manifest)

    # Added last is outermost: the token, then the body limit, then FastAPI's own layers.
    app.add_middleware(_BodyLimit, limits={"/v1/review:batch": MAX_BATCH_BODY_BYTES}, default=MAX_BODY_BYTES)
    if token:
        app.add_middleware(_BearerToken, token=token)
    return app


# --------------------------------------------------------------------------- building from settings

def build(settings: dict, *, announce=None):
    """The application from command-line settings; raises :class:`ServeError` (one line)."""
    policy = load_policy(settings.get("config"))
    token = read_token(settings.get("token_file"))
    feedback = check_feedback_path(settings.get("feedback") or DEFAULT_FEEDBACK)
    moderator, missing = load_moderator(settings.get("model"), policy)
    if moderator is not None:
        # First use builds lazy state (the sentencepiece processor): do it before any thread does.
        moderator.review("テスト", thread={"title": "テスト"}, explain=True)
    elif announce:
        announce(f"warning: serving without a model, every answer is 'allow': {missing}")
    app = create_app(moderator, policy, feedback, token)
    return app, moderator, feedback


def _bind(host: str, port: int) -> socket.socket:
    try:
        # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on sockets that say TCP.
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"{host}: cannot resolve the host ({exc.strerror})") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(2048)  # connections queue from now on: the "listening" line is true when printed
    return sock


@click.command("serve")
@click.option("--model", "model_dir", default=None, type=click.Path(),
              help="Model directory (default: $MODERATION_MODEL, else models/default).")
@click.option("--config", "config", default=None, type=click.Path(),
              help="Policy TOML: threshold overrides, block/watch terms, on_missing_model.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port, printed at start).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes, forked after the model is loaded (they share its memory).")
@click.option("--token-file", default=None, type=click.Path(),
              help="File holding a bearer token every endpoint but /healthz requires.")
@click.option("--feedback", default=DEFAULT_FEEDBACK, show_default=True, type=click.Path(),
              help="Label file POST /v1/feedback appends to (train on it with 'moderation train').")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log every request (method, path, status; never the text).")
def serve_cmd(model_dir, config, host, port, workers, token_file, feedback, access_log):
    """Serve the pre-moderation hook over HTTP: a forum asks before publishing a post
    whether to allow, hold or reject it.

    Endpoints: POST /v1/review, POST /v1/review:batch, POST /v1/feedback, GET /healthz,
    GET /v1/model, GET /openapi.json. Bodies are JSON, at most 64 KiB (4 MiB for a batch);
    errors are {"error": {"code", "message"}}.

    Example:

        moderation serve --config policy.toml --token-file token.txt --port 8000
    """
    import uvicorn

    settings = {"model": model_dir, "config": config, "token_file": token_file,
                "feedback": str(Path(feedback).absolute())}

    def announce(message: str) -> None:
        click.echo(message, err=True)

    try:
        app, moderator, feedback_path = build(settings, announce=announce)
        sock = _bind(host, port)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    model = f"model {moderator.info['version']}" if moderator is not None else "NO MODEL (allowing everything)"
    announce(f"moderation serve: listening on http://{shown}:{bound_port} ({model}; "
             f"{'token required' if token_file else 'no token'}; feedback to {feedback_path}; "
             f"{workers} worker{'s' if workers > 1 else ''})")
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=access_log, server_header=False,
                            proxy_headers=False, timeout_graceful_shutdown=10)
    if workers == 1:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        sys.exit(0 if server.started else 1)
    sys.exit(_run_workers(config, sock, workers, announce))


def _run_workers(config, sock: socket.socket, workers: int, announce) -> int:
    """Fork ``workers`` processes that share the listening socket and the loaded model
    (copy-on-write); restart one that dies, stop them all on SIGTERM or SIGINT.

    The socket is ours rather than uvicorn's: its protocol is TCP, so asyncio turns
    Nagle's algorithm off on every connection (uvicorn's own multi-worker socket leaves it
    on, and a response written in two segments then waits ~40 ms for a delayed ACK).
    """
    import signal
    import time

    import uvicorn

    def start() -> int:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                server = uvicorn.Server(config)
                server.run(sockets=[sock])
                code = 0 if server.started else 1
            finally:
                os._exit(code)
        return pid

    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    children: dict[int, float] = {}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        children[start()] = time.monotonic()
    quick_deaths = 0
    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        quick_deaths = quick_deaths + 1 if time.monotonic() - started < 5 else 0
        if quick_deaths >= 3:
            announce(f"Error: workers keep dying at start (last exit status {code}); stopping")
            stop(signal.SIGTERM, None)
            status = 1
            continue
        announce(f"warning: worker {pid} exited ({code}); starting another")
        children[start()] = time.monotonic()
    return status
