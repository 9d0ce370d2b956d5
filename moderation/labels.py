"""Ground truth: label files written by the labeling tool, and training tables.

A label file is JSON Lines, one event per line, appended and never rewritten::

    {"id", "thread", "text", "labels": {"slur": 0|1, "off_topic": 0|1, "delete": 0|1},
     "annotator", "at", "source"}                       # a label
    {"id", "annotator", "at", "undo": true}            # takes back that annotator's last label

A comment's label is resolved from each annotator's latest (not undone) event, then by
majority across annotators (a tie counts as positive: a moderator would look at it).

:func:`load_training_data` reads label files, CSV/JSONL tables with a ``text`` column and
0/1 label columns (a blank cell is unknown, not 0), and the ja-toxicity-inspection subset
(Apache-2.0), whose toxicity votes it maps onto our labels.

Examples
--------
>>> events = [{"id": "a", "text": "x", "labels": {"slur": 1}, "annotator": "m1"},
...           {"id": "a", "text": "x", "labels": {"slur": 0}, "annotator": "m2"},
...           {"id": "a", "text": "x", "labels": {"slur": 1}, "annotator": "m3"}]
>>> resolve(events)[0]["labels"]["slur"]
1
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from .extract import ExtractError, clean_text, decode, walk
from .text import EARLIER_POSTS, thread_context

LABELS = ("slur", "off_topic", "delete")


class TrainingError(ValueError):
    """Training data that cannot give a model (no positives for a label, say)."""


Warn = Callable[[str], None]
LABEL_FILE_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv")
JA_TOXICITY_COLUMNS = {"Not Toxic", "Hard to Say", "Toxic", "Very Toxic", "annotation_num"}


# --------------------------------------------------------------------------- label events

def read_events(path: str | os.PathLike, *, warn: Warn | None = None) -> list[dict]:
    """Events of a label file in order; a corrupt line is reported (with its number) and skipped,
    the file itself is never rewritten."""
    path = Path(path)
    events = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrainingError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text = decode(raw, "utf-8", name=str(path)) if raw else ""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            if warn:
                warn(f"{path}:{lineno}: corrupt line ({exc.msg}); skipped, the file is left as it is")
            continue
        if not isinstance(event, dict) or "id" not in event or not ("labels" in event or event.get("undo")):
            if warn:
                warn(f"{path}:{lineno}: not a label event (needs 'id' and 'labels' or 'undo'); skipped")
            continue
        event["_line"] = lineno
        events.append(event)
    return events


def is_label_file(head: str) -> bool:
    """Whether a JSONL file holds label events (rather than a plain table)."""
    for line in head.splitlines()[:20]:
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        return isinstance(obj, dict) and ("labels" in obj and "annotator" in obj or obj.get("undo") is True)
    return False


def latest_by_annotator(events: Iterable[dict]) -> dict[tuple[str, str], dict]:
    """Each (comment id, annotator)'s standing label event, undo events applied."""
    stacks: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for event in events:
        key = (str(event["id"]), str(event.get("annotator") or "unknown"))
        if event.get("undo"):
            if stacks[key]:
                stacks[key].pop()
        else:
            stacks[key].append(event)
    return {key: stack[-1] for key, stack in stacks.items() if stack}


def resolve(events: Iterable[dict]) -> list[dict]:
    """One row per comment: each annotator's latest label, then the majority per label.

    Returns dicts with ``id``, ``thread``, ``text``, ``labels`` (label → 0/1, only labels
    someone gave), ``annotators`` and any context keys the events carried.
    """
    by_id: dict[str, list[dict]] = defaultdict(list)
    order: list[str] = []
    for (cid, _annotator), event in latest_by_annotator(events).items():
        if cid not in by_id:
            order.append(cid)
        by_id[cid].append(event)
    rows = []
    for cid in order:
        evs = by_id[cid]
        labels = {}
        for label in LABELS:
            votes = [int(e["labels"][label]) for e in evs
                     if isinstance(e.get("labels"), dict) and e["labels"].get(label) in (0, 1)]
            if votes:
                labels[label] = 1 if sum(votes) * 2 >= len(votes) else 0
        first = evs[-1]
        rows.append({"id": cid, "thread": first.get("thread"), "text": first.get("text", ""),
                     "thread_title": first.get("thread_title"), "thread_text": first.get("thread_text"),
                     "labels": labels, "annotators": sorted({str(e.get("annotator")) for e in evs}),
                     "source": first.get("source")})
    return rows


# --------------------------------------------------------------------------- training tables

def _label_value(value, path: Path, where: str, label: str) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, bool):
        return float(value)
    s = str(value).strip()
    if s == "":
        return math.nan
    if s in ("0", "1", "0.0", "1.0"):
        return float(int(float(s)))
    raise TrainingError(f"{path}: {where}: label '{label}' is {value!r}; use 0, 1 or leave it blank (unknown)")


def _context(title, text) -> str:
    return thread_context(title if isinstance(title, str) else None, text if isinstance(text, str) else None)


def _with_earlier_posts(rows: list[dict]):
    """Each resolved row with the texts of the posts before it in the same thread, so that a
    label file's comments are trained in the context scoring gives them (title, then the
    thread's earlier posts)."""
    seen: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        thread = row.get("thread") or ""
        yield row, list(seen[thread][-EARLIER_POSTS:])
        if row.get("text"):
            seen[thread].append(str(row["text"])[:500])


def _label_context(row: dict, earlier: list[str]) -> str:
    if row.get("thread_text"):  # recorded by the labeling tool as the tool showed it
        return thread_context(row.get("thread_title"), row["thread_text"])
    return thread_context(row.get("thread_title"), "\n".join(earlier))


def _from_ja_toxicity(frame: pd.DataFrame) -> pd.DataFrame:
    """The ja-toxicity-inspection subset's votes as our labels.

    ``delete``: a majority rated it Toxic or Very Toxic (1) or Not Toxic (0); otherwise
    unknown. ``slur``: at least half the annotators marked it discriminatory (差別) and a
    majority found it toxic (1); no one marked it discriminatory (0); otherwise unknown.
    ``off_topic``: unknown (the sentences have no thread).
    """
    n = frame["annotation_num"].astype(float)
    toxic = (frame["Toxic"].astype(float) + frame["Very Toxic"].astype(float)) / n
    clean = frame["Not Toxic"].astype(float) / n
    disc = frame.get("category_差別", pd.Series(0, index=frame.index)).astype(float)
    delete = pd.Series(math.nan, index=frame.index)
    delete[toxic >= 0.5] = 1.0
    delete[(clean > 0.5) & (toxic < 0.5)] = 0.0
    slur = pd.Series(math.nan, index=frame.index)
    slur[disc == 0] = 0.0
    slur[(disc / n >= 0.5) & (toxic >= 0.5)] = 1.0
    out = pd.DataFrame({"id": "ja-toxicity-" + frame["id"].astype(str) if "id" in frame else frame.index.astype(str),
                        "text": frame["text"].astype(str).map(clean_text), "context": "", "slur": slur,
                        "off_topic": math.nan, "delete": delete})
    out.attrs["dataset"] = "ja-toxicity-inspection (inspection-ai/japanese-toxic-dataset), Apache License 2.0"
    return out


def _table_rows(frame: pd.DataFrame, path: Path, first_line: int) -> pd.DataFrame:
    if "text" not in frame.columns:
        raise TrainingError(f"{path}: no 'text' column (columns: {', '.join(map(str, frame.columns))}); "
                            "name the comment column 'text'")
    if JA_TOXICITY_COLUMNS <= set(frame.columns):
        return _from_ja_toxicity(frame)
    present = [label for label in LABELS if label in frame.columns]
    if not present:
        raise TrainingError(f"{path}: no label column; add one or more of {', '.join(LABELS)} with 0/1 values")
    out = pd.DataFrame({"text": frame["text"].map(lambda v: clean_text(v) if isinstance(v, str) else v)})
    bad_text = out["text"].map(lambda v: not isinstance(v, str) or not v.strip())
    if bad_text.all():
        raise TrainingError(f"{path}: every 'text' cell is empty")
    out["id"] = frame["id"].astype(str) if "id" in frame.columns else [f"{path.stem}:{i + first_line}"
                                                                          for i in range(len(frame))]
    out["context"] = [_context(t, x) for t, x in zip(frame.get("thread_title", [None] * len(frame)),
                                                     frame.get("thread_text", [None] * len(frame)))]
    for label in LABELS:
        if label in frame.columns:
            out[label] = [_label_value(v, path, f"row {i + first_line}", label)
                          for i, v in enumerate(frame[label].tolist())]
        else:
            out[label] = math.nan
    return out[~bad_text.to_numpy()]


def _read_file(path: Path, warn: Warn | None) -> pd.DataFrame:
    raw = path.read_bytes()
    if not raw.strip():
        raise TrainingError(f"{path}: empty file; nothing to train on")
    try:
        text = decode(raw, None, name=str(path))
    except ExtractError as exc:
        raise TrainingError(str(exc)) from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{"):
        if is_label_file(text[:65536]):
            rows = resolve(read_events(path, warn=warn))
            frame = pd.DataFrame([{
                "id": r["id"], "text": clean_text(str(r["text"] or "")), "context": _label_context(r, earlier),
                **{label: float(r["labels"][label]) if label in r["labels"] else math.nan for label in LABELS}}
                for r, earlier in _with_earlier_posts(rows)])
            if frame.empty:
                raise TrainingError(f"{path}: no label events in this file")
            return frame[frame["text"].map(lambda v: isinstance(v, str) and bool(v.strip()))]
        records = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise TrainingError(f"{path}:{lineno}: not a JSON object")
            records.append(obj)
        return _table_rows(pd.DataFrame(records), path, 1)
    delimiter = "\t" if suffix == ".tsv" else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise TrainingError(f"{path}: unreadable CSV ({str(exc).splitlines()[0]})") from None
    except pd.errors.EmptyDataError:
        raise TrainingError(f"{path}: empty file; nothing to train on") from None
    if frame.empty:
        raise TrainingError(f"{path}: a header but no rows; nothing to train on")
    for col in ("annotation_num", "Not Toxic", "Hard to Say", "Toxic", "Very Toxic"):
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col])
    for col in [c for c in frame.columns if c.startswith("category_")]:
        frame[col] = pd.to_numeric(frame[col])
    return _table_rows(frame, path, 2)


def training_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The training files named, directories walked for ``.jsonl``, ``.csv`` and ``.tsv``."""
    try:
        return walk(paths, suffixes=LABEL_FILE_SUFFIXES, describe="label files (.jsonl, .csv, .tsv)")
    except ExtractError as exc:
        raise TrainingError(str(exc)) from None


def load_training_data(paths: Iterable[str | os.PathLike], *, warn: Warn | None = None) -> tuple[pd.DataFrame, dict]:
    """All training rows (``id``, ``text``, ``context``, one column per label with 1/0/NaN)
    and a summary for the model manifest (files, rows, positives, sha256 of each file).

    Raises
    ------
    TrainingError
        Naming the file and the problem.
    """
    frames, files = [], []
    digest = hashlib.sha256()
    for path in training_files(paths):
        frame = _read_file(path, warn)
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        digest.update(sha.encode())
        entry = {"path": str(path), "sha256": sha, "rows": int(len(frame)),
                 "labels": {label: {"known": int(frame[label].notna().sum()), "positive": int((frame[label] == 1).sum())}
                            for label in LABELS}}
        if frame.attrs.get("dataset"):
            entry["dataset"] = frame.attrs["dataset"]
        files.append(entry)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    summary = {"files": files, "rows": int(len(data)), "sha256": digest.hexdigest(),
               "labels": {label: {"known": int(data[label].notna().sum()), "positive": int((data[label] == 1).sum())}
                          for label in LABELS}}
    return data, summary


# --------------------------------------------------------------------------- appending, durably

def label_event(comment_id: str, text: str, labels: dict, *, annotator: str, thread: str | None = None,
                source: str | None = None, at: str | None = None, **extra) -> dict:
    """A label event in the label-file format (labels as 0/1 ints, time in UTC ISO 8601)."""
    import datetime as _dt

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
    event = {"id": str(comment_id), "thread": thread, "text": text, "labels": clean, "annotator": annotator,
             "at": at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
             "source": source}
    event.update({k: v for k, v in extra.items() if v is not None})
    return event


def append_events(path: str | os.PathLike, events: Iterable[dict]) -> None:
    """Append events to a label file: one write per call under an exclusive lock, then
    fsync, so a crash never leaves a half line and two writers never interleave.

    The caller may show the next comment (or answer 200) once this returns.
    """
    import fcntl

    data = "".join(json.dumps(e, ensure_ascii=False, sort_keys=False) + "\n" for e in events).encode("utf-8")
    if not data:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
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
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
