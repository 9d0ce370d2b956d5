"""The terminal loop of ``moderation label``: raw single-key input, one full redraw per key,
the alternate screen, and the terminal restored whatever happens.

Examples
--------
>>> keys_of(b"sd\\r")
['s', 'd', '\\r']
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from .screen import Screen
from .session import Session
from .worker import Background, apply_results, idle

#: Every screen drawn ends with this (hide the cursor): a screen is complete.
FRAME_END = "\x1b[?25l"
_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|O.|.)?", re.S)
#: Escape sequences that are keys of the tool; every other one is dropped.
NAMED_KEYS: dict[str, str] = {
    "\x1b[6~": "<pgdn>",
    "\x1b[5~": "<pgup>",
    "\x1b[A": "<up>",
    "\x1b[B": "<down>",
    "\x1bOA": "<up>",
    "\x1bOB": "<down>",
    "\x1b": "\x1b",  # Esc on its own
}


class TerminalError(Exception):
    """No terminal to read keys from."""


def keys_of(data: bytes) -> list[str]:
    """The keys in a chunk read from a terminal in raw mode. Page Up/Down, the up and down
    arrows and Esc on its own become named keys (:data:`NAMED_KEYS`); other escape sequences
    (function keys, Alt+key) are dropped, so their letters never act as label keys.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    list of str

    Examples
    --------
    >>> keys_of(b"sd\\r")
    ['s', 'd', '\\r']
    >>> keys_of(b"\\x1b[D\\x1b[6~n\\x1b")
    ['<pgdn>', 'n', '\\x1b']
    """
    text = data.decode("utf-8", errors="ignore")
    keys: list[str] = []
    pos = 0
    for m in _ESCAPE.finditer(text):
        keys.extend(text[pos : m.start()])
        if m.group(0) in NAMED_KEYS:
            keys.append(NAMED_KEYS[m.group(0)])
        pos = m.end()
    keys.extend(text[pos:])
    return keys


def hold_keys(fd: int | None = None) -> list | None:
    """Put the terminal in the tool's key mode now (no line buffering, no echo), so keys typed
    while the tool starts (reading inputs, loading a model) wait for it instead of being lost
    or echoed. Returns the attributes :func:`release_keys` restores (None without a terminal).
    """
    import termios

    fd = sys.stdin.fileno() if fd is None else fd
    if not os.isatty(fd):
        return None
    old = termios.tcgetattr(fd)
    termios.tcsetattr(fd, termios.TCSANOW, _key_mode(old))
    return old


def release_keys(old: list | None, fd: int | None = None) -> None:
    """Restore the terminal attributes :func:`hold_keys` saved (idempotent)."""
    import termios

    if old is not None:
        termios.tcsetattr(sys.stdin.fileno() if fd is None else fd, termios.TCSADRAIN, old)


def _key_mode(attrs: list) -> list:
    import termios

    new: list[Any] = [list(a) if isinstance(a, list) else a for a in attrs]
    new[0] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.IGNCR)
    new[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    new[6][termios.VMIN] = 1
    new[6][termios.VTIME] = 0
    return new


def run_terminal(
    session: Session,
    *,
    fd_in: int | None = None,
    fd_out: int | None = None,
    background: bool = True,
    screen: Screen | None = None,
    restore: list | None = None,
) -> None:
    """Run a session on a terminal until a quit key: raw single-key input, a full redraw per key.

    Input is non-canonical and unechoed, with signals off (Ctrl-C arrives as a key and
    quits cleanly). Output keeps its post-processing. The screen is the terminal's alternate
    screen, and the terminal is restored on exit, on SIGTERM and SIGHUP, and on errors.
    With a model, spans and refits run in a :class:`~moderation.apps.labeling.worker.Background`
    worker (or, with ``background=False``, in this process while no key is waiting), and the
    screen is redrawn when the spans of the comment on it arrive.

    Parameters
    ----------
    session : Session
    fd_in, fd_out : int, optional
        The terminal (default: stdin and stdout).
    background : bool
        Use a worker process for the model's work.
    screen : Screen, optional
    restore : list, optional
        The attributes :func:`hold_keys` saved, when it was called at start-up (keys typed
        since then are kept and handled first).

    Raises
    ------
    TerminalError
        When ``fd_in`` is not a terminal.
    """
    import select
    import signal
    import termios

    fd_in = sys.stdin.fileno() if fd_in is None else fd_in
    fd_out = sys.stdout.fileno() if fd_out is None else fd_out
    screen = screen or Screen()
    if not os.isatty(fd_in):
        raise TerminalError("stdin is not a terminal")
    old = restore if restore is not None else termios.tcgetattr(fd_in)
    new = _key_mode(old)

    def write(data: str) -> None:
        view = memoryview(data.encode("utf-8"))
        while view:
            view = view[os.write(fd_out, view) :]

    def size() -> tuple[int, int]:
        try:
            s = os.get_terminal_size(fd_out)
            return s.columns, s.lines
        except OSError:
            return 100, 40

    def draw() -> None:
        columns, lines = size()
        window = screen.window(session.view(), columns, lines)
        session.set_shown(window[1] if window else 0, window[2] if window else 0, hidden=window is None)
        write("\x1b[H\x1b[2J" + screen.render(session.view(), columns, lines) + FRAME_END)

    def key_waiting() -> bool:
        return bool(select.select([fd_in], [], [], 0)[0])

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    worker = None
    if background and session.model is not None:
        try:
            worker = Background(session.model)
        except OSError:  # no fork here: the work is done in this process, between keys
            worker = None
    handlers = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        handlers[sig] = signal.signal(sig, on_signal)
    termios.tcsetattr(fd_in, termios.TCSANOW, new)  # not TCSAFLUSH: keys typed ahead are kept
    write("\x1b[?1049h")
    try:
        draw()
        shown_size = size()
        while True:
            if worker is not None:
                worker.want_spans(session.wanted_spans())
                request = session.refit_request()
                if request is not None:
                    worker.refit(*request)
            else:
                # No worker: the work is done here, one piece at a time, while no key is waiting.
                while not key_waiting():
                    result = idle(session, stop=key_waiting)
                    if result is None:
                        break
                    if result:
                        draw()
            ready = select.select([fd_in] + ([worker] if worker is not None else []), [], [], 0.5)[0]
            if fd_in in ready:
                data = os.read(fd_in, 1024)
                if not data:
                    return
                for key in keys_of(data):
                    if not session.press(key):
                        return
                draw()
            elif ready and worker is not None:
                if apply_results(session, worker.results()) and not key_waiting():
                    draw()
            elif size() != shown_size:
                shown_size = size()
                draw()
    finally:
        write("\x1b[?25h\x1b[?1049l")
        termios.tcsetattr(fd_in, termios.TCSADRAIN, old)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if worker is not None:
            worker.close()
