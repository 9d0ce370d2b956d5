"""The model work of a labeling session that a keystroke must never wait for: spans (about 25 ms
per flagged label) and the refit of ``--order uncertain`` (a few hundred ms).

:class:`Background` does it in a forked worker process; :func:`idle` does one piece of it in
this process, between keys, where there is no fork. Either way the results go back to the
:class:`~moderation.apps.labeling.session.Session` through ``apply_spans`` and
``apply_ranking``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .model_view import ModelView
from .session import Session


class Background:
    """A forked worker process that computes spans and refits for a :class:`ModelView`, so
    that a keystroke never waits for them.

    The worker shares the loaded model with the labeling process (fork, copy on write). Its
    standard streams point at /dev/null, so it never touches the terminal. It exits when
    the labeling process closes the pipe or dies, kill -9 included. Messages:
    ``("spans", [index, ...])`` replaces the list of wanted spans (the first is the comment
    on screen), and ``("refit", known, indices)`` asks for a ranking. Replies are
    ``("spans", index, reasons)`` and ``("ranked", ranking, refitted, n_known)``.

    Parameters
    ----------
    view : ModelView

    Raises
    ------
    OSError
        When the process cannot be forked.
    """

    def __init__(self, view: ModelView):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_background_main, args=(view, child, self.conn), daemon=True, name="moderation-label-background"
        )
        self.process.start()
        child.close()
        self._sent_spans: list[int] | None = None

    def fileno(self) -> int:
        """The pipe's descriptor, for :func:`select.select`."""
        return self.conn.fileno()

    def want_spans(self, indices: list[int]) -> None:
        """Ask for the spans of ``indices`` (the first is the comment on screen), if that changed."""
        if indices != self._sent_spans:
            self.conn.send(("spans", list(indices)))
            self._sent_spans = list(indices)

    def refit(self, known: dict, indices: list[int]) -> None:
        """Ask for a ranking of ``indices`` by a light model refitted on ``known``."""
        self.conn.send(("refit", known, indices))

    def results(self) -> list[tuple]:
        """The replies that have arrived."""
        out = []
        while self.conn.poll():
            out.append(self.conn.recv())
        return out

    def close(self) -> None:
        """Close the pipe and wait for the worker (terminated if it does not exit)."""
        try:
            self.conn.close()
        finally:
            self.process.join(timeout=2)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(timeout=2)


def apply_results(session: Session, results: list[tuple]) -> bool:
    """Hand a :class:`Background` worker's replies to the session; True when the screen changed.

    Examples
    --------
    >>> apply_results(None, [])
    False
    """
    redraw = False
    for message in results:
        if message[0] == "spans":
            redraw |= session.apply_spans(message[1], message[2])
        elif message[0] == "ranked":
            session.apply_ranking(*message[1:])
            redraw = True
    return redraw


def _background_main(view: ModelView, conn: Connection, parent_end: Connection) -> None:
    import signal

    parent_end.close()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    wanted: list[int] = []
    refit: Any = None

    def pending() -> bool:
        return refit is not None or any(view.explained(i) is None for i in wanted)

    try:
        while True:
            while not pending() or conn.poll():
                message = conn.recv()
                if message[0] == "spans":
                    wanted = list(message[1])
                elif message[0] == "refit":
                    refit = (message[1], message[2])
            todo = [i for i in wanted if view.explained(i) is None]
            if todo and todo[0] == wanted[0]:
                conn.send(("spans", todo[0], view.explain(todo[0])))
            elif refit is not None:
                known, indices = refit
                refit = None
                ranked, refitted = view.rank(known, indices)
                conn.send(("ranked", ranked, refitted, len(known)))
            elif todo:
                conn.send(("spans", todo[0], view.explain(todo[0])))
    except (EOFError, OSError, KeyboardInterrupt):
        return


# --------------------------------------------------------------------------- in this process


def idle(session: Session, stop: Callable[[], bool] | None = None) -> bool | None:
    """Do one piece of the model work in this process (when there is no :class:`Background`
    worker): spans for the comment on screen, then the refit of ``--order uncertain``, then
    spans for the next comments.

    Parameters
    ----------
    session : Session
    stop : callable, optional
        Checked between labels while computing spans (a key is waiting): the work is then
        abandoned and done again later.

    Returns
    -------
    bool or None
        True when the screen should be redrawn, False when work was done that does not
        change it, None when there is nothing left to do.
    """
    model = session.model
    if model is None:
        return None
    wanted = session.wanted_spans()
    if wanted and wanted[0] == session.current:
        return model.explain(wanted[0], stop=stop) is not None
    if session.refit_pending:
        refit(session)
        return True
    if wanted:
        model.explain(wanted[0], stop=stop)
        return False
    return None


def refit(session: Session) -> list[str]:
    """Refit the light model on the session's labels so far and re-rank what remains, in this
    process (due or not).

    Returns
    -------
    list of str
        The labels that got a refitted model.
    """
    session.refit_pending = True  # due or not
    known, rest = session.refit_request() or ({}, [])
    if not rest or session.model is None:
        return []
    ranked, refitted = session.model.rank(known, rest)
    session.apply_ranking(ranked, refitted, len(known))
    return refitted
