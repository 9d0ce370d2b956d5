"""The real labelled sets beside the checkout, mapped onto our labels, with fixed splits.

Nothing here copies their text anywhere: the files are read from ``../shared/data`` (or
``$MODERATION_REAL_DATA``) at run time. Every frame has the columns ``id``, ``text``,
``context`` (empty: these sentences are scored without a thread), ``slur``, ``off_topic``
(always unknown), ``delete`` (1 / 0 / NaN = unknown), ``hate`` (the set's own notion of
hate speech, 1 / 0, for action-level figures), ``source`` and ``split``.

Label mapping:

- **ja-toxicity-inspection** (inspection-ai/japanese-toxic-dataset, Apache-2.0): the mapping of
  :func:`moderation.labels.training.load_training_data`: ``delete`` = majority Toxic/Very
  Toxic (0 = majority Not Toxic), ``slur`` = at least half marked 差別 and a majority toxic
  (0 = nobody marked 差別). ``hate`` = ``slur`` with unknown as 0.
- **ko-hate-speech** (kocohub/korean-hate-speech, CC BY-SA 4.0): ``delete`` = hate or offensive
  (0 = none); ``slur`` = hate aimed at a group (bias gender/others), 0 = label none, or
  offensive with bias none; unknown otherwise. ``hate`` = ``slur`` with unknown as 0.
- **en-hate-offensive** (t-davidson/hate-speech-and-offensive-language, MIT): ``slur`` = class 0
  (hate speech), 0 = class 2 (neither), unknown for class 1 (offensive: mostly profanity the
  annotators did not call hate); ``delete`` = class 0 or 1, 0 = class 2. ``hate`` = class 0.

Splits are fixed by a hash of each row's id (:func:`bucket`), so they never move: ja 50 % test;
ko ``dev.csv`` is the test set and ``train.csv`` the training pool; en 20 % test. Korean news
threads (comments sharing a ``news_title``) are split by a hash of the title
(:func:`thread_split`, 20 % test), the split ``benchmarks/offtopic_eval.py`` measures on.

Examples
--------
>>> bucket("ja", "42") == bucket("ja", "42") and 0 <= bucket("ja", "42") < 100
True
>>> thread_split("some news title") in ("train", "test")
True
"""

from __future__ import annotations

import hashlib
import html
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.board_text import clean_text
from .training import _from_ja_toxicity

#: Credits and licences, as the model manifest and the README give them.
CREDITS = {
    "ja": "ja-toxicity-inspection (inspection-ai/japanese-toxic-dataset), Apache License 2.0",
    "ko": "ko-hate-speech (kocohub/korean-hate-speech, BEEP!), CC BY-SA 4.0",
    "en": "en-hate-offensive (t-davidson/hate-speech-and-offensive-language), MIT",
}
#: Percent of rows in the test split, for the sets split by row.
TEST_SHARE = {"ja": 50, "en": 20}
#: Percent of Korean news threads (by title) held out for the off-topic test.
THREAD_TEST_SHARE = 20
_ROOT = Path(__file__).resolve().parent.parent.parent


def data_dir() -> Path:
    """Where the real sets are: ``$MODERATION_REAL_DATA``, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("MODERATION_REAL_DATA")
    return Path(env) if env else _ROOT.parent / "shared" / "data"


def available(root: Path | None = None) -> bool:
    """Whether all three sets are there."""
    root = root or data_dir()
    return all(
        (root / p).is_file()
        for p in ("ja-toxicity-inspection/subset.csv", "ko-hate-speech/train.csv", "en-hate-offensive/labeled_data.csv")
    )


def bucket(name: str, key: str) -> int:
    """0..99, fixed for a row: which split it belongs to."""
    return int(hashlib.sha1(f"{name}:{key}".encode()).hexdigest()[:8], 16) % 100


def thread_split(title: str, test_share: int = THREAD_TEST_SHARE) -> str:
    """``"test"`` for about ``test_share`` % of thread titles (by md5), else ``"train"``."""
    h = int(hashlib.md5(title.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if h < test_share else "train"


def _frame(name, ids, texts, slur, delete, hate, split) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"{name}-{i}" for i in ids],
            "text": list(texts),
            "context": "",
            "slur": np.asarray(slur, dtype=float),
            "off_topic": math.nan,
            "delete": np.asarray(delete, dtype=float),
            "hate": np.asarray(hate, dtype=int),
            "source": name,
            "split": list(split),
        }
    )


def load_ja(root: Path | None = None) -> pd.DataFrame:
    """ja-toxicity-inspection (437 sentences), split 50/50 by row id."""
    raw = pd.read_csv((root or data_dir()) / "ja-toxicity-inspection" / "subset.csv")
    mapped = _from_ja_toxicity(raw)
    split = ["test" if bucket("ja", str(i)) < TEST_SHARE["ja"] else "train" for i in raw["id"]]
    hate = mapped["slur"].fillna(0).astype(int)
    return _frame("ja", raw["id"], mapped["text"], mapped["slur"], mapped["delete"], hate, split)


def load_ko(root: Path | None = None) -> pd.DataFrame:
    """ko-hate-speech: ``train.csv`` (train split) and ``dev.csv`` (test split), with ``thread_title``."""
    root = root or data_dir()
    frames = []
    for fname, split in (("train.csv", "train"), ("dev.csv", "test")):
        raw = pd.read_csv(root / "ko-hate-speech" / fname)
        hate, bias = raw["hate"].to_numpy(), raw["bias"].to_numpy()
        delete = np.where(hate == "none", 0.0, 1.0)
        slur = np.full(len(raw), math.nan)
        slur[hate == "none"] = 0.0
        slur[(hate == "offensive") & (bias == "none")] = 0.0
        slur[(hate == "hate") & (bias != "none")] = 1.0
        frame = _frame(
            "ko",
            [f"{split}{i}" for i in range(len(raw))],
            raw["text"].astype(str).map(clean_text),
            slur,
            delete,
            np.nan_to_num(slur).astype(int),
            [split] * len(raw),
        )
        frame["thread_title"] = raw["news_title"].astype(str).to_numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_en(root: Path | None = None) -> pd.DataFrame:
    """en-hate-offensive (24,783 tweets), 20 % test by row id."""
    raw = pd.read_csv((root or data_dir()) / "en-hate-offensive" / "labeled_data.csv")
    cls = raw["class"].to_numpy()
    slur = np.where(cls == 0, 1.0, np.where(cls == 2, 0.0, math.nan))
    delete = np.where(cls == 2, 0.0, 1.0)
    ids = raw.iloc[:, 0].astype(str)
    split = ["test" if bucket("en", i) < TEST_SHARE["en"] else "train" for i in ids]
    texts = raw["tweet"].astype(str).map(html.unescape).map(clean_text)
    return _frame("en", ids, texts, slur, delete, (cls == 0).astype(int), split)


def load_all(root: Path | None = None) -> dict[str, pd.DataFrame]:
    """``{"ja": ..., "ko": ..., "en": ...}``."""
    return {"ja": load_ja(root), "ko": load_ko(root), "en": load_en(root)}


def training_pool(sets: dict[str, pd.DataFrame], *, ko: int = 3000, en: int = 3000, seed: int = 0) -> pd.DataFrame:
    """The train splits: ja whole, ko and en random samples of ``ko`` / ``en`` rows (their own
    hateful shares kept, so thresholds chosen on them mean something)."""
    parts = [sets["ja"][sets["ja"]["split"] == "train"]]
    for name, n in (("ko", ko), ("en", en)):
        train = sets[name][sets[name]["split"] == "train"]
        if n and n < len(train):
            train = train.sample(n=n, random_state=seed).sort_index()
        if n:
            parts.append(train)
    return pd.concat(parts, ignore_index=True)


def korean_threads(split: str | None = "train", root: Path | None = None) -> dict[str, dict]:
    """Korean news threads: ``{title: {"title", "articles": [], "posts": [...]}}``, comments in
    file order. ``split="train"`` keeps the training threads' comments of ``train.csv`` only
    (never a ``dev.csv`` comment: that is the hate test set); ``"test"`` the held-out threads'
    comments of both files; ``None`` everything."""
    root = root or data_dir()
    files = ("train.csv",) if split == "train" else ("train.csv", "dev.csv")
    df = pd.concat([pd.read_csv(root / "ko-hate-speech" / f) for f in files], ignore_index=True)
    df = df[df["news_title"].notna() & df["text"].notna()]
    out: dict[str, dict] = {}
    for title, text in zip(df["news_title"].astype(str), df["text"].astype(str)):
        if split and thread_split(title) != split:
            continue
        out.setdefault(title, {"title": title, "articles": [], "posts": []})["posts"].append(clean_text(text))
    return out
