"""The training recipe of the default model: sources, their weights, per-label features, and
calibration and thresholds chosen on REAL text only.

    python -m moderation.recipe --out models/default

Sources (each row carries ``source`` and a weight, :data:`SOURCE_WEIGHTS`):

- ``authored``: ``labels/authored.jsonl``, comments the team wrote. Down-weighted: its
  separability is the team's style, not the boards'.
- ``seed``: ``labels/seed.jsonl``, the seed thread labelled with the tool (real posts).
- ``ja``: the ja-toxicity-inspection TRAIN split only (:mod:`moderation.labels.datasets`); the
  test split stays out, so ``benchmarks/quality.py`` measures on text the model never saw.
- ``ko`` / ``en``: random samples of the ko-hate-speech / en-hate-offensive train splits: real
  labels and real ordinary text in the languages a Japanese board sees.
- ``written``: ``labels/written/board_style.csv``, board-style posts we wrote (ordinary posts
  full of board words, neutral group mentions, group hostility without slurs). Our writing:
  weighted low, never used for calibration or thresholds.
- ``off_topic`` only: self-supervised pairs from real threads (:func:`off_topic_pairs`): each
  post in its own thread (on topic) and posts of other threads slipped in (off topic), from
  the ko-hate-speech training threads, the authored threads and the fixture and seed threads,
  with cross-validation groups by thread bucket. Nobody writes off-topic examples by hand.

Per label (:data:`DROP_FEATURES`): ``slur`` and ``delete`` never see the thread views
(``context``, ``relevance``: how a post sits in its thread is not abuse; trained on the authored
set, length and script shares learned that floods were long and abuse Japanese) nor a bare group
mention (``gh_group``); ``off_topic`` sees only the thread views (no n-grams, lexicon or group
hostility: off-topic is a relation to the thread, not a vocabulary).

Calibration and thresholds: each source's positives are reweighted so every source has the same
positive share per label (:func:`balanced_weights`: nothing that marks a source, its language or
its writers' style, predicts a label by itself). After the cross-validated fit, ``slur`` and
``delete`` get their Platt scaling refitted on the out-of-fold scores of the real Japanese rows
(``ja`` train split and ``seed``), and thresholds set there by the false-positive rate on real
negatives (:func:`fpr_thresholds`): ``reject`` flags at most 1 % of them and never sits below
0.9; ``hold`` at most 4 %, never below 0.3. Everything doubtful is ``hold``. ``off_topic`` never
rejects (:data:`~moderation.core.NEVER`); its ``hold`` flags at most 5 % of the real on-topic
posts of the self-supervised threads, out of fold.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .core import LABELS, NEVER, TrainingError
from .io.extraction import extract
from .labels import load_training_data
from .labels.datasets import CREDITS, korean_threads, load_en, load_ja, load_ko
from .ml.artifacts import check_output_dir, save_model
from .ml.calibration import platt, ranking_metrics, threshold_metrics
from .ml.estimator import ModerationModel
from .ml.selfsup import thread_pairs, threads_from_records, threads_from_rows

ROOT = Path(__file__).resolve().parent.parent
#: Rows the thresholds of ``slur`` and ``delete`` are chosen on: real Japanese text.
CALIBRATE_ON = ("ja", "seed")
#: Thread views: evidence for ``off_topic`` only.
THREAD_VIEWS = ("context", "relevance")
DROP_FEATURES = {
    "slur": (*THREAD_VIEWS, "gh_group"),
    "delete": (*THREAD_VIEWS, "gh_group"),
    "off_topic": ("chars", "folded", "subwords", "lexicon", "groups"),
}
SOURCE_WEIGHTS = {
    "authored": 0.5,
    "seed": 1.0,
    "ja": 2.0,
    "ko": 0.5,
    "en": 0.3,
    "written": 0.3,
    "marks": 2.0,
    "threads": 1.0,
}
#: Sources whose rows get a board-styled copy (:func:`style_augmented`): the Japanese ones.
STYLED_SOURCES = ("authored", "seed", "ja", "written")
THREAD_GLOBS = ("tests/fixtures/scrape/*.txt", "tests/fixtures/dat/*.dat", "tests/fixtures/html/*.html", "seeds/*.txt")


def _columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    out = frame[["id", "text", "context", *LABELS]].copy()
    out["source"] = source
    return out


def japanese_threads(root: Path = ROOT) -> dict[str, dict]:
    """The fixture and seed threads, extracted: title, pasted articles and comments in order."""
    paths = sorted(p for pattern in THREAD_GLOBS for p in root.glob(pattern) if ".sjis." not in p.name)
    return threads_from_records(rec for path in paths for rec in extract(path))


def off_topic_pairs(*, strangers: float = 1.0, seed: int = 0, korean: bool = True) -> pd.DataFrame:
    """Self-supervised ``off_topic`` rows from real threads, with ``group`` (the thread bucket
    per collection) and ``swapped`` (a stranger slipped in) columns.

    ko-hate-speech training threads (comments of ``train.csv`` sharing a news title; the
    held-out threads of ``benchmarks/offtopic_eval.py`` never appear), the authored threads
    (their hand labels kept), and the fixture and seed threads.
    """
    parts = []
    rows = [json.loads(line) for line in (ROOT / "labels" / "authored.jsonl").read_text(encoding="utf-8").splitlines()]
    authored, labels = threads_from_rows(rows)
    collections: list[tuple[str, dict, dict | None]] = [("authored", authored, labels)]
    collections.append(("boards", japanese_threads(), None))
    if korean:
        collections.append(("ko", korean_threads("train"), None))
    for name, threads, lab in collections:
        pairs = thread_pairs(threads, strangers=strangers, labels=lab, random_state=seed)
        pairs["group"] = name + "-" + pairs["group"].astype(str)
        pairs["collection"] = name
        parts.append(pairs)
    return pd.concat(parts, ignore_index=True)


def build_training_frame(
    *, ko: int = 2000, en: int = 0, written: bool = True, threads: bool = True, styled: bool = True, seed: int = 0
) -> tuple[pd.DataFrame, dict]:
    """All training rows (``id``, ``text``, ``context``, labels, ``source``, ``group``) and a
    summary for the manifest (files with their sha256 and dataset credits, rows per source)."""
    labelled, summary = load_training_data([ROOT / "labels" / "authored.jsonl", ROOT / "labels" / "seed.jsonl"])
    labelled["source"] = np.where(labelled["id"].astype(str).str.startswith("authored-"), "authored", "seed")
    if threads:  # off_topic comes from the self-supervised threads (the authored labels go with them)
        labelled["off_topic"] = math.nan
    parts = [labelled[["id", "text", "context", *LABELS, "source"]]]
    files = list(summary["files"])
    ja = load_ja()
    parts.append(_columns(ja[ja["split"] == "train"], "ja"))
    files.append({"dataset": CREDITS["ja"], "split": "train (50 % by row-id hash)", "rows": len(parts[-1])})
    for name, n, loader in (("ko", ko, load_ko), ("en", en, load_en)):
        if n:
            frame = loader()
            frame = frame[frame["split"] == "train"]
            frame = frame.sample(n=min(n, len(frame)), random_state=seed)
            parts.append(_columns(frame, name))
            files.append({"dataset": CREDITS[name], "split": f"random {len(frame)} of train", "rows": len(frame)})
    path = ROOT / "labels" / "written" / "board_style.csv"
    if written:
        table, info = load_training_data([path])
        table["source"] = "written"
        parts.append(table[["id", "text", "context", *LABELS, "source"]])
        files += info["files"]
    frame = pd.concat(parts, ignore_index=True)
    frame["group"] = None
    frame["augmented"] = False
    if styled:
        frame["group"] = ["styled-" + str(i) for i in frame["id"]]  # an original and its copy in one fold
        styled_rows = pd.concat(
            [style_augmented(frame, seed=seed), quoted(frame, seed=seed), bare_marks()], ignore_index=True
        )
        frame = pd.concat([frame, styled_rows], ignore_index=True)
        files.append({"dataset": "board-styled copies (moderation/data/board_style.tsv)", "rows": len(styled_rows)})
    if threads:
        pairs = off_topic_pairs(seed=seed)
        extra = pd.DataFrame(
            {
                "id": [f"thread-{i}" for i in range(len(pairs))],
                "text": pairs["text"],
                "context": pairs["context"],
                "slur": math.nan,
                "off_topic": pairs["off_topic"].astype(float),
                "delete": math.nan,
                "source": "threads",
                "group": pairs["group"],
                "collection": pairs["collection"],
                "swapped": pairs["swapped"],
                "augmented": False,
            }
        )
        frame = pd.concat([frame, extra], ignore_index=True)
        files.append(
            {
                "dataset": "self-supervised off-topic pairs: " + CREDITS["ko"] + " (training threads), "
                "labels/authored.jsonl threads, tests/fixtures and seeds threads",
                "rows": len(extra),
            }
        )
    frame["weight"] = frame["source"].map(SOURCE_WEIGHTS).fillna(1.0).astype(float)
    counts = frame.groupby("source").size().to_dict()
    return frame, {"files": files, "rows": len(frame), "rows_by_source": counts}


#: The kinds of ``data/board_style.tsv``.
KINDS = ("laughter", "prefix", "suffix", "post")
#: Frames that quote a post: to condemn it or to agree with it.
FRAMES = ("condemn", "endorse")


def board_style(path: Path | None = None, kinds: tuple[str, ...] = KINDS) -> tuple[list[str], ...]:
    """Per kind, the texts of ``data/board_style.tsv``: board marks that are not abuse
    (``laughter``, ``prefix``, ``suffix``) and content-free posts (``post``)."""
    table = pd.read_csv(
        path or Path(__file__).parent / "data" / "board_style.tsv",
        sep="\t",
        comment="#",
        dtype=str,
        keep_default_na=False,
    )
    by_kind = table.groupby("kind")["text"].apply(list).to_dict()
    return tuple(by_kind.get(kind, []) for kind in kinds)


#: Laughter marks a styled copy takes out of a text that has them.
LAUGHTER = re.compile(r"ｗ+|(?<![A-Za-z])[wW]{2,}(?![A-Za-z])|（笑）|\(笑\)|ワロタ|ワロス|(?<=\S)草(?=[\s。！？!?]*$)")


def style_augmented(frame: pd.DataFrame, *, sources=STYLED_SOURCES, seed: int = 0) -> pd.DataFrame:
    """A board-style counterfactual of every ``slur`` / ``delete`` row of ``sources``: laughter
    toggled (a text with ``ｗ``/``草``/``（笑）`` loses it, any other text gains a laughter ending),
    and half of them also get another board mark (address, fillers, anchors), from
    :func:`board_style`. Same labels, same weight, the original's CV group, marked ``augmented``.

    With each row and its copy, exactly one of the two laughs, among positives and negatives
    alike, so laughter carries no evidence: the team's authored abuse had ``ｗ`` in 51 of 286
    deletable posts and 7 of 693 others, and a model that learned it held ordinary laughing
    posts. The copies train; calibration and thresholds use only the original real rows.

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["a", "b"], "text": ["死ねｗｗ", "おはよう"], "context": "", "slur": [1.0, 0.0],
    ...                   "off_topic": math.nan, "delete": [1.0, 0.0], "source": "ja", "group": None})
    >>> out = style_augmented(f)
    >>> out["slur"].tolist(), bool(out["augmented"].all())
    ([1.0, 0.0], True)
    >>> [bool(LAUGHTER.search(t)) for t in out["text"]]
    [False, True]
    """
    laughter, prefixes, suffixes = board_style(kinds=("laughter", "prefix", "suffix"))
    rng = np.random.default_rng(seed)
    rows = frame[frame["source"].isin(sources) & (frame["slur"].notna() | frame["delete"].notna())].copy()
    texts = []
    for text in rows["text"]:
        plain = LAUGHTER.sub("", text).strip()
        styled = plain if plain and plain != text.strip() else text + laughter[rng.integers(len(laughter))]
        mark = int(rng.integers(2 * (len(prefixes) + len(suffixes))))  # half of the rows: no other mark
        if mark < len(prefixes):
            styled = prefixes[mark] + styled
        elif mark < len(prefixes) + len(suffixes):
            styled = (
                LAUGHTER.sub("", styled).rstrip()
                + suffixes[mark - len(prefixes)]
                + ("" if plain and plain != text.strip() else laughter[rng.integers(len(laughter))])
            )
        texts.append(styled)
    rows["text"] = texts
    rows["group"] = ["styled-" + str(i) for i in rows["id"]]
    rows["id"] = rows["id"].astype(str) + "~styled"
    rows["augmented"] = True
    return rows


def quoted(frame: pd.DataFrame, *, sources=("authored", "written"), max_chars: int = 60, seed: int = 0) -> pd.DataFrame:
    """The ``slur`` posts of ``sources`` (the team's own writing only: real rows are not
    rewritten) quoted in a frame of :func:`board_style`: two in three condemned (``「…」とか書く奴は
    通報しろ``: neither ``slur`` nor ``delete``, as the GUIDELINES say), one in three endorsed
    (``「…」って言って何が悪い``: labels kept), marked ``augmented``, in the original's CV group.

    Without them every post that quotes a slur to condemn it scored like the slur itself; the
    endorsed copies keep the quotation marks themselves from becoming an excuse.

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["a"], "text": ["死ね"], "context": "", "slur": [1.0], "off_topic": math.nan,
    ...                   "delete": [1.0], "source": "written", "group": None})
    >>> q = quoted(f)
    >>> len(q), "死ね" in q["text"].iloc[0], bool(q["augmented"].all())
    (1, True, True)
    """
    condemn, endorse = board_style(kinds=FRAMES)
    rng = np.random.default_rng(seed + 1)
    rows = frame[frame["source"].isin(sources) & (frame["slur"] == 1) & (frame["text"].str.len() <= max_chars)].copy()
    texts, slur, delete = [], [], []
    for text, s, d in zip(rows["text"], rows["slur"], rows["delete"]):
        body = text.replace("\n", " ").strip()
        if rng.random() < 2 / 3:
            texts.append(condemn[rng.integers(len(condemn))].replace("{}", body))
            slur.append(0.0)
            delete.append(0.0)
        else:
            texts.append(endorse[rng.integers(len(endorse))].replace("{}", body))
            slur.append(s)
            delete.append(d)
    rows["text"], rows["slur"], rows["delete"] = texts, slur, delete
    rows["group"] = ["styled-" + str(i) for i in rows["id"]]
    rows["id"] = rows["id"].astype(str) + "~quoted"
    rows["augmented"] = True
    return rows


def bare_marks() -> pd.DataFrame:
    """Each board mark of :func:`board_style` as a post by itself (``ｗｗｗ``, ``草``, ``お前ら``)
    and its content-free posts (``age``, ``1乙``), neither ``slur`` nor ``delete``: a post of
    nothing but laughter is a reply, and without these rows a text made only of n-grams the
    abuse shared got their whole weight (one short text is all those n-grams: the l2-normalised
    rows give them full value, so these rows weigh 2, :data:`SOURCE_WEIGHTS`)."""
    marks = sorted({m.strip(" 、,") for kind in board_style(kinds=KINDS) for m in kind} - {""})
    return pd.DataFrame(
        {
            "id": [f"mark-{i}" for i in range(len(marks))],
            "text": marks,
            "context": "",
            "slur": 0.0,
            "off_topic": math.nan,
            "delete": 0.0,
            "source": "marks",
            "group": [f"mark-{i}" for i in range(len(marks))],
            "augmented": True,
        }
    )


def balanced_weights(frame: pd.DataFrame) -> pd.DataFrame:
    """Per label, each source's positives and negatives reweighted so that every source has
    the same (weighted, pooled) share of positives: then nothing that marks a source (its
    language, its writers' style) predicts the label by itself. (57 % of ko-hate-speech rows are
    offensive or hateful: unbalanced, any Korean text would score ``delete``.)

    Examples
    --------
    >>> f = pd.DataFrame({"slur": [1, 0, 0, 0, 1, 1], "off_topic": [math.nan] * 6, "delete": [math.nan] * 6,
    ...                   "source": ["a"] * 4 + ["b"] * 2, "weight": 1.0})
    >>> w = balanced_weights(f)["slur"]
    >>> a = (f.source == "a").to_numpy()
    >>> round(float((w * f.slur)[a].sum() / w[a].sum()), 3)  # source a's share is now the pooled one
    0.5
    """
    out = pd.DataFrame(index=frame.index)
    for label in LABELS:
        y = frame[label]
        w = frame["weight"].astype(float).copy()
        known = y.notna()
        if label == "off_topic" or not known.any():  # off_topic pairs are balanced by construction
            out[label] = w
            continue
        share = float((w[known] * y[known]).sum() / w[known].sum())
        for _src, rows in frame[known].groupby("source").groups.items():
            ys = y[rows]
            p = float((w[rows] * ys).sum() / w[rows].sum())
            if 0 < p < 1:
                w[rows] = w[rows] * np.where(ys == 1, share / p, (1 - share) / (1 - p))
        out[label] = w
    return out


def fpr_thresholds(
    y: np.ndarray,
    p: np.ndarray,
    *,
    reject_fpr: float = 0.01,
    hold_fpr: float = 0.04,
    reject_floor: float = 0.9,
    hold_floor: float = 0.3,
    reject_precision: float = 0.9,
) -> tuple[float, float]:
    """Thresholds by the false-positive rate on real negatives (robust to the boards' share of
    positives): ``reject`` the lowest threshold that flags at most ``reject_fpr`` of the
    negatives and, where positives are there to tell, reaches ``reject_precision``; ``hold`` at
    most ``hold_fpr`` of them. Floors keep both from trusting a small sample.

    Examples
    --------
    >>> y = np.array([0] * 95 + [1] * 5)
    >>> p = np.r_[np.linspace(0, 0.5, 95), [0.9, 0.92, 0.95, 0.97, 0.99]]
    >>> fpr_thresholds(y, p)
    (0.484044, 0.9)
    """
    neg = np.sort(p[y == 0])[::-1]

    def at_fpr(rate: float) -> float:
        k = int(np.floor(rate * len(neg)))
        return float(neg[k]) + 1e-6 if k < len(neg) else 0.0

    reject = max(reject_floor, at_fpr(reject_fpr))
    for t in np.unique(p[p >= reject]):  # the lowest threshold at or above it that is also precise
        flagged = p >= t
        if (y[flagged] == 1).mean() >= reject_precision:
            reject = float(t)
            break
    hold = max(hold_floor, at_fpr(hold_fpr))
    return round(min(hold, reject), 6), round(reject, 6)


def recalibrate(model: ModerationModel, frame: pd.DataFrame, real: tuple[str, ...] = CALIBRATE_ON, **kw) -> dict:
    """``slur`` and ``delete``: Platt scaling and thresholds from the out-of-fold scores of the real rows."""
    report = {}
    for label in ("slur", "delete"):
        lm = model.labels_.get(label)
        if lm is None:
            continue
        known = frame[label].notna().to_numpy()
        y = frame[label][known].astype(int).to_numpy()
        src = frame["source"][known].to_numpy()
        oof = np.clip(model.oof_[label], 1e-12, 1 - 1e-12)
        a, b = lm.calibration
        decision = (np.log(oof / (1 - oof)) - b) / a
        mask = np.isin(src, real)
        if "augmented" in frame:
            mask &= ~frame["augmented"][known].fillna(False).astype(bool).to_numpy()
        if mask.sum() < 20 or len(set(y[mask])) < 2:
            continue
        a2, b2 = platt(decision[mask], y[mask])
        if a2 <= 0:  # a real-data fit that flips the direction is noise: keep the pooled one
            continue
        p = 1.0 / (1.0 + np.exp(-(a2 * decision[mask] + b2)))
        hold, reject = fpr_thresholds(y[mask], p, **kw)
        lm.calibration, lm.hold, lm.reject = (a2, b2), hold, reject
        lm.metrics = {
            **lm.metrics,
            "calibrated_on": sorted(set(src[mask])),
            "real_n": int(mask.sum()),
            "real_positives": int(y[mask].sum()),
            **{f"real_{k}": v for k, v in ranking_metrics(y[mask], p).items()},
            "real_hold": threshold_metrics(y[mask], p, hold),
            "real_reject": threshold_metrics(y[mask], p, reject),
        }
        report[label] = {"hold": hold, "reject": reject, "n": int(mask.sum()), "positives": int(y[mask].sum())}
    return report


def off_topic_thresholds(model: ModerationModel, frame: pd.DataFrame, *, max_own_flagged: float = 0.05) -> dict:
    """``off_topic`` never rejects; its hold flags at most ``max_own_flagged`` of the real
    on-topic posts of the self-supervised threads (out of fold)."""
    lm = model.labels_.get("off_topic")
    if lm is None or "swapped" not in frame:
        return {}
    known = frame["off_topic"].notna().to_numpy()
    oof = model.oof_["off_topic"]
    rows = frame[known]
    own = ((rows["source"] == "threads") & (rows["swapped"] == False) & (rows["off_topic"] == 0)).to_numpy()  # noqa: E712
    real = (rows["source"] == "threads").to_numpy()
    scores = np.sort(oof[own])
    hold = float(scores[int(np.ceil((1 - max_own_flagged) * len(scores))) - 1]) + 1e-6
    lm.hold, lm.reject = round(max(hold, 0.05), 6), NEVER
    y = rows["off_topic"].astype(int).to_numpy()
    lm.metrics = {
        **lm.metrics,
        "real_threads": "self-supervised pairs, out of fold (thread-bucket groups)",
        **{f"real_{k}": v for k, v in ranking_metrics(y[real], oof[real]).items()},
        "real_hold": threshold_metrics(y[real], oof[real], lm.hold),
        "own_flagged": round(float((oof[own] >= lm.hold).mean()), 4),
    }
    return {"hold": lm.hold, "reject": "never", "own_flagged": lm.metrics["own_flagged"]}


def train(frame: pd.DataFrame, **params) -> ModerationModel:
    """Fit the model on a frame from :func:`build_training_frame`, then set calibration and thresholds."""
    params = {"C_grid": (0.5, 2.0, 8.0), "context_swaps": 0.0, "drop_features": DROP_FEATURES, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ModerationModel(**params).fit(
            frame[["text", "context"]],
            frame[list(LABELS)],
            sample_weight=balanced_weights(frame),
            groups=frame["group"].tolist(),
        )
    model.recalibration_ = {**recalibrate(model, frame), "off_topic": off_topic_thresholds(model, frame)}
    return model


def main(argv: list[str] | None = None) -> int:
    """``python -m moderation.recipe --out DIR``: build the default model's training data, fit, write."""
    parser = argparse.ArgumentParser(prog="python -m moderation.recipe", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="model directory to write (replaced if it is one)")
    parser.add_argument("--ko", type=int, default=2000, help="ko-hate-speech train rows to sample (0: none)")
    parser.add_argument("--en", type=int, default=0, help="en-hate-offensive train rows to sample (0: none)")
    parser.add_argument("--no-written", action="store_true", help="leave out labels/written/board_style.csv")
    parser.add_argument("--no-styled", action="store_true", help="no board-styled copies of the Japanese rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        check_output_dir(args.out)
        frame, summary = build_training_frame(
            ko=args.ko, en=args.en, written=not args.no_written, styled=not args.no_styled, seed=args.seed
        )
        model = train(frame)
    except (OSError, TrainingError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    summary["recipe"] = "python -m moderation.recipe " + " ".join(argv if argv is not None else sys.argv[1:])
    summary["weights"] = SOURCE_WEIGHTS
    summary["recalibration"] = model.recalibration_
    summary["labels"] = {
        label: {"known": int(frame[label].notna().sum()), "positive": int((frame[label] == 1).sum())}
        for label in LABELS
    }
    manifest = save_model(model, args.out, training=summary)
    print(json.dumps({"version": manifest["version"], **summary["rows_by_source"]}, ensure_ascii=False))
    print(json.dumps(model.recalibration_, ensure_ascii=False))
    print(f"trained in {time.perf_counter() - start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
