"""What keeps the hook from being starved: header timeouts, a connection cap, file descriptors
and log lines that cannot flood.

- :class:`GuardedH11Protocol`: uvicorn's HTTP/1.1 protocol with a deadline for a request's
  headers (a connection that sends nothing, or half a request line, is closed after
  :data:`HEADER_TIMEOUT` seconds: uvicorn itself waits for ever) and a cap on the
  connections of one worker (:data:`MAX_CONNECTIONS`; at the cap, the longest-idle
  connection that is not in a request makes room, so idle connections can never lock out a
  real request).
- :func:`raise_fd_limit`: the soft limit on open files raised so the cap can be reached
  (a default of 1,024 descriptors is what 1,100 idle connections exhausted).
- :class:`RateLimit`: a logging filter passing a burst of lines, then one line a second, and
  saying how many it dropped (an accept loop failing in a tight loop wrote 9 MB/s).

The body of a request has its own deadline, :data:`BODY_TIMEOUT`, enforced where it is read
(:class:`moderation.apps.serve.app.BodyLimit`).

Examples
--------
>>> protocol = guarded_protocol(header_timeout=5, max_connections=100)
>>> protocol.header_timeout, protocol.max_connections
(5.0, 100)
"""

from __future__ import annotations

import asyncio
import logging
import resource
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


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a per-worker connection cap.

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

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._idle_since = time.monotonic()
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._make_room():
            log.warning("refused a connection: %d open, the cap is %d", len(self.connections), self.max_connections)
            transport.abort()
            return
        self._arm()

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _make_room(self) -> bool:
        idle = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol) and c._idle()]
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
        super().data_received(data)
        if self._in_request():
            self._disarm()
        else:
            self._arm()

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def guarded_protocol(
    *, header_timeout: float = HEADER_TIMEOUT, max_connections: int = MAX_CONNECTIONS
) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` with these limits (what ``uvicorn.Config(http=...)`` takes)."""
    attrs: dict[str, Any] = {"header_timeout": float(header_timeout), "max_connections": int(max_connections)}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attrs)


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
    """Logging filter: ``burst`` lines, then at most one a second; the next line that passes
    says how many were dropped.

    Examples
    --------
    >>> limit = RateLimit(burst=2)
    >>> records = [logging.LogRecord("x", 40, "", 0, "accept failed", (), None) for _ in range(5)]
    >>> [limit.filter(r) for r in records]
    [True, True, False, False, False]
    """

    def __init__(self, burst: int = 20, per_second: float = 1.0):
        super().__init__()
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.rate = per_second
        self.stamp = time.monotonic()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            self.dropped += 1
            return False
        self.tokens -= 1
        if self.dropped:
            record.msg = f"{record.getMessage()} ({self.dropped} similar lines dropped)"
            record.args = ()
            self.dropped = 0
        return True
