"""The model's view of the offered comments: scores for all of them up front (in one batch),
spans on demand, and the uncertainty that ``--order uncertain`` ranks by.

Examples
--------
>>> round(_logit(0.5), 6)
0.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ...core import LABELS
from .items import Item

if TYPE_CHECKING:
    import numpy as np

    from ...moderator import Moderator


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class ModelView:
    """A loaded :class:`moderation.moderator.Moderator` applied to the offered items: scores for
    all of them up front (in one batch), spans on demand, uncertainty for ``--order uncertain``.

    Actions and flags come from the moderator's :class:`~moderation.policy.Decider` (its
    thresholds and off-topic rule, as ``moderation score`` decides), without a forum's block
    and watch terms.

    Parameters
    ----------
    moderator : moderation.moderator.Moderator
    items : sequence of Item
    keep_features : bool
        Keep the feature matrix (needed to refit the light model of ``--order uncertain``).
    chunk : int
        Items scored per batch.

    Attributes
    ----------
    probs : dict of str to numpy.ndarray
        Per label, the probability of each item (NaN for a label the model lacks).
    actions : list of str
    flagged : list of list of str
        Per item, the labels past their hold threshold.
    thresholds : dict
    version : str or None

    Examples
    --------
    >>> from moderation.moderator import Moderator
    >>> from moderation.io.readers.scrape import parse_scrape
    >>> from moderation.apps.labeling.items import collect_items
    >>> items = collect_items(parse_scrape("在韓米軍の話\\n>>1\\n下朝鮮は黙ってろ", thread="t"))
    >>> view = ModelView(Moderator.load(), items)
    >>> view.flagged[1]
    ['slur', 'delete']
    """

    def __init__(self, moderator: Moderator, items: Sequence[Item], *, keep_features: bool = False, chunk: int = 2000):
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp

        self.moderator = moderator
        self.model = moderator.model
        self.thresholds = moderator.thresholds
        self.version = moderator.info.get("version")
        self.items = list(items)
        self.labels = [label for label in LABELS if label in self.model.labels_]
        probs: dict[str, list] = {label: [] for label in LABELS}
        blocks = []
        for start in range(0, len(self.items), chunk):
            part = self.items[start : start + chunk]
            frame = pd.DataFrame({"text": [i.text for i in part], "context": [i.context for i in part]})
            M = self.model.features(frame)
            for label in LABELS:
                lm = self.model.labels_.get(label)
                probs[label].append(lm.proba(M) if lm is not None else np.full(M.shape[0], np.nan))
            if keep_features:
                blocks.append(M)
        self.probs = {label: (np.concatenate(v) if v else np.zeros(0)) for label, v in probs.items()}
        frame = pd.DataFrame(self.probs)
        has_context = [bool(i.context.strip()) for i in self.items]  # as Moderator.decide does
        self.actions, self.flagged = moderator.decider.decide(frame, has_context) if len(frame) else ([], [])
        self.features = (sp.vstack(blocks).tocsr() if blocks else None) if keep_features else None
        self._explained: dict[int, list[dict]] = {}
        self._stacked = None

    def scores(self, index: int) -> dict[str, float | None]:
        """``{label: probability or None}`` for one item."""
        out = {}
        for label in LABELS:
            p = float(self.probs[label][index])
            out[label] = None if p != p else p
        return out

    def explained(self, index: int) -> list[dict] | None:
        """The spans behind the item's flags, if they were computed already (else None)."""
        return self._explained.get(index)

    def explain(self, index: int, *, stop: Callable[[], bool] | None = None) -> list[dict] | None:
        """Compute (and cache) the spans behind each flagged label of one item.

        It takes about 25 ms per flagged label, so the terminal loop calls it while
        waiting for a key.

        Parameters
        ----------
        index : int
        stop : callable, optional
            Checked between labels; when it returns True the work is abandoned (None) and
            done again later.

        Returns
        -------
        list of dict or None
            Reasons as :meth:`moderation.core.Reason.to_dict` gives them.
        """
        if index in self._explained:
            return self._explained[index]
        item = self.items[index]
        reasons: list[dict] = []
        for label in self.flagged[index]:
            if stop is not None and stop():
                return None
            reasons.extend(r.to_dict() for r in self.model.explain(item.text, item.context, label))
        self._explained[index] = reasons
        return reasons

    def store(self, index: int, reasons: list[dict]) -> None:
        """Keep spans computed elsewhere (by the :class:`~moderation.apps.labeling.worker.Background` worker)."""
        self._explained[index] = reasons

    def rank(self, known: dict[int, dict], indices: Sequence[int]) -> tuple[list[int], list[str]]:
        """``indices`` ordered by :meth:`refit_margins`, least certain first (ties keep their
        order), and the labels that got a refitted model."""
        margins, refitted = self.refit_margins(known, indices)
        return [i for _m, _pos, i in sorted(zip(margins, range(len(indices)), indices, strict=True))], refitted

    def margins(self, indices: Sequence[int] | None = None) -> np.ndarray:
        """How far each item is from a decision: the smallest distance, over labels, between
        the score and the label's hold threshold on the logit scale (smaller = less certain).

        Parameters
        ----------
        indices : sequence of int, optional
            Items to measure (default: all).

        Returns
        -------
        numpy.ndarray
            ``inf`` for an item no label with a hold threshold scores.
        """
        import numpy as np

        idx = np.arange(len(self.items)) if indices is None else np.asarray(indices, dtype=int)
        out = np.full(len(idx), np.inf)
        for label in self.labels:
            hold = self.thresholds.get(label, {}).get("hold")
            if hold is None or hold >= 1:
                continue
            p = np.clip(self.probs[label][idx], 1e-6, 1 - 1e-6)
            m = np.abs(np.log(p / (1 - p)) - _logit(hold))
            out = np.fmin(out, m)
        return out

    def refit_margins(
        self, known: dict[int, dict], indices: Sequence[int], *, min_each: int = 2
    ) -> tuple[np.ndarray, list[str]]:
        """Margins from a light model refitted on the labels so far, for ``indices``.

        For each label with at least ``min_each`` positive and negative labels among the
        items, a logistic regression (liblinear, balanced classes) is fitted on the base
        model's three logits and its features, and the margin is the absolute value of its
        decision function. Labels with too few labels so far keep the base model's margin.

        Parameters
        ----------
        known : dict
            Item index → its labels so far.
        indices : sequence of int
        min_each : int

        Returns
        -------
        margins : numpy.ndarray
        refitted : list of str

        Raises
        ------
        ValueError
            When the view was built without ``keep_features=True``.
        """
        import numpy as np
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        idx = np.asarray(indices, dtype=int)
        if self.features is None:
            raise ValueError("ModelView was built without keep_features=True")
        if self._stacked is None:
            logits = np.column_stack(
                [
                    np.nan_to_num(
                        np.log(
                            np.clip(self.probs[label], 1e-6, 1 - 1e-6)
                            / (1 - np.clip(self.probs[label], 1e-6, 1 - 1e-6))
                        )
                    )
                    for label in LABELS
                ]
            )
            stacked = sp.hstack([sp.csr_matrix(logits), self.features]).tocsr()
            # Only the columns some offered comment uses: liblinear's cost grows with the column count.
            used = np.unique(np.concatenate([np.arange(len(LABELS)), stacked.indices]))
            self._stacked = stacked[:, used].tocsr()
        X: Any = self._stacked
        out = np.full(len(idx), np.inf)
        refitted = []
        for label in self.labels:
            rows = [i for i, labels in known.items() if labels.get(label) in (0, 1)]
            y = np.array([known[i][label] for i in rows], dtype=int)
            hold = self.thresholds.get(label, {}).get("hold")
            if len(rows) and y.sum() >= min_each and len(y) - y.sum() >= min_each:
                clf = LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced", max_iter=200)
                clf.fit(X[rows], y)
                m = np.abs(clf.decision_function(X[idx])) if len(idx) else np.zeros(0)
                refitted.append(label)
            elif hold is not None and hold < 1:
                p = np.clip(self.probs[label][idx], 1e-6, 1 - 1e-6)
                m = np.abs(np.log(p / (1 - p)) - _logit(hold))
            else:
                continue
            out = np.fmin(out, m)
        return out, refitted
