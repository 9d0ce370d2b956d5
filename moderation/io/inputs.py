"""Opening what a user names as input: regular files only, never more than a limit.

``/dev/zero`` read as a thread dump grew without bound, a FIFO named as input blocked for
ever, and a label file the user could not read was reported as a model that could not be
written. Every command reads its inputs through here:

- :func:`check_input` looks at a path with :func:`os.stat` *before* anything opens it: a
  directory, a FIFO, a character or block device or a socket gets a one-line refusal (a FIFO
  is never opened, so nothing blocks), and so does a file over :func:`max_file_size`;
- :func:`open_input` opens a checked file without blocking and makes sure it is still the
  file that was checked (a path swapped for a FIFO in between is refused, not read);
- :func:`read_input` reads a whole file, never more than the limit even if it grows.

The limit is :data:`DEFAULT_MAX_FILE_SIZE` unless ``--max-file-size`` (or the environment
variable ``MODERATION_MAX_FILE_SIZE``) says otherwise; ``0`` lifts it.

Examples
--------
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
>>> _ = p.write_text("本文")
>>> read_input(p).decode()
'本文'
>>> check_input("/dev/null")
Traceback (most recent call last):
...
moderation.core.ExtractError: /dev/null: is a character device, not a regular file; only regular files are read
>>> parse_size("512M"), parse_size("2G"), parse_size("0")
(536870912, 2147483648, 0)
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..core import ExtractError, ModerationError

#: Bytes one input file may have unless ``--max-file-size`` says otherwise: a thread dump is a
#: few MB, a million scored comments a few hundred MB.
DEFAULT_MAX_FILE_SIZE = 1 << 30
#: The environment variable that sets the limit (as ``--max-file-size`` does).
ENV_MAX_FILE_SIZE = "MODERATION_MAX_FILE_SIZE"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def parse_size(text: str | int) -> int:
    """Bytes from ``"1500"``, ``"64K"``, ``"512M"``, ``"2G"`` or ``"1T"`` (powers of 1,024).

    Raises
    ------
    ValueError
        For anything else.

    Examples
    --------
    >>> parse_size("64k"), parse_size("1.5G")
    (65536, 1610612736)
    """
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{text} is negative")
        return text
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size; write e.g. 1500, 64K, 512M or 2G (0: no limit)")
    unit = m.group(2).lower()
    return int(float(m.group(1)) * (1024 ** ("kmgt".index(unit) + 1) if unit else 1))


def _from_environment() -> int:
    value = os.environ.get(ENV_MAX_FILE_SIZE)
    if not value:
        return DEFAULT_MAX_FILE_SIZE
    try:
        return parse_size(value)
    except ValueError:
        return DEFAULT_MAX_FILE_SIZE


_limit: int = _from_environment()


def max_file_size() -> int:
    """Bytes an input file may have (0: no limit)."""
    return _limit


def set_max_file_size(limit: int | str | None) -> None:
    """Set the limit for this process (None: the environment's, else the default)."""
    global _limit
    _limit = _from_environment() if limit is None else parse_size(limit)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}".replace(".0 ", " ")
    return f"{n:,} bytes"


def _too_large(path: str | os.PathLike, size: int, error: type[ModerationError]) -> ModerationError:
    suggest = max(2, 2 * -(-size // (1 << 30)))  # GiB: twice the file, rounded up
    return error(
        f"{path}: {_size(size)}, over the {_size(max_file_size())} an input file may have; raise the limit with "
        f"--max-file-size {suggest}G (or {ENV_MAX_FILE_SIZE}={suggest}G; 0: no limit)"
    )


def not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file (None when it is).

    Examples
    --------
    >>> import stat
    >>> not_regular(stat.S_IFIFO), not_regular(stat.S_IFREG)
    ('a FIFO (named pipe)', None)
    """
    if stat.S_ISREG(mode):
        return None
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def check_input(
    path: str | os.PathLike,
    *,
    error: type[ModerationError] = ExtractError,
    allow_dir: bool = False,
    what: str | None = None,
) -> os.stat_result:
    """The :func:`os.stat` of an input that may be read: it exists, is a regular file (or a
    directory, with ``allow_dir``) and is within :func:`max_file_size`.

    Nothing is opened, so a FIFO or a device named here never blocks or streams. ``what``
    names the file in messages (``"the config"``: "cannot read the config (...)").

    Raises
    ------
    ModerationError
        Of type ``error``, one line naming the path and what is wrong.
    """
    cannot = f"cannot read {what}" if what else "cannot read"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {cannot} (no such file)" if what else f"{path}: no such file or directory") from None
    except OSError as exc:
        raise error(f"{path}: {cannot} ({exc.strerror or exc})") from None
    if allow_dir and stat.S_ISDIR(info.st_mode):
        return info
    kind = not_regular(info.st_mode)
    if kind is not None:
        hint = "; name a file (directories are walked where a command takes them)" if kind == "a directory" else ""
        said = f"{cannot}: it " if what else ""
        raise error(f"{path}: {said}is {kind}, not a regular file; only regular files are read{hint}")
    limit = max_file_size()
    if limit and info.st_size > limit:
        raise _too_large(path, info.st_size, error)
    return info


@contextlib.contextmanager
def open_input(
    path: str | os.PathLike,
    mode: str = "rb",
    *,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    error: type[ModerationError] = ExtractError,
    what: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a checked input (:func:`check_input`) for reading.

    The file is opened without blocking and must still be the regular file that was
    checked: one swapped for a FIFO or a device between the check and the open is refused.

    Raises
    ------
    ModerationError
        Of type ``error``: not a regular file, too large, or cannot be opened (permission
        denied, say), naming the path and the reason.
    """
    info = check_input(path, error=error, what=what)
    cannot = f"cannot read {what}" if what else "cannot read"
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"{path}: {cannot} ({exc.strerror or exc})") from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            raise error(f"{path}: changed while it was being opened (not the regular file checked); not read")
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        fh: IO[Any] = (
            os.fdopen(fd, mode)
            if "b" in mode
            else os.fdopen(fd, mode, encoding=encoding, errors=errors, newline=newline)
        )
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_input(
    path: str | os.PathLike, *, error: type[ModerationError] = ExtractError, what: str | None = None
) -> bytes:
    """The bytes of a checked input file, never more than :func:`max_file_size` (a file that
    grows past it while being read is refused too).

    Raises
    ------
    ModerationError
        Of type ``error``, as for :func:`open_input`, or when reading fails.
    """
    limit = max_file_size()
    with open_input(path, error=error, what=what) as fh:
        try:
            data = fh.read(limit + 1) if limit else fh.read()
        except OSError as exc:
            raise error(f"{path}: {f'cannot read {what}' if what else 'cannot read'} ({exc.strerror or exc})") from None
    if limit and len(data) > limit:
        raise _too_large(path, len(data), error)
    return data


#: The path that names standard input.
STDIN = "-"


@contextlib.contextmanager
def spooled_stdin(stream: IO[bytes] | None = None, *, error: type[ModerationError] = ExtractError) -> Iterator[Path]:
    """Standard input (``-``) copied to a temporary regular file, so it is read like any
    input (formats detected, big comment files streamed), within :func:`max_file_size`; the
    file is removed afterwards.

    Raises
    ------
    ModerationError
        Of type ``error``, when standard input holds more than the limit.

    Examples
    --------
    >>> import io
    >>> with spooled_stdin(io.BytesIO(b"text\\nhello\\n")) as path:
    ...     path.read_bytes()
    b'text\\nhello\\n'
    """
    import sys
    import tempfile

    source = stream if stream is not None else sys.stdin.buffer
    limit = max_file_size()
    with tempfile.TemporaryDirectory(prefix="moderation-stdin-") as directory:
        path = Path(directory) / "stdin"
        total = 0
        with open(path, "wb") as fh:
            while chunk := source.read(1 << 20):
                total += len(chunk)
                if limit and total > limit:
                    raise _too_large("standard input", total, error)
                fh.write(chunk)
        yield path


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file: the same resolved path, or the same inode
    (a hard link, a symbolic link, a bind mount).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "a").write_text("x") and (d / "b").symlink_to(d / "a")
    >>> same_file(d / "a", d / "b"), same_file(d / "a", d / "c")
    (True, False)
    """
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samestat(os.stat(a), os.stat(b))
    except OSError:
        return False
