"""What keeps the hook from being starved: header timeouts, a connection cap, file descriptors
and log lines that cannot flood.

- :class:`GuardedHttpToolsProtocol` (and :class:`GuardedH11Protocol` where ``httptools`` is
  not installed): uvicorn's HTTP/1.1 protocol with a deadline for a request's
  headers (a connection that sends nothing, or half a request line, is closed after
  :data:`HEADER_TIMEOUT` seconds: uvicorn itself waits for ever) and a cap on the
  connections of one worker (:data:`MAX_CONNECTIONS`; at the cap, the longest-idle
  connection that is not in a request makes room, so idle connections can never lock out a
  real request).
- :func:`raise_fd_limit`: the soft limit on open files raised so the cap can be reached
  (a default of 1,024 descriptors is what 1,100 idle connections exhausted).
- :class:`RateLimit`: a logging filter that logs a flood of the same line once per interval
  with a count (an accept loop failing in a tight loop, or a client sending garbage, wrote
  9 MB/s).

The body of a request has its own deadline, :data:`BODY_TIMEOUT`, enforced where it is read
(:class:`moderation.apps.serve.app.BodyLimit`).

Examples
--------
>>> protocol = guarded_protocol(header_timeout=5, max_connections=100)
>>> protocol.header_timeout, protocol.max_connections, issubclass(protocol, Guard)
(5.0, 100, True)
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a connection may take to send a request's headers (from connecting, or from its
#: first byte after the previous answer).
HEADER_TIMEOUT = 10.0
#: Seconds a request may take to send its body.
BODY_TIMEOUT = 30.0
#: Seconds an idle keep-alive connection stays open after an answer.
KEEP_ALIVE_TIMEOUT = 5
#: Open connections per worker process.
MAX_CONNECTIONS = 4096
#: File descriptors kept free for the rest of the process (model files, the feedback file, logs).
SPARE_FDS = 128

log = logging.getLogger("moderation.serve")


class Guard:
    """A header deadline and a per-worker connection cap, on top of either of uvicorn's HTTP/1.1
    protocols (mixed in before it: :class:`GuardedHttpToolsProtocol`, :class:`GuardedH11Protocol`).

    Attributes
    ----------
    header_timeout : float
        Seconds to receive a request's headers; then the connection is closed.
    max_connections : int
        Connections of this worker; a new one beyond it first evicts the longest-idle
        connection between requests, else it is closed at once.
    """

    header_timeout: float = HEADER_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    # Set by uvicorn's protocol classes.
    cycle: Any
    connections: Any
    transport: Any
    loop: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._header_timer: asyncio.TimerHandle | None = None
        self._idle_since = time.monotonic()
        super().connection_made(transport)  # type: ignore[misc]
        if len(self.connections) > self.max_connections and not self._make_room():
            log.warning("refused a connection: %d open, the cap is %d", len(self.connections), self.max_connections)
            self.transport.abort()
            return
        self._arm()

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _make_room(self) -> bool:
        idle = [c for c in self.connections if c is not self and isinstance(c, Guard) and c._idle()]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since)
        oldest.transport.abort()
        self.connections.discard(oldest)
        return True

    def _idle(self) -> bool:
        return not self._in_request() and not self.transport.is_closing()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        if not self._in_request() and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self._in_request():
            self._disarm()
        else:
            self._arm()

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()  # type: ignore[misc]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]


class GuardedH11Protocol(Guard, H11Protocol):
    """uvicorn's pure-Python h11 protocol with the :class:`Guard` (used without ``httptools``)."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: the h11 protocol serves
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(Guard, HttpToolsProtocol):
        """uvicorn's protocol on ``httptools`` (llhttp, in C) with the :class:`Guard`: the hook's
        default, parsing a request several times faster than h11."""


def guarded_protocol(
    *, header_timeout: float = HEADER_TIMEOUT, max_connections: int = MAX_CONNECTIONS, http: str = "auto"
) -> type:
    """The guarded protocol with these limits (what ``uvicorn.Config(http=...)`` takes):
    on ``httptools`` when it is installed (``http="auto"`` or ``"httptools"``), else on h11.

    Raises
    ------
    ValueError
        ``http="httptools"`` without ``httptools`` installed, or an unknown ``http``.
    """
    if http not in ("auto", "httptools", "h11"):
        raise ValueError(f"unknown HTTP protocol {http!r}; use auto, httptools or h11")
    if http == "httptools" and HttpToolsProtocol is None:
        raise ValueError("httptools is not installed (pip install httptools)")
    base: type = GuardedH11Protocol if http == "h11" or HttpToolsProtocol is None else GuardedHttpToolsProtocol
    attrs: dict[str, Any] = {"header_timeout": float(header_timeout), "max_connections": int(max_connections)}
    return type(base.__name__, (base,), attrs)


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards ``wanted`` (never above the hard limit).

    Returns
    -------
    int
        The soft limit now in force.

    Examples
    --------
    >>> raise_fd_limit(64) >= 64
    True
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class RateLimit(logging.Filter):
    """Logging filter: a flood of the same line is logged once per ``interval`` with a count.

    Lines are the same when they come from the same logger, at the same level, with the same
    message template (``"Invalid HTTP request received."``, ``"internal error on %s %s: ..."``
    whatever the client sent): the first passes, the repeats within ``interval`` seconds are
    counted and dropped, and the first one after it passes saying how many there were. Lines
    of different kinds share a budget of ``burst`` per ``interval``, so many kinds at once
    cannot flood the log either (a client's garbage wrote 9 MB/s of tracebacks).

    Examples
    --------
    >>> limit = RateLimit(interval=60)
    >>> def line(msg, *args):
    ...     return logging.LogRecord("uvicorn.error", 30, "", 0, msg, args, None)
    >>> [limit.filter(line("Invalid HTTP request received.")) for _ in range(5)]
    [True, False, False, False, False]
    >>> limit.filter(line("internal error on %s", "/a")), limit.filter(line("internal error on %s", "/b"))
    (True, False)
    >>> limit.last_seen -= 61  # a minute later
    >>> for kind in limit.kinds.values():
    ...     kind[0] -= 61
    >>> record = line("Invalid HTTP request received.")
    >>> limit.filter(record), record.getMessage()
    (True, 'Invalid HTTP request received. (4 more like this were not logged)')
    """

    #: Kinds of line remembered (the oldest forgotten first).
    MAX_KINDS = 1024

    def __init__(self, interval: float = 10.0, burst: int = 50):
        super().__init__()
        self.interval = float(interval)
        self.burst = burst
        self.kinds: dict[tuple, list] = {}  # kind -> [when one last passed, repeats dropped since]
        self.last_seen = time.monotonic()
        self.passed = 0
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self.lock:
            if now - self.last_seen >= self.interval:
                self.last_seen, self.passed = now, 0
            entry = self.kinds.get(kind)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            if self.passed >= self.burst:  # too many kinds of line in this interval
                if entry is not None:
                    entry[1] += 1
                return False
            dropped = entry[1] if entry is not None else 0
            self.kinds.pop(kind, None)
            self.kinds[kind] = [now, 0]
            while len(self.kinds) > self.MAX_KINDS:
                self.kinds.pop(next(iter(self.kinds)))
            self.passed += 1
        if dropped:
            record.msg = f"{record.getMessage()} ({dropped} more like this were not logged)"
            record.args = ()
        return True
