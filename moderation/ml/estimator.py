"""The classifier: shared features, one calibrated linear model per label.

:class:`ModerationModel` learns, for each label (``slur``, ``off_topic``, ``delete``), a
logistic regression on the features of :mod:`moderation.ml.features`, with the
regularisation chosen by cross-validated average precision, a sigmoid calibration fitted
on out-of-fold scores (:mod:`moderation.ml.calibration`), and two thresholds chosen on
those out-of-fold probabilities: ``hold`` (the threshold with the best F1) and ``reject``
(the lowest threshold whose out-of-fold precision reaches ``reject_precision``; never,
when none does). What to *do* with the probabilities is :class:`moderation.policy.Decider`'s.

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

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from ..core import LABELS, Reason, TrainingError
from .calibration import choose_thresholds, platt, ranking_metrics, threshold_metrics
from .features import as_frame, build_featurizer
from .features.base import Comments, columns
from .logistic import CompactProblem, fit_logistic


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


class Scorer:
    """A trained model laid out for scoring: each feature view's place among the columns, and
    every label's coefficients side by side, so one product scores all labels.

    One comment is scored view by view without building the sparse feature row: the n-gram
    and subword views give their (index, value) pairs directly (``row``), each is gathered
    against the coefficient rows it hits, and the labels' decision values are summed from
    those. Many comments go through the views' batch ``transform`` and one sparse-dense
    product. Both give ``LogisticRegression.decision_function``'s values, and one comment gets
    bit for bit the values it gets in a batch (the same products added in the same order).

    Attributes
    ----------
    blocks : list of (name, transformer, offset, width)
    labels : list of str
        The trained labels, in the model's order.
    W : ndarray of shape (n_features, n_labels)
    intercept, a, b : ndarray of shape (n_labels,)
        Intercepts and the sigmoid calibration of each label.
    """

    def __init__(self, model: ModerationModel):
        self.labels = [label for label in model.labels if label in model.labels_]
        sample = Comments(["a"], [""])
        self.blocks: list[tuple[str, Any, int, int]] = []
        #: Per view, its one-comment function ``(text, context) -> (indices, values)``, or None.
        self.rows: list[Callable[[str, str], tuple[np.ndarray, np.ndarray]] | None] = []
        pos = 0
        for name, trans in model.featurizer_.transformer_list:
            width = int(trans.transform(sample).shape[1])
            self.blocks.append((name, trans, pos, width))
            self.rows.append(_one_comment(trans))
            pos += width
        self.width = pos
        lms = [model.labels_[label] for label in self.labels]
        self.W = np.column_stack([lm.classifier.coef_[0] for lm in lms]) if lms else np.zeros((pos, 0))
        if self.W.shape[0] != pos:
            raise ValueError(f"the classifiers have {self.W.shape[0]} coefficients, the feature views {pos} columns")
        self.intercept = np.array([float(lm.classifier.intercept_[0]) for lm in lms])
        self.a = np.array([lm.calibration[0] for lm in lms], dtype=np.float64)
        self.b = np.array([lm.calibration[1] for lm in lms], dtype=np.float64)

    @staticmethod
    def supports(model: ModerationModel) -> bool:
        """Whether ``model``'s featurizer is a plain union of views and its classifiers binary
        linear models (any other estimator is scored through scikit-learn's own calls)."""
        union = getattr(model, "featurizer_", None)
        if not isinstance(union, FeatureUnion) or union.transformer_weights:
            return False
        if any(isinstance(trans, str) for _name, trans in union.transformer_list):
            return False
        return all(
            isinstance(lm.classifier, LogisticRegression) and lm.classifier.coef_.shape[0] == 1
            for lm in model.labels_.values()
        )

    def decision(self, comments: Comments) -> np.ndarray:
        """Decision values, shape ``(n_comments, n_labels)``."""
        n = len(comments)
        if n == 1:
            # Each view's row, laid side by side as the batch's hstack lays them, and the same
            # sparse product: one comment scores bit for bit as it does in a batch.
            from .features.rows import one_row

            text, context = comments.texts[0], comments.contexts[0]
            parts = [one_row(trans, text, context) for _name, trans, _o, _w in self.blocks]
            indices = np.concatenate([idx + offset for (idx, _v), (_n, _t, offset, _w) in zip(parts, self.blocks)])
            values = np.concatenate([val for _idx, val in parts]).astype(np.float32, copy=False)
            # scipy's CSR product adds value * coefficient row by row in column order, into 0;
            # a cumulative sum adds them in that order too (np.sum would pair them up).
            terms = values.astype(np.float64)[:, None] * self.W[indices]
            sums = np.cumsum(terms, axis=0)[-1:] if len(indices) else np.zeros((1, self.W.shape[1]))
            return sums + self.intercept
        M = sp.hstack([trans.transform(comments) for _name, trans, _o, _w in self.blocks], format="csr")
        return np.asarray(M @ self.W) + self.intercept

    def proba(self, comments: Comments) -> np.ndarray:
        """Calibrated probabilities, shape ``(n_comments, n_labels)``."""
        z = self.decision(comments)
        return 1.0 / (1.0 + np.exp(-(self.a * z + self.b)))


def _one_comment(trans) -> Callable[[str, str], tuple[np.ndarray, np.ndarray]] | None:
    """A view's fast one-comment function (:func:`moderation.ml.features.rows.row_function`), or None."""
    from .features.rows import row_function

    return row_function(trans)


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
        Passed to :func:`moderation.ml.features.build_featurizer` when ``featurizer`` is None.
    random_state : int
        Seeds the folds, the context swaps and the sentencepiece sampling.
    featurizer : transformer, optional
        The feature views (any transformer of comment frames with a ``transform`` giving a
        sparse matrix); cloned in ``fit``. Default: :func:`~moderation.ml.features.build_featurizer`.
    drop_features : dict of str to tuple of str, optional
        Per label, what it must not use: names of whole feature views (``"relevance"``) or of
        single columns of the small views (``"length"``, ``"gh_group"``). Their columns are
        zeroed when the label is trained, so they get no weight
        (``{"delete": ("length",)}``: a long pasted article is not a flood).

    Attributes
    ----------
    classes_ : ndarray of str
        The labels, in ``predict_proba``'s column order.
    featurizer_ : FeatureUnion
    labels_ : dict of str to LabelModel
        The trained labels (a label with no data is absent and scores null).
    skipped_ : dict of str to str
        Labels that were not trained, with the reason.
    """

    def __init__(
        self,
        labels=LABELS,
        C_grid=(4.0, 16.0),
        cv: int = 4,
        reject_precision: float = 0.9,
        class_weight="balanced",
        context_swaps: float = 0.5,
        vocab_size: int = 8000,
        n_features: int = 1 << 19,
        min_df: int = 2,
        random_state: int = 0,
        featurizer=None,
        drop_features: dict | None = None,
    ):
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
        self.featurizer = featurizer
        self.drop_features = drop_features

    # ----------------------------------------------------------------------- training
    def fit(self, X, Y: pd.DataFrame, sample_weight=None, groups=None, unlabeled=None):
        """Fit features on all comments, then each label on the rows where it is known.

        ``Y`` holds one column per label with 1, 0 or NaN (unknown). A label whose column
        is missing or all unknown is skipped; one with no positive (or no negative)
        example raises :class:`TrainingError`.

        ``sample_weight`` (one per row; or a DataFrame with one column per label) weighs each
        row in the logistic regressions, the choice of C and the calibration. ``groups`` (one
        per row, optional) keeps rows of a group in one cross-validation fold (the threads of
        self-supervised off-topic pairs); rows with a missing group are each their own.

        ``unlabeled`` (optional) is an iterable of batches (lists of comment texts), consumed
        once: after the features are fitted on ``X``, every view that learns from unlabeled text
        (its ``partial_fit``: the relevance view's term weights) also learns from these.
        """
        frame = as_frame(X)
        Y = pd.DataFrame(Y).reset_index(drop=True)
        if len(frame) != len(Y):
            raise ValueError(f"X has {len(frame)} comments but Y has {len(Y)} rows")
        per_label = isinstance(sample_weight, pd.DataFrame)
        if per_label:
            sample_weight = sample_weight.reset_index(drop=True)
        weights = (
            np.ones(len(frame))
            if sample_weight is None or per_label
            else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        )
        row_groups = None
        if groups is not None:
            codes, _uniques = pd.factorize(pd.Series(list(groups), dtype=object), use_na_sentinel=True)
            missing = codes < 0
            codes[missing] = codes.max() + 1 + np.arange(int(missing.sum()))
            row_groups = codes
        featurizer = (
            build_featurizer(
                vocab_size=self.vocab_size,
                n_features=self.n_features,
                min_df=self.min_df,
                random_state=self.random_state,
            )
            if self.featurizer is None
            else clone(self.featurizer)
        )
        self.featurizer_ = featurizer.fit(frame)
        if unlabeled is not None:
            views = getattr(self.featurizer_, "transformer_list", [])
            learners = [t for _name, t in views if hasattr(t, "partial_fit")]
            for batch in unlabeled:
                for learner in learners:
                    learner.partial_fit(list(batch))
        self.classes_ = np.asarray(self.labels, dtype=object)
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
                raise TrainingError(
                    f"label '{label}' has {n_pos} positive and {n_neg} negative examples; "
                    "at least 2 of each are needed to train and calibrate it"
                )
            w = (sample_weight[label].to_numpy(dtype=np.float64) if per_label and label in sample_weight else weights)[
                known
            ]
            M_label = M[known]
            label_groups = row_groups[known] if row_groups is not None else None
            if label == "off_topic" and self.context_swaps:
                n_known = len(y)
                M_label, y, swapped_groups = self._with_swapped_contexts(
                    frame[known].reset_index(drop=True), M_label, y
                )
                if swapped_groups is not None:  # each swapped copy weighs what its original does
                    w = np.concatenate([w, w[swapped_groups[n_known:]]])
                    base = label_groups if label_groups is not None else np.arange(n_known)
                    label_groups = base[swapped_groups]
            dropped = (self.drop_features or {}).get(label)
            if dropped:
                M_label = (M_label @ sp.diags(self._keep_mask(dropped, M.shape[1]))).tocsr()
            with warnings.catch_warnings():
                # Hitting max_iter at tol=1e-3 is expected on large C and does not move AP.
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.labels_[label], self.oof_[label] = self._fit_label(M_label, y, label_groups, int(known.sum()), w)
        return self

    def _keep_mask(self, names, width: int) -> np.ndarray:
        """1.0 for every column but those of the named views and the named columns of the small views."""
        keep = np.ones(width)
        wanted = set(names)
        sample = pd.DataFrame({"text": ["a"], "context": [""]})
        pos = 0
        for name, trans in self.featurizer_.transformer_list:
            n = trans.transform(sample).shape[1]
            if name in wanted:
                keep[pos : pos + n] = 0.0
            elif n < 5000 and hasattr(trans, "get_feature_names_out"):  # the small views name their columns
                for i, feature in enumerate(trans.get_feature_names_out()[:n]):
                    if feature in wanted:
                        keep[pos + i] = 0.0
            pos += n
        return keep

    def _with_swapped_contexts(self, frame: pd.DataFrame, M, y: np.ndarray):
        """Teach ``off_topic`` that it depends on the thread: on-topic comments paired with
        another thread's context become off-topic examples. The same text then appears with
        both labels, so only the context features can tell them apart. Each copy stays in
        its original's cross-validation group."""
        rng = np.random.default_rng(self.random_state)
        contexts = frame["context"].to_numpy()
        on_topic = np.nonzero((y == 0) & (frame["context"].str.strip() != "").to_numpy())[0]
        distinct: np.ndarray = np.unique(contexts[on_topic]) if len(on_topic) else np.array([], dtype=object)
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

    def _fit_label(
        self,
        M,
        y: np.ndarray,
        groups: np.ndarray | None = None,
        n_real: int | None = None,
        w: np.ndarray | None = None,
    ) -> tuple[LabelModel, np.ndarray]:
        """C by cross-validated AP, Platt calibration on out-of-fold scores, thresholds and
        metrics on the out-of-fold probabilities of the first ``n_real`` (labelled) rows."""
        w = np.ones(len(y)) if w is None else w
        folds = max(2, min(self.cv, int(y.sum()), int(len(y) - y.sum())))
        if groups is not None and len(np.unique(groups)) == len(groups):
            groups = None  # every row its own group: plain stratified folds
        if groups is None:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        else:
            splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        splits = list(splitter.split(np.zeros(len(y)), y, groups))
        # The matrix is laid out once (used columns, equal rows merged) and each fold's rows once;
        # along each fold's C path (ascending) a fit starts from the previous C's solution, and
        # the final fit from the mean of the chosen C's fold solutions (moderation.ml.logistic).
        problem = CompactProblem(M, y, w)
        decisions = {C: np.zeros(len(y)) for C in self.C_grid}
        solutions: dict[float, list[np.ndarray]] = {C: [] for C in self.C_grid}
        for train, test in splits:
            fold, w0 = problem.rows(train), None
            for C in sorted(decisions):
                _clf, w0 = self._solve(fold, C, w0)
                decisions[C][test] = problem.decision(w0, test)
                solutions[C].append(w0)
        best = None
        for C in self.C_grid:
            ap = average_precision_score(y, decisions[C], sample_weight=w)
            if best is None or ap > best[0] + 1e-9:
                best = (ap, C, decisions[C])
        assert best is not None  # C_grid is never empty
        _ap, C, decision = best
        a, b = platt(decision, y, w)
        oof = 1.0 / (1.0 + np.exp(-(a * decision + b)))
        n_real = len(y) if n_real is None else n_real
        yr, oof_real = y[:n_real], oof[:n_real]
        hold, reject = choose_thresholds(yr, oof_real, self.reject_precision)
        metrics = {
            "n": int(n_real),
            "positives": int(yr.sum()),
            "folds": folds,
            "C": C,
            **ranking_metrics(yr, oof_real),
            "hold": threshold_metrics(yr, oof_real, hold),
            "reject": threshold_metrics(yr, oof_real, reject),
        }
        if n_real < len(y):
            metrics["context_swapped_examples"] = int(len(y) - n_real)
        classifier, _w = self._solve(problem, C, np.mean(solutions[C], axis=0))
        return LabelModel(classifier, (a, b), hold, reject, metrics), oof_real

    def _solve(self, problem: CompactProblem, C: float, w0: np.ndarray | None) -> tuple[LogisticRegression, np.ndarray]:
        """``self._classifier(C)`` fitted on ``problem`` by :func:`~moderation.ml.logistic.fit_logistic`
        (liblinear's objective and stopping rule), from ``w0``; and its compact solution."""
        clf = self._classifier(C)
        return fit_logistic(
            problem, C, class_weight=clf.class_weight, tol=clf.tol, max_iter=clf.max_iter, w0=w0, estimator=clf
        )

    def _classifier(self, C: float) -> LogisticRegression:
        # What each classifier is: liblinear's primal problem (the intercept regularised like a
        # weight) at this tolerance, which _solve solves (fit_logistic: same problem, same
        # stopping rule, faster); the loose tolerance changes the cross-validated AP by < 0.001.
        return LogisticRegression(
            C=C,
            solver="liblinear",
            class_weight=self.class_weight,
            max_iter=300,
            tol=1e-3,
            random_state=self.random_state,
        )

    # ----------------------------------------------------------------------- scoring
    def features(self, X):
        """The feature matrix of comments (a frame with ``text`` and ``context``, or strings)."""
        check_is_fitted(self, "featurizer_")
        return self.featurizer_.transform(as_frame(X)).tocsr()

    def scorer(self) -> Scorer | None:
        """The model laid out for scoring (built on first use; None for a featurizer or
        classifier :class:`Scorer` does not know, which scikit-learn's own calls then score)."""
        check_is_fitted(self, "labels_")
        if "_scorer" not in self.__dict__:
            self.__dict__["_scorer"] = Scorer(self) if Scorer.supports(self) else None
        return self.__dict__["_scorer"]

    def proba(self, texts: list[str], contexts: list[str] | None = None) -> dict[str, np.ndarray]:
        """Calibrated probabilities of comments given as lists, one array per label in
        ``labels`` (NaN where untrained): :meth:`predict_proba` without the DataFrames.

        Examples
        --------
        >>> from moderation.ml.artifacts import load_model
        >>> from moderation.moderator import default_model_path
        >>> model, _ = load_model(default_model_path())
        >>> p = model.proba(["ﾁｮﾝは帰れ"], [""])
        >>> bool(p["slur"][0] > 0.5), sorted(p) == sorted(model.labels)
        (True, True)
        """
        contexts = [""] * len(texts) if contexts is None else contexts
        comments = Comments(list(texts), list(contexts))
        scorer = self.scorer()
        out: dict[str, np.ndarray] = {}
        if scorer is not None:
            P = scorer.proba(comments)
            columns_of = {label: P[:, j] for j, label in enumerate(scorer.labels)}
        else:
            M = self.featurizer_.transform(as_frame(pd.DataFrame({"text": comments.texts, "context": contexts})))
            M = M.tocsr()
            columns_of = {label: lm.proba(M) for label, lm in self.labels_.items()}
        for label in self.labels:
            out[label] = columns_of[label] if label in columns_of else np.full(len(texts), np.nan)
        return out

    def predict_proba(self, X) -> pd.DataFrame:
        """Calibrated probabilities, one column per label in ``labels`` (NaN where untrained)."""
        check_is_fitted(self, "featurizer_")
        texts, contexts = columns(X)
        return pd.DataFrame(self.proba(texts, contexts), columns=list(self.labels))

    def __getstate__(self):
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k not in ("_scorer", "_widths")}

    def predict(self, X) -> pd.DataFrame:
        """Per label, 1 where the probability reaches the label's ``hold`` threshold, else 0
        (what would be shown to a moderator); untrained labels are 0."""
        probs = self.predict_proba(X)
        thresholds = self.thresholds()
        return pd.DataFrame(
            {
                label: (probs[label].to_numpy() >= thresholds[label]["hold"]).astype(int)
                if label in thresholds
                else np.zeros(len(probs), dtype=int)
                for label in self.labels
            }
        )

    def score(self, X, Y) -> float:
        """Mean average precision over the labels known in ``Y`` (for model selection)."""
        probs = self.predict_proba(X)
        Y = pd.DataFrame(Y).reset_index(drop=True)
        aps = []
        for label in self.labels:
            if label in Y.columns and label in self.labels_:
                known = Y[label].notna().to_numpy()
                if known.any() and Y[label][known].nunique() == 2:
                    aps.append(average_precision_score(Y[label][known].astype(int), probs[label][known]))
        return float(np.mean(aps)) if aps else float("nan")

    def thresholds(self) -> dict:
        """``{label: {"hold": p, "reject": p}}`` of every trained label."""
        check_is_fitted(self, "labels_")
        return {label: {"hold": lm.hold, "reject": lm.reject} for label, lm in self.labels_.items()}

    def explain(self, text: str, context: str, label: str, *, top: int = 3) -> list[Reason]:
        """The spans of ``text`` that raised ``label`` most (see :func:`moderation.ml.explain.explain`)."""
        from .explain import explain

        return explain(self, text, context, label, top=top)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["string"], "multioutput": True}
