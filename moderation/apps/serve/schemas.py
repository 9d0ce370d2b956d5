"""The request and response bodies of the hook, as pydantic models.

They are what ``GET /openapi.json`` publishes: the same fields, limits and validation
messages a client sees. Every request model forbids unknown keys, so a typo (or a field
such as ``path`` or ``model`` that no endpoint reads) is a ``422``, not a no-op.

The description a model has in the OpenAPI schema is its :attr:`Body.api_description`, not
its docstring, so the published schema does not change when the Python documentation does.

Examples
--------
>>> ReviewRequest.model_validate({"text": "いい試合だった", "thread": {"title": "日本代表"}}).explain
True
>>> FeedbackRequest.model_validate({"text": "x", "labels": {"slur": 1}, "annotator": "m"}).labels
{'slur': 1}
>>> ReviewItem.model_validate({"text": "a", "model": "/tmp/evil"})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for ReviewItem
model
  Extra inputs are not permitted [type=extra_forbidden, input_value='/tmp/evil', input_type=str]
...
"""

# No "from __future__ import annotations": pydantic and FastAPI read these annotations at run time.
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from ...core import LABELS
from ...io.board_text import is_encodable

#: Characters of one comment (``text``) a request may carry.
MAX_TEXT_CHARS = 10_000
#: Comments in one ``POST /v1/review:batch``.
MAX_BATCH_ITEMS = 1_000
#: Characters of text (the ``text`` of every item) in one batch: 1,000 comments of 4,000
#: characters. With the body's bytes (``MAX_BATCH_BODY_BYTES``) and the batch's time budget
#: (:data:`~moderation.apps.serve.batch.BATCH_SECONDS`), it bounds what one batch costs.
MAX_BATCH_TEXT_CHARS = 4_000_000
#: Characters of an id, an author or an annotator name.
MAX_NAME_CHARS = 200


def no_lone_surrogates(value: str) -> str:
    """``value`` unchanged, or a ``ValueError`` when it cannot be written as UTF-8.

    JSON may spell a lone surrogate (``"\\ud800"``); such a string is not valid Unicode and
    could not be stored in a label file.

    Examples
    --------
    >>> no_lone_surrogates("ok")
    'ok'
    >>> no_lone_surrogates("\\ud800")
    Traceback (most recent call last):
    ...
    ValueError: contains an unpaired surrogate escape (\\ud800-\\udfff); not valid Unicode
    """
    if not is_encodable(value):
        raise ValueError("contains an unpaired surrogate escape (\\ud800-\\udfff); not valid Unicode")
    return value


def not_blank(value: str) -> str:
    """``value`` unchanged, or a ``ValueError`` when it holds nothing but white space.

    Examples
    --------
    >>> not_blank(" a ")
    ' a '
    >>> not_blank(" \\u3000\\n")
    Traceback (most recent call last):
    ...
    ValueError: is only white space
    """
    if not value.strip():
        raise ValueError("is only white space")
    return value


def short_int(value: int) -> int:
    """An integer id of at most :data:`MAX_NAME_CHARS` characters (sign included), like a string id.

    Examples
    --------
    >>> short_int(12345)
    12345
    >>> short_int(10**250)
    Traceback (most recent call last):
    ...
    ValueError: an integer id has at most 200 characters, like a string id
    """
    if abs(value) >= 10**MAX_NAME_CHARS or len(str(value)) > MAX_NAME_CHARS:  # compared before it is written
        raise ValueError(f"an integer id has at most {MAX_NAME_CHARS} characters, like a string id")
    return value


def strict_int(value: Any) -> Any:
    """``value`` unchanged unless it is a boolean or a float, which JSON's ``true`` and ``1.0`` would
    otherwise pass for the integers 0 and 1.

    Examples
    --------
    >>> strict_int(1)
    1
    >>> strict_int(True)
    Traceback (most recent call last):
    ...
    ValueError: must be the integer 0 or 1, not True
    """
    if isinstance(value, (bool, float)) or not isinstance(value, int):
        raise ValueError(f"must be the integer 0 or 1, not {value!r}")
    return value


Str = Annotated[str, AfterValidator(no_lone_surrogates)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), AfterValidator(no_lone_surrogates)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(no_lone_surrogates)]
#: What the published schema says of a text that must not be blank.
_NOT_BLANK = Field(json_schema_extra={"pattern": r"\S"})
#: A name that says something: not empty, not only white space (an annotator, say).
FilledName = Annotated[Name, AfterValidator(not_blank), _NOT_BLANK]
#: An id: a string or an integer (``true`` and ``1.0`` are neither), at most 200 characters either way.
Id = Name | Annotated[int, Field(strict=True), AfterValidator(short_int)]
#: A label's value in feedback: the integer 0 or 1 (``true``, ``1.0`` and ``"1"`` are refused).
LabelValue = Annotated[Literal[0, 1], BeforeValidator(strict_int)]


def _api_description(schema: dict[str, Any], cls: type) -> None:
    # The model's own api_description (not an inherited one, not the docstring) or none.
    description = cls.__dict__.get("api_description")
    if description:
        schema["description"] = description
    else:
        schema.pop("description", None)


class Body(BaseModel):
    """Base of every body: its OpenAPI description is :attr:`api_description`, if any.

    Attributes
    ----------
    api_description : str or None
        What ``GET /openapi.json`` says about the model (class variable; not inherited).
    """

    model_config = ConfigDict(json_schema_extra=_api_description)
    api_description: ClassVar[str | None] = None


_strict = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- requests


class Thread(Body):
    """The thread a comment is posted in: its id, title and text (article, earlier posts).

    The title and text (with ``reply_to_text``) are the context the comment is judged in,
    built by :func:`moderation.context.build_context`.
    """

    api_description = "The thread a comment is posted in: its title and text (article, earlier posts)."
    model_config = _strict
    id: Id | None = Field(None, description="The forum's thread id (kept with feedback).")
    title: Str | None = None
    text: Str | None = Field(
        None, description="Article and earlier posts; the first 4,000 characters of title + text are the context."
    )


class ReviewItem(Body):
    """One comment before it is published (an item of a batch).

    ``author`` is accepted and ignored: decisions never depend on who posted.
    """

    api_description = "One comment before it is published."
    model_config = _strict
    text: Text = Field(description=f"The comment, at most {MAX_TEXT_CHARS:,} characters.")
    thread: Thread | None = None
    reply_to_text: Str | None = Field(None, description="The post it replies to (counts as context).")
    author: Name | None = Field(None, description="Accepted and ignored: decisions never depend on who.")


class ReviewRequest(ReviewItem):
    """The body of ``POST /v1/review``: one comment, and whether to explain the decision."""

    explain: StrictBool = Field(True, description="Add the spans behind each flagged label (slower).")
    return_context: StrictBool = Field(False, description="Add the thread context the comment was judged in.")


class BatchRequest(Body):
    """The body of ``POST /v1/review:batch``: up to :data:`MAX_BATCH_ITEMS` comments."""

    model_config = _strict
    items: list[ReviewItem] = Field(
        max_length=MAX_BATCH_ITEMS,
        description=f"Up to {MAX_BATCH_ITEMS:,} comments, {MAX_BATCH_TEXT_CHARS:,} characters of text in all.",
    )
    explain: StrictBool = True

    @model_validator(mode="after")
    def _text_budget(self) -> "BatchRequest":
        total = sum(len(item.text) for item in self.items)
        if total > MAX_BATCH_TEXT_CHARS:
            raise ValueError(
                f"the items hold {total:,} characters of text; a batch takes at most {MAX_BATCH_TEXT_CHARS:,}"
                " (split it)"
            )
        return self


class FeedbackRequest(Body):
    """The body of ``POST /v1/feedback``: a moderator's decision on a comment.

    It becomes a label event (``source: feedback``), ground truth for the next training run.
    """

    api_description = "A moderator's decision on a comment: ground truth for the next training run."
    model_config = _strict
    id: Id | None = Field(
        None,
        description="The forum's comment id (default: derived from thread "
        "id and text, so two moderators' decisions meet).",
    )
    text: Annotated[
        str,
        StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS),
        AfterValidator(no_lone_surrogates),
        AfterValidator(not_blank),
        _NOT_BLANK,
    ]
    thread: Thread | None = None
    labels: Annotated[dict[Literal[LABELS], LabelValue], Field(min_length=1)] = Field(  # type: ignore[valid-type]
        description="0 or 1 per label the moderator decided (integers; true or 1.0 are refused); leave out the others."
    )
    annotator: FilledName


# --------------------------------------------------------------------------- responses


class Reason(Body):
    """Why a comment was flagged: a span of the submitted text (see :class:`moderation.core.Reason`)."""

    label: str = Field(description="A model label, or 'block' / 'watch' for a policy term.")
    span: list[int] = Field(description="[start, end) in characters of the submitted text.")
    excerpt: str
    weight: float
    source: Literal["lexicon", "model", "policy"]


class ModelInfo(Body):
    """The model that answered: its version and the sha256 of its manifest (null without a model)."""

    version: str | None
    sha256: str | None


class ReviewResult(Body):
    """The answer of ``POST /v1/review``: a :class:`moderation.core.Decision` as JSON."""

    action: Literal["allow", "hold", "reject"]
    scores: dict[str, float | None] = Field(description="Calibrated probability per label (null without a model).")
    labels: list[str] = Field(description="Labels past their hold or reject threshold.")
    reasons: list[Reason]
    model: ModelInfo
    context: str | None = Field(None, description="With return_context: the thread context as the model read it.")


class BatchResult(Body):
    """The answer of ``POST /v1/review:batch``: one result per item, in order."""

    results: list[ReviewResult]


class FeedbackResult(Body):
    """The answer of ``POST /v1/feedback``, sent once the label event is on disk."""

    id: str
    at: str
    stored: bool


class Health(Body):
    """The answer of ``GET /healthz``: ``degraded`` when serving without a model."""

    status: Literal["ok", "degraded"]
    model: ModelInfo | None


class ErrorDetail(Body):
    """An error's ``code`` (such as ``validation_error``) and its one-line ``message``."""

    code: str
    message: str


class ErrorBody(Body):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail
