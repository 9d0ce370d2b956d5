"""Scoring ``POST /v1/review:batch``: in chunks, on helper processes that share the loaded model.

A batch is cut into chunks of at most :data:`CHUNK_ITEMS` comments and :data:`CHUNK_CHARS`
characters of text (:func:`chunk_bounds`), so its scoring memory is a few chunks', whatever
its size. :class:`BatchScorer` scores the chunks:

- on ``helpers`` processes forked from the serving process once the model is loaded and
  warmed up (:meth:`BatchScorer.start`, called before the event loop runs: the fork copies no
  thread; :func:`gc.freeze` first, so the helpers' garbage collector never writes to the
  model's pages and they stay shared). A large batch then uses every core, and the serving
  process's event loop only waits: ``/v1/review`` and ``/healthz`` keep their latency while
  a batch is scored (scoring in a thread of the serving process would hold its GIL);
- without helpers (not started, or ``helpers=0``), on one thread of the serving process, one
  chunk at a time.

Each chunk comes back as the JSON of its results (:func:`dumps`), so the serving process only
joins bytes. A batch that has not finished within its time budget (:data:`BATCH_SECONDS`,
``MODERATION_BATCH_SECONDS``) stops: the chunks not started are dropped and the request is
refused with :class:`OverBudgetError`, which the application answers as ``413``. Once chunks
have been scored, their speed (seconds per character, with and without explanations) says
up front what cannot finish in time, so no work is spent on it: a batch that alone would take
longer than the budget is refused at once (:class:`OverBudgetError`, ``413``), one that would
finish too late behind the batches already accepted is told when to come back
(:class:`BusyError`, ``503`` with ``Retry-After``).

Examples
--------
>>> chunk_bounds([10, 10, 10], max_items=2, max_chars=1_000)
[(0, 2), (2, 3)]
>>> chunk_bounds([600, 600, 10], max_items=50, max_chars=1_000)
[(0, 1), (1, 3)]
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import gc
import json
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...moderator import Moderator

#: Comments in one chunk.
CHUNK_ITEMS = 50
#: Characters of text in one chunk (a longer comment is a chunk of its own).
CHUNK_CHARS = 50_000
#: Seconds a batch may take by default (``MODERATION_BATCH_SECONDS`` overrides it).
BATCH_SECONDS = 60.0

try:
    import orjson as _orjson
except ImportError:  # the standard library's json serves
    _orjson = None  # type: ignore[assignment]

#: The moderator of a helper process (set before the helpers are forked).
_MODERATOR: Moderator | None = None


def dumps(obj: Any) -> bytes:
    """An answer's JSON: with ``orjson`` (a Rust wheel; several times faster than ``json`` on
    a review's answer) when it is installed and the value fits it, else with ``json``.
    Neither ever writes NaN or Infinity (not JSON): the fallback refuses them, orjson writes null.

    Examples
    --------
    >>> dumps({"a": 1.5, "t": "チョン"}).decode()
    '{"a":1.5,"t":"チョン"}'
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(obj)
        except TypeError:  # an integer beyond 64 bits, a subclass orjson does not know
            pass
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def batch_seconds(environ: dict[str, str] | None = None) -> float:
    """The time budget of a batch: ``MODERATION_BATCH_SECONDS`` when set to a positive number,
    else :data:`BATCH_SECONDS`.

    Raises
    ------
    ValueError
        ``MODERATION_BATCH_SECONDS`` is set but is not a positive number.

    Examples
    --------
    >>> batch_seconds({}), batch_seconds({"MODERATION_BATCH_SECONDS": "120"})
    (60.0, 120.0)
    """
    raw = (os.environ if environ is None else environ).get("MODERATION_BATCH_SECONDS", "").strip()
    if not raw:
        return BATCH_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"MODERATION_BATCH_SECONDS={raw!r}: give a positive number of seconds")
    return value


def batch_helpers(environ: dict[str, str] | None = None) -> int:
    """Helper processes per serving process: ``MODERATION_BATCH_HELPERS`` when set (0: batches
    are scored on a thread of the serving process), else one per CPU this process may use.

    Raises
    ------
    ValueError
        ``MODERATION_BATCH_HELPERS`` is set but is not a whole number from 0 to 64.

    Examples
    --------
    >>> batch_helpers({"MODERATION_BATCH_HELPERS": "0"}), batch_helpers({}) >= 1
    (0, True)
    """
    raw = (os.environ if environ is None else environ).get("MODERATION_BATCH_HELPERS", "").strip()
    if not raw:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(1, cpus or 1)
    if not raw.isdigit() or int(raw) > 64:
        raise ValueError(f"MODERATION_BATCH_HELPERS={raw!r}: give a whole number of processes from 0 to 64")
    return int(raw)


def chunk_bounds(lengths: Sequence[int], *, max_items: int = CHUNK_ITEMS, max_chars: int = CHUNK_CHARS) -> list:
    """``[start, end)`` of consecutive chunks of comments whose lengths are ``lengths``: at most
    ``max_items`` comments and ``max_chars`` characters each (a longer comment alone).

    Examples
    --------
    >>> chunk_bounds([])
    []
    >>> chunk_bounds([4_000] * 30)
    [(0, 12), (12, 24), (24, 30)]
    """
    bounds = []
    start, chars = 0, 0
    for i, n in enumerate(lengths):
        if i > start and (i - start >= max_items or chars + n > max_chars):
            bounds.append((start, i))
            start, chars = i, 0
        chars += n
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


def score_chunk(texts: list[str], contexts: list[str], explain: bool, moderator: Moderator | None = None) -> bytes:
    """The JSON array of the decisions of one chunk (``moderator``, else the helper's own).

    Examples
    --------
    >>> from moderation.moderator import Moderator
    >>> import json
    >>> json.loads(score_chunk(["いい試合だった"], [""], False, Moderator.load()))[0]["action"]
    'allow'
    """
    moderator = moderator if moderator is not None else _MODERATOR
    assert moderator is not None, "a helper's moderator is set before it is forked"
    return dumps([d.to_dict() for d in moderator.decide_texts(texts, contexts, explain=explain)])


def timed_chunk(
    texts: list[str], contexts: list[str], explain: bool, moderator: Moderator | None = None
) -> tuple[float, bytes]:
    """:func:`score_chunk` and the seconds it took (where it ran: a helper's share of the machine)."""
    start = time.perf_counter()
    body = score_chunk(texts, contexts, explain, moderator)
    return time.perf_counter() - start, body


def _helper_start(parent: int, close_fds: tuple[int, ...]) -> None:
    """Set up a helper process: it dies with the serving process, Ctrl-C is its parent's to
    handle (no traceback from every helper), and it holds no listening socket."""
    from .workers import watch_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # blocked by the fork's parent
    watch_parent(parent)
    for fd in close_fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _ready() -> int:
    return os.getpid()


class OverBudgetError(Exception):
    """A batch did not finish within its time budget; the message says so in one line."""


class BusyError(Exception):
    """The batches already accepted would keep a new one past its time budget.

    Attributes
    ----------
    retry_after : int
        Seconds after which the batches ahead should be done.
    """

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class HelperDiedError(Exception):
    """A helper process died while scoring (killed, out of memory); it is replaced."""


class BatchScorer:
    """Scores batches for one serving process: on forked helpers once :meth:`start` ran, else
    on one thread.

    Parameters
    ----------
    moderator : Moderator
    helpers : int
        Helper processes :meth:`start` forks (0: score on a thread of this process).
    seconds : float
        Time budget of one batch (see :func:`batch_seconds`).
    max_items, max_chars : int
        Size of a chunk (see :func:`chunk_bounds`).

    Examples
    --------
    >>> import asyncio
    >>> from moderation.moderator import Moderator
    >>> scorer = BatchScorer(Moderator.load())   # not started: scores on a thread
    >>> body = asyncio.run(scorer.score(["いい試合だった", "ﾁｮﾝは帰れ"], ["", ""], explain=False))
    >>> [r["action"] for r in json.loads(body)["results"]]
    ['allow', 'reject']
    """

    def __init__(
        self,
        moderator: Moderator,
        *,
        helpers: int = 0,
        seconds: float = BATCH_SECONDS,
        max_items: int = CHUNK_ITEMS,
        max_chars: int = CHUNK_CHARS,
    ):
        self.moderator = moderator
        self.helpers = max(0, int(helpers))
        self.seconds = float(seconds)
        self.max_items = max_items
        self.max_chars = max_chars
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="batch")
        self._close_fds: tuple[int, ...] = ()
        #: Characters of the batches being scored (or waiting) in this process.
        self.queued_chars = 0
        #: Seconds per character of one helper (or the thread), with and without explanations:
        #: measured on every chunk (an exponential average), None until a chunk was scored.
        self.seconds_per_char: dict[bool, float | None] = {False: None, True: None}

    @property
    def started(self) -> bool:
        """Whether the helper processes are running."""
        return self._pool is not None

    def start(self, close_fds: Iterable[int] = ()) -> None:
        """Fork the helpers now (in the serving process, before its event loop starts).

        Parameters
        ----------
        close_fds : iterable of int
            Descriptors the helpers close (the listening socket: only the server accepts).
        """
        global _MODERATOR
        if self.helpers < 1 or self._pool is not None:
            return
        _MODERATOR = self.moderator
        self._close_fds = tuple(close_fds)
        # SIGTERM or Ctrl-C while forking would leave a helper half started: they wait until the
        # helpers run (a SIGTERM to this process is then handled as usual).
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            gc.collect()
            gc.freeze()  # the helpers' (and this process's) collector never touches the model's objects
            pool = concurrent.futures.ProcessPoolExecutor(
                self.helpers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_helper_start,
                initargs=(os.getpid(), self._close_fds),
            )
            for future in [pool.submit(_ready) for _ in range(self.helpers)]:  # every helper is forked now
                future.result()
            self._pool = pool
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def stop(self) -> None:
        """Stop the helpers (waiting for the chunk each is scoring)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def score(self, texts: list[str], contexts: list[str], *, explain: bool) -> bytes:
        """The answer body ``{"results": [...]}`` of a batch, in order.

        Raises
        ------
        OverBudgetError
            The batch did not finish within ``seconds``, or (refused before any scoring) would
            take longer than ``seconds`` at the speed measured on the chunks scored so far.
        BusyError
            The batches accepted before would keep this one past ``seconds``.
        HelperDiedError
            A helper died while scoring.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        chars = sum(len(t) for t in texts)
        self._admit(chars, explain)
        self.queued_chars += chars
        try:
            return await self._score(texts, contexts, explain, deadline)
        finally:
            self.queued_chars -= chars

    def _admit(self, chars: int, explain: bool) -> None:
        """Refuse at once a batch that the measured speed says cannot finish within the budget."""
        rate = self.seconds_per_char[explain]
        if rate is None:
            return
        parallel = max(1, self.helpers) if self._pool is not None else 1
        alone = chars * rate / parallel
        if alone > self.seconds:
            raise OverBudgetError(
                f"the batch would take about {alone:.0f} s ({chars:,} characters at the speed of the batches "
                f"scored so far), more than the budget of {self.seconds:g} s; send fewer or shorter comments per batch"
            )
        ahead = self.queued_chars * rate / parallel
        if ahead + alone > self.seconds:
            raise BusyError(
                f"the batches being scored hold {self.queued_chars:,} characters (about {ahead:.0f} s): this one "
                f"would not finish within {self.seconds:g} s; send it again in {math.ceil(ahead)} s",
                math.ceil(ahead),
            )

    def _measured(self, explain: bool, seconds: float, chars: int) -> None:
        if chars > 0:
            rate = seconds / chars
            old = self.seconds_per_char[explain]
            self.seconds_per_char[explain] = rate if old is None else 0.7 * old + 0.3 * rate

    async def _score(self, texts: list[str], contexts: list[str], explain: bool, deadline: float) -> bytes:
        loop = asyncio.get_running_loop()
        bounds = collections.deque(
            chunk_bounds([len(t) for t in texts], max_items=self.max_items, max_chars=self.max_chars)
        )
        pool = self._pool
        in_flight = 2 * self.helpers if pool is not None else 2
        pending: collections.deque[tuple[int, int, asyncio.Future[tuple[float, bytes]]]] = collections.deque()
        parts: list[bytes] = []
        done = 0
        try:
            while bounds or pending:
                while bounds and len(pending) < in_flight:
                    a, b = bounds.popleft()
                    if pool is not None:
                        job = loop.run_in_executor(pool, timed_chunk, texts[a:b], contexts[a:b], explain)
                    else:
                        job = loop.run_in_executor(
                            self._thread, timed_chunk, texts[a:b], contexts[a:b], explain, self.moderator
                        )
                    pending.append((b - a, sum(len(t) for t in texts[a:b]), job))
                size, chars, job = pending[0]
                seconds, part = await asyncio.wait_for(job, max(0.0, deadline - loop.time()))
                pending.popleft()
                self._measured(explain, seconds, chars)
                parts.append(part[1:-1])
                done += size
        except asyncio.TimeoutError:
            raise OverBudgetError(
                f"the batch did not finish within {self.seconds:g} s ({done:,} of {len(texts):,} comments "
                "scored); send fewer or shorter comments per batch"
            ) from None
        except concurrent.futures.process.BrokenProcessPool:
            self._replace_pool(pool)
            raise HelperDiedError(
                "a batch helper process died while scoring; nothing was answered, try again"
            ) from None
        finally:
            for _size, _chars, job in pending:
                job.cancel()  # the chunks not started are dropped
        return b'{"results":[' + b",".join(parts) + b"]}"

    def _replace_pool(self, broken: concurrent.futures.ProcessPoolExecutor | None) -> None:
        """A broken pool is replaced by a new one (forked from this process as it is now)."""
        if broken is None or self._pool is not broken:
            return
        self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)
        try:
            self.start(self._close_fds)
        except OSError:  # cannot fork now: score on the thread until the next restart
            self._pool = None
