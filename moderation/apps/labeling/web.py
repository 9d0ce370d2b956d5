"""``moderation label --web``: the labeling session as a local web page on 127.0.0.1.

The page drives the same :class:`~moderation.apps.labeling.session.Session` as the terminal (one
per annotator name, all appending to the same label file under its lock): the same keys, order,
undo, notes, review and adjudication. Keyboard first; the page is three files served from the
package (HTML, JavaScript, CSS), no external asset, so it works offline.

Hostile text stays text: the server sends comment text as segments already made displayable
(:func:`moderation.display.display_map`: control and bidi characters as visible escapes) and the
script only ever puts them into text nodes (``textContent``), never HTML. Every response carries
a strict Content-Security-Policy (scripts and styles from this origin only, no inline script,
nothing else loaded), ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``;
requests must name this server in ``Host`` (no DNS rebinding) and keys are posted as JSON (a
plain form on another site cannot send them).

Python's :mod:`http.server` is enough here: one moderator team on one machine, a few requests a
second, and no dependency beyond the standard library.

Examples
--------
>>> segments("a\\x1b[2Jb", [(3, 4, "hit")])
[['a', ''], ['␛', 'esc'], ['[', ''], ['2', 'hit'], ['Jb', '']]
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ...display import display_map, displayable
from .session import LABEL_KEYS, Session, View
from .worker import Background, idle

if TYPE_CHECKING:
    from .model_view import ModelView

#: Sent with every response.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
STATIC: dict[str, str] = {
    "/": "index.html",
    "/app.js": "app.js",
    "/app.css": "app.css",
}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
MAX_BODY = 16 * 1024
#: How long ``/api/view?wait=spans`` waits for the spans of the comment on screen, in seconds.
SPANS_WAIT = 10.0


def segments(text: str, ranges: list[tuple[int, int, str]]) -> list[list[str]]:
    """``text`` made displayable, cut into ``[piece, classes]`` where styles change.

    Parameters
    ----------
    text : str
        Untrusted text.
    ranges : list of (int, int, str)
        ``[start, end)`` of the original text and a class name (a span, a lexicon hit).

    Returns
    -------
    list of [str, str]
        The pieces in order, each with its space-separated classes (``esc`` for an escape).
    """
    shown = display_map(text)
    at = shown.offsets
    marks: list[tuple[int, int, str]] = [(a, b, "esc") for a, b in shown.escapes]
    marks += [(at[a], at[b], cls) for a, b, cls in ranges if 0 <= a <= b < len(at)]
    cuts = sorted({0, len(shown.text), *(x for a, b, _c in marks for x in (a, b))})
    out: list[list[str]] = []
    for a, b in itertools.pairwise(cuts):
        if a == b:
            continue
        classes = " ".join(sorted({c for x, y, c in marks if x <= a and b <= y}))
        if out and out[-1][1] == classes:
            out[-1][0] += shown.text[a:b]
        else:
            out.append([shown.text[a:b], classes])
    return out


def view_json(view: View) -> dict:
    """What the page shows, as JSON: every string from input made displayable, the comment
    (or thread context) as :func:`segments`."""
    from ...ml.lexicon import Lexicon

    one = lambda value: displayable(value, one_line=True)  # noqa: E731
    out: dict[str, Any] = {
        "mode": view.mode,
        "annotator": one(view.annotator),
        "labels_path": one(view.labels_path),
        "order": view.order,
        "model": view.model_version if view.has_model else None,
        "toggles": [label for label in LABEL_KEYS.values() if label in view.toggles],
        "progress": {
            "done": view.done,
            "total": view.total,
            "this_session": view.this_session,
            "skipped": view.skipped,
            "left": view.left,
            "rate_per_hour": view.rate_per_hour,
        },
        "notices": [one(n) for n in view.notices],
        "status": one(view.status),
        "help": view.help,
        "note": one(view.note),
        "editing_note": view.editing_note,
        "context": view.context,
        "all_done": view.all_done,
        "comment": None,
        "scores": None,
    }
    c = view.comment
    if c is None:
        return out
    ranges: list[tuple[int, int, str]] = []
    if view.scores is not None:
        ranges += [
            (r["span"][0], r["span"][1], "span") for r in view.scores.spans or () if r.get("source") != "lexicon"
        ]
    ranges += [(h.span[0], h.span[1], "hit") for h in Lexicon.load().find(c.text)]
    out["comment"] = {
        "id": one(c.id),
        "thread": one(c.thread),
        "no": c.no,
        "title": one(c.title or c.headline or ""),
        "replies": [[n, None if t is None else one(t[:240])] for n, t in c.replies],
        "text": segments(c.text, ranges),
        "context": segments(c.thread_text or "(no article or earlier posts in the input)", [])
        if view.context
        else None,
        "others": [[one(a), labels, one(note)] for a, labels, note in c.others],
    }
    if view.scores is not None:
        s = view.scores
        out["scores"] = {
            "scores": s.scores,
            "action": s.action,
            "flagged": list(s.flagged),
            "spans": ([] if not s.flagged else None)  # nothing flagged: nothing to explain
            if s.spans is None
            else [[r["label"], one(r["excerpt"]), r.get("source", "model")] for r in s.spans],
        }
    return out


class LabelingServer:
    """The page's server: sessions by annotator, created on first use with ``make_session``.

    A key's request does only the session's own work (the transition, the fsynced append, the
    view as JSON): the model's spans and the refits of ``--order uncertain`` are never computed
    while a key waits. They run in a :class:`~moderation.apps.labeling.worker.Background` worker
    process (as in the terminal; in a thread of this process where there is no fork), fed by a
    pump thread with the comments on screen and the next ones of every session; a page whose
    comment's spans are not there yet asks again (``/api/view?wait=spans``), and that request is
    answered as soon as they arrive.

    Parameters
    ----------
    make_session : callable
        Annotator name → a new :class:`Session` (reading the label file as it is then).
    port : int
        0 picks a free port (see :attr:`url`).
    model : ModelView, optional
        The model view the sessions share: its worker process is forked here, before any
        thread of the server starts.
    background : bool
        Use a worker process for the model's work (False: a thread of this process).
    """

    def __init__(
        self,
        make_session: Callable[[str], Session],
        *,
        port: int = 0,
        model: ModelView | None = None,
        background: bool = True,
    ):
        self.make_session = make_session
        self.sessions: dict[str, Session] = {}
        self.ended: set[str] = set()
        self.seq: dict[str, int] = {}  # per annotator, the number of keys handled (the page drops older views)
        self.lock = threading.RLock()  # sessions share the model view: one request works at a time
        self.changed = threading.Condition(self.lock)  # spans arrived: long-polling pages look again
        self._wanted = threading.Event()
        self._background = background
        self._worker: Background | None = None
        self._worker_model: ModelView | None = None  # the view the worker was forked with
        self._refits: list[str] = []  # annotators whose refit the worker is doing, in order
        self._closed = False
        self._serving = False
        if model is not None and background:
            try:
                self._worker = Background(model)  # forked while this process has one thread
                self._worker_model = model
            except OSError:
                self._background = False
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        threading.Thread(target=self._pump, daemon=True, name="moderation-label-model").start()

    def session(self, annotator: str) -> Session:
        if annotator not in self.sessions:
            self.sessions[annotator] = self.make_session(annotator)
            self.seq[annotator] = 0
        return self.sessions[annotator]

    def view(self, annotator: str, *, wait_spans: float = 0.0) -> dict:
        """The page of ``annotator`` as JSON; with ``wait_spans``, first wait (up to that many
        seconds, the lock released) until the spans of the comment on screen are there."""
        with self.lock:
            session = self.session(annotator)
            if wait_spans > 0:
                self.changed.wait_for(lambda: not _spans_pending(session) or self._closed, timeout=wait_spans)
            _show_whole(session)
            out = view_json(session.view())
            out["ended"] = annotator in self.ended
            out["seq"] = self.seq[annotator]
            out["spans_pending"] = _spans_pending(session)
            return out

    def press(self, annotator: str, key: str) -> dict:
        with self.lock:
            session = self.session(annotator)
            _show_whole(session)
            if annotator in self.ended:
                self.ended.discard(annotator)  # a key after q starts again where it was
            if not session.press(key):
                self.ended.add(annotator)
            self.seq[annotator] += 1
            out = self.view(annotator)
        self._wanted.set()  # the pump sends the new wanted spans (and a due refit) to the worker
        return out

    def _pump(self) -> None:
        """Feed the model's work to the worker and hand its results back, never in a key's way.

        Sessions on the worker's model view go to the worker; a session with a model view of its
        own (a review on the page: each moderator's labels) is served by this thread, one piece
        at a time with the lock released in between."""
        while not self._closed:
            self._wanted.wait(0.05)
            self._wanted.clear()
            with self.lock:
                sessions = [(name, s) for name, s in self.sessions.items() if s.model is not None]
                if not sessions:
                    continue
                if self._worker is None and self._background:
                    try:
                        self._worker = Background(sessions[0][1].model)  # type: ignore[arg-type]
                        self._worker_model = sessions[0][1].model
                    except OSError:  # no fork here: a thread of this process does the work
                        self._background = False
                shared = [(name, s) for name, s in sessions if s.model is self._worker_model]
                own = [(name, s) for name, s in sessions if s.model is not self._worker_model]
                if self._worker is not None:
                    wanted: list[int] = []
                    for _name, s in shared:  # the comments on screen first, then the next ones
                        wanted += [i for i in s.wanted_spans()[:1] if i not in wanted]
                    for _name, s in shared:
                        wanted += [i for i in s.wanted_spans() if i not in wanted]
                    self._worker.want_spans(wanted)
                    # One refit at a time: the worker keeps only the latest request it was sent,
                    # so a second one in flight would be answered once, for the wrong moderator.
                    for name, s in shared:
                        if self._refits:
                            break
                        request = s.refit_request()
                        if request is not None:
                            self._worker.refit(*request)
                            self._refits.append(name)
            for _name, s in own:
                while not self._wanted.is_set():
                    with self.lock:
                        if idle(s) is None:
                            break
                        self.changed.notify_all()
            if self._worker is None:
                continue
            try:
                results = self._worker.results() if self._worker.conn.poll(0.05) else []
            except (EOFError, OSError):  # the worker died: this thread does the work from now on
                self._worker = self._worker_model = None
                self._background = False
                continue
            if results:
                with self.lock:
                    for message in results:
                        if message[0] == "spans":
                            for _name, s in shared:
                                s.apply_spans(message[1], message[2])
                        elif message[0] == "ranked" and self._refits:
                            self.sessions[self._refits.pop(0)].apply_ranking(*message[1:])
                    self.changed.notify_all()
                self._wanted.set()

    def serve_forever(self) -> None:
        self._serving = True
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (tests, benchmarks)."""
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="moderation-label-web")
        thread.start()
        return thread

    def close(self) -> None:
        self._closed = True
        with self.lock:
            self.changed.notify_all()
        if self._serving:  # shutdown() waits for serve_forever, which may never have run
            self.httpd.shutdown()
        self.httpd.server_close()
        if self._worker is not None:
            self._worker.close()


def _spans_pending(session: Session) -> bool:
    """The model's spans of the comment on screen are still being computed."""
    cur = session.current
    model = session.model
    return (
        cur is not None
        and model is not None
        and session.show_scores
        and bool(model.flagged[cur])
        and model.explained(cur) is None
    )


def _handler(server: LabelingServer) -> type[BaseHTTPRequestHandler]:
    def allowed_hosts() -> set[str]:  # the port is known once the socket is bound
        return {f"127.0.0.1:{server.port}", f"localhost:{server.port}"}

    class Handler(BaseHTTPRequestHandler):
        server_version = "moderation-label"
        sys_version = ""
        # Keep-alive: a key is one request on an open connection (no connect, no new thread).
        protocol_version = "HTTP/1.1"
        timeout = 120  # an idle kept-alive connection is closed after this (its thread ends)

        def setup(self) -> None:
            super().setup()
            # Each response is written at once; no Nagle delay waiting for an ACK the browser delays.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the terminal shows the session summary, not a request log

        def _send(self, status: int, body: bytes, content_type: str, timing: float | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            if timing is not None:  # the server's share of a key's round trip (the page's benchmark reads it)
                self.send_header("Server-Timing", f"app;dur={timing * 1000:.2f}")
            if status >= 400:  # a refused request's body may be unread: never reuse this connection
                self.send_header("Connection", "close")
                self.close_connection = True
            # Headers and body in one write (one TCP segment for a small answer).
            self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
            if self.command != "HEAD":
                self._headers_buffer.append(body)  # type: ignore[attr-defined]
            self.flush_headers()

        def _json(self, status: int, obj: Any, started: float | None = None) -> None:
            body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
            timing = None if started is None else time.perf_counter() - started
            self._send(status, body, "application/json", timing)

        def _checked(self) -> bool:
            if self.headers.get("Host") not in allowed_hosts():
                self._json(403, {"error": "this page answers only on 127.0.0.1"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._checked():
                return
            url = urlsplit(self.path)
            if url.path in STATIC:
                name = STATIC[url.path]
                body = resources.files(__package__).joinpath("static").joinpath(name).read_bytes()
                self._send(200, body, CONTENT_TYPES["." + name.rsplit(".", 1)[1]])
            elif url.path == "/api/view":
                query = parse_qs(url.query)
                annotator = _annotator(query.get("annotator", [""])[0])
                if annotator is None:
                    self._json(400, {"error": "an annotator name is needed (printable, up to 64 characters)"})
                else:
                    wait = SPANS_WAIT if query.get("wait") == ["spans"] else 0.0
                    self._json(200, server.view(annotator, wait_spans=wait))
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            if not self._checked():
                return
            if urlsplit(self.path).path != "/api/key":
                self._json(404, {"error": "not found"})
                return
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                self._json(415, {"error": "keys are posted as application/json"})
                return
            origin = self.headers.get("Origin")
            if origin is not None and origin.rstrip("/") not in {f"http://{h}" for h in allowed_hosts()}:
                self._json(403, {"error": "keys come from this page only"})
                return
            started = time.perf_counter()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = MAX_BODY + 1
            if not 0 <= length <= MAX_BODY:
                self._json(413, {"error": "too large"})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                annotator = _annotator(body.get("annotator", ""))
                key = body.get("key")
            except (ValueError, AttributeError):
                self._json(400, {"error": "a JSON object with annotator and key"})
                return
            if annotator is None or not isinstance(key, str) or not 0 < len(key) <= 8:
                self._json(400, {"error": "a JSON object with annotator and key"})
                return
            self._json(200, server.press(annotator, key), started)

    return Handler


def _show_whole(session: Session) -> None:
    """The page shows the whole comment (the browser scrolls it): tell the session so."""
    view = session.view()
    if view.comment is not None:
        n = len(display_map(view.comment.thread_text if view.context else view.comment.text).text)
        session.set_shown(n, n)


def _annotator(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    name = name.strip()
    if not name or len(name) > 64 or any(not ch.isprintable() for ch in name):
        return None
    return name
