"""A drop-in, self-hosted Perspective API: ``comments:analyze`` and ``comments:suggestscore``.

Comment systems that already call Google's Perspective API (Coral's toxic-comment check,
moderation plugins, bots, Perspective's client libraries) change one URL and get our model,
on the forum's machine, with the thread context really used:

- ``POST /v1alpha1/comments:analyze``: Perspective's ``AnalyzeCommentRequest`` in, its
  ``AnalyzeCommentResponse`` out, scored by :meth:`Moderator.review` (the same call as
  ``POST /v1/review``, so the same comment and context give the same probabilities);
- ``POST /v1alpha1/comments:suggestscore``: a moderator's score becomes a label event,
  appended durably to the feedback file, like ``POST /v1/feedback``.

Attributes are our labels under Perspective's names (:data:`ATTRIBUTES`); any other
attribute is answered with Perspective's error shape, naming the ones we support. Errors on
these paths are Google's ``{"error": {"code", "message", "status"}}``.

Span offsets (``spanScores[].begin``/``end``) are in UTF-16 code units of ``comment.text``
as the client sent it, as Perspective's reference says ("the UTF-16 codepoint range"):
what ``String.prototype.slice`` in JavaScript (Coral) or ``substring`` in Java takes. An
emoji outside the Basic Multilingual Plane counts 2. :func:`utf16_offsets` converts.

Examples
--------
>>> AnalyzeRequest.model_validate({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}}).span_annotations
False
>>> utf16_offsets("a😀b", [(2, 3)])
[(3, 4)]
>>> google_error_bytes(400, "Attribute INSULT is not supported")
b'{"error": {"code": 400, "message": "Attribute INSULT is not supported", "status": "INVALID_ARGUMENT"}}'
"""

# No "from __future__ import annotations": pydantic and FastAPI read these annotations at run time.
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from ...core import LABELS, Decision, is_never
from ...policy import Decider
from .schemas import MAX_NAME_CHARS, MAX_TEXT_CHARS, Body, Str, no_lone_surrogates

#: Where Perspective's paths start; every error under it is in Google's shape.
PREFIX = "/v1alpha1/"
#: Perspective attribute → our label (``SEVERE_TOXICITY`` is derived, see :func:`severe_toxicity`).
ATTRIBUTES: dict[str, str | None] = {
    "TOXICITY": "delete",
    "SEVERE_TOXICITY": None,
    "IDENTITY_ATTACK": "slur",
    "OFF_TOPIC": "off_topic",
}
#: The attributes ``comments:suggestscore`` records (each is one label).
SUGGESTABLE = {name: label for name, label in ATTRIBUTES.items() if label is not None}
#: A suggested score at or above this records the label as 1, below it as 0.
SUGGEST_CUT = 0.5
#: ``error.status`` of each HTTP status, as Google's APIs spell it (google.rpc.Code).
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    408: "DEADLINE_EXCEEDED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


def is_perspective_path(path: str) -> bool:
    """Whether ``path`` is one of Perspective's (its errors are in Google's shape).

    Examples
    --------
    >>> is_perspective_path("/v1alpha1/comments:analyze"), is_perspective_path("/v1/review")
    (True, False)
    """
    return path.startswith(PREFIX)


def google_error(status: int, message: str) -> dict:
    """Google's error body: ``{"error": {"code": status, "message", "status": "INVALID_ARGUMENT"...}}``.

    Examples
    --------
    >>> google_error(403, "The request is missing a valid API key.")["error"]["status"]
    'PERMISSION_DENIED'
    """
    return {"error": {"code": status, "message": message, "status": GOOGLE_STATUS.get(status, "UNKNOWN")}}


def google_error_bytes(status: int, message: str) -> bytes:
    """:func:`google_error` as JSON bytes (UTF-8)."""
    return json.dumps(google_error(status, message), ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- requests


class _Camel(Body):
    # Perspective's JSON is camelCase; unknown keys are errors, as in Google's JSON parser.
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


CommentText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(no_lone_surrogates)
]
Token = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(no_lone_surrogates)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class TextEntry(_Camel):
    """A piece of text: the comment, or one entry of its context."""

    api_description = "Text; only PLAIN_TEXT is supported."
    text: Str = ""
    type: Literal["PLAIN_TEXT"] | None = None


class Comment(_Camel):
    """``comment``: the text to score (1 to :data:`MAX_TEXT_CHARS` characters)."""

    api_description = f"The comment, 1 to {MAX_TEXT_CHARS:,} characters, PLAIN_TEXT."
    text: CommentText
    type: Literal["PLAIN_TEXT"] | None = None


class ContextIn(_Camel):
    """``context``: what the comment is posted in or replies to (our thread context)."""

    api_description = "The thread: article, title, the post replied to; entries joined in order."
    entries: list[TextEntry] = Field(default_factory=list, max_length=100)


class RequestedAttribute(_Camel):
    """One requested attribute: ``scoreType`` (only ``PROBABILITY``) and ``scoreThreshold``."""

    score_type: Literal["PROBABILITY"] | None = None
    score_threshold: Probability | None = None


class AnalyzeRequest(_Camel):
    """The body of ``POST /v1alpha1/comments:analyze`` (Perspective's ``AnalyzeCommentRequest``)."""

    api_description = "Perspective's AnalyzeCommentRequest."
    comment: Comment
    context: ContextIn | None = None
    requested_attributes: dict[Annotated[str, StringConstraints(max_length=64)], RequestedAttribute] = Field(
        min_length=1, max_length=16
    )
    span_annotations: bool = False
    languages: list[Annotated[str, StringConstraints(max_length=35)]] | None = Field(None, max_length=16)
    do_not_store: bool = False
    client_token: Token | None = None
    session_id: Token | None = None
    community_id: Token | None = None


class SummaryScoreIn(_Camel):
    """A suggested score: ``value`` from 0 to 1 (``type`` accepted, only ``PROBABILITY``)."""

    value: Probability
    type: Literal["PROBABILITY"] | None = None


class SpanScoreIn(_Camel):
    """A suggested span score (accepted and not recorded: labels are per comment)."""

    begin: int | None = None
    end: int | None = None
    score: SummaryScoreIn | None = None


class AttributeScoreIn(_Camel):
    """One attribute's suggested score: ``summaryScore`` is what is recorded."""

    summary_score: SummaryScoreIn | None = None
    span_scores: list[SpanScoreIn] = Field(default_factory=list, max_length=100)


class SuggestRequest(_Camel):
    """The body of ``POST /v1alpha1/comments:suggestscore`` (Perspective's ``SuggestCommentScoreRequest``)."""

    api_description = "Perspective's SuggestCommentScoreRequest: recorded as a label event."
    comment: Comment
    context: ContextIn | None = None
    attribute_scores: dict[Annotated[str, StringConstraints(max_length=64)], AttributeScoreIn] = Field(
        min_length=1, max_length=16
    )
    languages: list[Annotated[str, StringConstraints(max_length=35)]] | None = Field(None, max_length=16)
    client_token: Token | None = None
    session_id: Token | None = None
    community_id: Token | None = None


# --------------------------------------------------------------------------- the mapping


class PerspectiveError(Exception):
    """A request Perspective would refuse: answered with ``status`` and Google's error shape."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def context_text(context: ContextIn | None) -> tuple[str, list[Any]]:
    """The thread text of ``context.entries`` (joined in order) and the entries that are metadata.

    An entry whose text is a JSON object is metadata, not thread text (Coral sends its
    comment and story ids that way with ``suggestscore``).

    Examples
    --------
    >>> context_text(ContextIn(entries=[TextEntry(text="題"), TextEntry(text='{"url": "u"}'), TextEntry(text="本文")]))
    ('題\\n本文', [{'url': 'u'}])
    """
    if context is None:
        return "", []
    texts, metadata = [], []
    for entry in context.entries:
        text = entry.text
        if text.lstrip().startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                metadata.append(obj)
                continue
        if text.strip():
            texts.append(text)
    return "\n".join(texts), metadata


def check_attributes(names: Sequence[str], *, suggest: bool = False) -> None:
    """Refuse an attribute we do not serve, naming those we do.

    Raises
    ------
    PerspectiveError
        400, as Perspective answers an attribute it cannot score.

    Examples
    --------
    >>> try:
    ...     check_attributes(["TOXICITY", "INSULT"])
    ... except PerspectiveError as exc:
    ...     print(exc.status, exc.message.split(";")[0])
    400 Attribute INSULT is not supported by this server (moderation)
    """
    known = SUGGESTABLE if suggest else ATTRIBUTES
    unknown = [name for name in names if name not in known]
    if unknown:
        what = "suggested scores" if suggest else "this server (moderation)"
        raise PerspectiveError(
            400,
            f"Attribute{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"{'are' if len(unknown) > 1 else 'is'} not supported by {what}; the attributes are {', '.join(known)}",
        )


def detected_languages(text: str) -> list[str]:
    """``["ja"]`` when ``text`` has Japanese script, else ``["und"]`` (undetermined).

    Examples
    --------
    >>> detected_languages("いい試合"), detected_languages("nice game")
    (['ja'], ['und'])
    """
    return ["ja"] if _JAPANESE.search(text) else ["und"]


def utf16_offsets(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (code-point offsets into ``text``) as UTF-16 code-unit offsets.

    Examples
    --------
    >>> utf16_offsets("👍🏽 死ね", [(3, 5)])
    [(5, 7)]
    """
    if all(ord(c) < 0x10000 for c in text):
        return [(a, b) for a, b in spans]

    def unit(i: int) -> int:
        return i + sum(1 for c in text[:i] if ord(c) >= 0x10000)

    return [(unit(a), unit(b)) for a, b in spans]


def severe_toxicity(decision: Decision, decider: Decider, has_context: bool) -> float:
    """``SEVERE_TOXICITY``: the probability behind a ``reject`` of this comment.

    1.0 when one of the forum's ``block`` terms matched (the comment is rejected for
    certain); otherwise the highest calibrated probability among the labels that can reject
    this comment (a trained label whose ``reject`` threshold is not ``never``; ``off_topic``
    only with context), 0.0 when none can. The comment is rejected exactly when that label's
    probability reaches its own ``reject`` threshold (``GET /v1/model``; a policy may change it).

    Examples
    --------
    >>> decider = Decider({"slur": {"hold": 0.3, "reject": 0.8}, "delete": {"hold": 0.5, "reject": 2.0}})
    >>> severe_toxicity(Decision("hold", {"slur": 0.4, "delete": 0.7}, []), decider, False)
    0.4
    """
    if any(r.source == "policy" and r.label == "block" for r in decision.reasons):
        return 1.0
    best = 0.0
    for label in LABELS:
        p = decision.scores.get(label)
        thresholds = decider.thresholds.get(label)
        if p is None or thresholds is None or is_never(thresholds["reject"]) or math.isnan(p):
            continue
        if label == "off_topic" and not has_context:
            continue
        best = max(best, float(p))
    return best


def _score(value: float) -> dict:
    return {"value": value, "type": "PROBABILITY"}


def analyze_response(
    request: AnalyzeRequest, decision: Decision, decider: Decider, has_context: bool
) -> dict[str, Any]:
    """Perspective's ``AnalyzeCommentResponse`` for ``decision`` (from :meth:`Moderator.review`
    of ``request.comment.text``, its reasons' spans into that text).

    ``summaryScore`` is the label's calibrated probability, as ``/v1/review`` reports it.
    With ``spanAnnotations``, each reason behind a label (the spans ``/v1/review`` gives)
    is a span scored with the label's probability; a label without reasons gets one span
    over the whole comment. An attribute below its ``scoreThreshold`` is left out.

    Raises
    ------
    PerspectiveError
        An attribute the model cannot score (its label was not trained), or ``OFF_TOPIC``
        without context.
    """
    text = request.comment.text
    out: dict[str, Any] = {}
    for name, wanted in request.requested_attributes.items():
        label = ATTRIBUTES[name]
        if label == "off_topic" and not has_context:
            raise PerspectiveError(
                400, "Attribute OFF_TOPIC needs context.entries: off-topic means off the thread's topic"
            )
        if label is None:
            value = severe_toxicity(decision, decider, has_context)
            labels = [lb for lb in LABELS if lb != "off_topic" or has_context]
            reasons = [r for r in decision.reasons if r.label == "block" or r.label in labels]
        else:
            p = decision.scores.get(label)
            if p is None or math.isnan(p):
                raise PerspectiveError(
                    400, f"Attribute {name} is not available: the model has no trained '{label}' classifier"
                )
            value = float(p)
            reasons = [r for r in decision.reasons if r.label == label]
        if wanted.score_threshold is not None and value < wanted.score_threshold:
            continue
        scores: dict[str, Any] = {"summaryScore": _score(value)}
        if request.span_annotations:
            spans = sorted({r.span for r in reasons}) or [(0, len(text))]
            scores["spanScores"] = [
                {"begin": a, "end": b, "score": _score(value)} for a, b in utf16_offsets(text, spans)
            ]
        out[name] = scores
    response: dict[str, Any] = {
        "attributeScores": out,
        "languages": list(request.languages or ["ja"]),
        "detectedLanguages": detected_languages(text),
    }
    if request.client_token is not None:
        response["clientToken"] = request.client_token
    return response


def suggested_labels(scores: Mapping[str, AttributeScoreIn]) -> dict[str, int]:
    """The labels a ``suggestscore`` says: 1 for a value of :data:`SUGGEST_CUT` or more, else 0.

    Raises
    ------
    PerspectiveError
        An attribute that is not one label, or one without ``summaryScore.value``.

    Examples
    --------
    >>> suggested_labels({"TOXICITY": AttributeScoreIn(summary_score=SummaryScoreIn(value=1))})
    {'delete': 1}
    """
    check_attributes(list(scores), suggest=True)
    labels = {}
    for name, score in scores.items():
        if score.summary_score is None:
            raise PerspectiveError(400, f"attributeScores.{name}.summaryScore.value is required")
        labels[SUGGESTABLE[name]] = 1 if score.summary_score.value >= SUGGEST_CUT else 0
    return labels
