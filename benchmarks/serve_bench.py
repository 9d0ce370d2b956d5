"""Latency and throughput of the pre-moderation hook over loopback HTTP.

Starts the real server (``moderation serve``) as a subprocess and, as the reference measured
in the same run, a minimal FastAPI endpoint (same uvicorn, same HTTP stack) that runs a plain
scikit-learn ``TfidfVectorizer`` + ``LogisticRegression`` ``predict_proba`` trained on the
same labelled comments. For each it prints p50/p90/p99/max latency of sequential requests on
one keep-alive connection and the throughput of concurrent clients, and counts errors (any
status other than 200, a body that is not JSON, a dropped connection). The in-process
:meth:`Moderator.review` time is printed too: the difference is what HTTP costs.

The client is a small asyncio HTTP/1.1 client (keep-alive, Content-Length) so that on a
2-core machine it takes as little CPU from the server as it can.

    python benchmarks/serve_bench.py [--requests 10000] [--concurrency 32] [--workers 1] [--no-explain]
"""

# No "from __future__ import annotations": FastAPI reads the reference endpoint's annotations.
import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS_FILE = ROOT / "labels" / "authored.jsonl"
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def comments() -> list[dict]:
    """Realistic request bodies: the team-authored comments with their thread titles."""
    rows = [json.loads(line) for line in LABELS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"text": r["text"], "thread": {"id": r["thread"], "title": r.get("thread_title")}} for r in rows]


# --------------------------------------------------------------------------- the reference server


def reference_app():
    """A minimal FastAPI endpoint around a plain scikit-learn pipeline."""
    from fastapi import FastAPI
    from pydantic import BaseModel
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = [json.loads(line) for line in LABELS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [r["text"] for r in rows]
    y = [r["labels"].get("delete", 0) for r in rows]
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True), LogisticRegression(max_iter=1000)
    ).fit(texts, y)

    class Body(BaseModel):
        text: str
        thread: dict | None = None

    app = FastAPI()

    @app.post("/v1/review")
    def review(body: Body):
        p = float(pipeline.predict_proba([body.text])[0, 1])
        return {"action": "reject" if p >= 0.5 else "allow", "scores": {"delete": round(p, 6)}}

    return app


def run_reference_server() -> None:
    import socket

    import uvicorn

    app = reference_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP: asyncio sets NODELAY
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    print(f"reference: listening on http://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])


def start(cmd: list[str], env: dict | None = None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        m = LISTENING.search(line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise SystemExit("server did not start:\n" + "".join(seen))


# --------------------------------------------------------------------------- the client


class Connection:
    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        payload = await self.reader.readexactly(int(m.group(1))) if m else b""
        return status, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()


def _ok(status: int, payload: bytes) -> bool:
    if status != 200:
        return False
    try:
        return "action" in json.loads(payload)
    except ValueError:
        return False


async def _client(port: int, bodies: list[bytes], indices, latencies: list[float]) -> int:
    """One keep-alive client posting the requests it draws from ``indices``; returns errors."""
    errors = 0
    conn = Connection(port)
    await conn.open()
    for i in indices:
        t0 = time.perf_counter()
        try:
            status, payload = await conn.post("/v1/review", bodies[i % len(bodies)])
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn.close()
            conn = Connection(port)
            await conn.open()
            continue
        latencies.append(time.perf_counter() - t0)
        errors += not _ok(status, payload)
    conn.close()
    return errors


async def sequential(port: int, bodies: list[bytes], n: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = await _client(port, bodies, range(n), latencies)
    return latencies, errors


async def concurrent(port: int, bodies: list[bytes], n: int, clients: int) -> tuple[float, list[float], int]:
    counter = iter(range(n))  # shared: each request is drawn by whichever client is free
    latencies: list[float] = []
    t0 = time.perf_counter()
    errors = sum(await asyncio.gather(*(_client(port, bodies, counter, latencies) for _ in range(clients))))
    return time.perf_counter() - t0, latencies, errors


def wait_ready(port: int, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def percentiles(latencies: list[float]) -> str:
    if not latencies:
        return "no answers"
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return (
        f"p50 {q[49] * 1e3:6.2f} ms  p90 {q[89] * 1e3:6.2f} ms  p99 {q[98] * 1e3:6.2f} ms  "
        f"max {max(latencies) * 1e3:7.2f} ms"
    )


def measure(name: str, port: int, bodies: list[bytes], args) -> dict:
    asyncio.run(sequential(port, bodies, min(args.warmup, args.requests)))
    lat, err = asyncio.run(sequential(port, bodies, args.requests))
    wall, clat, cerr = asyncio.run(concurrent(port, bodies, args.requests, args.concurrency))
    print(f"{name} (load average {os.getloadavg()[0]:.1f})")
    print(f"  sequential, {args.requests:,} requests: {percentiles(lat)}  errors {err}")
    print(
        f"  {args.concurrency} concurrent clients, {args.requests:,} requests: {args.requests / wall:7.1f} req/s  "
        f"({percentiles(clat)})  errors {cerr}",
        flush=True,
    )
    return {
        "p99": statistics.quantiles(lat, n=100, method="inclusive")[98] if lat else None,
        "errors": err + cerr,
        "throughput": args.requests / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="moderation serve --workers")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--no-explain", dest="explain", action="store_false", help="send explain: false (scores and actions only)"
    )
    parser.add_argument("--model", default=None, help="model directory (default: models/default)")
    parser.add_argument("--reference-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_server:
        return run_reference_server()

    from moderation.moderator import Moderator

    rows = comments()
    bodies = [json.dumps({**r, "explain": args.explain}, ensure_ascii=False).encode("utf-8") for r in rows]
    moderator = Moderator.load(args.model)
    for r in rows[:50]:
        moderator.review(r["text"], thread=r["thread"], explain=args.explain)
    inproc = []
    for r in (rows * 3)[:2000]:
        t0 = time.perf_counter()
        moderator.review(r["text"], thread=r["thread"], explain=args.explain)
        inproc.append(time.perf_counter() - t0)
    print(
        f"{len(rows)} distinct comments (labels/authored.jsonl) with thread titles, explain={args.explain}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on the machine skews every figure)"
    )
    print(f"in process, Moderator.review, {len(inproc):,} calls: {percentiles(inproc)}", flush=True)

    feedback = Path(tempfile.mkdtemp(prefix="serve_bench.")) / "feedback.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "moderation",
        "serve",
        "--port",
        "0",
        "--workers",
        str(args.workers),
        "--feedback",
        str(feedback),
    ] + (["--model", args.model] if args.model else [])
    ours, ours_port = start(cmd)
    try:
        wait_ready(ours_port)
        result = measure(f"moderation serve (POST /v1/review, {args.workers} worker(s))", ours_port, bodies, args)
    finally:
        ours.terminate()
        ours.wait(20)
    reference, ref_port = start([sys.executable, __file__, "--reference-server"])
    try:
        ref = measure("reference: FastAPI + TfidfVectorizer/LogisticRegression.predict_proba", ref_port, bodies, args)
    finally:
        reference.terminate()
        reference.wait(20)
    goal = "met" if result["p99"] is not None and result["p99"] <= 0.010 else "NOT met"
    print(
        f"goal p99 <= 10 ms for one request: {goal} (p99 {result['p99'] * 1e3:.2f} ms; "
        f"reference {ref['p99'] * 1e3:.2f} ms); errors: {result['errors']} (reference {ref['errors']})"
    )
    if result["errors"] or ref["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
