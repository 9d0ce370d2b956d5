"""The files a list of paths names, with directories walked."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..core import ExtractError, Warn
from . import registry
from .inputs import check_input, max_file_size


def walk(
    paths: Iterable[str | os.PathLike],
    *,
    suffixes: Iterable[str] | None = None,
    describe: str = "files to read (.txt, .dat, .html, .csv, .jsonl, …)",
    skip_oversized: bool | None = None,
    warn: Warn | None = None,
) -> list[Path]:
    """The files named, with directories walked: sorted, hidden files and folders skipped,
    and only files with one of ``suffixes`` (default: the readable formats' extensions, or
    none), so a README.md or an expected.json beside the dumps is not read as a thread.

    A thread dump inside a directory that is over :func:`moderation.io.inputs.max_file_size`
    is left out here (reported through ``warn``), as :func:`moderation.io.extraction.extract`
    skips a file it cannot read: so whatever reads the list (the cluster's planner, which only
    looks at the start of each file, and its workers, which do not share this process's
    ``--max-file-size``) never opens it.

    Parameters
    ----------
    paths : iterable of path-like
        Files (taken as they are, whatever their suffix) and directories (walked).
    suffixes : iterable of str, optional
        Lower-case suffixes with their dot; default :func:`moderation.io.registry.extensions`
        and files without a suffix.
    describe : str
        What the files are, for the error about a directory without any.
    skip_oversized : bool, optional
        Leave out the files inside a directory that are over the size limit. Default: for
        thread dumps (no ``suffixes``) yes; for other files (label files) no, so the caller's
        own check refuses them.
    warn : callable, optional
        Told ``skipped <path>: <size>, over the …`` for each file left out.

    Returns
    -------
    list of Path

    Raises
    ------
    ExtractError
        For a path that does not exist, one that is neither a regular file nor a directory
        (a FIFO, a device, a socket: refused before anything opens it, so nothing blocks),
        a file over :func:`moderation.io.inputs.max_file_size`, or a directory with no such
        files in it. Inside a directory only regular files are listed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.dat", "a.txt", "README.md", ".hidden.txt"):
    ...     _ = (d / name).write_text("x")
    >>> [p.name for p in walk([d])]
    ['a.txt', 'b.dat']
    """
    allowed = {s.lower() for s in suffixes} if suffixes is not None else registry.extensions() | {""}
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        check_input(path, allow_dir=True)
        if path.is_dir():
            found = sorted(
                f
                for f in path.rglob("*")
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
                and f.suffix.lower() in allowed
                and not f.name.lower().endswith(".expected.json")
            )
            if not found:
                raise ExtractError(f"{p}: directory has no {describe}")
            if (suffixes is None if skip_oversized is None else skip_oversized) and max_file_size():
                found = [f for f in found if _within_limit(f, warn)]
            files.extend(found)
        else:
            files.append(path)
    return files


def _within_limit(path: Path, warn: Warn | None) -> bool:
    """Whether a file found in a directory may be read (reported through ``warn`` when not)."""
    try:
        check_input(path)
    except ExtractError as exc:
        if warn:
            warn(f"skipped {exc}")
        return False
    return True
