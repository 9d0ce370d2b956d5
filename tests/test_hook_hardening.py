"""The hook's small holes (issue 13, point 9), against the real server on a loopback port:
feedback that says nothing or says it loosely is refused with nothing stored; ``kill -9`` of
the master of ``serve --workers N`` leaves no worker holding the port; listening beyond
loopback without a token is warned about; a flood of identical client errors is logged once
per interval with a count."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT
from test_serve import MODEL, Server, _command

BAD_FEEDBACK = {
    "blank text": {"text": " \u3000\n\t", "labels": {"slur": 1}, "annotator": "mod"},
    "blank annotator": {"text": "下朝鮮は黙ってろ", "labels": {"slur": 1}, "annotator": "   "},
    "label true": {"text": "下朝鮮は黙ってろ", "labels": {"slur": True}, "annotator": "mod"},
    "label 1.0": {"text": "下朝鮮は黙ってろ", "labels": {"slur": 1.0}, "annotator": "mod"},
    "label '1'": {"text": "下朝鮮は黙ってろ", "labels": {"slur": "1"}, "annotator": "mod"},
    "id true": {"id": True, "text": "下朝鮮は黙ってろ", "labels": {"slur": 1}, "annotator": "mod"},
    "id 1.0": {"id": 1.0, "text": "下朝鮮は黙ってろ", "labels": {"slur": 1}, "annotator": "mod"},
}


@pytest.fixture(scope="module")
def hook(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hook")
    srv = Server("--model", str(MODEL), "--feedback", str(workdir / "feedback.jsonl"))
    srv.feedback = workdir / "feedback.jsonl"
    yield srv
    srv.stop()


@pytest.mark.parametrize("name", sorted(BAD_FEEDBACK))
def test_loose_feedback_is_refused_and_nothing_is_stored(hook, name):
    before = hook.feedback.read_bytes() if hook.feedback.exists() else b""
    r = hook.client.post("/v1/feedback", json=BAD_FEEDBACK[name])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert (hook.feedback.read_bytes() if hook.feedback.exists() else b"") == before


def test_an_integer_id_past_the_name_limit_is_refused(hook):
    digits = "9" * 4300  # the 200-character limit of a string id holds for an integer id too
    body = '{"id": ' + digits + ', "text": "x", "labels": {"slur": 0}, "annotator": "mod"}'
    r = hook.client.post("/v1/feedback", content=body.encode())
    assert r.status_code == 422, r.text
    for number, status in (("9" * 201, 422), ("-" + "9" * 200, 422), ("9" * 200, 200), ("-" + "9" * 199, 200)):
        body = '{"id": ' + number + ', "text": "x", "labels": {"slur": 0}, "annotator": "mod"}'
        assert hook.client.post("/v1/feedback", content=body.encode()).status_code == status, number[:3]


@pytest.mark.parametrize("field", ["explain", "return_context"])
@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None])
def test_review_flags_are_strict_booleans(hook, field, value):
    r = hook.client.post("/v1/review", json={"text": "いい試合だった", field: value})
    assert r.status_code == 422, r.text
    assert hook.client.post("/v1/review", json={"text": "いい試合だった", field: True}).status_code == 200
    r = hook.client.post("/v1/review:batch", json={"items": [{"text": "いい試合だった"}], "explain": "no"})
    assert r.status_code == 422


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def test_kill_9_of_the_master_leaves_no_worker_holding_the_port(tmp_path):
    srv = Server("--model", str(MODEL), "--workers", "2", "--feedback", str(tmp_path / "f.jsonl"))
    workers: list[int] = []
    try:
        assert srv.client.get("/healthz").status_code == 200
        workers = _children(srv.proc.pid)
        assert len(workers) == 2
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        deadline = time.monotonic() + 30  # the workers' graceful shutdown takes at most 10 s
        while time.monotonic() < deadline and not all(_gone(pid) for pid in workers):
            time.sleep(0.2)
        assert all(_gone(pid) for pid in workers), "orphan workers still running"
        with socket.socket() as probe:  # nobody listens on the port any more
            assert probe.connect_ex(("127.0.0.1", srv.port)) != 0
    finally:
        srv.client.close()
        for pid in workers:  # a failed run leaves no orphan behind for the next tests
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def _first_lines(*args: str, n: int = 2, timeout: float = 90) -> list[str]:
    """The first ``n`` lines ``moderation serve ARGS`` writes on stderr (fewer when no more come
    within 5 s of the first); then it is stopped."""
    proc = subprocess.Popen(
        [*_command(), "serve", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    got: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [got.put(line) for line in proc.stderr], daemon=True).start()
    lines: list[str] = []
    try:
        wait = timeout
        while len(lines) < n:
            try:
                lines.append(got.get(timeout=wait))
            except queue.Empty:
                break
            wait = 5  # what follows the first line comes at once
    finally:
        proc.terminate()
        proc.wait(30)
    return lines


def test_listening_beyond_loopback_without_a_token_is_warned_about(tmp_path):
    common = ["--model", str(MODEL), "--host", "0.0.0.0", "--port", "0"]
    lines = _first_lines(*common, "--feedback", str(tmp_path / "f.jsonl"))
    assert "listening on http://0.0.0.0:" in lines[0]
    assert lines[1].startswith("warning: listening on 0.0.0.0 without --token-file")
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    lines = _first_lines(*common, "--token-file", str(token), "--feedback", str(tmp_path / "g.jsonl"))
    assert "token required" in lines[0] and not any("without --token-file" in line for line in lines)


def _garbage(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 GARBAGE \x00\xff\r\n\r\n")
        try:
            return sock.recv(1024)
        except (ConnectionResetError, TimeoutError):
            return b""


def test_a_flood_of_identical_client_errors_is_logged_once_per_interval_with_a_count(hook):
    from moderation.apps.serve.guard import RateLimit

    interval = RateLimit().interval
    start = len(hook.lines)
    for _ in range(300):
        _garbage(hook.port)
    time.sleep(0.5)
    flood = [line for line in hook.lines[start:] if "Invalid HTTP request" in line]
    assert len(flood) == 1, "".join(hook.lines[start:])
    time.sleep(interval + 0.5)
    _garbage(hook.port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len([x for x in hook.lines[start:] if "Invalid HTTP" in x]) < 2:
        time.sleep(0.1)
    later = [line for line in hook.lines[start:] if "Invalid HTTP request" in line]
    assert len(later) == 2 and "(299 more like this were not logged)" in later[1], later
    assert hook.client.get("/healthz").status_code == 200
