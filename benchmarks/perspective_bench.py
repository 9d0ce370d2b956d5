"""Latency of the Perspective API endpoint beside ``/v1/review`` for the same requests.

Starts the real server (``moderation serve``) once and sends each comment, with its thread
title as context, alternately as ``POST /v1alpha1/comments:analyze`` (TOXICITY,
SEVERE_TOXICITY, IDENTITY_ATTACK, OFF_TOPIC) and as ``POST /v1/review`` (the reference,
measured in the same run on the same keep-alive connection, interleaved so the load of a
shared machine falls on both alike). Two modes: scores only (``spanAnnotations: false`` /
``explain: false``) and with spans (``true`` / ``true``). Prints p50/p90/p99 and the ratio
of the medians; the goal is analyze within 10% of review.

    python benchmarks/perspective_bench.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_bench import Connection, comments, percentiles, start, wait_ready

ATTRIBUTES = {"TOXICITY": {}, "SEVERE_TOXICITY": {}, "IDENTITY_ATTACK": {}, "OFF_TOPIC": {}}


def bodies(explain: bool) -> tuple[list[bytes], list[bytes]]:
    """The same comments as ``/v1/review`` bodies and as Perspective ``analyze`` bodies."""
    review, analyze = [], []
    for row in comments():
        context = row["thread"].get("title") or "スレッド"
        review.append(json.dumps({"text": row["text"], "thread": {"text": context}, "explain": explain}).encode())
        analyze.append(
            json.dumps(
                {
                    "comment": {"text": row["text"]},
                    "context": {"entries": [{"text": context}]},
                    "requestedAttributes": ATTRIBUTES,
                    "spanAnnotations": explain,
                }
            ).encode()
        )
    return review, analyze


async def interleaved(port: int, review: list[bytes], analyze: list[bytes], n: int) -> dict[str, list[float]]:
    conn = Connection(port)
    await conn.open()
    out: dict[str, list[float]] = {"review": [], "analyze": []}
    try:
        for i in range(n):
            pairs = [("review", "/v1/review", review), ("analyze", "/v1alpha1/comments:analyze", analyze)]
            if i % 2:
                pairs.reverse()  # neither always goes first
            for name, path, body in pairs:
                t0 = time.perf_counter()
                status, payload = await conn.post(path, body[i % len(body)])
                elapsed = time.perf_counter() - t0
                if status != 200:
                    raise SystemExit(f"{path}: {status} {payload[:200]!r}")
                out[name].append(elapsed)
    finally:
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint and mode")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    feedback = Path(tempfile.mkdtemp(prefix="perspective_bench.")) / "feedback.jsonl"
    proc, port = start([sys.executable, "-m", "moderation", "serve", "--port", "0", "--feedback", str(feedback)])
    failed = False
    try:
        wait_ready(port)
        print(f"{len(comments())} comments (labels/authored.jsonl), thread title as context, {os.cpu_count()} CPUs")
        for explain in (False, True):
            review, analyze = bodies(explain)
            asyncio.run(interleaved(port, review, analyze, args.warmup))
            lat = asyncio.run(interleaved(port, review, analyze, args.requests))
            mode = "with spans (explain / spanAnnotations)" if explain else "scores only"
            print(f"{mode}, {args.requests:,} requests each, load average {os.getloadavg()[0]:.1f}")
            print(f"  reference POST /v1/review:              {percentiles(lat['review'])}")
            print(f"  POST /v1alpha1/comments:analyze:        {percentiles(lat['analyze'])}")
            ratio = statistics.median(lat["analyze"]) / statistics.median(lat["review"])
            mean_ratio = statistics.mean(lat["analyze"]) / statistics.mean(lat["review"])
            ok = ratio <= 1.10
            failed |= not ok
            print(
                f"  analyze / review: median {ratio:.3f}, mean {mean_ratio:.3f} "
                f"(goal <= 1.10: {'met' if ok else 'NOT met'})",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(20)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
