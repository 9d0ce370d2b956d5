"""The listening socket and the pre-forked worker processes that share it.

Examples
--------
>>> sock = bind("127.0.0.1", 0)
>>> sock.getsockname()[1] > 0
True
>>> sock.close()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from ...core import PolicyError

if TYPE_CHECKING:
    import uvicorn

#: A worker that dies this soon after it started counts as dying at start.
QUICK_DEATH_SECONDS = 5
#: Workers dying at start, in a row, that stop the server.
MAX_QUICK_DEATHS = 3


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: any free port).

    The socket listens before the server says so: connections queue from the moment the
    "listening" line is printed.

    Raises
    ------
    PolicyError
        One line: the host does not resolve, or the address cannot be bound.
    """
    try:
        # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on sockets that say TCP.
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise PolicyError(f"{host}: cannot resolve the host ({exc.strerror})") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise PolicyError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(2048)  # connections queue from now on: the "listening" line is true when printed
    return sock


#: Seconds between two looks at whether a worker's master is still alive (where the kernel
#: cannot be asked to signal the worker when it dies).
PARENT_POLL_SECONDS = 1.0


def _die_with_parent() -> bool:
    """Ask Linux to send this process SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``).

    ``ctypes`` on the C library rather than a dependency (``python-prctl`` needs a compiler
    and libcap headers); returns False where it is not available.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int) -> None:
    """Make this worker stop (SIGTERM to itself: uvicorn's graceful shutdown, which closes the
    listening socket) when ``parent``, its master, dies, even by ``kill -9``: a worker left
    behind would hold the port with nobody to restart or stop it.

    Linux signals the worker as its parent dies (:func:`_die_with_parent`); a thread that
    looks at :func:`os.getppid` every :data:`PARENT_POLL_SECONDS` covers the master dying
    before that was set up, and systems without ``prctl``.
    """
    _die_with_parent()

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=poll, name="parent-watch", daemon=True).start()


def run_workers(
    config: uvicorn.Config,
    sock: socket.socket,
    workers: int,
    announce: Callable[[str], None],
    *,
    before_serving: Callable[[], None] | None = None,
) -> int:
    """Fork ``workers`` processes that serve ``config`` on ``sock`` until SIGTERM or SIGINT.

    The workers share the listening socket and the loaded model (copy-on-write). One that
    dies is restarted; when :data:`MAX_QUICK_DEATHS` die in a row within
    :data:`QUICK_DEATH_SECONDS` of starting, all are stopped.

    The socket is ours rather than uvicorn's: its protocol is TCP, so asyncio turns
    Nagle's algorithm off on every connection (uvicorn's own multi-worker socket leaves it
    on, and a response written in two segments then waits ~40 ms for a delayed ACK).

    Parameters
    ----------
    config : uvicorn.Config
    sock : socket.socket
        Bound and listening (see :func:`bind`).
    workers : int
    announce : callable
        Receives one line per event worth telling the operator (a restart, giving up).
    before_serving : callable, optional
        Run in each worker before it serves (and before it starts a thread): forks the
        batch helpers, freezes the garbage collector.

    Returns
    -------
    int
        The exit status: 0 when stopped by a signal, 1 when the workers kept dying at start.
    """
    import uvicorn

    master = os.getpid()

    def start() -> int:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                if before_serving is not None:
                    before_serving()
                watch_parent(master)
                server = uvicorn.Server(config)
                server.run(sockets=[sock])
                code = 0 if server.started else 1
            finally:
                os._exit(code)
        return pid

    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    children: dict[int, float] = {}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        children[start()] = time.monotonic()
    quick_deaths = 0
    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
        if quick_deaths >= MAX_QUICK_DEATHS:
            announce(f"Error: workers keep dying at start (last exit status {code}); stopping")
            stop(signal.SIGTERM, None)
            status = 1
            continue
        announce(f"warning: worker {pid} exited ({code}); starting another")
        children[start()] = time.monotonic()
    return status
