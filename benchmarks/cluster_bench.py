"""Throughput of `moderation score --cluster` with 1 and 2 local worker processes, beside
single-machine `moderation score`, all measured in the same run on the same input.

    python benchmarks/cluster_bench.py [--n 1000000] [--files 10] [--partition-size 20000]

The comments are built from labels/authored.jsonl (random pairs joined, as score_bench.py
builds them) and written as --files JSONL files with id, text and thread_title. Each command is
the real console script in a subprocess:

- single machine: `moderation score DIR --format jsonl --out FILE` (its default --jobs: one
  worker process per core, at most 2) and with `--jobs 1`;
- cluster: `moderation score DIR --cluster local:N --out OUTDIR` for N = 1 and 2.

Throughput is comments over the wall time of the whole command (process start, cluster start,
model loads and output included); for the cluster the time of the job itself (from the
``_SUCCESS`` summary: planning, model check on every worker, scoring and writing) is printed
too. Per-worker memory is the peak resident set size of each worker process, sampled from
/proc every 0.2 s by psutil. Every run's output is checked: same number of rows as comments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_bench import build  # noqa: E402


def run(cmd: list[str]) -> tuple[float, dict[int, float], str]:
    """Wall time, peak RSS (MB) of each child process of the command, and its stderr."""
    peaks: dict[int, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else ""))
    reader.start()
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            for child in parent.children(recursive=True):
                try:
                    rss = child.memory_info().rss / 1e6
                except psutil.Error:
                    continue
                peaks[child.pid] = max(peaks.get(child.pid, 0.0), rss)
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    reader.join()
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{''.join(err)}")
    return wall, peaks, "".join(err)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--partition-size", type=int, default=10_000)
    parser.add_argument("--skip-jobs1", action="store_true", help="Skip single-machine --jobs 1 (saves time).")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("moderation"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "in"
        data.mkdir()
        frame = build(args.n, seed=1)[["id", "text", "thread_title"]]
        per_file = -(-args.n // args.files)
        for k in range(args.files):
            part = frame.iloc[k * per_file : (k + 1) * per_file]
            part.to_json(data / f"comments-{k:03d}.jsonl", orient="records", lines=True, force_ascii=False)
        mb = sum(f.stat().st_size for f in data.iterdir()) / 1e6
        del frame
        print(f"{args.n:,} comments in {args.files} JSONL files ({mb:.0f} MB); load before: {psutil.getloadavg()}")

        results = {}
        singles = [("single machine, default --jobs (2)", [])]
        if not args.skip_jobs1:
            singles.append(("single machine, --jobs 1", ["--jobs", "1"]))
        for name, extra in singles:
            out = tmp / "single.jsonl"
            wall, _peaks, _ = run([exe, "score", str(data), "--format", "jsonl", "--out", str(out), *extra])
            with open(out, "rb") as fh:
                rows = sum(1 for _ in fh)
            assert rows == args.n, (name, rows)
            out.unlink()
            results[name] = wall
            print(f"{name}: {wall:.1f} s = {args.n / wall:,.0f} comments/s")

        cluster = {}
        for workers in (1, 2):
            out = tmp / f"out{workers}"
            wall, peaks, _err = run(
                [
                    exe,
                    "score",
                    str(data),
                    "--cluster",
                    f"local:{workers}",
                    "--partition-size",
                    str(args.partition_size),
                    "--out",
                    str(out),
                ]
            )
            summary = json.loads((out / "_SUCCESS").read_text(encoding="utf-8"))
            assert summary["rows"] == args.n, summary["rows"]
            job = summary["seconds"]
            # the worker processes are the big children (a resource tracker is a few MB)
            worker_peaks = sorted((mb for mb in peaks.values() if mb > 100), reverse=True)
            cluster[workers] = (wall, job)
            print(
                f"cluster local:{workers}: {wall:.1f} s = {args.n / wall:,.0f} comments/s "
                f"(job alone {job:.1f} s = {args.n / job:,.0f}/s), {summary['partitions']} partitions; "
                f"peak RSS per worker process: {', '.join(f'{p:.0f} MB' for p in worker_peaks[:workers]) or 'n/a'}"
            )
        ratio_wall = cluster[1][0] / cluster[2][0]
        ratio_job = cluster[1][1] / cluster[2][1]
        base = results["single machine, default --jobs (2)"]
        print(f"speed-up, 2 workers / 1 worker: {ratio_wall:.2f}x (whole command), {ratio_job:.2f}x (job alone)")
        print(f"cluster local:2 / single machine default --jobs: {base / cluster[2][0]:.2f}x (whole command)")
        print(f"load after: {psutil.getloadavg()} on {psutil.cpu_count()} cores")


if __name__ == "__main__":
    main()
