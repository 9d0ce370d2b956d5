"""Time the adapt core on a synthetic 100,000-comment input (ko-hate-speech texts repeated,
each repetition its own set of threads). Peak RSS reported."""
import resource, sys, time
import numpy as np, pandas as pd
from moderation.ml.adapt import adapt_stream

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
D = "/work/shared/data/ko-hate-speech"
base = pd.concat([pd.read_csv(f"{D}/{f}") for f in ("train.csv", "dev.csv")]).dropna(subset=["text", "news_title"])
reps = int(np.ceil(N / len(base)))

def chunks(size=10_000):
    def gen():
        rows = 0
        for r in range(reps):
            f = pd.DataFrame({"thread": base["news_title"].astype(str) + f"#{r}", "title": base["news_title"].astype(str),
                              "text": base["text"].astype(str)})
            for s in range(0, len(f), size):
                part = f.iloc[s:s + size]
                if rows >= N:
                    return
                part = part.iloc[: N - rows]
                rows += len(part)
                yield part
    return gen()

t0 = time.perf_counter()
out = adapt_stream(chunks, max_hold_rate=0.05)
print({k: v for k, v in out.items() if k not in ("relevance", "classifier")},
      "seconds", round(time.perf_counter() - t0, 1),
      "peak_rss_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
