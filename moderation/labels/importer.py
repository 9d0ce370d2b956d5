"""``moderation labels import``: labels given outside the labeling tool (a spreadsheet filled in
from ``labels queue``, a Label Studio export) appended to a label file as ordinary label events.

Three kinds of file are read:

- a **table** (CSV/TSV, or JSON Lines / a JSON list of flat objects): one row per comment, an
  ``id`` column, a ``text`` column and one column per label (named as our labels, or mapped with
  ``column=label``). A cell is ``1``/``0`` (also ``x``, ``yes``/``no``, ``true``/``false``,
  ``✓``, ``○``/``×``, full-width digits); a row counts as labeled once any of its label cells is
  filled, and its blank label cells then mean 0 (``blank="unknown"`` leaves them unknown);
- a **Label Studio JSON export**, read as it is: a list of tasks ``{"data": {...},
  "annotations": [{"result": [{"type": "choices", "value": {"choices": [...]}}, ...],
  "completed_by": ..., "was_cancelled": ...}]}``. Each choice names a label (or is mapped to one
  with ``choice=label``; ``clean``/``none`` means no label); each annotation is one label event
  by its ``completed_by`` annotator; a ``textarea`` result is the note;
- either of them made from a ``labels queue`` file, whose ``check`` column proves that the id
  and text came back as they were queued (a spreadsheet that turned ``007`` into ``7`` or
  dropped a character is caught), and whose ``exact`` column carries the exact text of a
  comment the queue showed with visible escapes.

Every row is checked first; a bad row is reported with its line (or task) number and skipped;
then the good ones are appended in **one** write under the label file's lock and fsynced
(:func:`moderation.labels.events.append_events`): an import is on disk whole or not at all. A row
whose label (same annotator, same labels and note) is already the standing one in the label
file is not appended again, so importing a file twice adds nothing.

Examples
--------
>>> rows = [{"id": "c1", "text": "それな", "slur": "", "off_topic": "1", "delete": ""}]
>>> result = import_rows(rows, annotator="sato", where=lambda n: f"row {n}")
>>> [(e["id"], e["labels"], e["annotator"]) for e in result.events], result.problems
([('c1', {'slur': 0, 'off_topic': 1, 'delete': 0}, 'sato')], [])
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import LABELS, LabelFileError
from ..io.files import FORMULA_LEADS
from .events import label_event, latest_by_annotator

#: The text fields of a label event a queue row carries (and that ``exact`` may restore).
TEXT_FIELDS: tuple[str, ...] = ("text", "thread_title", "thread_text")
#: Cell values read as 1 and as 0 (compared after NFKC folding and lower-casing).
TRUE_CELLS = frozenset({"1", "1.0", "x", "y", "yes", "true", "t", "✓", "✔", "○", "◯", "はい", "on"})
FALSE_CELLS = frozenset({"0", "0.0", "n", "no", "false", "f", "×", "✗", "いいえ", "off", "-"})
#: Choice names (Label Studio) that mean "no label applies".
CLEAN_CHOICES = frozenset({"clean", "none", "ok", "neither", "問題なし"})
#: Blank cells in a labeled row: 0, or unknown.
BLANK_AS: tuple[str, ...] = ("0", "unknown")


def text_check(comment_id: str, text: str) -> str:
    """A short digest of a comment's id and text: a queue row carries it, an import verifies it.

    Examples
    --------
    >>> text_check("c1", "それな")
    '5102a6290026166b'
    """
    return hashlib.sha256(f"{comment_id}\x00{text}".encode()).hexdigest()[:16]


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``column=label`` pairs (``--map``) as a dict; the label must be one of ours.

    Raises
    ------
    ValueError
        For a pair without ``=`` or an unknown label.

    Examples
    --------
    >>> parse_mapping(["Toxic=slur", "関係ない=off_topic"])
    {'Toxic': 'slur', '関係ない': 'off_topic'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        column, sep, label = pair.rpartition("=")
        column, label = column.strip(), label.strip()
        if not sep or not column:
            raise ValueError(f"--map {pair!r}: write COLUMN=LABEL (e.g. Toxic=slur)")
        if label not in LABELS and label != "clean":
            raise ValueError(f"--map {pair!r}: {label!r} is not a label (the labels are {', '.join(LABELS)}, or clean)")
        out[column] = label
    return out


def cell_value(value: Any) -> int | None:
    """A label cell as 1, 0 or None (blank).

    Raises
    ------
    ValueError
        For anything else.

    Examples
    --------
    >>> [cell_value(v) for v in ("1", "ｘ", " no ", "", None, 0, True, "○")]
    [1, 1, 0, None, None, 0, 1, 1]
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text == "":
        return None
    if text in TRUE_CELLS:
        return 1
    if text in FALSE_CELLS:
        return 0
    raise ValueError(f"{str(value)[:20]!r} is not a label value (1/0, x, yes/no, true/false, or blank)")


def _unprefixed(value: str) -> str:
    """A cell as written before ``spreadsheet_safe`` added its ``'`` (when it plainly did)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_LEADS) else value


@dataclass
class ImportResult:
    """What an import found.

    Attributes
    ----------
    events : list of dict
        The label events to append.
    problems : list of str
        One message per bad row (``where: what``), skipped.
    unlabeled : int
        Rows with no label filled in (not imported).
    cancelled : int
        Label Studio annotations marked cancelled (skipped).
    already : int
        Rows whose label already stands in the label file (not appended again).
    """

    events: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unlabeled: int = 0
    cancelled: int = 0
    already: int = 0


def _exact_of(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = row.get("exact")
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, float) and raw != raw):
        return {}
    try:
        exact = json.loads(str(raw))
    except json.JSONDecodeError:
        exact = None
    if not isinstance(exact, dict):
        raise ValueError("the exact cell is not the JSON the queue wrote (edited?)")
    return exact


def _comment_id(value: Any) -> str:
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("no id (each row needs the comment's id, as `labels queue` wrote it)")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _texts(row: Mapping[str, Any]) -> tuple[str, dict[str, str | None]]:
    """The exact id and texts of a row: from ``exact`` if the queue put them there, else the
    cells (a leading ``'`` that a spreadsheet-safe queue added is taken off; ``check``, when
    there is one, decides between a cell with and without it).

    Raises
    ------
    ValueError
        For a row without id or text, or whose ``check`` does not match its id and text.
    """
    exact = _exact_of(row)
    out: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        value = exact.get(name, row.get(name))
        if value is None or (isinstance(value, float) and value != value):
            out[name] = None
        else:
            out[name] = str(value) if name in exact else _unprefixed(str(value))
    raw_id = _comment_id(exact.get("id", row.get("id")))
    ids = [raw_id] if "id" in exact else list(dict.fromkeys([_unprefixed(raw_id), raw_id]))
    if not out["text"]:
        raise ValueError("no text (the text column is missing or empty)")
    texts = [out["text"]] if "text" in exact else list(dict.fromkeys([out["text"], str(row.get("text"))]))
    check = row.get("check")
    if not (isinstance(check, str) and check.strip()):
        return ids[0], out
    for cid in ids:
        for text in texts:
            if text_check(cid, text) == check.strip():
                out["text"] = text
                return cid, out
    raise ValueError(
        "its id or text differs from the queue's (check does not match): edited, or changed by a "
        "spreadsheet (e.g. 007 read as 7); fix the cell, or empty the check cell to import it as it is"
    )


def _event(
    row: Mapping[str, Any], labels: dict[str, int | None], annotator: str, note: str | None, source: str
) -> dict:
    cid, texts = _texts(row)
    thread = row.get("thread")
    return label_event(
        cid,
        str(texts["text"]),
        labels,
        annotator=annotator,
        thread=str(thread) if thread not in (None, "") else None,
        source=str(row.get("source") or "") or source,
        thread_title=texts["thread_title"] or None,
        thread_text=texts["thread_text"] or None,
        note=note or None,
        imported=source,
    )


def import_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    annotator: str,
    mapping: Mapping[str, str] | None = None,
    blank: str = "0",
    source: str = "import",
    where: Callable[[int], str] = lambda n: f"row {n}",
) -> ImportResult:
    """Label events from table rows (a CSV filled in a spreadsheet, JSON Lines, a JSON list).

    Parameters
    ----------
    rows : iterable of mapping
        Each with ``id``, ``text`` (or ``exact``) and label columns; optional ``annotator``,
        ``note``, ``thread``, ``thread_title``, ``thread_text``, ``source``, ``check``.
    annotator : str
        For rows without an ``annotator`` cell.
    mapping : mapping, optional
        Column name → label (``clean`` allowed: a 1 there means a clean row).
    blank : {'0', 'unknown'}
        What a blank label cell of a labeled row means.
    source : str
        Kept in each event's ``imported`` (and ``source`` when the row has none).
    where : callable
        Row number (1-based) → how to name it in a problem (``file:line``).

    Returns
    -------
    ImportResult

    Examples
    --------
    >>> r = import_rows([{"id": "a", "text": "x", "Toxic": "yes"}, {"id": "b", "text": "y", "slur": "2"}],
    ...                 annotator="m1", mapping={"Toxic": "slur"})
    >>> [e["labels"]["slur"] for e in r.events], r.problems
    ([1], ["row 2: slur: '2' is not a label value (1/0, x, yes/no, true/false, or blank)"])
    """
    if blank not in BLANK_AS:
        raise ValueError(f"blank must be one of {', '.join(BLANK_AS)}")
    columns: dict[str, str] = {label: label for label in LABELS}
    columns.update(mapping or {})
    result = ImportResult()
    for n, row in enumerate(rows, start=1):
        try:
            values: dict[str, int | None] = {}
            clean = False
            for column, label in columns.items():
                if column not in row:
                    continue
                try:
                    value = cell_value(row[column])
                except ValueError as exc:
                    raise ValueError(f"{column}: {exc}") from None
                if label == "clean":
                    clean = clean or value == 1
                elif value is not None:
                    values[label] = max(values.get(label) or 0, value)
            if not values and not clean:
                result.unlabeled += 1
                continue
            labels: dict[str, int | None] = {
                label: values.get(label, 0 if blank == "0" or clean else None) for label in LABELS
            }
            if clean and any(v == 1 for v in labels.values()):
                raise ValueError("marked clean and with a label at once")
            who = str(row.get("annotator") or "").strip() or annotator
            note = str(row.get("note") or "").strip() or None
            result.events.append(_event(row, labels, who, note, source))
        except ValueError as exc:
            result.problems.append(f"{where(n)}: {exc}")
    return result


def _completed_by(annotation: Mapping[str, Any], default: str) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("username") or who.get("id")
    if who is None or who == "":
        return default
    return f"labelstudio:{who}"


def import_label_studio(
    tasks: Sequence[Any],
    *,
    annotator: str,
    mapping: Mapping[str, str] | None = None,
    source: str = "label-studio",
) -> ImportResult:
    """Label events from a Label Studio JSON export (a list of tasks), read as it is.

    Each annotation of a task is one label event: its ``choices`` results name the labels that
    apply (a choice is looked up in ``mapping``, then among our labels; ``clean``/``none``
    means none applies), every other label is 0; a ``textarea`` result is the note; the
    annotator is ``labelstudio:`` + the ``completed_by`` email (or user id), else
    ``annotator``. Cancelled (skipped) annotations and annotations with no choice are not
    imported. The comment's id, text and context come from the task's ``data`` (the columns of
    the ``labels queue`` file the tasks were made from).

    Parameters
    ----------
    tasks : sequence
    annotator : str
    mapping : mapping, optional
        Choice → label.
    source : str

    Returns
    -------
    ImportResult

    Examples
    --------
    >>> task = {"id": 7, "data": {"id": "c1", "text": "それな"}, "annotations": [{"completed_by": 3,
    ...     "result": [{"type": "choices", "value": {"choices": ["off_topic"]}}]}]}
    >>> e = import_label_studio([task], annotator="m1").events[0]
    >>> e["labels"], e["annotator"]
    ({'slur': 0, 'off_topic': 1, 'delete': 0}, 'labelstudio:3')
    """
    names: dict[str, str] = {}
    for label in LABELS:
        names[label] = names[label.replace("_", "-")] = names[label.replace("_", " ")] = label
    names.update({k.casefold(): v for k, v in (mapping or {}).items()})
    result = ImportResult()
    for n, task in enumerate(tasks, start=1):
        where = f"task {n}" + (
            f" (Label Studio id {task.get('id')})" if isinstance(task, dict) and "id" in task else ""
        )
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            result.problems.append(f"{where}: not a Label Studio task (an object with 'data')")
            continue
        data = task["data"]
        annotations = task.get("annotations")
        if annotations is None:
            annotations = task.get("completions") or []  # exports of Label Studio before 1.0
        if not isinstance(annotations, list) or not annotations:
            result.unlabeled += 1
            continue
        for k, annotation in enumerate(annotations, start=1):
            here = f"{where}, annotation {k}"
            try:
                if not isinstance(annotation, dict):
                    raise ValueError("not an object")
                if annotation.get("was_cancelled"):
                    result.cancelled += 1
                    continue
                chosen: list[str] = []
                notes: list[str] = []
                for part in annotation.get("result") or []:
                    value = part.get("value") if isinstance(part, dict) else None
                    if not isinstance(value, dict):
                        continue
                    if part.get("type") == "choices":
                        chosen.extend(str(c) for c in value.get("choices") or [])
                    elif part.get("type") == "textarea":
                        notes.extend(str(t) for t in value.get("text") or [])
                if not chosen:
                    result.unlabeled += 1
                    continue
                labels = dict.fromkeys(LABELS, 0)
                for choice in chosen:
                    key = choice.strip().casefold()
                    picked = names.get(key) or (mapping or {}).get(choice)
                    if picked is None and key in CLEAN_CHOICES:
                        continue
                    if picked is None:
                        raise ValueError(
                            f"choice {choice!r} is not a label (the labels are {', '.join(LABELS)}); map it with "
                            f"--map '{choice}=LABEL'"
                        )
                    if picked != "clean":
                        labels[picked] = 1
                who = _completed_by(annotation, annotator)
                result.events.append(_event(data, dict(labels), who, " ".join(notes).strip() or None, source))
            except ValueError as exc:
                result.problems.append(f"{here}: {exc}")
    return result


def read_import_file(path: str | os.PathLike, *, encoding: str | None = None) -> tuple[str, list[Any], list[int]]:
    """Read a file to import: ``("label-studio", tasks, [])`` or ``("rows", rows, line numbers)``.

    CSV/TSV by extension (UTF-8 with or without a BOM, or Shift_JIS/CP932 as a Japanese
    spreadsheet saves it: detected unless ``encoding``); ``.jsonl``/``.ndjson`` one object a
    line; ``.json`` a list of Label Studio tasks or of flat rows.

    Raises
    ------
    LabelFileError
        When the file cannot be read or is not one of these (one line, nothing imported).
    """
    from ..core import ExtractError
    from ..io.decode import decode

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LabelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = decode(raw, encoding, name=str(path))
    except ExtractError as exc:
        raise LabelFileError(str(exc)) from None
    text = text.lstrip("\ufeff")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        if not reader.fieldnames or "id" not in [f.strip() for f in reader.fieldnames]:
            raise LabelFileError(f"{path}: no id column in the header (a CSV from `labels queue` has one)")
        rows, lines = [], []
        for row in reader:
            rows.append({(k or "").strip(): v for k, v in row.items()})
            lines.append(reader.line_num)
        return "rows", rows, lines
    if suffix in (".jsonl", ".ndjson"):
        rows, lines = [], []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                obj = {"__problem__": f"not JSON ({exc.msg})"}
            rows.append(obj if isinstance(obj, dict) else {"__problem__": "not a JSON object"})
            lines.append(lineno)
        return "rows", rows, lines
    if suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelFileError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        if isinstance(obj, dict):
            obj = [obj]
        if not isinstance(obj, list):
            raise LabelFileError(f"{path}: a JSON list of Label Studio tasks or of rows was expected")
        if any(isinstance(t, dict) and ("annotations" in t or "completions" in t) for t in obj):
            return "label-studio", obj, []
        return "rows", obj, list(range(1, len(obj) + 1))
    raise LabelFileError(f"{path}: import reads .csv, .tsv, .jsonl or .json (a Label Studio export)")


def import_file(
    path: str | os.PathLike,
    *,
    annotator: str,
    mapping: Mapping[str, str] | None = None,
    blank: str = "0",
    encoding: str | None = None,
    existing: Iterable[dict] = (),
) -> ImportResult:
    """Read and check a file to import (nothing is written): :func:`read_import_file`, then
    :func:`import_rows` or :func:`import_label_studio`; rows whose label already stands in
    ``existing`` (the label file's events) are dropped and counted in ``already``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "filled.csv"
    >>> _ = p.write_text("id,text,slur,note\\nc1,それな,1,蔑称\\nc2,ふつう,,\\n", encoding="utf-8")
    >>> r = import_file(p, annotator="sato")
    >>> [(e["id"], e["labels"]["slur"], e.get("note")) for e in r.events], r.unlabeled
    ([('c1', 1, '蔑称')], 1)
    """
    kind, rows, lines = read_import_file(path, encoding=encoding)
    name = Path(path).name
    if kind == "label-studio":
        result = import_label_studio(rows, annotator=annotator, mapping=mapping, source=f"label-studio:{name}")
    else:
        present = {k for r in rows if isinstance(r, dict) for k in r}
        for column in mapping or {}:
            if column not in present:
                raise LabelFileError(f"{path}: --map names a column {column!r} the file does not have")
        if rows and not present & {*LABELS, *(mapping or {})}:
            raise LabelFileError(
                f"{path}: no label column ({', '.join(LABELS)}); name the file's own columns with --map COLUMN=LABEL"
            )
        bad = [(lines[i], r["__problem__"]) for i, r in enumerate(rows) if "__problem__" in r]
        good = [(lines[i], r) for i, r in enumerate(rows) if isinstance(r, dict) and "__problem__" not in r]
        where_of = [ln for ln, _r in good]
        label = "line" if Path(path).suffix.lower() != ".json" else "row"
        result = import_rows(
            [r for _ln, r in good],
            annotator=annotator,
            mapping=mapping,
            blank=blank,
            source=f"import:{name}",
            where=lambda n: f"{path}:{where_of[n - 1]}" if label == "line" else f"{path}: row {where_of[n - 1]}",
        )
        result.problems = [f"{path}:{ln}: {what}" for ln, what in bad] + result.problems
    standing = latest_by_annotator(existing)
    fresh = []
    for event in result.events:
        before = standing.get((event["id"], event["annotator"]))
        if before is not None and before.get("labels") == event["labels"] and before.get("note") == event.get("note"):
            result.already += 1
        else:
            fresh.append(event)
            standing[(event["id"], event["annotator"])] = event
    result.events = fresh
    return result
