"""Quality on REAL labelled data: model directories, a model trained with ``moderation train`` in
this run, and a plain char n-gram baseline trained on the same rows, side by side.

    python benchmarks/quality.py [--model models/default ...] [--no-train] [--no-offtopic] [--json OUT]

Sets (read from ../shared/data or $MODERATION_REAL_DATA at run time, never copied; label mapping
and the fixed hash splits in moderation/labels/datasets.py):

- ja: ja-toxicity-inspection, the 50 % test split (the default model never trains on it)
- ko: ko-hate-speech dev.csv (train.csv is the training pool)
- en: en-hate-offensive, the 20 % test split

Per set and model: ROC-AUC / AP of ``slur`` and ``delete`` on their known rows and of
max(slur, delete) against the set's hate label; at the model's thresholds the share of posts
rejected and held-or-rejected (by ``slur`` or ``delete``), the precision of those against hate
and against delete, and the recall of hate. Comments are scored without thread context, so
``off_topic`` decides nothing here.

``moderation train``: the ja train split, 3,000 random ko train rows and 3,000 random en train
rows written to one CSV (``text``, ``slur``, ``delete``) and trained with
:func:`moderation.training.train` (what ``moderation train pool.csv --out DIR`` runs). The
baseline: TfidfVectorizer(char, 1-3, sublinear, min_df 2) + LogisticRegression(liblinear,
balanced, C=4) per label on the same rows, thresholds none.

Off-topic (``--no-offtopic`` skips it): ``benchmarks/offtopic_eval.py`` on the first model:
Korean news threads held out by title hash (never trained on), two strangers slipped into each;
and the fixture and seed threads (the default model trains on those threads' own posts, so those
figures are in-sample).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from moderation.labels.datasets import CREDITS, load_all, training_pool  # noqa: E402

SCORED = ("slur", "delete")


def _rank(y, p):
    y = np.asarray(y)
    if len(set(y.tolist())) < 2:
        return None, None
    return round(float(roc_auc_score(y, p)), 3), round(float(average_precision_score(y, p)), 3)


def _at(y_hate, y_del, flagged):
    n, k = len(flagged), int(flagged.sum())
    known_del = np.isfinite(y_del[flagged])
    return {
        "rate": round(k / n, 4) if n else None,
        "prec_hate": round(float(y_hate[flagged].mean()), 3) if k else None,
        "prec_delete": round(float(y_del[flagged][known_del].mean()), 3) if k and known_del.any() else None,
        "recall_hate": round(float(flagged[y_hate == 1].mean()), 3) if (y_hate == 1).any() else None,
    }


def evaluate(test: pd.DataFrame, probs: pd.DataFrame, thresholds: dict | None) -> dict:
    out: dict = {"n": len(test), "hate": int(test["hate"].sum())}
    for label in SCORED:
        known = test[label].notna().to_numpy()
        auc, ap = _rank(test[label][known].astype(int), probs[label].to_numpy()[known])
        out[label] = {"n": int(known.sum()), "pos": int(test[label][known].sum()), "auc": auc, "ap": ap}
    m = np.maximum(probs["slur"].to_numpy(), probs["delete"].to_numpy())
    out["max_vs_hate"] = dict(zip(("auc", "ap"), _rank(test["hate"], m)))
    if thresholds:
        yh, yd = test["hate"].to_numpy(), test["delete"].to_numpy(dtype=float)
        reject = np.zeros(len(test), bool)
        flag = np.zeros(len(test), bool)
        for label in SCORED:
            p = probs[label].to_numpy()
            reject |= p >= thresholds[label]["reject"]
            flag |= p >= thresholds[label]["hold"]
        out["reject"] = _at(yh, yd, reject)
        out["hold_or_reject"] = _at(yh, yd, flag | reject)
    return out


def score_model_dir(path: str, tests: dict) -> dict:
    from moderation.moderator import Moderator

    mod = Moderator.load(path)
    return {
        name: evaluate(t, mod.model.predict_proba(t[["text", "context"]]), mod.thresholds) for name, t in tests.items()
    }


def style_invariance(path: str, test: pd.DataFrame, seed: int = 0) -> dict:
    """Real sentences with a board mark added (laughter, address, filler, anchor from
    ``moderation/data/board_style.tsv``): on the set's ordinary rows (not hateful, not
    deletable), the share held or rejected before and after, and the mean change of
    max(slur, delete). A mark is style, not abuse: a good model barely moves."""
    from moderation.moderator import Moderator
    from moderation.recipe import board_style

    mod = Moderator.load(path)
    marks = [("", m) for m in board_style(kinds=("laughter",))[0]]
    prefixes, suffixes = board_style(kinds=("prefix", "suffix"))
    marks += [(m, "") for m in prefixes] + [("", m) for m in suffixes]
    ordinary = test[(test["hate"] == 0) & (test["delete"] == 0)].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(marks), size=len(ordinary))
    styled = ordinary.assign(text=[marks[k][0] + t + marks[k][1] for t, k in zip(ordinary["text"], picks)])

    def flagged(frame):
        probs = mod.model.predict_proba(frame[["text", "context"]])
        flag = np.zeros(len(frame), bool)
        for label in SCORED:
            flag |= probs[label].to_numpy() >= mod.thresholds[label]["hold"]
        return flag, np.maximum(probs["slur"].to_numpy(), probs["delete"].to_numpy())

    before, p0 = flagged(ordinary)
    after, p1 = flagged(styled)
    return {
        "n": len(ordinary),
        "flagged_before": round(float(before.mean()), 4),
        "flagged_after": round(float(after.mean()), 4),
        "mean_change": round(float((p1 - p0).mean()), 4),
    }


def baseline(train: pd.DataFrame, tests: dict) -> dict:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    X = vec.fit_transform(train["text"])
    clfs = {}
    for label in SCORED:
        known = train[label].notna().to_numpy()
        clfs[label] = LogisticRegression(C=4.0, solver="liblinear", class_weight="balanced").fit(
            X[known], train[label][known].astype(int)
        )
    out = {}
    for name, t in tests.items():
        Xt = vec.transform(t["text"])
        probs = pd.DataFrame({label: clfs[label].predict_proba(Xt)[:, 1] for label in SCORED})
        out[name] = evaluate(t, probs, None)
    return out


def moderation_train(train: pd.DataFrame, tests: dict, workdir: Path) -> dict:
    """``moderation train pool.csv --out DIR`` on the pool, then scored like a model directory."""
    from moderation.training import train as train_model

    pool = workdir / "pool.csv"
    train[["text", *SCORED]].to_csv(pool, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_model([pool], workdir / "trained")
    return score_model_dir(str(workdir / "trained"), tests)


def table(results: dict) -> str:
    lines = [
        "| model | set | n / hate | slur AUC / AP | delete AUC / AP | max(s,d) vs hate AUC / AP "
        "| reject rate / P(hate) / P(del) / R(hate) | hold+reject rate / P(hate) / P(del) / R(hate) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def f(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    for model, sets in results.items():
        for name, r in sets.items():
            cells = [
                model,
                name,
                f"{r['n']} / {r['hate']}",
                f"{f(r['slur']['auc'])} / {f(r['slur']['ap'])}",
                f"{f(r['delete']['auc'])} / {f(r['delete']['ap'])}",
                f"{f(r['max_vs_hate']['auc'])} / {f(r['max_vs_hate']['ap'])}",
            ]
            for key in ("reject", "hold_or_reject"):
                a = r.get(key)
                cells.append(
                    " / ".join(f(a[k]) for k in ("rate", "prec_hate", "prec_delete", "recall_hate")) if a else "-"
                )
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None, help="model directory (repeatable)")
    parser.add_argument("--no-train", action="store_true", help="skip the moderation-train model and the baseline")
    parser.add_argument("--no-offtopic", action="store_true", help="skip the off-topic figures")
    parser.add_argument("--ko", type=int, default=3000)
    parser.add_argument("--en", type=int, default=3000)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    sets = load_all()
    tests = {name: s[s["split"] == "test"].reset_index(drop=True) for name, s in sets.items()}
    models = args.model or [str(ROOT / "models" / "default")]
    results: dict = {}
    for path in models:
        results[Path(path).name] = score_model_dir(path, tests)
        print(f"scored {path} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    if not args.no_train:
        train = training_pool(sets, ko=args.ko, en=args.en)
        results["baseline-char-tfidf"] = baseline(train, tests)
        print(f"baseline ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            results["moderation-train"] = moderation_train(train, tests, Path(tmp))
        print(f"moderation train on {len(train)} rows ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    print(table(results))
    print("\nStyle invariance: ja test ordinary sentences (real), a board mark added (laughter, address, filler):")
    invariance = {}
    for path in models:
        inv = invariance[Path(path).name] = style_invariance(path, tests["ja"])
        print(
            f"  {Path(path).name}: {inv['n']} sentences, held or rejected {inv['flagged_before']:.1%} -> "
            f"{inv['flagged_after']:.1%}, mean change of max(slur, delete) {inv['mean_change']:+.3f}"
        )
    print("\nData: " + "; ".join(CREDITS.values()) + ". Mapping and splits: moderation/labels/datasets.py.")
    out = {"actions": results, "style_invariance": invariance}
    if not args.no_offtopic:
        import offtopic_eval

        off = offtopic_eval.run(offtopic_eval.ModeratorScorer(models[0]))
        out["off_topic"] = off
        ko, seed = off["korean_test_threads"], off["japanese_seed_thread"]
        print(
            f"\noff_topic ({Path(models[0]).name}, hold {off['hold']}, reject {off['reject']}):\n"
            f"  ko-hate-speech held-out threads ({ko['threads']} threads, {ko['n_own']} own / "
            f"{ko['n_strangers']} slipped in): ROC-AUC {ko['roc_auc']}, own flagged {ko['own_flagged']:.1%}, "
            f"strangers flagged {ko['strangers_flagged']:.1%}\n"
            f"  seed thread, posts of the fixture threads slipped in (in-sample threads): ROC-AUC "
            f"{seed['roc_auc']}, own flagged {seed['own_flagged']:.1%}\n"
            f"  seed Korean reply: off_topic {off['seed_korean_reply']['off_topic']}, "
            f"held {off['seed_korean_reply']['held']}, rejected {off['seed_korean_reply']['rejected']}"
        )
    print(f"({time.perf_counter() - t0:.0f}s)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
