"""Latency and throughput of the pre-moderation hook over loopback HTTP, beside a plain reference.

Starts the real server (``moderation serve``) and, as the reference, a minimal FastAPI endpoint
(same uvicorn, same HTTP stack: uvloop and httptools when installed, which uvicorn picks by
itself) that runs a plain scikit-learn ``TfidfVectorizer`` + ``LogisticRegression``
``predict_proba`` trained on the same labelled comments. Both run at once, and on a machine
shared with other work the figures are only comparable when measured in the same moments, so:

- sequential latency is measured interleaved: request i goes to ours with explanations off, to
  ours with explanations on, and to the reference, in an order that rotates, each on its own
  keep-alive connection (p50/p90/p99/max of each, and ours/reference);
- concurrent throughput (``--concurrency`` clients) rotates rounds over ours with each of
  ``--workers`` (default ``1,2``: one server per setting, all running at once) and the
  reference, which always has one worker (as in the issue's bar), and reports each one's
  median round and its ratio to the reference's, and the CPU time each server spent per request
  (summed over its processes: the figure a busy machine distorts least);
- a batch of ``--batch-items`` comments of ``--batch-chars`` characters is posted to
  ``/v1/review:batch`` of ours with the first ``--workers`` setting (and to a batch endpoint of
  the reference): wall time, status, and the peak memory over the memory before, as the
  proportional set size (PSS) summed over the server's processes (its batch helpers score in
  child processes that share the model's pages; PSS counts a shared page once), sampled every
  50 ms. Ours runs with ``MODERATION_BATCH_SECONDS=600`` so that the figure is the time the
  batch takes, not the default 60 s budget's refusal.

The in-process :meth:`Moderator.review` time is printed beside the reference pipeline's
``predict_proba`` of one comment, interleaved too. Errors are any status other than 200, a body
that is not JSON, a dropped connection. The client is a small asyncio HTTP/1.1 client so that
on a 2-core machine it takes as little CPU from the servers as it can.

    python benchmarks/serve_bench.py [--requests 2000] [--concurrency 32] [--workers 1,2] [--rounds 3]
                                     [--batch-items 1000] [--batch-chars 4000] [--no-batch]
"""

# No "from __future__ import annotations": FastAPI reads the reference endpoint's annotations.
import argparse
import asyncio
import contextlib
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

    class Batch(BaseModel):
        items: list[Body]

    @app.post("/v1/review:batch")
    def review_batch(body: Batch):
        ps = pipeline.predict_proba([item.text for item in body.items])[:, 1]
        return {
            "results": [
                {"action": "reject" if p >= 0.5 else "allow", "scores": {"delete": round(float(p), 6)}} for p in ps
            ]
        }

    return app


def reference_pipeline():
    """The reference's scikit-learn pipeline, for the in-process comparison."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = [json.loads(line) for line in LABELS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True), LogisticRegression(max_iter=1000)
    ).fit([r["text"] for r in rows], [r["labels"].get("delete", 0) for r in rows])


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


async def interleaved(targets: list[tuple[int, list[bytes]]], n: int) -> tuple[list[list[float]], list[int]]:
    """Request i to every target in turn (the order rotating with i), each on its own
    keep-alive connection: every target sees the same moments of a shared machine."""
    conns = [Connection(port) for port, _bodies in targets]
    for c in conns:
        await c.open()
    latencies: list[list[float]] = [[] for _ in targets]
    errors = [0] * len(targets)
    for i in range(n):
        for k in range(len(targets)):
            j = (i + k) % len(targets)
            port, bodies = targets[j]
            t0 = time.perf_counter()
            try:
                status, payload = await conns[j].post("/v1/review", bodies[i % len(bodies)])
            except (OSError, asyncio.IncompleteReadError):
                errors[j] += 1
                conns[j].close()
                conns[j] = Connection(port)
                await conns[j].open()
                continue
            latencies[j].append(time.perf_counter() - t0)
            errors[j] += not _ok(status, payload)
    for c in conns:
        c.close()
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


def quantile(latencies: list[float], p: int) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[p - 1] if latencies else float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants."""
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server's workers and batch helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return out


def pss_mb(pid: int) -> float:
    """Proportional set size of a process and its descendants, in MB (a page shared by k
    processes counts 1/k in each: the sum is the memory they use together)."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total / 1024


class PeakMemory:
    """The peak of :func:`pss_mb` of a process tree, sampled every 50 ms while in the block."""

    def __init__(self, pid: int):
        import threading

        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, pss_mb(self.pid))
            self.stop.wait(0.05)

    def __enter__(self) -> "PeakMemory":
        self.before = pss_mb(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, pss_mb(self.pid))


def batch_body(items: int, chars: int, seed: int = 0) -> bytes:
    """A batch of ``items`` comments of ``chars`` characters each, joined from real comments."""
    import random

    rng = random.Random(seed)
    rows = comments()
    out = []
    for _ in range(items):
        text = ""
        while len(text) < chars:
            text += rng.choice(rows)["text"] + "\n"
        row = rng.choice(rows)
        out.append({"text": text[:chars], "thread": row["thread"]})
    return json.dumps({"items": out}, ensure_ascii=False).encode("utf-8")


async def post_once(port: int, path: str, body: bytes) -> tuple[int, bytes, float]:
    conn = Connection(port)
    await conn.open()
    t0 = time.perf_counter()
    try:
        status, payload = await conn.post(path, body)
    finally:
        conn.close()
    return status, payload, time.perf_counter() - t0


def measure_batch(name: str, proc: subprocess.Popen, port: int, body: bytes, items: int, chars: int) -> dict:
    with PeakMemory(proc.pid) as mem:
        status, payload, wall = asyncio.run(post_once(port, "/v1/review:batch", body))
    extra = mem.peak - mem.before
    ok = status == 200 and len(json.loads(payload).get("results", [])) == items
    detail = "" if ok else f" ({payload[:160].decode('utf-8', 'replace')})"
    print(
        f"  {name}: {items:,} x {chars:,} characters ({len(body) / 2**20:.1f} MiB): HTTP {status} in {wall:.2f} s, "
        f"peak {extra:+.0f} MB over the {mem.before:.0f} MB before ({len(tree(proc.pid))} processes, PSS; "
        f"load average {os.getloadavg()[0]:.1f}){detail}",
        flush=True,
    )
    return {"status": status, "wall": wall, "extra_mb": extra, "ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument(
        "--workers",
        default="1,2",
        help="moderation serve --workers settings, comma-separated: one server each (the first takes the "
        "sequential and batch measurements)",
    )
    parser.add_argument("--no-sequential", dest="sequential", action="store_false", help="skip the sequential part")
    parser.add_argument("--no-in-process", dest="in_process", action="store_false", help="skip the in-process part")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the concurrent measurement")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch-items", type=int, default=1_000)
    parser.add_argument("--batch-chars", type=int, default=4_000)
    parser.add_argument("--no-batch", dest="batch", action="store_false", help="skip the batch measurement")
    parser.add_argument("--model", default=None, help="model directory (default: models/default)")
    parser.add_argument("--reference-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_server:
        return run_reference_server()
    workers = [int(w) for w in str(args.workers).split(",") if w.strip()]

    from moderation.moderator import Moderator

    rows = comments()
    bodies = {
        explain: [json.dumps({**r, "explain": explain}, ensure_ascii=False).encode("utf-8") for r in rows]
        for explain in (False, True)
    }
    print(
        f"{len(rows)} distinct comments (labels/authored.jsonl) with thread titles, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (other work on the machine skews every figure; ratios are "
        "measured in the same moments)"
    )

    # In process: Moderator.review beside the reference pipeline's predict_proba, interleaved.
    if args.in_process:
        moderator = Moderator.load(args.model)
        pipeline = reference_pipeline()
        for r in rows[:50]:
            moderator.review(r["text"], thread=r["thread"], explain=True)
            pipeline.predict_proba([r["text"]])
        inproc: dict[str, list[float]] = {"off": [], "on": [], "ref": []}
        for r in (rows * 3)[:2000]:
            t0 = time.perf_counter()
            moderator.review(r["text"], thread=r["thread"], explain=False)
            t1 = time.perf_counter()
            pipeline.predict_proba([r["text"]])
            t2 = time.perf_counter()
            inproc["off"].append(t1 - t0)
            inproc["ref"].append(t2 - t1)
        for r in rows:  # explanations of distinct comments (a repeated one reuses what it computed)
            t0 = time.perf_counter()
            moderator.review(r["text"], thread=r["thread"], explain=True)
            inproc["on"].append(time.perf_counter() - t0)
        print(f"in process, Moderator.review, explanations off: {percentiles(inproc['off'])}")
        print(f"in process, Moderator.review, explanations on:  {percentiles(inproc['on'])}")
        print(f"in process, reference predict_proba:            {percentiles(inproc['ref'])}")
        ratio = quantile(inproc["off"], 50) / quantile(inproc["ref"], 50)
        print(f"in process p50 ratio, ours (off) / reference: {ratio:.2f} (load average {os.getloadavg()[0]:.1f})")
        del moderator

    feedback = Path(tempfile.mkdtemp(prefix="serve_bench.")) / "feedback.jsonl"
    ours: dict[int, tuple[subprocess.Popen, int]] = {}
    procs: list[subprocess.Popen] = []
    failed = False
    try:
        for w in workers:
            cmd = [sys.executable, "-m", "moderation", "serve", "--port", "0", "--workers", str(w)]
            cmd += ["--feedback", str(feedback)] + (["--model", args.model] if args.model else [])
            ours[w] = start(cmd, env={"MODERATION_BATCH_SECONDS": "600"})
            procs.append(ours[w][0])
        reference, ref_port = start([sys.executable, __file__, "--reference-server"])
        procs.append(reference)
        for _proc, port in ours.values():  # the reference listens once its pipeline is fitted
            wait_ready(port)
        first_proc, first_port = ours[workers[0]]

        if args.sequential:
            targets = [(first_port, bodies[False]), (first_port, bodies[True]), (ref_port, bodies[False])]
            asyncio.run(interleaved(targets, min(args.warmup, args.requests)))
            (off, on, ref), errors = asyncio.run(interleaved(targets, args.requests))
            failed |= any(errors)
            print(
                f"\nsequential, moderation serve --workers {workers[0]}, {args.requests:,} requests each, "
                f"interleaved (load average {os.getloadavg()[0]:.1f}):"
            )
            print(f"  moderation serve, explain false: {percentiles(off)}  errors {errors[0]}")
            print(f"  moderation serve, explain true:  {percentiles(on)}  errors {errors[1]}")
            print(f"  reference:                       {percentiles(ref)}  errors {errors[2]}")
            p50_ratio = quantile(off, 50) / quantile(ref, 50)
            print(
                f"  p50 ratio (explain false) / reference: {p50_ratio:.2f} (bar <= 1.5); "
                f"p99 with explanations: {quantile(on, 99) * 1e3:.2f} ms (bar <= 5 ms)"
            )

        names = [*(f"w{w}" for w in workers), "ref"]
        ports = {**{f"w{w}": port for w, (_p, port) in ours.items()}, "ref": ref_port}
        rates: dict[str, list[float]] = {name: [] for name in names}
        # CPU time per request (all of a server's processes): what a busy machine distorts least.
        cpu: dict[str, list[float]] = {name: [] for name in names}
        pids = {**{f"w{w}": proc.pid for w, (proc, _port) in ours.items()}, "ref": reference.pid}
        print(
            f"\n{args.concurrency} concurrent clients, {args.requests:,} requests a round, {args.rounds} rounds "
            "(the order rotates each round):"
        )
        for name in names:  # warm-up: every worker of every server has answered
            asyncio.run(concurrent(ports[name], bodies[name != "ref"], min(args.warmup, args.requests), 8))
        for i in range(args.rounds):
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                body = bodies[True] if name != "ref" else bodies[False]
                cpu0 = cpu_seconds(pids[name])
                wall, clat, cerr = asyncio.run(concurrent(ports[name], body, args.requests, args.concurrency))
                cpu[name].append((cpu_seconds(pids[name]) - cpu0) / args.requests)
                failed |= bool(cerr)
                rates[name].append(args.requests / wall)
                label = f"moderation serve --workers {name[1:]}, explain true" if name != "ref" else "reference"
                print(
                    f"  round {i + 1}, {label}: {args.requests / wall:7.1f} req/s ({percentiles(clat)}) errors {cerr}, "
                    f"server CPU {cpu[name][-1] * 1e3:.2f} ms/request (load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        ref_rate = statistics.median(rates["ref"])
        medians = ", ".join(
            f"ours --workers {name[1:]} {statistics.median(rates[name]):.1f} req/s "
            f"({statistics.median(rates[name]) / ref_rate:.2f}x)"
            for name in names
            if name != "ref"
        )
        print(f"  median: {medians}; reference (one worker) {ref_rate:.1f} req/s (bar: --workers 2 >= 1x)")
        ref_cpu = statistics.median(cpu["ref"])
        per_request = ", ".join(
            f"ours --workers {name[1:]} {statistics.median(cpu[name]) * 1e3:.2f} ms "
            f"({statistics.median(cpu[name]) / ref_cpu:.2f}x)"
            for name in names
            if name != "ref"
        )
        print(
            f"  median server CPU per request: {per_request}; reference {ref_cpu * 1e3:.2f} ms (on an idle 2-core "
            "machine, --workers 2 reaches the reference's requests/s when its CPU per request is under about twice "
            "the reference's, less the client's share)"
        )

        if args.batch:
            print(
                f"\nPOST /v1/review:batch, explanations on (default), {args.batch_items:,} comments, "
                f"ours with --workers {workers[0]}:"
            )
            body = batch_body(args.batch_items, args.batch_chars)
            measure_batch("moderation serve", first_proc, first_port, body, args.batch_items, args.batch_chars)
            measure_batch("reference", reference, ref_port, body, args.batch_items, args.batch_chars)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
