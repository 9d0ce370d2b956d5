"""The input formats: one reader per format, all registered here, and format detection.

A format is read by one :class:`Reader`. The built-in ones (:data:`INPUT_FORMATS`) are
registered below, each from its module in :mod:`moderation.io.readers`; other packages add
theirs through the entry-point group ``moderation.readers``; :func:`detect_format` asks
them all. Whatever lists the formats (the CLI's ``--input-format``, the labeling tool)
reads them from here.

The reader protocol
-------------------
A reader is a :class:`Reader`, with:

``name``
    The format's name: what ``--input-format`` accepts and what each record's
    ``source_format`` says. Not ``auto``, and not the name of another reader.
``read(text, *, thread, source, warn)``
    The records of one decoded file, in source order, as an iterable of
    :class:`~moderation.core.Comment`. ``text`` is the whole file, decoded and without a
    BOM; each record's ``span`` is ``[start, end)`` into it. ``thread`` is the thread id for
    records that carry none, ``source`` the path to write into each record, ``warn`` (may be
    None) takes one line for each unit that had to be kept as a ``meta`` record. Raise
    :class:`~moderation.core.ExtractError` for input the reader cannot read at all.
``extensions``
    Lower-case file suffixes, dot included (``(".mbox",)``), that name the format when no
    content sniffer claims a file; also the files a directory walk picks up.
``sniff(sample)``, optional
    Whether the start of a file is in this format. ``sample`` is at most 64 KiB of the
    decoded file, BOM and leading blanks removed. Must be quick and must not raise.
``priority``
    Sniffers run lowest first. Those below :data:`AFTER_EXTENSION` run before the file's
    extension is looked at (mhtml 3, the built-in board-page sniffers 4–8, html, dat, jsonl,
    json and text 10, 20, 30, 35 and 40), the
    others only for files whose extension names no format (csv's header test).
``read_lines(lines, *, thread, source, warn)``, optional
    The same reader over an iterable of lines (line ends kept), for a format that can be
    read in one pass: files larger than 8 MiB are then streamed in flat memory.
``read_path(path, *, thread, source, warn)``, optional
    For a binary format (Parquet): the records of the file at ``path``, read by the reader
    itself instead of from decoded text. Such a format is picked by ``--input-format`` or by
    its ``extensions``, before any decoding (:func:`path_reader`).

A file no sniffer claims and whose extension names no format is read as :data:`FALLBACK`
(scraped page text).

Third-party readers are ``Reader`` objects named by an entry point in the group
``moderation.readers``; the entry point's name is the format's name::

    [project.entry-points."moderation.readers"]
    mbox = "moderation_mbox:READER"

They are loaded the first time all readers are needed (format detection, a directory walk,
an ``--input-format`` that is not built in). Built-in readers cannot be replaced.

Examples
--------
>>> INPUT_FORMATS  # doctest: +NORMALIZE_WHITESPACE
('auto', 'scrape', 'dat', 'html', 'jsonl', 'csv', 'parquet', '5ch', 'open2ch', 'shitaraba', 'futaba', 'matome',
 'json', 'mhtml', 'text')
>>> detect_format("thread.txt", "名無し<>sage<>2025/08/01 12:00:00<>本文<>スレ")
'dat'
>>> get_reader("csv").extensions
('.csv', '.tsv')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..core import Comment, ExtractError, Warn
from .readers import (
    dat,
    fivech,
    futaba,
    html,
    json_export,
    matome,
    mhtml,
    open2ch,
    parquet,
    scrape,
    shitaraba,
    tabular,
    textsave,
)

#: The entry-point group third-party readers are registered under.
ENTRY_POINT_GROUP = "moderation.readers"
#: Sniffers with this priority or higher run only when the file's extension names no format.
AFTER_EXTENSION = 100
#: The format of a file nothing else claims.
FALLBACK = "scrape"


class ReadText(Protocol):
    """``read(text, *, thread, source, warn)``: the records of one decoded file."""

    def __call__(self, text: str, /, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]: ...


class ReadLines(Protocol):
    """``read_lines(lines, *, thread, source, warn)``: the records of a file read line by line."""

    def __call__(
        self, lines: Iterable[str], /, *, thread: str, source: str, warn: Warn | None = None
    ) -> Iterator[Comment]: ...


class ReadPath(Protocol):
    """``read_path(path, *, thread, source, warn)``: the records of a (binary) file read from its path."""

    def __call__(
        self, path: str | os.PathLike, /, *, thread: str, source: str, warn: Warn | None = None
    ) -> Iterable[Comment]: ...


@dataclass(frozen=True)
class Reader:
    """One input format (see the reader protocol in the module docstring).

    Parameters
    ----------
    name : str
    read : callable
        ``read(text, *, thread, source, warn) -> iterable of Comment``.
    extensions : tuple of str
        Lower-case suffixes with their dot.
    sniff : callable, optional
        ``sniff(sample) -> bool`` on the start of the decoded file.
    priority : int
        Order of the sniffers, lowest first; :data:`AFTER_EXTENSION` and up run after the
        extension lookup.
    read_lines : callable, optional
        ``read_lines(lines, *, thread, source, warn) -> iterator of Comment``, for streaming.
    read_path : callable, optional
        ``read_path(path, *, thread, source, warn) -> iterable of Comment``, for a binary format.

    Examples
    --------
    >>> reader = Reader("lines", lambda text, *, thread, source, warn=None: [], extensions=(".lines",))
    >>> reader.name, reader.priority
    ('lines', 50)
    """

    name: str
    read: ReadText
    extensions: tuple[str, ...] = ()
    sniff: Callable[[str], bool] | None = None
    priority: int = 50
    read_lines: ReadLines | None = None
    read_path: ReadPath | None = None


# The built-in readers, in the order the formats are listed (--input-format, INPUT_FORMATS).
_BUILTIN: tuple[Reader, ...] = (
    Reader("scrape", scrape.read, extensions=(".txt", ".text")),
    Reader("dat", dat.read, extensions=(".dat",), sniff=dat.sniff, priority=20),
    Reader("html", html.read, extensions=(".html", ".htm"), sniff=html.sniff, priority=10),
    Reader(
        "jsonl",
        tabular.read_jsonl,
        extensions=(".jsonl", ".ndjson"),
        sniff=tabular.sniff_jsonl,
        priority=30,
        read_lines=tabular.iter_jsonl,
    ),
    Reader(
        "csv",
        tabular.read_csv,
        extensions=(".csv", ".tsv"),
        sniff=tabular.sniff_csv,
        priority=AFTER_EXTENSION,
        read_lines=tabular.iter_csv,
    ),
    Reader("parquet", parquet.read, extensions=(".parquet", ".pq"), read_path=parquet.read_path),
    # Board pages: each layout's sniffer looks for its board's markers before the generic html one.
    Reader(fivech.NAME, fivech.read, sniff=fivech.sniff, priority=8),
    Reader(open2ch.NAME, open2ch.read, sniff=open2ch.sniff, priority=6),
    Reader(shitaraba.NAME, shitaraba.read, sniff=shitaraba.sniff, priority=5),
    Reader(futaba.NAME, futaba.read, sniff=futaba.sniff, priority=4),
    Reader(matome.NAME, matome.read, sniff=matome.sniff, priority=7),
    Reader(json_export.NAME, json_export.read, extensions=(".json",), sniff=json_export.sniff, priority=35),
    Reader(mhtml.NAME, mhtml.read, extensions=(".mht", ".mhtml"), sniff=mhtml.sniff, priority=3),
    Reader(textsave.NAME, textsave.read, sniff=textsave.sniff, priority=40),
)

#: ``auto`` and the built-in formats. With readers of other packages installed,
#: :func:`input_formats` lists theirs too.
INPUT_FORMATS: tuple[str, ...] = ("auto", *(r.name for r in _BUILTIN))

_registered: dict[str, Reader] = {r.name: r for r in _BUILTIN}
_plugins: dict[str, Reader] | None = None  # loaded from the entry points on first use


def _check_name(name: str, what: str) -> None:
    if name == "auto" or name in _registered or (_plugins and name in _plugins):
        raise ExtractError(f"{what}: the input format name {name!r} is taken; choose another name")


def register(reader: Reader) -> Reader:
    """Add a reader in this process (packages use the entry-point group instead).

    Parameters
    ----------
    reader : Reader

    Returns
    -------
    Reader
        ``reader`` itself, for ``READER = register(Reader(...))``.

    Raises
    ------
    ExtractError
        When the name is ``auto`` or already registered.

    Examples
    --------
    >>> lines = register(Reader("lines", lambda text, *, thread, source, warn=None: [], extensions=(".lines",)))
    >>> "lines" in input_formats()
    True
    >>> unregister("lines")
    """
    _check_name(reader.name, f"reader {reader.name!r}")
    _registered[reader.name] = reader
    return reader


def unregister(name: str) -> None:
    """Remove a reader added with :func:`register` (built-in readers stay).

    Raises
    ------
    KeyError
        When no such reader was registered.
    """
    if any(r.name == name for r in _BUILTIN):
        raise KeyError(f"{name!r} is a built-in reader")
    del _registered[name]


def _entry_points() -> list:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _load_plugins() -> dict[str, Reader]:
    global _plugins
    if _plugins is None:
        loaded: dict[str, Reader] = {}
        for ep in _entry_points():
            what = f"reader plugin {ep.name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP})"
            if ep.name == "auto" or ep.name in _registered or ep.name in loaded:
                raise ExtractError(f"{what}: the input format name {ep.name!r} is taken; uninstall one of them")
            try:
                reader = ep.load()
            except Exception as exc:  # a broken third-party package: say which one
                raise ExtractError(f"{what}: cannot be loaded ({type(exc).__name__}: {exc})") from None
            if not isinstance(reader, Reader) or reader.name != ep.name:
                raise ExtractError(f"{what}: must name a moderation.io.registry.Reader whose name is {ep.name!r}")
            loaded[ep.name] = reader
        _plugins = loaded
    return _plugins


def reload_plugins() -> None:
    """Forget the readers loaded from entry points; the next use looks them up again
    (after a package was installed in a running process, or in tests)."""
    global _plugins
    _plugins = None


def readers() -> tuple[Reader, ...]:
    """Every reader: built-in, registered, then from entry points (loaded here the first time).

    Examples
    --------
    >>> [r.name for r in readers()][:5]
    ['scrape', 'dat', 'html', 'jsonl', 'csv']
    """
    plugins = _load_plugins()
    return (*_registered.values(), *plugins.values())


def input_formats() -> tuple[str, ...]:
    """``auto`` and the name of every reader, third-party ones included (not loaded for this).

    Examples
    --------
    >>> input_formats()[:3]
    ('auto', 'scrape', 'dat')
    """
    names = list(_registered)
    names += [n for n in (_plugins if _plugins is not None else (ep.name for ep in _entry_points())) if n not in names]
    return ("auto", *names)


def get_reader(name: str) -> Reader:
    """The reader of the format ``name``.

    Raises
    ------
    ExtractError
        For a name no reader has.

    Examples
    --------
    >>> get_reader("dat").name
    'dat'
    """
    reader = _registered.get(name) or _load_plugins().get(name)
    if reader is None:
        raise ExtractError(f"unknown input format {name!r}; choose one of {', '.join(input_formats())}")
    return reader


def extensions() -> set[str]:
    """The file suffixes some reader claims (what a directory walk picks up).

    Examples
    --------
    >>> sorted(extensions())[:3]
    ['.csv', '.dat', '.htm']
    """
    return {ext for reader in readers() for ext in reader.extensions}


def path_reader(path: str | os.PathLike, input_format: str = "auto") -> Reader | None:
    """The reader that reads ``path`` from the file itself (a binary format such as Parquet),
    if any: the one ``input_format`` names, or (``auto``) the one whose extension the file has.

    Examples
    --------
    >>> path_reader("day.parquet").name, path_reader("day.jsonl")
    ('parquet', None)
    """
    if input_format != "auto":
        reader = get_reader(input_format)
        return reader if reader.read_path is not None else None
    suffix = Path(path).suffix.lower()
    for reader in readers():
        if reader.read_path is not None and suffix in reader.extensions:
            return reader
    return None


def detect_format(path: str | os.PathLike, head: str) -> str:
    """Pick a reader from the file's content, then its extension.

    Sniffers run by priority: those below :data:`AFTER_EXTENSION` first, then the
    extension decides, then the remaining sniffers; :data:`FALLBACK` when nothing claims it.

    Parameters
    ----------
    path : path-like
        The file (only its suffix is used).
    head : str
        The start of the decoded file (64 KiB are enough).

    Returns
    -------
    str
        A format name.

    Examples
    --------
    >>> detect_format("x.txt", '{"text": "hi"}')
    'jsonl'
    >>> detect_format("x.log", "id,text\\n1,hi")
    'csv'
    """
    sample = head.lstrip("\ufeff \t\r\n")[:65536]
    sniffers = sorted(
        ((r.priority, r.name, r.sniff) for r in readers() if r.sniff is not None), key=lambda item: item[0]
    )
    for priority, name, sniff in sniffers:
        if priority >= AFTER_EXTENSION:
            break
        if sniff(sample):
            return name
    suffix = Path(path).suffix.lower()
    for reader in readers():
        if suffix in reader.extensions:
            return reader.name
    for priority, name, sniff in sniffers:
        if priority >= AFTER_EXTENSION and sniff(sample):
            return name
    return FALLBACK
