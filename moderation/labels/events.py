"""Label files: reading them, appending to them durably, and resolving what they say.

A label file is JSON Lines, one event per line, appended and never rewritten::

    {"id", "thread", "text", "labels": {"slur": 0|1, "off_topic": 0|1, "delete": 0|1},
     "annotator", "at", "source"}                       # a label
    {"id", "annotator", "at", "undo": true}            # takes back that annotator's last label
    {"id", "text", "labels", "annotator", "at", "adjudication": true}   # a final decision
    {"id", "annotator", "at", "undo": true, "adjudication": true}      # takes it back

A label or adjudication event may carry a ``note`` (why). A comment's label is resolved from
its latest (not undone) adjudication if it has one; else from each annotator's latest (not
undone) label, then by majority across annotators. A tie that no adjudication settled is left
unresolved (unknown, and listed in ``ties``), never silently counted as positive.

Importing this module is cheap (no pandas, no scikit-learn), so the commands that only
read or append label files start fast.

Examples
--------
>>> events = [{"id": "a", "text": "x", "labels": {"slur": 1}, "annotator": "m1"},
...           {"id": "a", "text": "x", "labels": {"slur": 0}, "annotator": "m2"},
...           {"id": "a", "text": "x", "labels": {"slur": 1}, "annotator": "m3"}]
>>> resolve(events)[0]["labels"]["slur"]
1
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import stat
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core import LABELS, ExtractError, LabelFileError, TrainingError, Warn
from ..io.inputs import open_input, read_input
from ..io.walk import walk

#: What a label file is named (directories given to the readers are walked for these).
LABEL_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson")
_EXPECTED = 'label files are JSON Lines, one event a line: {"id", "text", "labels": {...}, "annotator", ...}'


def json_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text: split at ``\\n`` only (a ``\\r`` before it dropped).

    Not :meth:`str.splitlines`, which also splits at U+2028, U+2029, U+0085 and the
    separators ``\\x1c``–``\\x1e``: JSON keeps the first three raw inside strings, so a comment
    holding one would become two corrupt lines and its label would be lost.

    Examples
    --------
    >>> json_lines('{"text": "a\u2028b"}\\r\\n{}\\n')
    ['{"text": "a\u2028b"}', '{}', '']
    """
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def now() -> str:
    """The current time as label events record it: UTC, ISO 8601, seconds, ``Z``.

    Examples
    --------
    >>> now().endswith("Z") and len(now()) == 20
    True
    """
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def labels_text(labels: Mapping[str, Any]) -> str:
    """The positive labels joined with ``+``, or ``clean`` when there is none.

    Examples
    --------
    >>> labels_text({"slur": 1, "off_topic": 0, "delete": 1}), labels_text({"slur": 0})
    ('slur+delete', 'clean')
    """
    on = [label for label in LABELS if labels.get(label) == 1]
    return "+".join(on) if on else "clean"


# --------------------------------------------------------------------------- reading


def read_events(path: str | os.PathLike, *, warn: Warn | None = None) -> list[dict]:
    """The events of one label file, in order.

    A corrupt line is reported through ``warn`` (with its number) and skipped; the file
    itself is never rewritten. Each event gets ``_line``, its line number.

    Parameters
    ----------
    path : path-like
    warn : callable, optional
        Called with a one-line message per skipped line.

    Returns
    -------
    list of dict

    Raises
    ------
    TrainingError
        When the file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "l.jsonl"
    >>> _ = p.write_text('{"id": "a", "labels": {"slur": 1}}\\n[1]\\n')
    >>> [e["id"] for e in read_events(p, warn=lambda m: print(m.split(": ", 1)[1]))]
    not a label event (needs 'id' and 'labels' or 'undo'); skipped, the file is left as it is
    ['a']
    """
    path = Path(path)
    raw = read_input(path, error=TrainingError)  # a regular file within the size limit, or one line
    events = []
    lines = raw.split(b"\n")
    for lineno, line in enumerate(lines, start=1):
        event, problem = parse_event_line(line, first=lineno == 1)
        if problem is not None:
            if lineno == len(lines):
                problem = f"{problem}: an incomplete last line (a write cut short)"
            if warn:
                warn(f"{path}:{lineno}: {problem}; skipped, the file is left as it is")
            continue
        if event is not None:
            event["_line"] = lineno
            events.append(event)
    return events


def event_problem(event: Any) -> str | None:
    """What is wrong with a parsed line of a label file, or None for a valid event.

    An event is an object with an ``id`` (a string or an integer) and ``labels`` (each label
    0 or 1) or ``undo: true``; a ``text`` is a string.

    Examples
    --------
    >>> event_problem({"id": "a", "labels": {"slur": 1}}) is None
    True
    >>> event_problem({"id": "a", "labels": {"slur": "1"}})
    "label 'slur' is '1'; a label is 0 or 1"
    >>> event_problem({"id": "a", "labels": {"slur": True}})
    "label 'slur' is True; a label is 0 or 1"
    """
    if not isinstance(event, dict) or "id" not in event or not ("labels" in event or event.get("undo") is True):
        return "not a label event (needs 'id' and 'labels' or 'undo')"
    cid = event["id"]
    if isinstance(cid, bool) or not isinstance(cid, (str, int)) or cid == "":
        return f"'id' is {cid!r}; an id is a non-empty string or an integer"
    if "text" in event and not isinstance(event["text"], str):
        return f"'text' is {type(event['text']).__name__}, not a string"
    if event.get("undo") is True and "labels" not in event:
        return None
    labels = event["labels"]
    if not isinstance(labels, dict):
        return f"'labels' is {type(labels).__name__}, not an object"
    for label, value in labels.items():
        if label not in LABELS:
            return f"unknown label {label!r} (the labels are {', '.join(LABELS)})"
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1)):
            return f"label {label!r} is {value!r}; a label is 0 or 1"
    return None


def parse_event_line(line: bytes, *, first: bool = False) -> tuple[dict | None, str | None]:
    """One line of a label file (bytes, without its ``\\n``): ``(event, None)``, ``(None, None)``
    for a blank line, or ``(None, problem)`` for a line to skip.

    Each line is decoded on its own, so one bad byte costs one line, not the file: a line
    with NUL bytes (a crash's zero-filled tail), invalid UTF-8, invalid JSON or an invalid
    event (:func:`event_problem`) is a problem.

    Examples
    --------
    >>> parse_event_line(b'{"id": "a", "labels": {"slur": 1}}\\r')[0]["id"]
    'a'
    >>> parse_event_line(b'{"id": "a", "labels": {"sl')[1]
    'corrupt line (Unterminated string starting at)'
    >>> parse_event_line(b"\\x00\\x00\\x00")[1]
    'NUL bytes (a crash left a zero-filled tail?)'
    >>> parse_event_line(b'{"id": "\\xff"}')[1]
    'not UTF-8 (byte 8 of the line)'
    """
    if line.endswith(b"\r"):
        line = line[:-1]
    if b"\x00" in line:
        return None, "NUL bytes (a crash left a zero-filled tail?)"
    if not line.strip():
        return None, None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start} of the line)"
    if first:
        text = text.lstrip("\ufeff")
    try:
        event = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return None, f"corrupt line ({getattr(exc, 'msg', 'nested too deeply')})"
    problem = event_problem(event)
    return (None, problem) if problem else (event, None)


def is_label_file(head: str) -> bool:
    """Whether the start of a JSONL file holds label events (rather than a plain table).

    Examples
    --------
    >>> is_label_file('{"id": "a", "labels": {"slur": 1}, "annotator": "m1"}')
    True
    >>> is_label_file('{"id": "a", "text": "x", "slur": 1}')
    False
    """
    for line in json_lines(head)[:20]:
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        return isinstance(obj, dict) and (("labels" in obj and "annotator" in obj) or obj.get("undo") is True)
    return False


def check_label_file(path: str | os.PathLike, *, must_exist: bool = False) -> None:
    """Refuse a file that is not a label file (JSON Lines of label events), before reading or
    appending to it. A missing or empty file is fine unless ``must_exist``.

    A JSON array, a CSV/TSV table, a JSON Lines table of comments without labels, and binary
    files are refused with a message that says what the file looks like. A file where some
    lines are label events and some are corrupt passes: :func:`read_label_files` reports the
    corrupt lines.

    Parameters
    ----------
    path : path-like
    must_exist : bool
        Raise for a missing file (reading commands) instead of accepting it (``label``
        creates the file on the first save).

    Raises
    ------
    LabelFileError

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = p.write_text("id,text,slur\\n1,foo,0\\n")
    >>> try:
    ...     check_label_file(p)
    ... except LabelFileError as exc:
    ...     print(str(exc).split(": ", 1)[1][:60])
    looks like CSV (first line 'id,text,slur'), not a label file
    """
    path = Path(path)
    if path.is_dir():
        raise LabelFileError(f"{path}: is a directory; name a label file (e.g. labels/mine.jsonl)")
    if not path.exists() and not path.is_symlink():
        if must_exist:
            raise LabelFileError(f"{path}: no such file")
        return
    with open_input(path, error=LabelFileError) as fh:  # a FIFO or a device: refused, never opened
        try:
            head = fh.read(1 << 16)
        except OSError as exc:
            raise LabelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    # Bytes that are mostly not text (an image, an archive, random data): not a label file. A
    # label file with a few bad lines (a torn tail, one bad byte) is far below this share.
    # NUL-filled lines (a crash's tail) are left to the reader, which skips them.
    sample = "\n".join(line for line in text.split("\n") if "\x00" not in line)
    garbage = sum(ch == "\ufffd" or (ch < " " and ch not in "\t\r\n") for ch in sample)
    if len(sample) >= 64 and garbage * 10 > len(sample):
        raise LabelFileError(f"{path}: looks like a binary file, not a label file; {_EXPECTED}")
    # Lines with NUL bytes (a crash's zero-filled tail) are skipped by the reader, not the file.
    lines = [line.strip() for line in text.split("\n") if line.strip() and "\x00" not in line]
    if not lines:
        if b"\x00" in head:
            raise LabelFileError(f"{path}: looks like a binary file, not a label file; {_EXPECTED}")
        return
    if lines[0].startswith("["):
        raise LabelFileError(f"{path}: is a JSON array, not a label file; {_EXPECTED}")
    first = lines[0]
    if not first.startswith("{"):
        kind = "CSV" if "," in first else "TSV" if "\t" in first else "plain text"
        shown = first if len(first) <= 60 else first[:59] + "…"
        raise LabelFileError(f"{path}: looks like {kind} (first line {shown!r}), not a label file; {_EXPECTED}")
    objects = events = 0
    for line in lines[:200]:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # a corrupt line: reported with its number when the file is read
        if isinstance(obj, dict):
            objects += 1
            if "id" in obj and ("labels" in obj or obj.get("undo") is True):
                events += 1
    if objects and not events:
        raise LabelFileError(
            f"{path}: holds JSON objects but no label events (they need 'id' and 'labels'); "
            f"a table of comments is an INPUT, not a label file; {_EXPECTED}"
        )


def read_label_files(paths: Iterable[str | os.PathLike], *, warn: Warn | None = None) -> list[dict]:
    """The label events of several files (directories: their ``*.jsonl``), in file order.

    Each file is checked with :func:`check_label_file` and read with :func:`read_events`: a
    corrupt line is reported through ``warn`` with its line number and skipped, and the
    file is never rewritten. Each event gets ``_file``, the file it came from.

    Parameters
    ----------
    paths : iterable of path-like
    warn : callable, optional

    Returns
    -------
    list of dict

    Raises
    ------
    LabelFileError
        For a missing file or one that is not a label file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "l.jsonl"
    >>> _ = p.write_text('{"id": "a", "labels": {"slur": 1}, "annotator": "m1"}\\n{broken\\n')
    >>> events = read_label_files([p], warn=lambda m: print(m.split(": ", 1)[1]))
    corrupt line (Expecting property name enclosed in double quotes); skipped, the file is left as it is
    >>> [e["id"] for e in events]
    ['a']
    """
    try:
        files = walk(paths, suffixes=LABEL_FILE_SUFFIXES, describe="label files (.jsonl)")
    except ExtractError as exc:
        raise LabelFileError(str(exc)) from None
    for path in files:  # every file checked before any is read
        check_label_file(path, must_exist=True)
    events: list[dict] = []
    for path in files:
        try:
            file_events = read_events(path, warn=warn)
        except TrainingError as exc:
            raise LabelFileError(str(exc)) from None
        for event in file_events:
            event["_file"] = str(path)
        events.extend(file_events)
    return events


# --------------------------------------------------------------------------- resolving


def latest_by_annotator(events: Iterable[dict]) -> dict[tuple[str, str], dict]:
    """Each (comment id, annotator)'s standing label event, undo events applied.

    Parameters
    ----------
    events : iterable of dict
        Label and undo events in file order.

    Returns
    -------
    dict
        ``{(comment id, annotator): event}``, in the order the pairs first appeared.

    Examples
    --------
    >>> ev = [{"id": "a", "annotator": "m1", "labels": {"slur": 1}},
    ...       {"id": "a", "annotator": "m1", "labels": {"slur": 0}},
    ...       {"id": "a", "annotator": "m1", "undo": True}]
    >>> latest_by_annotator(ev)[("a", "m1")]["labels"]
    {'slur': 1}
    """
    stacks: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for event in events:
        if event.get("adjudication"):
            continue  # a final decision is not one more annotator's vote
        key = (str(event["id"]), str(event.get("annotator") or "unknown"))
        if event.get("undo"):
            if stacks[key]:
                stacks[key].pop()
        else:
            stacks[key].append(event)
    return {key: stack[-1] for key, stack in stacks.items() if stack}


def latest_adjudications(events: Iterable[dict]) -> dict[str, dict]:
    """Each comment's standing adjudication event (adjudication undo events applied).

    Examples
    --------
    >>> ev = [{"id": "a", "annotator": "lead", "labels": {"slur": 1}, "adjudication": True},
    ...       {"id": "b", "annotator": "lead", "labels": {"slur": 0}, "adjudication": True},
    ...       {"id": "b", "annotator": "lead", "undo": True, "adjudication": True}]
    >>> {k: e["labels"] for k, e in latest_adjudications(ev).items()}
    {'a': {'slur': 1}}
    """
    stacks: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if not event.get("adjudication"):
            continue
        cid = str(event["id"])
        if event.get("undo"):
            if stacks[cid]:
                stacks[cid].pop()
        else:
            stacks[cid].append(event)
    return {cid: stack[-1] for cid, stack in stacks.items() if stack}


def resolve(events: Iterable[dict]) -> list[dict]:
    """One row per comment: its adjudication if it has one, else each annotator's latest label
    and the majority per label (a tie is left unresolved).

    Parameters
    ----------
    events : iterable of dict

    Returns
    -------
    list of dict
        With ``id``, ``thread``, ``text``, ``thread_title``, ``thread_text``, ``labels``
        (label → 0/1, only labels decided), ``annotators``, ``source``, ``adjudicated`` (the
        labels are an adjudicator's), ``ties`` (labels the annotators split on evenly and no
        adjudication settled: unknown) and ``notes`` (``"annotator: note"``); in the order the
        comments first appear.

    Examples
    --------
    >>> ev = [{"id": "a", "annotator": "m1", "labels": {"slur": 1}, "note": "蔑称"},
    ...       {"id": "a", "annotator": "m2", "labels": {"slur": 0}}]
    >>> row = resolve(ev)[0]
    >>> row["labels"], row["ties"], row["annotators"], row["notes"]      # a tie is not a positive
    ({}, ['slur'], ['m1', 'm2'], ['m1: 蔑称'])
    >>> ev.append({"id": "a", "annotator": "lead", "labels": {"slur": 1}, "adjudication": True})
    >>> row = resolve(ev)[0]
    >>> row["labels"], row["ties"], row["adjudicated"]
    ({'slur': 1}, [], True)
    """
    events = list(events)
    by_id: dict[str, list[dict]] = defaultdict(list)
    order: list[str] = []
    for (cid, _annotator), event in latest_by_annotator(events).items():
        if cid not in by_id:
            order.append(cid)
        by_id[cid].append(event)
    adjudications = latest_adjudications(events)
    order.extend(cid for cid in adjudications if cid not in by_id)
    rows = []
    for cid in order:
        evs = by_id.get(cid, [])
        final = adjudications.get(cid)
        labels: dict[str, int] = {}
        ties: list[str] = []
        for label in LABELS:
            if final is not None and isinstance(final.get("labels"), dict) and final["labels"].get(label) in (0, 1):
                labels[label] = int(final["labels"][label])
                continue
            votes = [
                int(e["labels"][label])
                for e in evs
                if isinstance(e.get("labels"), dict) and e["labels"].get(label) in (0, 1)
            ]
            if votes and sum(votes) * 2 == len(votes):
                ties.append(label)
            elif votes:
                labels[label] = 1 if sum(votes) * 2 > len(votes) else 0
        first = evs[-1] if evs else final or {}
        notes = [f"{e.get('annotator')}: {e['note']}" for e in evs if e.get("note")]
        if final is not None and final.get("note"):
            notes.append(f"{final.get('annotator')} (adjudication): {final['note']}")
        rows.append(
            {
                "id": cid,
                "thread": first.get("thread"),
                "text": first.get("text", ""),
                "thread_title": first.get("thread_title"),
                "thread_text": first.get("thread_text"),
                "labels": labels,
                "annotators": sorted({str(e.get("annotator")) for e in evs}),
                "source": first.get("source"),
                "adjudicated": final is not None,
                "ties": ties,
                "notes": notes,
            }
        )
    return rows


# --------------------------------------------------------------------------- writing, durably


def label_event(
    comment_id: str,
    text: str,
    labels: Mapping[str, Any],
    *,
    annotator: str,
    thread: str | None = None,
    source: str | None = None,
    at: str | None = None,
    **extra: Any,
) -> dict:
    """A label event in the label-file format (labels as 0/1 ints, time in UTC ISO 8601).

    Parameters
    ----------
    comment_id, text : str
    labels : mapping
        Label → 0/1 (or bool); None or a missing label means not given.
    annotator : str
    thread, source, at : str, optional
        ``at`` defaults to :func:`now`.
    **extra
        Further keys (``thread_title``, ``thread_text``...); None values are left out.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        For an unknown label or a value other than 0 and 1.

    Examples
    --------
    >>> e = label_event("c1", "それな", {"slur": True, "delete": 0}, annotator="m1", at="2026-01-01T00:00:00Z")
    >>> e["labels"], e["thread"]
    ({'slur': 1, 'delete': 0}, None)
    """
    clean = {}
    for label in LABELS:
        if label in labels and labels[label] is not None:
            value = labels[label]
            if value not in (0, 1, True, False):
                raise ValueError(f"label '{label}' must be 0 or 1, not {value!r}")
            clean[label] = int(value)
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown label(s) {', '.join(sorted(unknown))}; the labels are {', '.join(LABELS)}")
    event = {
        "id": str(comment_id),
        "thread": thread,
        "text": text,
        "labels": clean,
        "annotator": annotator,
        "at": at or now(),
        "source": source,
    }
    event.update({k: v for k, v in extra.items() if v is not None})
    return event


def undo_event(comment_id: str, *, annotator: str, at: str | None = None, adjudication: bool = False) -> dict:
    """An event that takes back ``annotator``'s latest label of a comment (or, with
    ``adjudication``, the comment's latest adjudication).

    Examples
    --------
    >>> undo_event("c1", annotator="m1", at="2026-01-01T00:00:00Z")
    {'id': 'c1', 'annotator': 'm1', 'at': '2026-01-01T00:00:00Z', 'undo': True}
    """
    event = {"id": str(comment_id), "annotator": annotator, "at": at or now(), "undo": True}
    if adjudication:
        event["adjudication"] = True
    return event


#: Characters JSON keeps raw inside strings that :meth:`str.splitlines` (and some editors) take
#: for line breaks: written escaped, so one event is one line for every reader.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _json_line(event: dict) -> str:
    return json.dumps(event, ensure_ascii=False, sort_keys=False).translate(_LINE_BREAKS) + "\n"


def append_events(path: str | os.PathLike, events: Iterable[dict]) -> None:
    """Append events to a label file: one write per call under an exclusive lock, then
    fsync, so a crash never leaves a half line and two writers never interleave.

    The caller may show the next comment (or answer 200) once this returns.

    Parameters
    ----------
    path : path-like
        Created (with its directory) if missing.
    events : iterable of dict

    Raises
    ------
    OSError
        When the file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub" / "l.jsonl"
    >>> append_events(p, [undo_event("c1", annotator="m1", at="2026-01-01T00:00:00Z")])
    >>> p.read_text()
    '{"id": "c1", "annotator": "m1", "at": "2026-01-01T00:00:00Z", "undo": true}\\n'
    """
    import fcntl

    data = "".join(_json_line(e) for e in events).encode("utf-8")
    if not data:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Non-blocking: a FIFO put where the label file was fails at once (ENXIO) or is refused
    # below, instead of blocking the writer (the hook's request, the labeling tool) for ever.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise OSError(errno.EINVAL, "a FIFO or a socket, not a label file", str(path))
        os.set_blocking(fd, True)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            # A previous writer killed mid-line would leave no newline at the end: start clean.
            size = os.fstat(fd).st_size
            if size:
                with open(path, "rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        data = b"\n" + data
            view = memoryview(data)
            try:
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError:
                # A full disk (ENOSPC) or a failing one: take back what was written, so no
                # partial line stays for the next writer or reader; the caller is told.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                    os.fsync(fd)
                raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
