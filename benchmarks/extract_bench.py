"""Extraction throughput: MB/s of scraped thread text on one core.

Builds a large thread dump from the seed thread (every copy renumbered, so anchors and
headers vary), then times :func:`moderation.io.readers.scrape.parse_scrape` on it and, as the
reference in the same run, the naive split a plain script would do (one record per line).

    python benchmarks/extract_bench.py [--mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from moderation.io import extract_file
from moderation.io.readers.scrape import parse_scrape

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_4f4399744ce36bb6.txt"


def build_corpus(megabytes: float) -> str:
    seed = SEED.read_text(encoding="utf-8")
    body = seed[: seed.rfind("\n/AFPBB News")] + "\n/AFPBB News\n"
    parts, size, k = [], 0, 0
    target = int(megabytes * 1_000_000)
    while size < target:
        k += 1
        chunk = re.sub(r">>(\d+)", lambda m: f">>{int(m.group(1)) + 30 * k}", body)  # noqa: B023 (runs in this iteration)
        chunk = chunk.replace("- 5\n", f"- {5 + 30 * k}\n")
        parts.append(chunk)
        size += len(chunk.encode("utf-8"))
    return "".join(parts) + seed[seed.rfind("\n/AFPBB News") + len("\n/AFPBB News") :]


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="size of the generated dump")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    text = build_corpus(args.mb)
    mb = len(text.encode("utf-8")) / 1e6
    records = parse_scrape(text)
    ours = best_of(args.repeat, lambda: parse_scrape(text))
    naive = best_of(args.repeat, lambda: [ln for ln in text.splitlines() if ln.strip()])
    path = Path("/tmp/extract_bench_dump.txt")
    path.write_text(text, encoding="utf-8")
    whole = best_of(args.repeat, lambda: sum(1 for _ in extract_file(path)))
    print(
        f"corpus: {mb:.1f} MB of scraped thread text, {len(records):,} records "
        f"({sum(r.kind == 'comment' for r in records):,} comments, "
        f"{sum(r.kind == 'article' for r in records):,} articles)"
    )
    print(f"parse_scrape (segmentation only): {mb / ours:8.1f} MB/s  ({ours:.2f} s)")
    print(f"extract_file (read+decode+detect): {mb / whole:8.1f} MB/s  ({whole:.2f} s)")
    print(f"reference: naive line split      {mb / naive:8.1f} MB/s  ({naive:.2f} s)")
    print(f"goal: >= 5 MB/s on one core -> {'met' if mb / whole >= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
