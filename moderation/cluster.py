"""Scoring beyond one machine: comments as a Dask collection, scored on a Dask cluster.

A board's archive or a platform's daily export is more than one machine scores in good time.
This module scores it on a Dask cluster (a :class:`distributed.LocalCluster` on one machine, or
an existing cluster's scheduler) with the same code path as ``moderation score``:

- :func:`read_comments`: files, directories and globs (CSV, JSONL, Parquet and thread dumps)
  as a Dask DataFrame of the records that are scored, each with the thread context it is judged
  in (built by :class:`moderation.context.ThreadContexts`, as :func:`moderation.moderator.score_records`
  builds it). A thread dump is read whole by one task, so a thread never straddles two
  partitions; large JSONL and Parquet files are split into line ranges and row groups.
- :func:`score_dask`: :meth:`Moderator.score` over each partition (``map_partitions``), with the
  model loaded once per worker process from a path every worker can read and its manifest's
  sha256 checked there against the client's.
- :func:`score_to_directory`: both, written as one Parquet (or JSONL) file per partition, each
  named by its partition and written atomically, then a ``_SUCCESS`` summary (rows and counts
  per action) once every partition is done. Running it again after a crash rewrites the same
  files: no row is written twice.

Needs ``pip install 'moderation[cluster]'`` (dask[distributed] and pyarrow).

Examples
--------
>>> import dask.dataframe as dd, pandas as pd
>>> comments = dd.from_pandas(pd.DataFrame({"text": ["いい試合だった", "ﾁｮﾝは帰れ"]}), npartitions=2)
>>> scored = score_dask(comments).compute(scheduler="sync")
>>> list(scored.columns), len(scored)
(['text', 'slur', 'off_topic', 'delete', 'action', 'labels'], 2)
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import itertools
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .context import ThreadContexts, titles_first
from .core import ACTIONS, LABELS, SCORED_KINDS, Comment, ExtractError, ModelError, ModerationError, Warn
from .io.decode import detect_encoding
from .io.extraction import extract_file
from .io.files import atomic_write, write_jsonl
from .io.parquet import write_parquet
from .io.readers.parquet import iter_parquet, open_parquet
from .io.readers.tabular import iter_jsonl
from .io.registry import detect_format, path_reader
from .io.walk import walk
from .ml.text import normalize_text
from .moderator import Moderator, default_model_path, with_decisions

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

#: Comments per partition unless told otherwise.
DEFAULT_PARTITION_SIZE = 10_000
#: Rows :meth:`Moderator.score` gets at a time inside a partition (memory stays flat).
SCORE_CHUNK = 2000
#: Dask settings of a cluster :func:`connect` starts on this machine. Distributed's defaults wake
#: every process's event loop 50 times a second (``admin.tick``), sample the scoring thread's stack
#: 100 times a second (the worker's profiler, which also keeps the samples) and poll memory 10 times
#: a second: with the cores shared by the workers and the client, that cost about 3% of a core in
#: each process while idle (measured over 20 s: client 0.64 s, worker 0.62 s of CPU; 0.12 and 0.08 s
#: with these), and each wake-up takes the GIL from the scoring thread.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
#: The summary written last, when every partition is done.
SUCCESS = "_SUCCESS"
#: Output formats of :func:`score_to_directory`.
OUTPUT_FORMATS = ("parquet", "jsonl")
_PART = re.compile(r"^part-\d{5}\.(?:parquet|jsonl)$")
_PART_TMP = re.compile(r"^\.part-\d{5}\.(?:parquet|jsonl)\..*\.tmp$")  # atomic_write's temporary files
_GLOB_CHARS = re.compile(r"[*?\[]")
_DUMP_BYTES_PER_POST = 300  # a rough size of a post in a thread dump, for packing files into partitions


def require_dask() -> None:
    """Raise a one-line :class:`ModerationError` when dask[distributed] or pyarrow is missing."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ModerationError(f"scoring on a cluster needs {exc.name}: pip install 'moderation[cluster]'") from None


# --------------------------------------------------------------------------- the model, per worker


@dataclass(frozen=True)
class ModelSpec:
    """Where every worker finds the model, and the sha256 of its ``manifest.json`` as the client
    read it (the manifest holds the sha256 of every artifact, which :meth:`Moderator.load` checks).

    Examples
    --------
    >>> spec = ModelSpec.resolve(None)
    >>> len(spec.sha256)
    64
    """

    path: str
    sha256: str

    @classmethod
    def resolve(cls, model: str | os.PathLike | None = None, sha256: str | None = None) -> ModelSpec:
        """The spec of a model directory (the default model when None), hashed here unless
        ``sha256`` is given (when the client cannot read the path itself).

        Raises
        ------
        ModelError
            When the manifest cannot be read here and no ``sha256`` was given.
        """
        path = Path(model) if model is not None else default_model_path()
        if sha256 is None:
            sha256 = _manifest_sha256(path, where="this machine")
        return cls(str(path.resolve()) if path.exists() else str(path), sha256)


def _manifest_sha256(path: Path, *, where: str) -> str:
    try:
        data = (path / "manifest.json").read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model on {where} ({exc.strerror or exc})") from None
    return hashlib.sha256(data).hexdigest()


_MODELS: dict[ModelSpec, Moderator] = {}
_MODELS_LOCK = threading.Lock()

#: glibc malloc thresholds set in a worker process whose nanny set ``MALLOC_TRIM_THRESHOLD_``.
MALLOC_THRESHOLD = 16 << 20


def tune_malloc() -> bool:
    """Give scoring glibc's large-allocation behaviour back in a Dask worker process.

    A Dask nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's
    ``nanny.pre-spawn-environ``), and an explicit threshold turns off glibc's dynamic mmap
    threshold: every array over 128 kB is then a fresh ``mmap`` whose pages are faulted in and
    zeroed again, and scoring a partition cost about 1.7 times the CPU of ``moderation score``
    (measured: 10.2 s against 6.0 s for 25,000 comments, most of it system time). Here the mmap
    and trim thresholds are set to :data:`MALLOC_THRESHOLD` (16 MB) with ``mallopt``: the
    feature matrices of a chunk reuse the heap, and memory above 16 MB free at its top still
    goes back to the system. Nothing is done outside glibc on Linux or when the variable is unset.

    Returns
    -------
    bool
        Whether the thresholds were set.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, ...)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    return bool(libc.mallopt(m_mmap_threshold, MALLOC_THRESHOLD)) and bool(
        libc.mallopt(m_trim_threshold, MALLOC_THRESHOLD)
    )


def release_memory() -> None:
    """Hand the memory a finished partition freed back to the system, so that a worker's resident
    size stays flat from one partition to the next instead of creeping up (measured: 429 -> 478 MB
    over 200,000 comments before, flat at about 410 MB after): the normalised-text memo is emptied
    and glibc's ``malloc_trim`` returns the free pages of every arena (the scoring ran in a worker
    thread, whose arena glibc trims only when asked; a no-op outside glibc). Cheap next to scoring
    a partition."""
    # The normalised-text memo of the feature views (65,536 texts) churns with every partition and
    # scatters its strings over the heap; a partition's texts are not seen again, so it starts empty.
    normalize_text.cache_clear()
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def worker_moderator(spec: ModelSpec) -> Moderator:
    """The model of ``spec`` in this process: loaded and checked the first time, then kept.

    The manifest's sha256 must be the client's, and :meth:`Moderator.load` checks every
    artifact against the manifest, so a worker scores with the client's model or not at all.

    Raises
    ------
    ModelError
        When this worker cannot read the model or its hash differs from the client's.
    """
    with _MODELS_LOCK:
        moderator = _MODELS.get(spec)
        if moderator is None:
            where = f"worker {socket.gethostname()} (pid {os.getpid()})"
            digest = _manifest_sha256(Path(spec.path), where=where)
            if digest != spec.sha256:
                raise ModelError(
                    f"{spec.path}: the model on {where} differs from the client's (manifest sha256 "
                    f"{digest[:12]}…, expected {spec.sha256[:12]}…); give every worker the same model"
                )
            tune_malloc()
            moderator = Moderator.load(spec.path)
            moderator.model.scorer()  # the coefficient matrix laid out once, as `moderation score` does
            _MODELS.clear()  # one model per worker at a time
            _MODELS[spec] = moderator
    return moderator


def _check_model(spec: ModelSpec) -> str:
    worker_moderator(spec)
    return spec.sha256


def check_workers(client: Client, spec: ModelSpec) -> int:
    """Load and check the model on every worker of ``client`` now, before anything is written.

    Returns
    -------
    int
        The number of workers checked.

    Raises
    ------
    ModelError
        Naming the first worker that cannot read the model or has another one.
    """
    results = client.run(_check_model, spec, on_error="return")
    if not results:
        raise ModerationError("the Dask cluster has no workers")
    for address, result in sorted(results.items()):
        if isinstance(result, BaseException):
            message = str(result) if isinstance(result, ModerationError) else f"{type(result).__name__}: {result}"
            raise ModelError(f"worker {address}: {message}")
    return len(results)


# --------------------------------------------------------------------------- input as a collection


@dataclass(frozen=True)
class Piece:
    """What one partition reads: whole files (``files``), a line range of a JSONL file
    (``jsonl``, bytes ``[start, stop)``) or row groups of a Parquet file (``parquet``)."""

    kind: str
    files: tuple[tuple[str, bool], ...]  # (path, found in a directory walk)
    input_format: str = "auto"
    encoding: str | None = None
    start: int = 0
    stop: int = 0
    row_groups: tuple[int, ...] = ()


def _expand(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, bool]]:
    """Files named, globs expanded, directories walked (as ``moderation score`` walks them)."""
    files: list[tuple[Path, bool]] = []
    for p in paths:
        text = os.fspath(p)
        if not os.path.exists(text) and _GLOB_CHARS.search(text):
            matched = sorted(glob.glob(text, recursive=True))
            if not matched:
                raise ExtractError(f"{text}: no files match")
            for m in matched:
                files.extend(_expand([m]))
            continue
        path = Path(text)
        if path.is_dir():
            # A dump over --max-file-size is left out by the walk; say so, as `score` does.
            files.extend((f, True) for f in walk([path], warn=_forward) if f.name != SUCCESS)
        else:
            walk([path])  # a clear error for a missing path
            files.append((path, False))
    return files


def _thread_of(path: Path) -> str:
    """The thread id :func:`moderation.io.extraction.extract_file` gives a file's records."""
    return path.stem.replace(".sjis", "")


def _jsonl_ranges(path: Path, head: bytes, size: int, partition_size: int) -> list[tuple[int, int]]:
    lines = max(1, head.count(b"\n"))
    per_row = max(1.0, min(len(head), size) / lines)
    parts = max(1, round(size / max(1 << 16, per_row * partition_size)))  # ranges of equal size
    step = -(-size // parts)
    return [(start, min(size, start + step)) for start in range(0, size, step)]


def plan_pieces(
    paths: Iterable[str | os.PathLike],
    *,
    input_format: str = "auto",
    encoding: str | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
) -> list[Piece]:
    """Cut the input into partitions of about ``partition_size`` comments.

    Files are packed whole into partitions (all files of one thread into the same one, so a
    thread never straddles two partitions and every post sees its thread's context); a JSONL
    file with ids is cut into line ranges and a Parquet file with an ``id`` column into row
    groups, since their rows carry their own context. (Files without ids stay whole: an id made
    from a row's content counts repeated texts through the whole file.) Only the start of each
    file and Parquet footers are read here.

    Raises
    ------
    ExtractError
        For a missing path, a glob matching nothing or a directory with nothing to read.
    """
    files = _expand(paths)
    if not files:
        raise ExtractError("no input files")
    pieces: list[Piece] = []
    buckets: dict[str, list[tuple[Path, bool, int]]] = {}  # thread or file -> files, estimated rows

    for path, in_dir in files:
        reader = None
        with contextlib.suppress(ExtractError):
            reader = path_reader(path, input_format)
        if reader is not None and reader.name == "parquet":
            try:
                pf = open_parquet(path)
            except ExtractError:
                if in_dir:  # the worker reports and skips it, as `moderation score` does
                    buckets.setdefault(f"file:{path}", []).append((path, in_dir, 1))
                    continue
                raise
            rows = pf.metadata.num_rows
            if "id" in pf.schema_arrow.names and pf.num_row_groups > 1 and rows > partition_size:
                group: list[int] = []
                count = 0
                for g in range(pf.num_row_groups):
                    group.append(g)
                    count += pf.metadata.row_group(g).num_rows
                    if count >= partition_size:
                        pieces.append(Piece("parquet", ((str(path), in_dir),), row_groups=tuple(group)))
                        group, count = [], 0
                if group:
                    pieces.append(Piece("parquet", ((str(path), in_dir),), row_groups=tuple(group)))
            else:
                buckets.setdefault(f"file:{path}", []).append((path, in_dir, rows))
            continue
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if len(head) == 1 << 16 and b"\n" in head:  # whole lines: a character cut in two is no encoding
            head = head[: head.rfind(b"\n") + 1]
        fmt, enc = "scrape", encoding
        with contextlib.suppress(ExtractError, UnicodeDecodeError, LookupError):
            enc = encoding or detect_encoding(head + b"\n", name=str(path))
            fmt = input_format if input_format != "auto" else detect_format(path, head.decode(enc, "replace"))
        if fmt in ("jsonl", "csv"):
            est = max(1, int(size * max(1, head.count(b"\n")) / max(1, len(head))))
            first = head.split(b"\n", 1)[0]
            if (
                fmt == "jsonl"
                and enc
                and not enc.startswith("utf-16")
                and size > len(head)
                and est > partition_size
                and _has_id(first, enc)
            ):
                for start, stop in _jsonl_ranges(path, head, size, partition_size):
                    pieces.append(Piece("jsonl", ((str(path), in_dir),), "jsonl", enc, start, stop))
                continue
            buckets.setdefault(f"file:{path}", []).append((path, in_dir, est))
        else:  # a thread dump: every file of the thread goes into one partition
            buckets.setdefault(f"thread:{_thread_of(path)}", []).append(
                (path, in_dir, max(1, size // _DUMP_BYTES_PER_POST))
            )

    group_files: list[tuple[str, bool]] = []
    count = 0
    for bucket in buckets.values():  # packed in order; a partition closes before it would overflow
        rows = sum(n for _, _, n in bucket)
        if group_files and count + rows > partition_size:
            pieces.append(Piece("files", tuple(group_files), input_format, encoding))
            group_files, count = [], 0
        group_files.extend((str(p), d) for p, d, _ in bucket)
        count += rows
    if group_files:
        pieces.append(Piece("files", tuple(group_files), input_format, encoding))
    return pieces


def _has_id(first_line: bytes, encoding: str) -> bool:
    try:
        row = json.loads(first_line.decode(encoding, "replace").lstrip("\ufeff"))
    except ValueError:
        return False
    return isinstance(row, dict) and row.get("id") not in (None, "")


def _records(piece: Piece, warn: Warn) -> Iterator[Comment]:
    if piece.kind == "parquet":
        path = Path(piece.files[0][0])
        for rec in iter_parquet(
            path, thread=_thread_of(path), source=str(path), warn=warn, row_groups=piece.row_groups
        ):
            rec.source_format = "parquet"
            yield rec
    elif piece.kind == "jsonl":
        path = Path(piece.files[0][0])
        yield from _jsonl_range(path, piece, warn)
    else:
        for name, in_dir in piece.files:
            records = extract_file(name, input_format=piece.input_format, encoding=piece.encoding, warn=warn)
            try:
                first = next(records, None)
            except ExtractError as exc:
                if not in_dir:
                    raise
                warn(f"skipped {exc}")
                continue
            if first is not None:
                yield first
                yield from records


def _jsonl_range(path: Path, piece: Piece, warn: Warn) -> Iterator[Comment]:
    enc = piece.encoding or "utf-8"

    def lines() -> Iterator[str]:
        with open(path, "rb") as fh:
            if piece.start > 0:
                fh.seek(piece.start - 1)
                fh.readline()  # the rest of the line the range starts in belongs to the range before
            while fh.tell() < piece.stop:
                line = fh.readline()
                if not line:
                    break
                try:
                    yield line.decode(enc)
                except UnicodeDecodeError:
                    raise ExtractError(f"{path}: cannot decode a line as {enc}; pass --encoding") from None

    for rec in iter_jsonl(lines(), thread=_thread_of(path), source=str(path), warn=warn):
        rec.source_format = "jsonl"
        yield rec


#: The columns of :func:`read_comments`' partitions.
RECORD_COLUMNS = ("id", "thread", "no", "kind", "text", "context", "extra", "source")


def _record_frame(rows: list[tuple[Comment, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([r.id for r, _ in rows], dtype=object),
            "thread": pd.Series([r.thread for r, _ in rows], dtype=object),
            "no": pd.array([r.no for r, _ in rows], dtype="Int64"),
            "kind": pd.Series([r.kind for r, _ in rows], dtype=object),
            "text": pd.Series([r.text for r, _ in rows], dtype=object),
            "context": pd.Series([c for _, c in rows], dtype=object),
            "extra": pd.Series(
                [json.dumps(r.extra, ensure_ascii=False, default=str) if r.extra else None for r, _ in rows],
                dtype=object,
            ),
            "source": pd.Series([r.source for r, _ in rows], dtype=object),
        }
    )


def _forward(message: str) -> None:
    """A warning from a worker, on the worker's stderr and (through distributed) the client's."""
    line = f"warning: {message}"
    try:
        from distributed import print as dprint
        from distributed.worker import get_worker

        get_worker()
    except (ImportError, ValueError):
        print(line, file=sys.stderr)
    else:
        dprint(line, file=sys.stderr)


def read_piece(piece: Piece, warn: Warn | None = None) -> pd.DataFrame:
    """The records of one partition that are scored, each with its thread context.

    Exactly what :func:`moderation.moderator.score_records` scores: comments and articles that
    are not deleted and have text (those without are reported), in context built by
    :class:`~moderation.context.ThreadContexts` from the posts before them (thread dumps, title
    first) or from their ``thread_title`` / ``thread_text`` columns (CSV, JSONL, Parquet).
    """
    warn = warn or _forward
    contexts = ThreadContexts()
    rows: list[tuple[Comment, str]] = []
    for rec in titles_first(_records(piece, warn)):
        if rec.kind not in SCORED_KINDS or rec.deleted:
            contexts.add(rec)
            continue
        if not rec.text.strip():
            warn(f"{rec.source}: comment {rec.id} has no text; not scored")
            continue
        rows.append((rec, contexts.for_record(rec).text))
        contexts.add(rec)
    return _record_frame(rows)


def read_comments(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    input_format: str = "auto",
    encoding: str | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
) -> dd.DataFrame:
    """Comments in files, directories or globs as a Dask DataFrame, one partition per
    :class:`Piece` (see :func:`plan_pieces`), ready for :func:`score_dask`.

    Columns: :data:`RECORD_COLUMNS`: the record's ``id``, ``thread``, ``no``, ``kind``,
    ``text``, the thread ``context`` it is judged in, ``extra`` (pass-through columns as a JSON
    object, or null) and ``source``.

    Examples
    --------
    >>> comments = read_comments("seeds/", partition_size=1000)
    >>> comments.npartitions, list(comments.columns)[:5]
    (1, ['id', 'thread', 'no', 'kind', 'text'])
    """
    require_dask()
    import dask.dataframe as dd

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    pieces = plan_pieces(paths, input_format=input_format, encoding=encoding, partition_size=partition_size)
    import dask

    # Python strings, as read_piece makes them and Moderator.decide reads them: Dask's conversion to
    # pyarrow strings would copy every partition into Arrow and back (about 25 MB more per worker).
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(read_piece, pieces, meta=_record_frame([]), enforce_metadata=False)


# --------------------------------------------------------------------------- scoring


def _chunks(n: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into ranges of about :data:`SCORE_CHUNK` rows, none much smaller (no tail of a few rows)."""
    parts = max(1, -(-n // SCORE_CHUNK))
    bounds = [n * k // parts for k in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def _score_partition(
    frame: pd.DataFrame, spec: ModelSpec, explain: bool, meta: pd.DataFrame, contexts_built: bool = False
) -> pd.DataFrame:
    """One partition scored in chunks. ``contexts_built``: the ``context`` column is
    :func:`read_piece`'s, built as ``moderation score`` builds it, so the chunks go to
    :meth:`Moderator.decide` as ``moderation score`` sends them (not through
    :meth:`Moderator.score`, which would build every context a second time)."""
    if frame.empty:
        return meta.copy()
    moderator = worker_moderator(spec)
    if not contexts_built:
        parts = [moderator.score(frame.iloc[a:b], explain=explain) for a, b in _chunks(len(frame))]
        return pd.concat(parts) if len(parts) > 1 else parts[0]
    texts = frame["text"].tolist()
    contexts = frame["context"].tolist()
    decisions: list = []
    for a, b in _chunks(len(frame)):
        chunk = pd.DataFrame({"text": texts[a:b], "context": contexts[a:b]})
        decisions.extend(moderator.decide(chunk, explain=explain))
    return with_decisions(frame, decisions, explain)  # as Moderator.score gives them


def _scored_meta(meta: pd.DataFrame, explain: bool) -> pd.DataFrame:
    out = meta.copy()
    for label in LABELS:
        out[label] = pd.Series([], dtype="float64")
    out["action"] = pd.Series([], dtype=object)
    out["labels"] = pd.Series([], dtype=object)
    if explain:
        out["reasons"] = pd.Series([], dtype=object)
    return out


def score_dask(
    ddf: dd.DataFrame,
    model: str | os.PathLike | ModelSpec | None = None,
    *,
    explain: bool = False,
) -> dd.DataFrame:
    """:meth:`Moderator.score` over every partition of a Dask DataFrame.

    The frame needs a ``text`` column; ``context`` (as :func:`read_comments` gives it) or
    ``thread_title`` / ``thread_text`` columns give the thread context, as for
    :meth:`Moderator.score`; other columns pass through. Each worker process loads the model
    once, from ``model`` (a directory every worker can read at the same path; default the
    default model), after checking that its manifest's sha256 is the one this process read.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
    model : path-like or ModelSpec, optional
    explain : bool
        Add a ``reasons`` column (the spans that raised each flagged label).

    Returns
    -------
    dask.dataframe.DataFrame
        ``ddf``'s columns, then ``slur``, ``off_topic``, ``delete`` (probabilities; null for a
        label the model lacks), ``action`` and ``labels``.

    Raises
    ------
    ModelError
        Here, when this process cannot read the model; when computed, when a worker cannot
        or has another one.
    """
    require_dask()
    spec = model if isinstance(model, ModelSpec) else ModelSpec.resolve(model)
    if "text" not in ddf.columns:
        raise ValueError("the frame has no 'text' column")
    return _score_frames(ddf, spec, explain, contexts_built=False)


def _score_frames(ddf: dd.DataFrame, spec: ModelSpec, explain: bool, *, contexts_built: bool) -> dd.DataFrame:
    meta = _scored_meta(ddf._meta, explain)
    return ddf.map_partitions(_score_partition, spec, explain, meta, contexts_built, meta=meta, enforce_metadata=False)


# --------------------------------------------------------------------------- output


def scored_rows(frame: pd.DataFrame, *, with_context: bool = False) -> Iterator[dict]:
    """A scored partition of :func:`read_comments` as the rows ``moderation score`` writes:
    ``id``, ``thread``, ``no``, ``kind``, ``text``, the scores, ``action``, ``labels``
    (``reasons``, ``context``), pass-through columns, ``source``."""
    explain = "reasons" in frame.columns
    columns = {name: frame[name].tolist() for name in frame.columns}
    nos = frame["no"].astype(object).where(frame["no"].notna(), None).tolist()
    # one JSON document for the partition's pass-through columns: far cheaper than a parse per row
    extras = json.loads("[" + ",".join(e if isinstance(e, str) else "null" for e in columns["extra"]) + "]")
    for i in range(len(frame)):
        row: dict[str, Any] = {
            "id": columns["id"][i],
            "thread": columns["thread"][i],
            "no": None if nos[i] is None else int(nos[i]),
            "kind": columns["kind"][i],
            "text": columns["text"][i],
        }
        for label in LABELS:
            value = columns[label][i]
            row[label] = None if value is None or value != value else float(value)
        row["action"] = columns["action"][i]
        row["labels"] = list(columns["labels"][i])
        if explain:
            row["reasons"] = list(columns["reasons"][i])
        if with_context:
            row["context"] = columns["context"][i]
        if extras[i]:
            for key, value in extras[i].items():
                row.setdefault(key, value)
        row["source"] = columns["source"][i]
        yield row


def part_name(number: int, fmt: str) -> str:
    """The file of partition ``number``: ``part-00042.parquet``.

    Examples
    --------
    >>> part_name(42, "jsonl")
    'part-00042.jsonl'
    """
    return f"part-{number:05d}.{fmt}"


_COUNT_COLUMNS = ("part", "rows", *ACTIONS)


def _write_partition(
    frame: pd.DataFrame, out: str, fmt: str, with_context: bool, only_flagged: bool, partition_info=None
) -> pd.DataFrame:
    number = partition_info["number"] if partition_info else 0
    rows = list(scored_rows(frame, with_context=with_context))
    counts = {action: 0 for action in ACTIONS}
    for row in rows:
        counts[row["action"]] += 1
    kept = [row for row in rows if row["action"] != "allow"] if only_flagged else rows
    path = Path(out) / part_name(number, fmt)
    if fmt == "parquet":
        base = ["id", "thread", "no", "kind", "text", *LABELS, "action", "labels"]
        write_parquet(kept, path, columns=base, batch_rows=max(1, len(kept)))
    else:
        with atomic_write(path) as fh:
            write_jsonl(kept, fh)
    result = pd.DataFrame([{"part": number, "rows": len(rows), **counts}], columns=list(_COUNT_COLUMNS))
    del rows, kept
    release_memory()
    return result


@dataclass
class JobResult:
    """What :func:`score_to_directory` did: rows scored, counts per action, files, seconds."""

    rows: int
    actions: dict[str, int]
    files: list[str]
    seconds: float
    workers: int
    summary: dict = field(default_factory=dict)


def score_to_directory(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike,
    *,
    client: Client,
    model: str | os.PathLike | ModelSpec | None = None,
    input_format: str = "auto",
    encoding: str | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    fmt: str = "parquet",
    explain: bool = False,
    with_context: bool = False,
    only_flagged: bool = False,
    retries: int = 2,
    progress: Callable[[int], None] | None = None,
) -> JobResult:
    """Score files on the cluster of ``client`` into ``out``: one file per partition, then ``_SUCCESS``.

    The model is checked on every worker first, so a worker that cannot read it, or has
    another, fails the job before anything is written. Each partition's file
    (:func:`part_name`) is written atomically by the task that scored it; a failed task is
    retried (``retries``; a worker that dies takes its tasks elsewhere). ``_SUCCESS`` (JSON:
    rows, counts per action, files, model, inputs) is removed first and written only when
    every partition is done; files of an earlier run that this one did not write are removed
    then. Running again after a crash rewrites the same files, so no row is written twice.

    Parameters
    ----------
    paths : path-like or iterable of path-like
        Files, directories and globs (see :func:`read_comments`).
    out : path-like
        The output directory (created).
    client : distributed.Client
    model : path-like or ModelSpec, optional
        The model directory every worker reads (default: the default model), or its
        :class:`ModelSpec` (when this process cannot read it, give its manifest's sha256).
    input_format, encoding, partition_size, explain
        As for :func:`read_comments` and :func:`score_dask`.
    fmt : {'parquet', 'jsonl'}
    with_context : bool
        Add each comment's thread context to its row.
    only_flagged : bool
        Write only rows whose action is hold or reject (all are counted).
    retries : int
        Times a failed partition is tried again.
    progress : callable, optional
        Called with the number of comments scored so far, as partitions finish.

    Returns
    -------
    JobResult

    Raises
    ------
    ModelError, ExtractError, ModerationError
        One-line errors: the model, the input, a partition that failed every try.
    """
    require_dask()
    from distributed import as_completed

    if fmt not in OUTPUT_FORMATS:
        raise ModerationError(f"output format {fmt!r}: choose one of {', '.join(OUTPUT_FORMATS)}")
    start = time.perf_counter()
    spec = model if isinstance(model, ModelSpec) else ModelSpec.resolve(model)
    workers = check_workers(client, spec)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    comments = read_comments(paths, input_format=input_format, encoding=encoding, partition_size=partition_size)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ModerationError(f"{out_dir}: not a directory (--out names a directory with --cluster)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUCCESS).unlink(missing_ok=True)
    scored = _score_frames(comments, spec, explain, contexts_built=True)  # read_piece built the contexts
    counts_meta = pd.DataFrame({c: pd.Series([], dtype="int64") for c in _COUNT_COLUMNS})
    written = scored.map_partitions(
        _write_partition,
        str(out_dir.resolve()),
        fmt,
        with_context,
        only_flagged,
        meta=counts_meta,
        enforce_metadata=False,
    )
    futures = client.compute(written.to_delayed(), retries=retries)
    rows = 0
    actions = dict.fromkeys(ACTIONS, 0)
    files = []
    try:
        for future in as_completed(futures):
            try:
                counts = future.result()
            except ModerationError:
                raise
            except Exception as exc:
                raise ModerationError(
                    f"a partition failed after {retries} retries ({type(exc).__name__}: {exc})"
                ) from None
            for record in counts.to_dict("records"):
                rows += int(record["rows"])
                for action in ACTIONS:
                    actions[action] += int(record[action])
                files.append(part_name(int(record["part"]), fmt))
            if progress:
                progress(rows)
    finally:
        client.cancel([f for f in futures if not f.done()])
    files.sort()
    for stale in out_dir.iterdir():  # an earlier run's partitions, and files a killed worker left half-written
        if (_PART.match(stale.name) and stale.name not in files) or _PART_TMP.match(stale.name):
            stale.unlink()
    seconds = time.perf_counter() - start
    summary = {
        "rows": rows,
        "actions": actions,
        "partitions": len(files),
        "files": files,
        "format": fmt,
        "only_flagged": only_flagged,
        "model": {"path": spec.path, "manifest_sha256": spec.sha256},
        "inputs": [os.fspath(p) for p in paths],
        "workers": workers,
        "seconds": round(seconds, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_write(out_dir / SUCCESS) as fh:
        json.dump(summary, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    return JobResult(rows, actions, files, seconds, workers, summary)


def read_output(out: str | os.PathLike) -> pd.DataFrame:
    """Every row of a finished :func:`score_to_directory` output, partition by partition.

    Raises
    ------
    ModerationError
        When the directory has no ``_SUCCESS`` (the job did not finish).
    """
    out_dir = Path(out)
    summary_path = out_dir / SUCCESS
    if not summary_path.is_file():
        raise ModerationError(f"{out_dir}: no {SUCCESS}; the job did not finish")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    frames = []
    for name in summary["files"]:
        path = out_dir / name
        if name.endswith(".parquet"):
            frames.append(pd.read_parquet(path))
        else:
            frames.append(pd.read_json(path, lines=True, dtype=False))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- clusters


@contextlib.contextmanager
def connect(address: str, *, threads_per_worker: int = 1) -> Iterator[Client]:
    """A client for ``local`` (one worker process per core, at most 2), ``local:N`` (N worker
    processes on this machine) or a scheduler address (``tcp://HOST:PORT``).

    Raises
    ------
    ModerationError
        For an address of another form or a scheduler that cannot be reached.
    """
    require_dask()
    from distributed import Client, LocalCluster

    match = re.fullmatch(r"local(?::(\d+))?", address)
    if match:
        n = int(match.group(1)) if match.group(1) else min(2, os.cpu_count() or 1)
        if n < 1:
            raise ModerationError(f"--cluster {address}: at least one worker")
        import dask

        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=threads_per_worker, processes=True, dashboard_address=None
            )
        with cluster, Client(cluster) as client:
            yield client
        return
    if not re.fullmatch(r"(tcp|tls|ucx|ws|wss|inproc)://\S+", address):
        raise ModerationError(f"--cluster {address}: give local, local:N or a scheduler address tcp://HOST:PORT")
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ModerationError(f"--cluster {address}: cannot reach the scheduler ({exc})") from None
    try:
        yield client
    finally:
        client.close()


__all__ = [
    "DEFAULT_PARTITION_SIZE",
    "SUCCESS",
    "JobResult",
    "ModelSpec",
    "Piece",
    "check_workers",
    "connect",
    "plan_pieces",
    "read_comments",
    "read_output",
    "read_piece",
    "release_memory",
    "score_dask",
    "score_to_directory",
    "scored_rows",
    "tune_malloc",
    "worker_moderator",
]
