"""The hook's quality bar under attack (issue 13): memory of maximal batches, and ``/healthz``
under 1,100 idle connections.

Starts the real server (``moderation serve --port 0``, default model) and prints, in the same run:

- memory of the server when idle (the reference), its peak during one ``/v1/review:batch`` of
  1,000 items and 1,000,000 characters of text, during four at once, and what it keeps
  afterwards (the bar: under 500 MB). Memory is the proportional set size (PSS) summed over the
  server's processes (its batch helpers score in child processes sharing the model's pages;
  PSS counts a shared page once), sampled every 50 ms;
- ``GET /healthz`` latency on a quiet server (the reference) and with 1,100 connections held
  open with half-sent headers (the bar: within 1 s).

Usage: ``python benchmarks/hook_limits_bench.py [--idle 1100] [--workers 1]``
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
SENTENCES = [
    "在韓米軍の縮小は日本の安全保障にも影響するだろう。",
    "いい試合だった、次も期待してる。",
    "下朝鮮は黙ってろ",
    "Honestly the article misses the point about the alliance.",
    "スレタイと関係ない話はやめろ",
]


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (workers, batch helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
    return out


def pss_mb(pid: int) -> int:
    """Proportional set size of a process and its descendants, in MB."""
    total = 0
    for p in tree(pid):
        try:
            total += next(
                int(line.split()[1])
                for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
                if line.startswith("Pss:")
            )
        except (OSError, StopIteration):
            continue
    return total // 1024


class Peak:
    """The peak of :func:`pss_mb` while in the block, sampled every 50 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, pss_mb(self.pid))
            self.done.wait(0.05)

    def __enter__(self) -> Peak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def start(workers: int) -> tuple[subprocess.Popen, int]:
    exe = Path(sys.executable).with_name("moderation")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", "0", "--workers", str(workers), "--feedback", "/tmp/hook-bench-feedback.jsonl"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        m = LISTENING.search(line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
            return proc, int(m.group(1))
    raise SystemExit("the server did not start")


def maximal_batch(i: int) -> dict:
    text = "".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(60))
    items = [{"text": (text * 2)[:1000], "thread": {"title": "在韓米軍"}} for _ in range(1000)]
    return {"items": items}


def healthz_ms(client: httpx.Client, n: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return times[len(times) // 2], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle + 256)), hard))
    proc, port = start(args.workers)
    pid = proc.pid  # the whole tree is measured: master, workers, batch helpers
    time.sleep(3)  # the batch helpers are forked just after the "listening" line
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    try:
        print(f"load average {os.getloadavg()[0]:.1f}; server {pid}, {len(tree(pid))} processes")
        idle = pss_mb(pid)
        print(f"reference: idle server                 PSS {idle:5d} MB")
        body = maximal_batch(0)
        t = time.perf_counter()
        with Peak(pid) as one:
            r = client.post("/v1/review:batch", json=body)
        assert r.status_code == 200 and len(r.json()["results"]) == 1000, r.text[:200]
        print(
            f"one batch (1,000 items, 1,000,000 chars): {time.perf_counter() - t:5.1f} s, "
            f"peak PSS {one.peak:5d} MB ({one.peak - idle:+d} MB; load average {os.getloadavg()[0]:.1f})"
        )
        t = time.perf_counter()
        during: list[float] = []
        with Peak(pid) as four, concurrent.futures.ThreadPoolExecutor(4) as pool:
            jobs = [
                pool.submit(lambda i: client.post("/v1/review:batch", json=maximal_batch(i)).status_code, i)
                for i in range(4)
            ]
            probe = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            while not all(j.done() for j in jobs):
                during.append(healthz_ms(probe, 1)[1])
                time.sleep(0.5)
            codes = [j.result() for j in jobs]
        print(
            f"four such batches at once: {time.perf_counter() - t:5.1f} s, statuses {codes}, "
            f"peak PSS {four.peak:5d} MB, kept {pss_mb(pid):5d} MB   (bar: < 500 MB)"
        )
        print(f"/healthz while they ran: {len(during)} probes, max {max(during, default=0):6.1f} ms")
        quiet = healthz_ms(client)
        print(f"reference: /healthz on a quiet server   p50 {quiet[0]:6.1f} ms, max {quiet[1]:6.1f} ms")
        held = []
        for _ in range(args.idle):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            held.append(s)
        busy = healthz_ms(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
        print(
            f"/healthz with {args.idle:,} half-open connections  p50 {busy[0]:6.1f} ms, max {busy[1]:6.1f} ms"
            "   (bar: < 1,000 ms)"
        )
        for s in held:
            s.close()
    finally:
        client.close()
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
