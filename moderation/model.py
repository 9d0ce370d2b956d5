"""The classifier: shared features, one calibrated linear model per label, thresholds, spans.

:class:`ModerationModel` learns, for each label (``slur``, ``off_topic``, ``delete``), a
logistic regression on the features of :mod:`moderation.features`, with the regularisation
chosen by cross-validated average precision, a sigmoid calibration fitted on out-of-fold
scores, and two thresholds chosen on those out-of-fold probabilities: ``hold`` (send to a
human: the threshold with the best F1) and ``reject`` (the lowest threshold whose
out-of-fold precision reaches ``reject_precision``; never, when none does).

Saving and loading (:func:`save_model`, :func:`load_model`) go through a model directory
whose ``manifest.json`` lists the sha256 of every artifact: nothing is unpickled before its
hash is checked, and a model is written to a temporary directory and renamed into place.

Examples
--------
>>> import pandas as pd
>>> X = pd.DataFrame({"text": ["チョンは帰れ", "いい天気", "支那人は出ていけ", "試合楽しみ"] * 5})
>>> Y = pd.DataFrame({"slur": [1, 0, 1, 0] * 5})
>>> model = ModerationModel(cv=2, C_grid=(1.0,)).fit(X, Y)
>>> bool(model.predict_proba(pd.DataFrame({"text": ["チョンは帰れ"]}))["slur"].iloc[0] > 0.5)
True
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from . import __version__
from .features import as_frame, build_featurizer
from .labels import LABELS, TrainingError  # noqa: F401  (TrainingError is raised here and re-exported)

ACTIONS = ("allow", "hold", "reject")
MODEL_FORMAT = "moderation-model/1"


class ModelError(Exception):
    """A model directory that cannot be used; the message says which file and why."""


@dataclass
class Reason:
    """Why a label was flagged: a span ``[start, end)`` of the original text and its excerpt."""

    label: str
    span: tuple[int, int]
    excerpt: str
    weight: float
    source: str = "model"  # 'lexicon' for a lexicon hit, 'model' for heavy n-grams

    def to_dict(self) -> dict:
        return {"label": self.label, "span": list(self.span), "excerpt": self.excerpt,
                "weight": round(float(self.weight), 4), "source": self.source}


@dataclass
class LabelModel:
    """One label's classifier, calibration and thresholds, with its cross-validated metrics."""

    classifier: LogisticRegression
    calibration: tuple[float, float]  # p = sigmoid(a * decision + b)
    hold: float
    reject: float
    metrics: dict = field(default_factory=dict)

    def proba(self, M) -> np.ndarray:
        a, b = self.calibration
        z = a * self.classifier.decision_function(M) + b
        return 1.0 / (1.0 + np.exp(-z))


def _platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e4).fit(decision.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def choose_thresholds(y: np.ndarray, p: np.ndarray, reject_precision: float = 0.9) -> tuple[float, float]:
    """``hold``: the threshold with the best F1; ``reject``: the lowest one at or above it
    whose precision reaches ``reject_precision`` (1.01, i.e. never, when none does).

    Examples
    --------
    >>> choose_thresholds(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.6, 0.9]))
    (0.6, 0.6)
    """
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    best = int(np.argmax(f1))
    hold = float(thresholds[best])
    ok = np.nonzero((precision >= reject_precision) & (thresholds >= hold))[0]
    reject = float(thresholds[ok[0]]) if len(ok) else 1.01
    return round(hold, 6), round(reject, 6)


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    pred = p >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": threshold, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def ranking_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    if len(set(y.tolist())) < 2:
        return {"roc_auc": None, "average_precision": None}
    return {"roc_auc": round(float(roc_auc_score(y, p)), 4),
            "average_precision": round(float(average_precision_score(y, p)), 4)}


class ModerationModel(BaseEstimator):
    """Calibrated linear models for ``slur``, ``off_topic`` and ``delete`` on shared features.

    Parameters
    ----------
    labels : tuple of str
    C_grid : tuple of float
        Inverse regularisation strengths tried per label; the best cross-validated average
        precision wins.
    cv : int
        Folds for choosing C, calibrating and choosing thresholds.
    reject_precision : float
        Out-of-fold precision a ``reject`` threshold must reach.
    class_weight : {'balanced', None}
    context_swaps : float
        For ``off_topic``: the share of on-topic comments that are also trained as off-topic
        with another thread's context (0 turns it off). Cross-validated metrics include them.
    vocab_size, n_features, min_df : int
        Passed to :func:`moderation.features.build_featurizer`.
    random_state : int

    Attributes
    ----------
    featurizer_ : FeatureUnion
    labels_ : dict of str to LabelModel
        The trained labels (a label with no data is absent and scores null).
    skipped_ : dict of str to str
        Labels that were not trained, with the reason.
    """

    def __init__(self, labels=LABELS, C_grid=(4.0, 16.0), cv: int = 4, reject_precision: float = 0.9,
                 class_weight="balanced", context_swaps: float = 0.5, vocab_size: int = 8000,
                 n_features: int = 1 << 19, min_df: int = 2, random_state: int = 0):
        self.labels = labels
        self.C_grid = C_grid
        self.cv = cv
        self.reject_precision = reject_precision
        self.class_weight = class_weight
        self.context_swaps = context_swaps
        self.vocab_size = vocab_size
        self.n_features = n_features
        self.min_df = min_df
        self.random_state = random_state

    # ----------------------------------------------------------------------- training
    def fit(self, X, Y: pd.DataFrame):
        """Fit features on all comments, then each label on the rows where it is known.

        ``Y`` holds one column per label with 1, 0 or NaN (unknown). A label whose column
        is missing or all unknown is skipped; one with no positive (or no negative)
        example raises :class:`TrainingError`.
        """
        frame = as_frame(X)
        Y = pd.DataFrame(Y).reset_index(drop=True)
        self.featurizer_ = build_featurizer(vocab_size=self.vocab_size, n_features=self.n_features,
                                            min_df=self.min_df).fit(frame)
        M = self.featurizer_.transform(frame).tocsr()
        self.labels_, self.skipped_, self.oof_ = {}, {}, {}
        for label in self.labels:
            if label not in Y.columns or Y[label].isna().all():
                self.skipped_[label] = "no labelled examples"
                continue
            known = Y[label].notna().to_numpy()
            y = Y[label][known].astype(int).to_numpy()
            n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
            if n_pos < 2 or n_neg < 2:
                raise TrainingError(f"label '{label}' has {n_pos} positive and {n_neg} negative examples; "
                                    "at least 2 of each are needed to train and calibrate it")
            M_label, groups = M[known], None
            if label == "off_topic" and self.context_swaps:
                M_label, y, groups = self._with_swapped_contexts(frame[known].reset_index(drop=True), M_label, y)
            with warnings.catch_warnings():
                # Hitting max_iter at tol=1e-3 is expected on large C and does not move AP.
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.labels_[label], self.oof_[label] = self._fit_label(M_label, y, groups, int(known.sum()))
        return self

    def _with_swapped_contexts(self, frame: pd.DataFrame, M, y: np.ndarray):
        """Teach ``off_topic`` that it depends on the thread: on-topic comments paired with
        another thread's context become off-topic examples. The same text then appears with
        both labels, so only the context features can tell them apart. Each copy stays in
        its original's cross-validation group."""
        rng = np.random.default_rng(self.random_state)
        contexts = frame["context"].to_numpy()
        on_topic = np.nonzero((y == 0) & (frame["context"].str.strip() != "").to_numpy())[0]
        distinct = np.unique(contexts[on_topic]) if len(on_topic) else []
        if len(distinct) < 2:
            return M, y, None
        picked = rng.choice(on_topic, size=min(len(on_topic), int(self.context_swaps * len(on_topic))), replace=False)
        swapped = []
        for i in picked:
            other = contexts[i]
            while other == contexts[i]:
                other = distinct[rng.integers(len(distinct))]
            swapped.append(other)
        extra = pd.DataFrame({"text": frame["text"].to_numpy()[picked], "context": swapped})
        M_extra = self.featurizer_.transform(extra).tocsr()
        groups = np.concatenate([np.arange(len(y)), picked])
        return sp.vstack([M, M_extra]).tocsr(), np.concatenate([y, np.ones(len(picked), dtype=int)]), groups
        return self

    def _fit_label(self, M, y: np.ndarray, groups: np.ndarray | None = None,
                   n_real: int | None = None) -> tuple[LabelModel, np.ndarray]:
        """C by cross-validated AP, Platt calibration on out-of-fold scores, thresholds and
        metrics on the out-of-fold probabilities of the first ``n_real`` (labelled) rows."""
        folds = max(2, min(self.cv, int(y.sum()), int(len(y) - y.sum())))
        if groups is None:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        else:
            splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        splits = list(splitter.split(np.zeros(len(y)), y, groups))
        best = None
        for C in self.C_grid:
            decision = np.zeros(len(y))
            for train, test in splits:
                clf = self._classifier(C).fit(M[train], y[train])
                decision[test] = clf.decision_function(M[test])
            ap = average_precision_score(y, decision)
            if best is None or ap > best[0] + 1e-9:
                best = (ap, C, decision)
        _ap, C, decision = best
        a, b = _platt(decision, y)
        oof = 1.0 / (1.0 + np.exp(-(a * decision + b)))
        n_real = len(y) if n_real is None else n_real
        yr, oof_real = y[:n_real], oof[:n_real]
        hold, reject = choose_thresholds(yr, oof_real, self.reject_precision)
        metrics = {"n": int(n_real), "positives": int(yr.sum()), "folds": folds, "C": C,
                   **ranking_metrics(yr, oof_real), "hold": threshold_metrics(yr, oof_real, hold),
                   "reject": threshold_metrics(yr, oof_real, reject)}
        if n_real < len(y):
            metrics["context_swapped_examples"] = int(len(y) - n_real)
        classifier = self._classifier(C).fit(M, y)
        return LabelModel(classifier, (a, b), hold, reject, metrics), oof_real

    def _classifier(self, C: float) -> LogisticRegression:
        # liblinear's dual solver is the fastest here; a looser tolerance changes the
        # cross-validated AP by < 0.001 and halves training time on 10k comments.
        return LogisticRegression(C=C, solver="liblinear", class_weight=self.class_weight, max_iter=300,
                                  tol=1e-3, random_state=self.random_state)

    # ----------------------------------------------------------------------- scoring
    def features(self, X):
        return self.featurizer_.transform(as_frame(X)).tocsr()

    def predict_proba(self, X) -> pd.DataFrame:
        """Calibrated probabilities, one column per label in ``labels`` (NaN where untrained)."""
        M = self.features(X)
        out = {}
        for label in self.labels:
            lm = self.labels_.get(label)
            out[label] = lm.proba(M) if lm is not None else np.full(M.shape[0], np.nan)
        return pd.DataFrame(out)

    def actions(self, probs: pd.DataFrame, thresholds: dict | None = None,
                has_context=None) -> tuple[list[str], list[list[str]]]:
        """``action`` and flagged labels for each row of :meth:`predict_proba`'s output.

        ``off_topic`` is only acted on for comments that have thread context
        (``has_context``, default all): off-topic means off the thread's topic, and
        without a thread its score is reported but decides nothing.
        """
        thresholds = thresholds or self.thresholds()
        actions, flagged = [], []
        values = {label: probs[label].to_numpy() for label in self.labels}
        contexts = np.ones(len(probs), dtype=bool) if has_context is None else np.asarray(has_context, dtype=bool)
        for i in range(len(probs)):
            action, labels = "allow", []
            for label in self.labels:
                p = values[label][i]
                if label not in thresholds or p != p or (label == "off_topic" and not contexts[i]):
                    continue
                hold, reject = thresholds[label]["hold"], thresholds[label]["reject"]
                if p >= reject:
                    action = "reject"
                    labels.append(label)
                elif p >= hold:
                    action = "hold" if action == "allow" else action
                    labels.append(label)
            actions.append(action)
            flagged.append(labels)
        return actions, flagged

    def thresholds(self) -> dict:
        return {label: {"hold": lm.hold, "reject": lm.reject} for label, lm in self.labels_.items()}

    # ----------------------------------------------------------------------- explanations
    def char_scores(self, text: str, context: str, label: str) -> np.ndarray:
        """How much each character of ``text`` raised ``label``'s score (its share of w·x)."""
        lm = self.labels_[label]
        coef = lm.classifier.coef_[0]
        out = np.zeros(len(text))
        pos = 0
        for name, trans in self.featurizer_.transformer_list:
            width = self._block_widths()[name]
            block = coef[pos:pos + width]
            pos += width
            if hasattr(trans, "char_contributions"):
                out += trans.char_contributions(text, context, block)
        return out

    def _block_widths(self) -> dict:
        widths = getattr(self, "_widths", None)
        if widths is None:
            sample = pd.DataFrame({"text": ["a"], "context": [""]})
            widths = {name: trans.transform(sample).shape[1] for name, trans in self.featurizer_.transformer_list}
            self._widths = widths
        return widths

    def explain(self, text: str, context: str, label: str, *, top: int = 3) -> list[Reason]:
        """The spans of ``text`` that raised ``label`` most: lexicon hits first, then the
        heaviest runs of characters by their n-gram and subword contributions."""
        reasons: list[Reason] = []
        lexicon = dict(self.featurizer_.transformer_list)["lexicon"].lexicon_
        if label in ("slur", "delete"):
            for hit in lexicon.find(text):
                reasons.append(Reason(label, hit.span, text[hit.span[0]:hit.span[1]], hit.weight, "lexicon"))
        scores = self.char_scores(text, context, label)
        if len(scores) and scores.max() > 0:
            cut = 0.35 * scores.max()
            runs, start = [], None
            for i, v in enumerate(list(scores) + [0.0]):
                if v >= cut and start is None:
                    start = i
                elif v < cut and start is not None:
                    runs.append((float(scores[start:i].sum()), start, i))
                    start = None
            runs.sort(reverse=True)
            for weight, a, b in runs:
                if len([r for r in reasons if r.source == "model"]) >= top:
                    break
                if any(r.span[0] <= a and b <= r.span[1] for r in reasons):
                    continue
                a, b = _widen(text, a, b)
                reasons.append(Reason(label, (a, b), text[a:b], weight, "model"))
        return reasons


def _widen(text: str, a: int, b: int, minimum: int = 2) -> tuple[int, int]:
    """A span of at least ``minimum`` characters, without leading/trailing blanks."""
    while b - a < minimum and (a > 0 or b < len(text)):
        if b < len(text):
            b += 1
        elif a > 0:
            a -= 1
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


# --------------------------------------------------------------------------- the model directory

ARTIFACTS = ("featurizer.joblib", "classifiers.joblib", "spm.model")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model: ModerationModel, out: str | os.PathLike, *, training: dict | None = None) -> dict:
    """Write ``model`` to the directory ``out`` atomically and return its manifest.

    The directory holds ``featurizer.joblib`` (without the sentencepiece model),
    ``spm.model``, ``classifiers.joblib`` and ``manifest.json`` (version, creation time,
    training data summary and sha256, thresholds, metrics, the sha256 of every artifact).
    """
    import joblib

    out = check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp.chmod(0o755)
        subwords = dict(model.featurizer_.transformer_list)["subwords"]
        sp_bytes = subwords.sp_model_
        (tmp / "spm.model").write_bytes(sp_bytes)
        subwords.sp_model_ = None  # stored once, in spm.model
        try:
            joblib.dump(model.featurizer_, tmp / "featurizer.joblib", compress=3)
        finally:
            subwords.sp_model_ = sp_bytes
        classifiers = {"labels": model.labels, "label_models": model.labels_, "skipped": model.skipped_,
                       "params": model.get_params()}
        joblib.dump(classifiers, tmp / "classifiers.joblib", compress=3)
        lexicon = dict(model.featurizer_.transformer_list)["lexicon"].lexicon_
        created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        artifacts = {name: _sha256(tmp / name) for name in ARTIFACTS}
        manifest = {
            "format": MODEL_FORMAT,
            "version": created.strftime("%Y%m%dT%H%M%SZ") + "-" + hashlib.sha256(
                "".join(artifacts.values()).encode()).hexdigest()[:8],
            "created": created.isoformat(),
            "package_version": __version__,
            "labels": {
                label: ({"trained": True, "hold": lm.hold, "reject": lm.reject, "metrics": lm.metrics}
                        if (lm := model.labels_.get(label)) else
                        {"trained": False, "reason": model.skipped_.get(label, "not trained")})
                for label in model.labels},
            "training_data": training or {},
            "lexicon": {"version": lexicon.version, "sha256": lexicon.sha256, "entries": len(lexicon.entries)},
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()},
            "artifacts": artifacts,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def check_output_dir(out: str | os.PathLike) -> Path:
    """Where a model may be written: a new path, an empty directory or an existing model
    directory (which is replaced); anything else is refused rather than deleted."""
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").is_file())):
        raise ModelError(f"{out}: exists and is not a model directory; refusing to replace it "
                         "(choose a new --out, or an existing model directory to overwrite)")
    return out


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished directory into place; an old model is replaced only after."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a model directory, checked for form (not yet the artifact hashes)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: not a model directory (no such directory)")
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: no manifest.json; not a model directory written by 'moderation train'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ModelError(f"{manifest_path}: not a {MODEL_FORMAT} manifest")
    if not isinstance(manifest.get("artifacts"), dict) or not set(ARTIFACTS) <= set(manifest["artifacts"]):
        raise ModelError(f"{manifest_path}: the manifest does not list the model's artifacts "
                         f"({', '.join(ARTIFACTS)})")
    return manifest


def verify_model_dir(path: str | os.PathLike) -> dict:
    """Check every artifact's sha256 against the manifest and refuse foreign files.

    A joblib file runs code when it is loaded, so nothing is loaded before this passes.
    """
    path = Path(path)
    manifest = read_manifest(path)
    listed = set(manifest["artifacts"]) | {"manifest.json"}
    for name, digest in manifest["artifacts"].items():
        f = path / name
        if "/" in name or name.startswith("."):
            raise ModelError(f"{path}/manifest.json: artifact name {name!r} is not a plain file name")
        if not f.is_file():
            raise ModelError(f"{f}: missing (listed in the manifest)")
        if _sha256(f) != digest:
            raise ModelError(f"{f}: sha256 does not match the manifest; the file was changed or replaced, "
                             "refusing to load it")
    for f in path.iterdir():
        if f.name not in listed and not f.name.startswith("."):
            raise ModelError(f"{f}: not part of this model (not in its manifest); remove it or retrain")
    return manifest


def load_model(path: str | os.PathLike) -> tuple[ModerationModel, dict]:
    """Load a model directory after checking it; returns the model and its manifest."""
    import joblib

    path = Path(path)
    manifest = verify_model_dir(path)
    try:
        featurizer = joblib.load(path / "featurizer.joblib")
        classifiers = joblib.load(path / "classifiers.joblib")
        dict(featurizer.transformer_list)["subwords"].sp_model_ = (path / "spm.model").read_bytes()
    except Exception as exc:  # a verified file that still fails: another version of the package
        raise ModelError(f"{path}: cannot load the model ({type(exc).__name__}: {exc}); "
                         "it may come from another version of moderation: retrain it") from None
    model = ModerationModel(**classifiers["params"])
    model.featurizer_ = featurizer
    model.labels_ = classifiers["label_models"]
    model.skipped_ = classifiers["skipped"]
    return model, manifest
