"""Throughput of `moderation score --cluster` with 1 and 2 local worker processes, beside
single-machine `moderation score`, all measured in the same run on the same input.

    python benchmarks/cluster_bench.py [--n 1000000] [--files 10] [--partition-size 10000] [--skip-jobs1]

The comments are built from labels/authored.jsonl (random pairs joined, as score_bench.py
builds them) and written as --files JSONL files with id, text and thread_title. Each command is
the real console script in a subprocess:

- single machine: `moderation score DIR --format jsonl --out FILE` (its default --jobs: one
  worker process per core, at most 2) and with `--jobs 1`;
- cluster: `moderation score DIR --cluster local:N --out OUTDIR` for N = 1 and 2.

The cluster runs come first, and their ratio and the workers' peak memory are printed as soon as
both are done, so a run cut short still has the figures of the quality bar.

Throughput is comments over the wall time of the whole command (process start, cluster start,
model loads and output included); for the cluster the time of the job itself (from the
``_SUCCESS`` summary: planning, model check on every worker, scoring and writing) is printed
too. Per-worker memory is the peak resident set size of each worker process, sampled from
/proc every 0.2 s by psutil. Every run's output is checked: same number of rows as comments.
Beside each wall time: the CPU seconds of the command and all its processes (user + system,
from the kernel's accounting of waited-for children: less disturbed by other people's load than
the wall clock) and the load average before and after it, since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run(cmd: list[str]) -> tuple[float, float, dict[int, float], str]:
    """Wall time, CPU seconds, peak RSS (MB) of each child process of the command, and its stderr."""
    peaks: dict[int, float] = {}
    cpu0 = cpu_of_children()
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
    return wall, cpu_of_children() - cpu0, peaks, "".join(err)


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

        cluster: dict[int, tuple[float, float, float]] = {}
        peak_all = 0.0
        for workers in (1, 2):
            out = tmp / f"out{workers}"
            before = load()
            wall, cpu, peaks, _err = run(
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
            shutil.rmtree(out)
            job = summary["seconds"]
            # the worker processes are the big children (a resource tracker is a few MB)
            worker_peaks = sorted((mb for mb in peaks.values() if mb > 100), reverse=True)
            cluster[workers] = (wall, job, cpu)
            peak_all = max([peak_all, *worker_peaks[:workers]])
            print(
                f"cluster local:{workers}: {wall:.1f} s = {args.n / wall:,.0f} comments/s "
                f"(job alone {job:.1f} s = {args.n / job:,.0f}/s), {summary['partitions']} partitions; "
                f"peak RSS per worker process: {', '.join(f'{p:.0f} MB' for p in worker_peaks[:workers]) or 'n/a'}; "
                f"{cpu:.1f} s CPU; load {before} -> {load()}",
                flush=True,
            )
        ratio_wall = cluster[1][0] / cluster[2][0]
        ratio_job = cluster[1][1] / cluster[2][1]
        print(f"speed-up, 2 workers / 1 worker: {ratio_wall:.2f}x (whole command), {ratio_job:.2f}x (job alone)")
        print(f"peak RSS of a worker process, largest of both runs: {peak_all:.0f} MB (bar: under 500 MB)", flush=True)

        results = {}
        singles = [("single machine, default --jobs (2)", [])]
        if not args.skip_jobs1:
            singles.append(("single machine, --jobs 1", ["--jobs", "1"]))
        for name, extra in singles:
            out = tmp / "single.jsonl"
            before = load()
            wall, cpu, _peaks, _ = run([exe, "score", str(data), "--format", "jsonl", "--out", str(out), *extra])
            with open(out, "rb") as fh:
                rows = sum(1 for _ in fh)
            assert rows == args.n, (name, rows)
            out.unlink()
            results[name] = (wall, cpu)
            print(
                f"{name}: {wall:.1f} s = {args.n / wall:,.0f} comments/s; {cpu:.1f} s CPU; load {before} -> {load()}",
                flush=True,
            )

        base = results["single machine, default --jobs (2)"][0]
        print(f"cluster local:2 / single machine default --jobs: {base / cluster[2][0]:.2f}x (whole command)")
        if "single machine, --jobs 1" in results:
            wall1, cpu1 = results["single machine, --jobs 1"]
            print(
                f"cluster local:1 / single machine --jobs 1: {wall1 / cluster[1][0]:.2f}x the speed (whole command), "
                f"{cluster[1][2] / cpu1:.2f}x the CPU seconds"
            )
        print(f"load after: {psutil.getloadavg()} on {psutil.cpu_count()} cores")


if __name__ == "__main__":
    main()
