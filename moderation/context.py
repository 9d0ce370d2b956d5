"""The one place the thread context of a comment is built.

A comment is judged in its thread: the thread's title, the post it replies to, the pasted
article and the thread's latest earlier posts. Training (:mod:`moderation.labels`), scoring
(:class:`moderation.moderator.Moderator`, ``moderation score``), the HTTP hook and the labeling
tool all build that context here, so what a model was trained on is what it is served.

- :func:`build_context` from the pieces a caller has (an API request, a label row);
- :class:`ThreadContexts` from a stream of extracted records, thread by thread, in bounded
  memory.

Examples
--------
>>> build_context("在韓米軍の役割", "記事の本文", reply_to="米軍は撤退すべき").text
'在韓米軍の役割\\n米軍は撤退すべき\\n記事の本文'
>>> contexts = ThreadContexts()
>>> contexts.add(Comment(thread="t", id="t-0", no=None, kind="title", text="在韓米軍の役割"))
>>> contexts.add(Comment(thread="t", id="t-1", no=1, kind="comment", text="撤退は早い"))
>>> contexts.for_record(Comment(thread="t", id="t-2", no=2, kind="comment", text="それな")).text
'在韓米軍の役割\\n撤退は早い'
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .core import Comment

#: How much of a thread's text (title first) a comment is compared with.
CONTEXT_CHARS = 4000
#: Earlier posts of the thread that count as its context.
EARLIER_POSTS = 8
#: Each earlier post counts with at most this many characters.
POST_CHARS = 500
#: Pasted articles of a thread that count (the latest ones).
ARTICLES_KEPT = 2
#: Formats whose records arrive already split, with their context in columns.
TABULAR_FORMATS = ("csv", "jsonl", "parquet")
_TABULAR_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".pq")


@dataclass(frozen=True)
class Context:
    """A comment's thread context: ``title`` and ``body`` (reply target, article, earlier
    posts), and :attr:`text`, the string the model reads.

    Examples
    --------
    >>> Context("タイトル", "本文").text
    'タイトル\\n本文'
    >>> Context().text
    ''
    """

    title: str = ""
    body: str = ""

    @property
    def text(self) -> str:
        """Title, then body, cut to :data:`CONTEXT_CHARS` characters."""
        return "\n".join(p for p in (self.title, self.body) if p)[:CONTEXT_CHARS]

    def __bool__(self) -> bool:
        return bool(self.title or self.body)


def _clean(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def build_context(
    title: str | None = None,
    text: str | None = None,
    *,
    reply_to: str | None = None,
    articles: Iterable[str] = (),
    posts: Iterable[str] = (),
) -> Context:
    """The context of one comment from the pieces of its thread.

    Parameters
    ----------
    title : str, optional
        The thread's title.
    text : str, optional
        Thread text the caller already has (an article, earlier posts), used as given.
    reply_to : str, optional
        The post the comment answers: the closest context, so it comes first.
    articles : iterable of str
        Pasted articles; the latest :data:`ARTICLES_KEPT` count.
    posts : iterable of str
        Earlier posts, oldest first; the latest :data:`EARLIER_POSTS` count, each cut to
        :data:`POST_CHARS` characters.

    Returns
    -------
    Context

    Examples
    --------
    >>> build_context(None, "  本文  ").text
    '本文'
    >>> build_context("題", posts=[str(i) for i in range(20)]).body.split("\\n")[0]
    '12'
    """
    articles = [a[:CONTEXT_CHARS] for a in articles][-ARTICLES_KEPT:]
    posts = [p[:POST_CHARS] for p in posts][-EARLIER_POSTS:]
    body = "\n".join(p for p in (reply_to, text, *articles, *posts) if isinstance(p, str) and p)
    return Context(_clean(title), body.strip())


def thread_context(title: str | None = None, text: str | None = None, *, reply_to: str | None = None) -> str:
    """The context string the model reads (:attr:`Context.text` of :func:`build_context`).

    Examples
    --------
    >>> thread_context("タイトル", "本文")
    'タイトル\\n本文'
    """
    return build_context(title, text, reply_to=reply_to).text


def is_tabular(rec: Comment) -> bool:
    """Records that came already split (CSV/JSONL) carry their own context in columns."""
    if rec.source_format:
        return rec.source_format in TABULAR_FORMATS
    return rec.source.lower().endswith(_TABULAR_SUFFIXES)


@dataclass
class _ThreadState:
    title: str | None = None
    articles: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)


class ThreadContexts:
    """Per thread: its title, pasted articles and latest posts, for the posts that follow.

    Bounded: the least recently used threads are forgotten past ``max_threads``, so memory
    stays flat however many threads a stream holds.

    Parameters
    ----------
    max_threads : int

    Examples
    --------
    >>> contexts = ThreadContexts()
    >>> contexts.add_post("t", "最初の投稿")
    >>> contexts.context("t", title="題").text
    '題\\n最初の投稿'
    """

    def __init__(self, max_threads: int = 5000):
        self.max_threads = max_threads
        self._threads: OrderedDict[str, _ThreadState] = OrderedDict()

    def _state(self, thread: str) -> _ThreadState:
        state = self._threads.get(thread)
        if state is None:
            state = self._threads[thread] = _ThreadState()
            if len(self._threads) > self.max_threads:
                self._threads.popitem(last=False)
        else:
            self._threads.move_to_end(thread)
        return state

    def context(self, thread: str, *, title: str | None = None) -> Context:
        """The context a new post of ``thread`` gets (``title`` overrides the one seen)."""
        state = self._state(thread)
        return build_context(title if title is not None else state.title, articles=state.articles, posts=state.posts)

    def add_post(self, thread: str, text: str) -> None:
        """Remember a post of ``thread`` as context for the posts after it."""
        if text:
            state = self._state(thread)
            state.posts.append(text[:POST_CHARS])
            del state.posts[:-EARLIER_POSTS]

    def for_record(self, rec: Comment) -> Context:
        """The context of an extracted record: its columns for CSV/JSONL records, the thread
        seen so far for records of a dump."""
        if is_tabular(rec):
            return build_context(rec.extra.get("thread_title"), rec.extra.get("thread_text"))
        return self.context(rec.thread)

    def add(self, rec: Comment) -> None:
        """Take a record into its thread's context (titles, articles and posts count)."""
        if is_tabular(rec):
            return
        if rec.kind == "title":
            self._state(rec.thread).title = rec.text
        elif rec.kind == "article":
            state = self._state(rec.thread)
            state.articles.append(rec.text[:CONTEXT_CHARS])
            del state.articles[:-ARTICLES_KEPT]
        elif rec.kind == "comment":
            self.add_post(rec.thread, rec.text)


def titles_first(records: Iterable[Comment]) -> Iterator[Comment]:
    """Scraped pages put the thread title at the end: each thread file's records are read
    whole and its title records come first, so every post sees its thread's title.
    CSV/JSONL records stream through one at a time."""
    pending: list[Comment] = []
    source = None
    for rec in records:
        if rec.source != source:
            yield from sorted(pending, key=lambda r: r.kind != "title")
            pending, source = [], rec.source
        if is_tabular(rec):
            yield rec
        else:
            pending.append(rec)
    yield from sorted(pending, key=lambda r: r.kind != "title")
