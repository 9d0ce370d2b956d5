"""Extraction throughput: MB/s of scraped thread text on one core, of each board format,
and the time taken on hostile input (runs of blanks that made the old header pattern cubic).

Builds a large thread dump from the seed thread (every copy renumbered, so anchors and
headers vary), then times :func:`moderation.io.readers.scrape.parse_scrape` on it and, as the
reference in the same run, the naive split a plain script would do (one record per line).
Then a fixture of every supported format (each board family's dats and pages in their
layouts, CSV, JSONL, a JSON array, Parquet) is repeated to a few MB and read whole through
:func:`moderation.io.extract_file`, beside the bare parse a plain script would do of the same
bytes: ``lxml.html`` (pages), ``str.split`` (dats), :mod:`csv`, :mod:`json`, pyarrow. Wall
and CPU seconds are both printed with the load average: the machine is shared, so compare
the ratio to the reference measured in the same run.

    python benchmarks/extract_bench.py [--mb 20] [--repeat 3] [--only matome,txt] [--profile 12]

``--only`` keeps the formats whose file name holds one of the given words (and skips the
generated dump and the hostile inputs); ``--profile N`` prints the N functions with the most
time of their own (cProfile, one read of each file) under each line, to see where a format's
time goes.
"""

from __future__ import annotations

import argparse
import os
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


def best_of(repeat: int, fn, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def cpu_of(repeat: int, fn) -> float:
    """Best CPU time of this process (less sensitive than wall time to other agents' load)."""
    return best_of(repeat, fn, time.process_time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="size of the generated dump")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated words: only the formats whose file name holds one")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="top N functions of each format (own time)")
    args = parser.parse_args()
    only = [word for word in args.only.split(",") if word]
    if only:
        formats(args.repeat, only=only, profile=args.profile)
        return
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
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared with other agents)")
    print(f"parse_scrape (segmentation only): {mb / ours:8.1f} MB/s  ({ours:.2f} s)")
    print(f"extract_file (read+decode+detect): {mb / whole:8.1f} MB/s  ({whole:.2f} s)")
    print(f"reference: naive line split      {mb / naive:8.1f} MB/s  ({naive:.2f} s)")
    print(f"goal: >= 5 MB/s on one core -> {'met' if mb / whole >= 5 else 'NOT met'}")
    formats(args.repeat, profile=args.profile)
    hostile()


def _repeat_file(source: Path, target_mb: float) -> tuple[Path, float]:
    """A copy of a board fixture grown to about ``target_mb``: dats repeat their records
    (renumbered), pages repeat their thread container's content."""
    data = source.read_bytes()
    from moderation.io.decode import decode, detect_encoding

    enc = detect_encoding(data)
    text = decode(data)
    if source.suffix == ".dat":
        lines = text.splitlines(keepends=True)
        numbered = lines[0].split("<>", 1)[0].isdigit()
        out, k = [], 0
        while sum(map(len, out)) < target_mb * 1e6 / 2:
            for ln in lines:
                if numbered and ln.split("<>", 1)[0].isdigit():
                    no, rest = ln.split("<>", 1)
                    ln = f"{int(no) + 1000 * k}<>{rest}"
                out.append(ln)
            k += 1
        grown = "".join(out)
    elif source.suffix == ".txt":  # a page saved as text: the posts repeated, their numbers raised
        from moderation.io.readers.textsave import parse_head

        lines = text.splitlines(keepends=True)
        out, k = [lines[0]], 0
        while sum(map(len, out)) < target_mb * 1e6 / 2:
            for ln in lines[1:]:
                head = parse_head(ln.rstrip("\r\n"))
                out.append(ln.replace(str(head.no), str(head.no + 10 * k), 1) if head else ln)
            k += 1
        grown = "".join(out)
    else:
        first, last = text.find("<body"), text.rfind("</body>")
        middle = text[first : last if last > 0 else len(text)]
        grown = (
            text[:first] + middle * max(1, int(target_mb * 1e6 / 2 / max(1, len(middle)))) + text[first:][len(middle) :]
        )
    path = Path("/tmp") / f"extract_bench_{source.name}"
    path.write_bytes(grown.encode(enc.replace("-sig", ""), "replace"))
    return path, path.stat().st_size / 1e6


def _grown_tabular(kind: str, target_mb: float) -> tuple[Path, float]:
    """The tabular fixture rows repeated to about ``target_mb`` as CSV, JSONL, a JSON array or Parquet."""
    import json

    import pandas as pd

    rows = [json.loads(ln) for ln in (ROOT / "tests/fixtures/tabular/comments.jsonl").read_text().splitlines()]
    size = len(json.dumps(rows, ensure_ascii=False).encode())
    many = [dict(r, id=f"{r['id']}-{k}") for k in range(max(1, int(target_mb * 1e6 / size))) for r in rows]
    path = Path("/tmp") / f"extract_bench_comments.{kind}"
    if kind == "csv":
        pd.DataFrame(many).assign(reply_to=lambda f: f.reply_to.map(lambda v: ";".join(map(str, v)))).to_csv(
            path, index=False
        )
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in many), encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(many, ensure_ascii=False), encoding="utf-8")
    else:  # compressed columns: its MB are those of the same rows as JSONL, to compare with the others
        pd.DataFrame(many).to_parquet(path)
        return path, len("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in many).encode()) / 1e6
    return path, path.stat().st_size / 1e6


def _bare(path: Path):
    """The plain reference for a file: the bare parse a script would do of the same bytes."""
    import csv
    import io
    import json

    import lxml.html
    import pyarrow.parquet as pq

    suffix = path.suffix
    if suffix == ".dat":
        return lambda: [ln.split(b"<>") for ln in path.read_bytes().splitlines()]
    if suffix == ".csv":
        return lambda: list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if suffix == ".jsonl":
        return lambda: [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines()]
    if suffix == ".json":
        return lambda: json.loads(path.read_text(encoding="utf-8"))
    if suffix == ".parquet":
        return lambda: pq.read_table(path).to_pylist()
    return lambda: lxml.html.document_fromstring(path.read_bytes())


def _profile(path: Path, top: int) -> None:
    """The ``top`` functions with the most time of their own in one read of ``path``."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(lambda: sum(1 for _ in extract_file(path)))
    stats = pstats.Stats(profiler)
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.stats.values()) or 1  # type: ignore[attr-defined]
    for (file, line, name), (_cc, calls, own, _cum, _callers) in rows:
        where = f"{Path(file).name}:{line}({name})" if line else name
        print(f"      {100 * own / total:5.1f}%  {calls:9,d} calls  {where}")


def formats(repeat: int, target_mb: float = 4.0, only: list[str] | None = None, profile: int = 0) -> None:
    """Throughput of every supported format, beside the bare parse of the same bytes."""
    fixtures = ROOT / "tests" / "fixtures"
    boards = fixtures / "boards"
    sources = [
        fixtures / "dat" / "newsplus_1754021234.dat",
        boards / "5ch_mixed_eol.dat",
        boards / "shitaraba_1319198591.dat",
        boards / "machi_1241917200.dat",
        boards / "bbspink_1580648400.dat",
        fixtures / "html" / "5ch_modern.html",
        boards / "5ch_div_2023.html",
        boards / "5ch_article.html",
        boards / "itest_5ch.html",
        fixtures / "html" / "2ch_old.html",
        boards / "2ch_namae_2005.html",
        fixtures / "html" / "open2ch.html",
        boards / "open2ch_hover.html",
        boards / "shitaraba_1319198591.html",
        boards / "machi_page.html",
        boards / "futaba_1200000001.htm",
        boards / "futaba_2014.htm",
        boards / "matome_honobono.html",
        boards / "matome_res_div.html",
        boards / "5ch_saved_text.txt",
        boards / "matome_copied.txt",
    ]
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared with other agents)")
    print(
        "file                         format      MB   records  wall MB/s  cpu MB/s"
        "  ref wall  ref cpu  ours/ref (cpu time)"
    )
    if only:
        sources = [source for source in sources if any(word in source.name for word in only)]
    grown = [_repeat_file(source, target_mb) for source in sources]
    kinds = ("csv", "jsonl", "json", "parquet")
    grown += [_grown_tabular(kind, target_mb) for kind in kinds if not only or any(word in kind for word in only)]
    for path, mb in grown:
        n = sum(1 for _ in extract_file(path))
        fmt = next(iter(extract_file(path))).source_format
        ours = best_of(repeat, lambda path=path: sum(1 for _ in extract_file(path)))
        ours_cpu = cpu_of(repeat, lambda path=path: sum(1 for _ in extract_file(path)))
        bare = _bare(path)
        ref, ref_cpu = best_of(repeat, bare), cpu_of(repeat, bare)
        flag = "" if mb / ours >= 5 else ("  <- wall below 5 MB/s" + ("" if mb / ours_cpu >= 5 else ", cpu too"))
        name = path.name.removeprefix("extract_bench_")
        print(
            f"{name:28s} {fmt:9s} {mb:4.1f} {n:9,d} {mb / ours:10.1f} {mb / ours_cpu:9.1f}"
            f" {mb / ref:9.1f} {mb / ref_cpu:8.1f} {ours_cpu / ref_cpu:10.1f}x{flag}"
        )
        if profile:
            _profile(path, profile)


def hostile() -> None:
    """Seconds taken on the inputs that used to hang the extractor (each about 100 kB or more)."""
    from moderation.io.readers.html import parse_html

    cases = {
        "800-space line (scrape)": "本文\n" + " " * 800 + "\n",
        "100 kB of spaces (scrape)": " " * 100_000,
        "100 kB of tabs and full-width spaces": "\t\u3000" * 50_000,
        "100 kB of '>' and ':'": ">:" * 50_000,
        "100 kB of digits and '/'": "2025/1/1" * 12_500,
        "page with 1 MB blanked script (html)": "<html><script>" + " " * 1_000_000 + "</script><p>x</p></html>",
    }
    print("\nhostile input                              seconds")
    for name, text in cases.items():
        fn = parse_html if name.endswith("(html)") else parse_scrape
        t = best_of(1, lambda fn=fn, text=text: fn(text))
        print(f"{name:42s} {t:7.3f}")


if __name__ == "__main__":
    main()
