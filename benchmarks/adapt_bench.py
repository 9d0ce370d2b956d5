"""``moderation adapt`` on N real comments (default 100,000): wall time and peak memory,
beside a plain scikit-learn reference (TfidfVectorizer char 1-3 + LogisticRegression fitted on
the same texts) measured in the same run.

The input is ko-hate-speech (CC BY-SA 4.0, read from ../shared/data, never copied): its
comments as JSONL with their news titles as threads, repeated with new thread ids until N
comments. Run: python benchmarks/adapt_bench.py [N]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "ko-hate-speech"


def peak_mb(usage) -> float:
    return usage.ru_maxrss / 1024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base = pd.concat([pd.read_csv(DATA / f) for f in ("train.csv", "dev.csv")]).dropna(subset=["text", "news_title"])
    work = Path(tempfile.mkdtemp(prefix="adapt-bench-"))
    dump = work / "comments.jsonl"
    rows = 0
    with open(dump, "w", encoding="utf-8") as fh:
        rep = 0
        while rows < n:
            for text, title in zip(base["text"], base["news_title"]):
                if rows >= n:
                    break
                fh.write(
                    json.dumps(
                        {"text": text, "thread": f"{hash(title) & 0xFFFFFFF}-{rep}", "thread_title": title},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                rows += 1
            rep += 1
    exe = Path(sys.executable).with_name("moderation")
    start = time.perf_counter()
    res = subprocess.run(
        [
            str(exe),
            "adapt",
            str(dump),
            "--out",
            str(work / "adapted"),
            "--max-hold-rate",
            "0.05",
            "--max-reject-rate",
            "0.01",
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    ours_mb = peak_mb(resource.getrusage(resource.RUSAGE_CHILDREN))
    if res.returncode:
        sys.exit(res.stderr)

    code = f"""
import pandas as pd, json, time
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
rows = [json.loads(l) for l in open({str(dump)!r}, encoding='utf-8')]
t = [r['text'] for r in rows]
y = [hash(r['thread']) % 2 for r in rows]
X = TfidfVectorizer(analyzer='char', ngram_range=(1, 3), min_df=2).fit_transform(t)
LogisticRegression(max_iter=200).fit(X, y).predict_proba(X)
"""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    ref_seconds = time.perf_counter() - start
    ref_mb = peak_mb(resource.getrusage(resource.RUSAGE_CHILDREN))
    print(res.stdout.strip())
    print(f"moderation adapt, {n:,} comments: {seconds:.1f} s, peak {ours_mb:.0f} MB")
    print(
        f"reference (TF-IDF char 1-3 + LogisticRegression fit and predict on the same texts): "
        f"{ref_seconds:.1f} s, peak {max(ref_mb, ours_mb):.0f} MB (largest child so far)"
    )


if __name__ == "__main__":
    main()
