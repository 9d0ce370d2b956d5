"""A label store that survives its own damage (issue 13): torn, NUL-filled, badly encoded and
ill-typed lines cost one line each, with a warning naming the file and line; appenders start
on a fresh line after a torn one; a full disk leaves no partial line. Faults are real bytes
in real files, a real full device (``/dev/full``) and an injected ``OSError(ENOSPC)``."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from conftest import run_cli
from test_serve import MODEL, Server

from moderation.labels import append_events, label_event, read_events, read_label_files
from moderation.labels.training import load_training_data

GOOD = [
    {
        "id": "c1",
        "text": "いい試合だった",
        "labels": {"slur": 0, "delete": 0},
        "annotator": "m1",
        "at": "2026-01-01T00:00:00Z",
    },
    {
        "id": "c2",
        "text": "下朝鮮は黙ってろ",
        "labels": {"slur": 1, "delete": 1},
        "annotator": "m1",
        "at": "2026-01-01T00:00:01Z",
    },
    {
        "id": "c3",
        "text": "ぶっ殺すぞ",
        "labels": {"slur": 0, "delete": 1},
        "annotator": "m2",
        "at": "2026-01-01T00:00:02Z",
    },
]


def _line(event: dict) -> bytes:
    return (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")


def damaged_file(path: Path) -> dict[int, str]:
    """A label file with every kind of damage between good lines; returns {line: what is wrong}."""
    bad = {
        2: b'{"id": "x1", "text": "\xff\xfe\x83\x60\x83\x87\x83\x93", "labels": {"slur": 1}, "annotator": "m1"}\n',
        3: b'{"id": "x2", "text": "a", "labels": {"slur": "1"}, "annotator": "m1"}\n',
        4: b'{"id": "x3", "text": "a", "labels": {"slur": 2}, "annotator": "m1"}\n',
        5: b'{"id": "x4", "text": "a", "labels": {"slur": NaN}, "annotator": "m1"}\n',
        6: b'{"id": "x5", "text": "a", "labels": {"slur": true}, "annotator": "m1"}\n',
        8: b'{"id": "x6", "text": "a", "labels": {"rude": 1}, "annotator": "m1"}\n',
        9: b'{"id": ["x7"], "text": "a", "labels": {"slur": 1}, "annotator": "m1"}\n',
        11: b'{"id": "x8", "text": "half a li',  # torn: the write was cut here, then NULs
    }
    lines = {1: _line(GOOD[0]), 7: _line(GOOD[1]), 10: _line(GOOD[2])}
    data = b"".join({**bad, **lines}[i] for i in range(1, 12)) + b"\x00" * 300
    path.write_bytes(data)
    return {
        2: "not UTF-8",
        3: "label 'slur' is '1'",
        4: "label 'slur' is 2",
        5: "label 'slur' is nan",
        6: "label 'slur' is True",
        8: "unknown label 'rude'",
        9: "'id' is ['x7']",
        11: "NUL bytes",
    }


def test_every_reader_keeps_the_good_lines_and_names_each_bad_one(tmp_path):
    path = tmp_path / "labels.jsonl"
    problems = damaged_file(path)
    before = path.read_bytes()
    warnings: list[str] = []
    events = read_label_files([path], warn=warnings.append)
    assert [e["id"] for e in events] == ["c1", "c2", "c3"]
    assert len(warnings) == len(problems)
    for warning, (line, what) in zip(warnings, sorted(problems.items())):
        assert warning.startswith(f"{path}:{line}: ") and what in warning, warning
        assert "\n" not in warning
    assert "incomplete last line" in warnings[-1]
    # The training table reads the same file through the same reader.
    warned: list[str] = []
    table, _summary = load_training_data([path], warn=warned.append)
    assert sorted(table["id"]) == ["c1", "c2", "c3"] and len(warned) == len(problems)
    # The commands: stats and export answer, with one warning line per bad line on stderr.
    stats = run_cli("labels", "stats", str(path), "--format", "json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["comments"] == 3
    assert sum(f"{path}:" in line for line in stats.stderr.splitlines()) == len(problems)
    assert "Traceback" not in stats.stderr and "--encoding" not in stats.stderr
    out = tmp_path / "export.jsonl"
    export = run_cli("labels", "export", str(path), "--out", str(out))
    assert export.returncode == 0, export.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["c1", "c2", "c3"]
    assert path.read_bytes() == before  # never rewritten


def test_an_append_after_a_torn_line_starts_on_a_fresh_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    damaged_file(path)
    before = path.read_bytes()
    append_events(path, [label_event("c4", "それな", {"slur": 0}, annotator="m3")])
    after = path.read_bytes()
    assert after.startswith(before) and after[len(before) : len(before) + 1] == b"\n"
    assert [e["id"] for e in read_events(path)] == ["c1", "c2", "c3", "c4"]


def test_a_full_disk_leaves_no_partial_line(tmp_path, monkeypatch):
    """Fault injection: the write lands half of the record, then the disk is full."""
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b"".join(_line(e) for e in GOOD))
    before = path.read_bytes()
    real_write = os.write

    def half_then_enospc(fd: int, data) -> int:
        if fd > 2 and len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_enospc)
    event = label_event("c4", "長い" * 50, {"delete": 1}, annotator="m3")
    with pytest.raises(OSError) as info:
        append_events(path, [event])
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before  # the half line was taken back
    monkeypatch.undo()
    append_events(path, [event])
    assert [e["id"] for e in read_events(path, warn=pytest.fail)] == ["c1", "c2", "c3", "c4"]


def test_the_hook_answers_503_on_a_full_disk_and_stores_nothing(tmp_path):
    """A real full device: /dev/full fails every write with ENOSPC."""
    srv = Server("--model", str(MODEL), "--feedback", "/dev/full")
    try:
        body = {"text": "それな", "labels": {"slur": 0}, "annotator": "m"}
        r = srv.client.post("/v1/feedback", json=body)
        assert r.status_code == 503, r.text
        assert "No space left on device" in r.json()["error"]["message"] and r.json()["error"]["code"] == "unavailable"
        r = srv.client.post(
            "/v1alpha1/comments:suggestscore",
            json={"comment": {"text": "それな"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}},
        )
        assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"
        assert srv.client.get("/healthz").status_code == 200 and srv.alive()
        assert not any("Traceback" in line for line in srv.lines)
    finally:
        srv.stop()
