"""Scoring throughput and peak memory of `moderation score` on a large comment file,
beside a plain scikit-learn reference (TfidfVectorizer char 1-3 + LogisticRegression,
trained on the same labels) measured in the same run.

    python benchmarks/score_bench.py [--n 100000] [--model models/default]

The comments are built from labels/authored.jsonl (random pairs joined), written as a CSV
with text and thread_title columns, and scored by the real console script in a subprocess
(with its default --jobs: one worker per core, at most 2; then with --jobs 1, after the
reference, so a change in the machine's load shows as the two ratios drifting). Peak memory is the kernel's
ru_maxrss: the largest single process, which for ours is the parent (its workers share the
model's pages). Summed over the parent and its workers (proportional set size, sampled from
/proc), 1,000,000 comments peaked at 463 MB with 2 jobs, 270 MB with --jobs 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_bench import build  # noqa: E402

REFERENCE = r"""
import sys, time, pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
train = pd.read_csv(sys.argv[1])
models = {l: make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LogisticRegression(max_iter=1000)
                           ).fit(train["text"], train[l]) for l in ("slur", "off_topic", "delete")}
t0 = time.perf_counter()
data = pd.read_csv(sys.argv[2])
t1 = time.perf_counter()
out = pd.DataFrame({l: m.predict_proba(data["text"].fillna(""))[:, 1] for l, m in models.items()})
t2 = time.perf_counter()
pd.concat([data, out], axis=1).to_csv(sys.argv[3], index=False)
print(time.perf_counter() - t0, t2 - t1)
"""

MEASURE = r"""
import resource, subprocess, sys, time
t0 = time.perf_counter()
res = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t0
sys.stderr.write(res.stderr)
print(res.returncode, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
print(res.stdout)
"""


def measured(cmd: list[str]) -> tuple[float, float, str]:
    """Wall time, peak RSS in MB (of that process alone) and stdout of a command."""
    res = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True)
    first, _, rest = res.stdout.partition("\n")
    code, wall, peak = first.split()
    if int(code):
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    return float(wall), float(peak), rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("moderation"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "comments.csv"
        build(args.n, seed=1)[["id", "text", "thread_title"]].to_csv(data, index=False)
        train = tmp / "train.csv"
        build(5000, seed=2).to_csv(train, index=False)
        mb = data.stat().st_size / 1e6

        ours, ours_mem, _ = measured([exe, "score", str(data), "--format", "csv", "--out", str(tmp / "ours.csv")])
        rows = len(pd.read_csv(tmp / "ours.csv"))
        _wall, ref_mem, ref_out = measured(
            [sys.executable, "-c", REFERENCE, str(train), str(data), str(tmp / "ref.csv")]
        )
        ref_total, ref_predict = map(float, ref_out.split())
        one, one_mem, _ = measured(
            [exe, "score", str(data), "--format", "csv", "--jobs", "1", "--out", str(tmp / "one.csv")]
        )
    print(f"{args.n:,} comments ({mb:.1f} MB CSV), model {args.model}")
    print(
        f"moderation score (read, thread context, features, 3 calibrated labels, actions, CSV out; "
        f"process start included): {ours:.1f} s = {args.n / ours:,.0f} comments/s, peak RSS {ours_mem:.0f} MB, "
        f"{rows:,} rows out"
    )
    print(
        f"reference, TfidfVectorizer char 1-3 + LogisticRegression x3 (training excluded): read+predict+write "
        f"{ref_total:.1f} s = {args.n / ref_total:,.0f} comments/s (predict alone {args.n / ref_predict:,.0f}/s); "
        f"peak RSS {ref_mem:.0f} MB (includes its training)"
    )
    print(f"moderation score --jobs 1: {one:.1f} s = {args.n / one:,.0f} comments/s, peak RSS {one_mem:.0f} MB")
    print(
        f"speed ratio, ours / reference (read+predict+write): {ref_total / ours:.2f}x with the default jobs "
        f"(bar >= 2), {ref_total / one:.2f}x with --jobs 1 (bar >= 1); the reference ran between the two"
    )


if __name__ == "__main__":
    main()
