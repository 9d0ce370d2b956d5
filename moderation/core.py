"""The shared vocabulary: labels, record kinds, records, decisions and errors.

Every layer of the package imports from here and this module imports nothing of the
package (and nothing heavy), so it is the one place each of these names is defined.

Examples
--------
>>> LABELS
('slur', 'off_topic', 'delete')
>>> Comment(thread="t", id="t-1", no=1, kind="comment", text="こんにちは").to_dict()["text"]
'こんにちは'
>>> issubclass(ModelError, ModerationError)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The package's version (also ``moderation.__version__``), recorded in every model it writes.
__version__ = "0.1.0"
#: The labels a comment is scored for, in output order.
LABELS: tuple[str, ...] = ("slur", "off_topic", "delete")
#: What can be done with a comment, from mildest to strictest.
ACTIONS: tuple[str, ...] = ("allow", "hold", "reject")
#: What a unit of a thread dump can be (see :class:`Comment`).
RECORD_KINDS: tuple[str, ...] = ("article", "comment", "title", "meta")
#: Record kinds that are scored: a moderator wants to know that a pasted article is fine too.
SCORED_KINDS: tuple[str, ...] = ("comment", "article")
#: Record fields in output order (CSV columns, JSONL keys).
FIELDS: tuple[str, ...] = (
    "thread",
    "id",
    "no",
    "kind",
    "text",
    "reply_to",
    "deleted",
    "author",
    "posted_at",
    "urls",
    "span",
    "source",
)
#: A threshold no probability reaches: the one spelling of "never" (a ``reject`` that is off).
NEVER: float = math.inf

#: Where a module reports a problem it recovered from (a skipped line, say): one line of text.
Warn = Callable[[str], None]


def is_never(threshold: float | None) -> bool:
    """Whether ``threshold`` turns its step off (no probability can reach it).

    Examples
    --------
    >>> is_never(NEVER), is_never(0.9)
    (True, False)
    """
    return threshold is None or threshold > 1.0


def step(p: float, thresholds: dict[str, float]) -> str:
    """The action one label's score calls for on its own: ``reject`` at or above the
    ``reject`` threshold, ``hold`` at or above ``hold``, else ``allow``. The whole decision
    (every label, the off-topic rule, a forum's terms) is :class:`moderation.policy.Decider`'s.

    Examples
    --------
    >>> step(0.7, {"hold": 0.3, "reject": 0.6}), step(0.7, {"hold": 0.3, "reject": NEVER})
    ('reject', 'hold')
    """
    if p >= thresholds["reject"]:
        return "reject"
    return "hold" if p >= thresholds["hold"] else "allow"


# --------------------------------------------------------------------------- errors


class ModerationError(Exception):
    """Base of every error the package raises for a user's input or files: the message is
    one line that names the file or value and says what to do about it."""


class ExtractError(ModerationError):
    """Input the extractor cannot read."""


class ModelError(ModerationError):
    """A model directory that cannot be used; the message says which file and why."""


class TrainingError(ModerationError, ValueError):
    """Training data that cannot give a model (no positives for a label, say)."""


class LexiconError(ModerationError, ValueError):
    """A lexicon file is malformed; the message names the line."""


class LabelFileError(ModerationError):
    """A label file that cannot be used (unwritable, locked, not a label file)."""


class PolicyError(ModerationError):
    """A policy or server configuration the service cannot start with."""


# --------------------------------------------------------------------------- records


@dataclass
class Comment:
    """One unit of a thread: a post, a pasted article, the thread title or page furniture.

    Parameters
    ----------
    thread : str
        Thread id (by default the stem of the file it came from).
    id : str
        Stable id: the same input always gives the same id.
    no : int or None
        Post number where the source gives one.
    kind : {'article', 'comment', 'title', 'meta'}
        ``meta`` is anything that is neither a post nor an article nor the title
        (counters, share buttons, rows that could not be read); it is kept, never dropped.
    text : str
        The post's own text, reply anchors removed. Empty for deleted posts.
    reply_to : list of int
        Post numbers this post answers (from ``>>N`` anchors).
    deleted : bool
        The source shows the post as deleted.
    author, posted_at : str or None
        Poster name and ISO 8601 time where the source gives them.
    urls : list of str
        URLs in the unit (for an article, its source URL).
    span : tuple of int
        ``[start, end)`` character offsets into the decoded source text.
    source : str
        Path of the source file.
    extra : dict
        Columns of tabular input that are not record fields, passed through unchanged.

    Examples
    --------
    >>> c = Comment(thread="t", id="t-2", no=2, kind="comment", text="それな", reply_to=[1])
    >>> list(c.to_dict())[:5]
    ['thread', 'id', 'no', 'kind', 'text']
    """

    thread: str
    id: str
    no: int | None
    kind: str
    text: str
    reply_to: list[int] = field(default_factory=list)
    deleted: bool = False
    author: str | None = None
    posted_at: str | None = None
    urls: list[str] = field(default_factory=list)
    span: tuple[int, int] = (0, 0)
    source: str = ""
    extra: dict = field(default_factory=dict)
    # The reader that produced the record ('scrape', 'dat', 'html', 'jsonl', 'csv'); not output.
    source_format: str = field(default="", compare=False, repr=False)

    def to_dict(self, *, extra: bool = True) -> dict:
        """The record as a plain dict in :data:`FIELDS` order, pass-through columns after."""
        out = {name: getattr(self, name) for name in FIELDS}
        out["reply_to"] = list(self.reply_to)
        out["urls"] = list(self.urls)
        out["span"] = list(self.span)
        if extra:
            for key, value in self.extra.items():
                out.setdefault(key, value)
        return out


@dataclass
class Reason:
    """Why a comment was flagged: a span ``[start, end)`` of the original text and its excerpt.

    ``source`` is ``lexicon`` (a slur lexicon hit), ``model`` (the n-grams that weighed most)
    or ``policy`` (a forum's block or watch term; ``label`` is then ``block`` or ``watch``).

    Examples
    --------
    >>> Reason("slur", (0, 3), "下朝鮮", 0.85, "lexicon").to_dict()["span"]
    [0, 3]
    """

    label: str
    span: tuple[int, int]
    excerpt: str
    weight: float
    source: str = "model"

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "span": list(self.span),
            "excerpt": self.excerpt,
            "weight": round(float(self.weight), 4),
            "source": self.source,
        }


@dataclass
class Decision:
    """What to do with one comment, and why.

    ``context`` is the thread context the comment was judged in, exactly as the model read it
    (built by :mod:`moderation.context`); :meth:`to_dict` adds it only when asked, since it can
    be long.

    Examples
    --------
    >>> Decision("allow", {"slur": 0.01}, []).to_dict()["action"]
    'allow'
    """

    action: str
    scores: dict[str, Any]
    labels: list[str]
    reasons: list[Reason] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)

    context: str = ""

    def to_dict(self, *, context: bool = False) -> dict:
        out = {
            "action": self.action,
            "scores": self.scores,
            "labels": self.labels,
            "reasons": [r.to_dict() for r in self.reasons],
            "model": self.model,
        }
        if context:
            out["context"] = self.context
        return out
