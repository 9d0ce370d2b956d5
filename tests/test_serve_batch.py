"""The hook's batch endpoint on the real server: its limits (bytes, items, characters, seconds),
its helper processes (forked from the serving process, dying with it, replaced when killed) and
its parsing (one pass from the bytes, the same errors as the other endpoints)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_serve import MODEL, Server, _is_error

from moderation.apps.serve.app import MAX_BATCH_BODY_BYTES
from moderation.apps.serve.batch import BatchScorer, chunk_bounds
from moderation.apps.serve.schemas import MAX_BATCH_ITEMS, MAX_BATCH_TEXT_CHARS
from moderation.moderator import Moderator

LONG = "在韓米軍の縮小は日本の安全保障にも影響するだろう。いい試合だった、次も期待してる。"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _helpers_of(pid: int, n: int, timeout: float = 30) -> list[int]:
    """The ``n`` helper processes of ``pid`` (forked just after the "listening" line)."""
    deadline = time.monotonic() + timeout
    while len(found := _children(pid)) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _gone(pids: list[int], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.fixture
def hook(tmp_path, monkeypatch):
    monkeypatch.setenv("MODERATION_BATCH_HELPERS", "2")
    monkeypatch.setenv("MODERATION_BATCH_SECONDS", "2")
    srv = Server("--model", str(MODEL), "--feedback", str(tmp_path / "feedback.jsonl"))
    yield srv
    srv.stop()


def test_chunks_are_bounded_by_items_and_characters():
    lengths = [4_000] * 1_000
    bounds = chunk_bounds(lengths)
    assert bounds[0][0] == 0 and bounds[-1][1] == 1_000
    assert all(b == c for (_a, b), (c, _d) in itertools.pairwise(bounds))
    assert max(sum(lengths[a:b]) for a, b in bounds) <= 50_000 and max(b - a for a, b in bounds) <= 50
    assert chunk_bounds([80_000, 1]) == [(0, 1), (1, 2)]  # a comment longer than a chunk is one alone


def test_a_batch_scored_on_a_thread_is_the_batch_scored_on_helpers():
    moderator = Moderator.load(MODEL)
    texts = [LONG * k for k in range(1, 30)] + ["ﾁｮﾝは帰れ", "いい試合だった"]
    contexts = ["在韓米軍"] * len(texts)
    import asyncio

    on_thread = asyncio.run(BatchScorer(moderator, max_items=7).score(texts, contexts, explain=True))
    helpers = BatchScorer(moderator, helpers=2, max_items=7)
    helpers.start()
    try:
        on_helpers = asyncio.run(helpers.score(texts, contexts, explain=True))
    finally:
        helpers.stop()
    assert on_thread == on_helpers
    singles = [d.to_dict() for d in moderator.decide_texts(texts, contexts, explain=True)]
    assert json.loads(on_thread)["results"] == json.loads(json.dumps(singles))


def test_the_documented_batch_is_accepted_and_bounded_by_its_time_budget(hook):
    # 1,000 comments of 4,000 characters, sent with every non-ASCII character escaped
    # (json.dumps's default): 24 MB, within the limits; with a budget of 2 s it cannot finish
    # on a shared 2-core machine, and is refused in one line, not left running.
    items = [{"text": (LONG * 100)[:4_000], "thread": {"title": "在韓米軍"}} for _ in range(MAX_BATCH_ITEMS)]
    raw = json.dumps({"items": items, "explain": False}).encode()
    assert 20 << 20 < len(raw) < MAX_BATCH_BODY_BYTES and sum(len(i["text"]) for i in items) == MAX_BATCH_TEXT_CHARS
    t0 = time.monotonic()
    r = hook.client.post("/v1/review:batch", content=raw, timeout=120)
    elapsed = time.monotonic() - t0
    body = _is_error(r, 413, "payload_too_large")
    assert "did not finish within 2 s" in body["error"]["message"] and "\n" not in body["error"]["message"]
    assert elapsed < 30, elapsed  # the chunks not started were dropped
    # The speed of the chunks scored meanwhile says this batch cannot finish in 2 s: sent again,
    # it is refused at once, before any scoring.
    t0 = time.monotonic()
    again = _is_error(hook.client.post("/v1/review:batch", content=raw, timeout=120), 413, "payload_too_large")
    assert "would take about" in again["error"]["message"] and time.monotonic() - t0 < 10, again
    # The server answers at once afterwards, and a small batch is scored as before.
    assert hook.client.get("/healthz").status_code == 200
    small = hook.client.post("/v1/review:batch", json={"items": [{"text": "ﾁｮﾝは帰れ"}, {"text": "いい試合だった"}]})
    assert [x["action"] for x in small.json()["results"]] == ["reject", "allow"]
    # One character over the budget of characters is refused before any scoring.
    over = [*items[:-1], {"text": "x" * 4_001}]
    _is_error(hook.client.post("/v1/review:batch", json={"items": over}, timeout=60), 422, "validation_error")
    log = "".join(hook.lines)
    assert "Traceback" not in log, log[-2000:]


def test_batch_bodies_get_the_errors_of_every_endpoint(hook):
    c = hook.client
    _is_error(c.post("/v1/review:batch", content=b""), 400, "invalid_json")
    _is_error(c.post("/v1/review:batch", content=b'{"items": [{"text": "a"}'), 400, "invalid_json")
    _is_error(c.post("/v1/review:batch", content=b'{"items": [{"text": "\\ud800"}]}'), 422, "validation_error")
    _is_error(c.post("/v1/review:batch", content=b'{"items": [{"text": "a"}], "explain": 1}'), 422)
    _is_error(c.post("/v1/review:batch", content=b'{"items": [{"text": 5}]}'), 422, "validation_error")
    _is_error(c.post("/v1/review:batch", content=b"[1, 2]"), 422, "validation_error")
    _is_error(
        c.post("/v1/review:batch", content='{"items": [{"text": "チョン"}]}'.encode("cp932")), 400, "invalid_utf8"
    )
    bad = b'{"items": [{"text": "' + "あ".encode() * 400_000 + b'\xff"}]}'  # past the first megabyte
    message = _is_error(c.post("/v1/review:batch", content=bad), 400, "invalid_utf8")["error"]["message"]
    assert "byte {:d}".format(bad.index(b"\xff")) in message, message
    schema = c.get("/openapi.json").json()
    body = schema["paths"]["/v1/review:batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/BatchRequest"}
    assert {"BatchRequest", "ReviewItem", "Thread"} <= set(schema["components"]["schemas"])


def test_helpers_are_replaced_when_killed_and_die_with_the_server(hook):
    helpers = _helpers_of(hook.proc.pid, 2)
    assert len(helpers) == 2, helpers
    items = [{"text": LONG * 20}] * 200
    os.kill(helpers[0], signal.SIGKILL)
    time.sleep(0.5)
    r = hook.client.post("/v1/review:batch", json={"items": items, "explain": False}, timeout=60)
    if r.status_code != 200:  # the pool noticed the death with this batch: one line, then replaced
        assert "helper process died" in _is_error(r, 503, "unavailable")["error"]["message"]
        r = hook.client.post("/v1/review:batch", json={"items": items[:5], "explain": False}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    now = _children(hook.proc.pid)
    assert len(now) == 2 and helpers[0] not in now, (helpers, now)
    # kill -9 of the server: its helpers do not outlive it (nor hold its port).
    os.kill(hook.proc.pid, signal.SIGKILL)
    hook.proc.wait(10)
    assert _gone(now), [(p, _state(p)) for p in now]
    log = "".join(hook.lines)
    assert "Traceback" not in log, log[-2000:]


def test_workers_each_have_their_helpers_and_stop_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv("MODERATION_BATCH_HELPERS", "1")
    srv = Server("--model", str(MODEL), "--feedback", str(tmp_path / "f.jsonl"), "--workers", "2")
    try:
        workers = _children(srv.proc.pid)
        deadline = time.monotonic() + 30
        while len(workers) < 2 or any(len(_children(w)) < 1 for w in workers):
            assert time.monotonic() < deadline, workers
            time.sleep(0.2)
            workers = _children(srv.proc.pid)
        helpers = [h for w in workers for h in _children(w)]
        assert len(helpers) == 2
        r = srv.client.post("/v1/review:batch", json={"items": [{"text": LONG}] * 60, "explain": True})
        assert r.status_code == 200 and len(r.json()["results"]) == 60
    finally:
        srv.stop()
    assert srv.proc.returncode is not None
    assert _gone(workers + helpers)
    log = "".join(srv.lines)
    assert "Traceback" not in log, log[-2000:]


def test_a_bad_budget_setting_stops_the_server_at_start(tmp_path):
    env = {**os.environ, "MODERATION_BATCH_SECONDS": "soon"}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("moderation")), "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode != 0 and "MODERATION_BATCH_SECONDS" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_batch_that_would_finish_too_late_behind_others_is_told_when_to_come_back():
    import asyncio

    from moderation.apps.serve.batch import BusyError, OverBudgetError

    scorer = BatchScorer(Moderator.load(MODEL), seconds=10)
    texts = ["いい試合だった"] * 10  # 70 characters
    assert json.loads(asyncio.run(scorer.score(texts, [""] * 10, explain=False)))["results"]
    assert scorer.seconds_per_char[False] is not None and scorer.seconds_per_char[True] is None
    scorer.seconds_per_char[False] = 0.1  # 7 s for this batch: within the budget alone
    scorer.queued_chars = 50  # 5 s of batches ahead of it
    with pytest.raises(BusyError) as busy:
        asyncio.run(scorer.score(texts, [""] * 10, explain=False))
    assert busy.value.retry_after == 5 and "send it again in 5 s" in str(busy.value)
    scorer.queued_chars = 0
    with pytest.raises(OverBudgetError, match="would take about 14 s"):
        asyncio.run(scorer.score(texts * 2, [""] * 20, explain=False))
    assert scorer.queued_chars == 0
    # Explanations have their own speed: not measured yet, nothing is refused up front.
    assert json.loads(asyncio.run(scorer.score(texts * 2, [""] * 20, explain=True)))["results"]
