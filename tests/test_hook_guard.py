"""The hook can't be starved (issue 13): slow and idle clients against the real server on a
loopback port, with raw sockets, as an attacker would hold them."""

from __future__ import annotations

import resource
import socket
import time

import pytest
from test_serve import MODEL, Server

IDLE = 1_100


def _connect(port: int, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds``, and what it said first."""
    sock.settimeout(seconds)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, got
            got += chunk
    except TimeoutError:
        return False, got
    except ConnectionResetError:
        return True, got


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A server with short deadlines, so the test waits seconds, not the defaults."""
    workdir = tmp_path_factory.mktemp("guard")
    srv = Server(
        "--model",
        str(MODEL),
        "--feedback",
        str(workdir / "f.jsonl"),
        "--header-timeout",
        "1",
        "--body-timeout",
        "1",
        "--max-connections",
        "50",
    )
    yield srv
    srv.stop()


def test_slow_headers_and_silent_clients_are_closed(quick):
    silent = _connect(quick.port)
    partial = _connect(quick.port)
    partial.sendall(b"POST /v1/review HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
    t0 = time.monotonic()
    assert _closed_within(silent, 5)[0], "a connection that sends nothing is held"
    assert _closed_within(partial, 5)[0], "a connection that sends half its headers is held"
    assert time.monotonic() - t0 < 4
    # Between two requests of a keep-alive connection, too.
    sock = _connect(quick.port)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b"200 OK" in sock.recv(4096)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
    assert _closed_within(sock, 5)[0]


def test_a_slow_body_gets_408(quick):
    sock = _connect(quick.port)
    sock.sendall(b"POST /v1/review HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b'{"text": "')
    closed, answer = _closed_within(sock, 5)
    assert closed and answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":"request_timeout"' in answer.replace(b" ", b"")


def test_idle_connections_beyond_the_cap_make_room(quick):
    """50 connections per worker: 80 idle ones cannot keep a real request out."""
    idle = [_connect(quick.port) for _ in range(80)]
    try:
        t0 = time.monotonic()
        assert quick.client.get("/healthz").status_code == 200
        assert time.monotonic() - t0 < 1
        r = quick.client.post("/v1/review", json={"text": "いい試合だった"})
        assert r.status_code == 200
    finally:
        for sock in idle:
            sock.close()
    assert quick.alive()


def test_healthz_answers_within_a_second_under_1100_idle_connections(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    srv = Server("--model", str(MODEL), "--feedback", str(tmp_path / "f.jsonl"))  # the defaults
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE):
            sock = _connect(srv.port)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            idle.append(sock)
        time.sleep(0.5)  # the server has accepted them all
        worst = 0.0
        for _ in range(5):
            t0 = time.monotonic()
            r = srv.client.get("/healthz", timeout=5)
            worst = max(worst, time.monotonic() - t0)
            assert r.status_code == 200
        assert worst < 1.0, f"/healthz took {worst:.2f} s"
        assert srv.client.post("/v1/review", json={"text": "いい試合だった"}).status_code == 200
    finally:
        for sock in idle:
            sock.close()
    log = "".join(srv.lines)
    srv.stop()
    assert "Traceback" not in log and len(log) < 20_000, log[-2000:]


def test_a_batch_over_its_text_budget_is_refused(quick):
    items = [{"text": "あ" * 10_000}] * 401  # 4,010,000 characters (the body is ~12 MB)
    r = quick.client.post("/v1/review:batch", json={"items": items, "explain": False})
    assert r.status_code == 422 and "4,000,000" in r.json()["error"]["message"], r.text[:300]
