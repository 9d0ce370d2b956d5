"""Training tables: label files, labelled CSV/JSONL tables and the ja-toxicity-inspection subset
as one frame of comments, their thread contexts and their labels.

:func:`load_training_data` reads

- label files written by the labeling tool (:mod:`moderation.labels.events`), each comment's
  label resolved (each annotator's latest, then the majority);
- CSV/JSONL tables with a ``text`` column and 0/1 label columns (a blank cell is unknown, not
  0), optionally ``thread_title`` and ``thread_text``;
- the ja-toxicity-inspection subset (Apache-2.0), whose toxicity votes it maps onto our labels.

Every comment's context is built by :mod:`moderation.context`, as scoring builds it.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_text("text,thread_title,slur\\n下朝鮮は黙ってろ,在韓米軍,1\\nいい話だ,在韓米軍,0\\n")
>>> frame, summary = load_training_data([p])
>>> frame[["text", "context", "slur"]].values.tolist()
[['下朝鮮は黙ってろ', '在韓米軍', 1.0], ['いい話だ', '在韓米軍', 0.0]]
>>> summary["labels"]["slur"]
{'known': 2, 'positive': 1}
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..context import ThreadContexts, build_context
from ..core import LABELS, ExtractError, TrainingError, Warn
from ..io.board_text import clean_text
from ..io.decode import decode
from ..io.inputs import read_input
from ..io.walk import walk
from .events import is_label_file, read_events, resolve

#: Files a training directory is walked for.
LABEL_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".csv", ".tsv")
#: The columns that identify the ja-toxicity-inspection subset.
JA_TOXICITY_COLUMNS = {"Not Toxic", "Hard to Say", "Toxic", "Very Toxic", "annotation_num"}


def _label_value(value: Any, path: Path, where: str, label: str) -> float:
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


def label_file_rows(events: Iterable[dict]) -> pd.DataFrame:
    """The training rows of label events: one per comment, its label resolved and its context
    the one scoring gives it.

    A comment's context is the thread text the labeling tool recorded with it
    (``thread_text``, as the tool showed it), else the texts of the comments before it in
    the same thread; with the thread title first either way (:mod:`moderation.context`).

    Parameters
    ----------
    events : iterable of dict

    Returns
    -------
    pandas.DataFrame
        ``id``, ``text``, ``context`` and one column per label (1, 0 or NaN), comments with
        an empty text left out.

    Examples
    --------
    >>> ev = [{"id": "a", "thread": "t", "text": "最初", "labels": {"slur": 0}, "annotator": "m1"},
    ...       {"id": "b", "thread": "t", "text": "次", "labels": {"slur": 1}, "annotator": "m1",
    ...        "thread_title": "題"}]
    >>> label_file_rows(ev)[["id", "context", "slur"]].values.tolist()
    [['a', '', 0.0], ['b', '題\\n最初', 1.0]]
    """
    rows = resolve(events)
    contexts = ThreadContexts(max_threads=len(rows) + 1)  # a finite table: no thread is forgotten
    out = []
    for row in rows:
        thread = row.get("thread") or ""
        if row.get("thread_text"):
            context = build_context(row.get("thread_title"), row["thread_text"])
        else:
            title = row.get("thread_title")
            context = contexts.context(thread, title=title if isinstance(title, str) else "")
        out.append(
            {
                "id": row["id"],
                "text": clean_text(str(row["text"] or "")),
                "context": context.text,
                **{label: float(row["labels"][label]) if label in row["labels"] else math.nan for label in LABELS},
            }
        )
        if row.get("text"):
            contexts.add_post(thread, str(row["text"]))
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    return frame[frame["text"].map(lambda v: isinstance(v, str) and bool(v.strip()))]


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
    out = pd.DataFrame(
        {
            "id": "ja-toxicity-" + frame["id"].astype(str) if "id" in frame else frame.index.astype(str),
            "text": frame["text"].astype(str).map(clean_text),
            "context": "",
            "slur": slur,
            "off_topic": math.nan,
            "delete": delete,
        }
    )
    out.attrs["dataset"] = "ja-toxicity-inspection (inspection-ai/japanese-toxic-dataset), Apache License 2.0"
    return out


def _table_rows(frame: pd.DataFrame, path: Path, first_line: int) -> pd.DataFrame:
    if "text" not in frame.columns:
        raise TrainingError(
            f"{path}: no 'text' column (columns: {', '.join(map(str, frame.columns))}); name the comment column 'text'"
        )
    if set(frame.columns) >= JA_TOXICITY_COLUMNS:
        return _from_ja_toxicity(frame)
    present = [label for label in LABELS if label in frame.columns]
    if not present:
        raise TrainingError(f"{path}: no label column; add one or more of {', '.join(LABELS)} with 0/1 values")
    out = pd.DataFrame({"text": frame["text"].map(lambda v: clean_text(v) if isinstance(v, str) else v)})
    bad_text = out["text"].map(lambda v: not isinstance(v, str) or not v.strip())
    if bad_text.all():
        raise TrainingError(f"{path}: every 'text' cell is empty")
    out["id"] = (
        frame["id"].astype(str)
        if "id" in frame.columns
        else [f"{path.stem}:{i + first_line}" for i in range(len(frame))]
    )
    titles = frame.get("thread_title", [None] * len(frame))
    texts = frame.get("thread_text", [None] * len(frame))
    out["context"] = [build_context(t, x).text for t, x in zip(titles, texts, strict=True)]
    for label in LABELS:
        if label in frame.columns:
            out[label] = [
                _label_value(v, path, f"row {i + first_line}", label) for i, v in enumerate(frame[label].tolist())
            ]
        else:
            out[label] = math.nan
    return out[~bad_text.to_numpy()]


def _read_file(path: Path, warn: Warn | None, raw: bytes) -> pd.DataFrame:
    if not raw.strip():
        raise TrainingError(f"{path}: empty file; nothing to train on")
    suffix = path.suffix.lower()
    # A label file goes to the one label-file reader before any decoding of the whole file:
    # a bad byte or a torn tail costs one line there (with a warning), not the file.
    head = raw[:65536].decode("utf-8", errors="replace")
    if (suffix in (".jsonl", ".ndjson", ".json") or head.lstrip("\ufeff \t\r\n").startswith("{")) and is_label_file(
        head
    ):
        frame = label_file_rows(read_events(path, warn=warn))
        if frame.empty:
            raise TrainingError(f"{path}: no label events in this file")
        return frame
    try:
        text = decode(raw, None, name=str(path))
    except ExtractError as exc:
        raise TrainingError(str(exc)) from None
    if suffix in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{"):
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


def _label_counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {
        label: {"known": int(frame[label].notna().sum()), "positive": int((frame[label] == 1).sum())}
        for label in LABELS
    }


def training_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The training files named, directories walked for ``.jsonl``, ``.ndjson``, ``.csv`` and ``.tsv``.

    Raises
    ------
    TrainingError
        For a path that does not exist or a directory without such files.
    """
    try:
        return walk(paths, suffixes=LABEL_FILE_SUFFIXES, describe="label files (.jsonl, .csv, .tsv)")
    except ExtractError as exc:
        raise TrainingError(str(exc)) from None


def load_training_data(paths: Iterable[str | os.PathLike], *, warn: Warn | None = None) -> tuple[pd.DataFrame, dict]:
    """All training rows and a summary for the model manifest.

    Parameters
    ----------
    paths : iterable of path-like
        Label files, labelled tables, the ja-toxicity-inspection subset, or directories of them.
    warn : callable, optional
        Told about corrupt lines of label files (which are skipped).

    Returns
    -------
    frame : pandas.DataFrame
        ``id``, ``text``, ``context``, one column per label with 1/0/NaN.
    summary : dict
        Files (path, sha256, rows, known and positive labels), rows, a digest of all files,
        and known and positive labels overall.

    Raises
    ------
    TrainingError
        Naming the file and the problem.
    """
    frames, files = [], []
    digest = hashlib.sha256()
    for path in training_files(paths):
        # A regular file within the size limit; one that cannot be read is named as an input
        # (it was reported as a model that could not be written).
        data = read_input(path, error=TrainingError)
        frame = _read_file(path, warn, data)
        sha = hashlib.sha256(data).hexdigest()
        digest.update(sha.encode())
        entry = {"path": str(path), "sha256": sha, "rows": len(frame), "labels": _label_counts(frame)}
        if frame.attrs.get("dataset"):
            entry["dataset"] = frame.attrs["dataset"]
        files.append(entry)
        frames.append(frame)
    data, duplicates = merge_duplicate_ids(pd.concat(frames, ignore_index=True))
    if duplicates["merged"] and warn:
        warn(
            f"{duplicates['merged']:,} rows repeat a comment id of another row (the same comment in several files): "
            f"merged; {duplicates['tied']:,} labels they split on evenly are left unknown"
        )
    summary = {
        "files": files,
        "rows": len(data),
        "sha256": digest.hexdigest(),
        "labels": _label_counts(data),
        "duplicates": duplicates,
    }
    return data, summary


def merge_duplicate_ids(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """One row per comment id: rows sharing an id (a label file and its export, say) become
    one, at the first one's place; per label the known values are resolved like a label file's
    annotators (:func:`moderation.labels.events.resolve`): the majority, a tie left unknown.

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["a", "b", "a"], "text": ["x", "y", "x"], "slur": [1.0, 0.0, 0.0],
    ...                   "off_topic": [1.0, math.nan, math.nan], "delete": [math.nan] * 3})
    >>> merged, info = merge_duplicate_ids(f)
    >>> merged[["id", "slur", "off_topic"]].values.tolist(), info
    ([['a', nan, 1.0], ['b', 0.0, nan]], {'merged': 1, 'tied': 1})
    """
    if frame.empty or "id" not in frame.columns:
        return frame, {"merged": 0, "tied": 0}
    ids = frame["id"].where(frame["id"].notna() & (frame["id"].astype(str) != ""))
    dup = ids.notna() & ids.duplicated(keep=False)
    if not dup.any():
        return frame, {"merged": 0, "tied": 0}
    tied = 0
    drop = []
    frame = frame.copy()
    for _cid, group in frame[dup].groupby(ids[dup], sort=False):
        first = group.index[0]
        for label in [c for c in LABELS if c in frame.columns]:
            votes = group[label].dropna()
            if votes.empty:
                continue
            positive, n = float(votes.sum()), len(votes)
            tied += positive * 2 == n
            frame.at[first, label] = math.nan if positive * 2 == n else float(positive * 2 > n)
        drop.extend(group.index[1:])
    return frame.drop(index=drop).reset_index(drop=True), {"merged": len(drop), "tied": tied}
