"""What the labeling tool offers: the comments of extracted records, each with what the screen
shows around it (thread title, the posts it replies to) and the context the model reads.

Examples
--------
>>> from moderation.io.readers.scrape import parse_scrape
>>> items = collect_items(parse_scrape("最初の書き込み\\n>>1\\nそうだね", thread="t"))
>>> [(i.text, i.replies, i.thread_text) for i in items]
[('最初の書き込み', [], ''), ('そうだね', [(1, '最初の書き込み')], '最初の書き込み')]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...context import CONTEXT_CHARS, Context, ThreadContexts, titles_first
from ...core import Comment

#: The first line of a thread's first article (shown when there is no title) is cut to this.
HEADLINE_CHARS = 120


@dataclass
class Item:
    """One comment offered for labeling, with what the screen shows around it.

    Attributes
    ----------
    comment : moderation.core.Comment
    title : str or None
        The thread title (a ``title`` record or a ``thread_title`` column).
    headline : str or None
        The first line of the thread's first article, shown when there is no title.
    thread_text : str
        The thread text the comment is scored against (articles and earlier posts), as far
        as the model reads it: the same context ``moderation score`` uses. It is stored in
        the label event, so training sees it too.
    replies : list of (int, str or None)
        For each post number the comment replies to: that post's text, ``""`` for a deleted
        post, None when the post is not in the input.
    context : str
        The model's context: the title, then the thread text.
    """

    comment: Comment
    title: str | None
    headline: str | None
    thread_text: str
    replies: list[tuple[int, str | None]] = field(default_factory=list)
    context: str = ""

    @property
    def id(self) -> str:
        """The comment's id."""
        return self.comment.id

    @property
    def text(self) -> str:
        """The comment's text."""
        return self.comment.text


def offerable(rec: Comment) -> bool:
    """Whether a record is offered for labeling: a comment, not deleted, with text.

    Examples
    --------
    >>> offerable(Comment("t", "t-1", 1, "comment", "こんにちは"))
    True
    >>> article = Comment("t", "t-2", None, "article", "記事本文")
    >>> offerable(article), offerable(Comment("t", "t-3", 3, "comment", "", deleted=True))
    (False, False)
    """
    return rec.kind == "comment" and not rec.deleted and bool(rec.text and rec.text.strip())


def _thread_text(context: Context) -> str:
    """The body of a context as far as the model reads it (:attr:`Context.text` is cut to
    :data:`~moderation.context.CONTEXT_CHARS` characters, title and newline included)."""
    room = CONTEXT_CHARS - (len(context.title) + 1 if context.title else 0)
    return context.body[: max(0, room)]


def collect_items(records: Iterable[Comment]) -> list[Item]:
    """The comments of extracted records that are offered for labeling, in input order.

    Articles, titles, page furniture (``meta``), deleted posts and empty comments are not
    offered. They still provide titles, reply targets and thread context
    (:class:`moderation.context.ThreadContexts`, as scoring builds it). The same comment id
    twice (the same file given twice) is offered once. A reply ``>>N`` resolves to the post
    numbered N in the same thread. In a thread with no post numbers at all (a CSV/JSONL
    table without a ``no`` column), it resolves to the N-th comment of the thread.

    Parameters
    ----------
    records : iterable of Comment
        Extracted records (:func:`moderation.io.extract`).

    Returns
    -------
    list of Item

    Examples
    --------
    >>> from moderation.io.readers.scrape import parse_scrape
    >>> items = collect_items(parse_scrape("最初の書き込み\\n>>1\\nそうだね", thread="t"))
    >>> [(i.text, i.replies) for i in items]
    [('最初の書き込み', []), ('そうだね', [(1, '最初の書き込み')])]
    """

    records = list(titles_first(records))
    numbered: dict[str, dict[int, Comment]] = defaultdict(dict)
    ordinal: dict[str, list[Comment]] = defaultdict(list)
    headlines: dict[str, str] = {}
    for rec in records:
        if rec.kind == "comment":
            ordinal[rec.thread].append(rec)
            if rec.no is not None:
                numbered[rec.thread].setdefault(rec.no, rec)
        elif rec.kind == "article" and rec.text.strip() and rec.thread not in headlines:
            headlines[rec.thread] = rec.text.strip().splitlines()[0][:HEADLINE_CHARS]

    def target(thread: str, n: int) -> Comment | None:
        if numbered[thread]:
            return numbered[thread].get(n)
        posts = ordinal[thread]
        return posts[n - 1] if 1 <= n <= len(posts) else None

    contexts = ThreadContexts()
    items: list[Item] = []
    seen: set[str] = set()
    for rec in records:
        if offerable(rec) and rec.id not in seen:
            seen.add(rec.id)
            context = contexts.for_record(rec)  # exactly what `moderation score` uses
            replies = []
            for n in rec.reply_to:
                post = target(rec.thread, n)
                replies.append((n, None if post is None else ("" if post.deleted else post.text)))
            items.append(
                Item(
                    rec, context.title or None, headlines.get(rec.thread), _thread_text(context), replies, context.text
                )
            )
        contexts.add(rec)
    return items


def items_from_events(events: Iterable[dict]) -> list[Item]:
    """Items for the comments of label events (for review and adjudication without the
    inputs): the text, thread title and thread text the labeling tool stored with each label.

    Parameters
    ----------
    events : iterable of dict
        Label-file events; the latest label event of each comment id gives its item.

    Returns
    -------
    list of Item
        In the order the comments first appear.

    Examples
    --------
    >>> ev = [{"id": "a", "thread": "t", "text": "それな", "labels": {}, "thread_title": "題", "thread_text": "記事"}]
    >>> [(i.id, i.title, i.thread_text, i.context) for i in items_from_events(ev)]
    [('a', '題', '記事', '題\\n記事')]
    """
    from ...context import build_context

    events = list(events)
    latest: dict[str, dict] = {}
    for event in events:
        if "labels" in event and not event.get("undo") and event.get("text") is not None:
            latest.pop(str(event["id"]), None)
            latest[str(event["id"])] = event
    first: dict[str, int] = {}
    for n, event in enumerate(events):
        first.setdefault(str(event.get("id")), n)
    items = []
    for cid, event in sorted(latest.items(), key=lambda kv: first.get(kv[0], 0)):
        title = event.get("thread_title") if isinstance(event.get("thread_title"), str) else None
        thread_text = str(event["thread_text"]) if isinstance(event.get("thread_text"), str) else ""
        rec = Comment(
            str(event.get("thread") or ""),
            cid,
            None,
            "comment",
            str(event["text"]),
            source=str(event.get("source") or ""),
        )
        items.append(Item(rec, title, None, thread_text, [], build_context(title, thread_text).text))
    return items
