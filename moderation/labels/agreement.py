"""Agreement between annotators, and the counts behind ``moderation labels stats``.

Agreement is measured per label on the comments that two or more annotators labeled (each
annotator's standing label, undo applied): Cohen's kappa (:func:`cohen_kappa`) when the files
have two annotators, Krippendorff's alpha (:func:`krippendorff_alpha`, nominal) when they have
more.

Examples
--------
>>> cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0])
0.5
>>> round(krippendorff_alpha([[1, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 0]]), 4)
0.3889
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

from ..core import LABELS
from .events import latest_by_annotator, resolve


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two annotators' labels on the same items.

    Computed by :func:`sklearn.metrics.cohen_kappa_score`; None when it is undefined (no
    items, or both annotators gave one single value, so chance agreement is 1).

    Parameters
    ----------
    a, b : sequence
        The two annotators' values, item by item.

    Returns
    -------
    float or None

    Raises
    ------
    ValueError
        When the sequences differ in length.

    Examples
    --------
    >>> round(cohen_kappa([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0, 1, 1, 0]), 6)  # (0.8 - 0.52) / 0.48
    0.583333
    >>> cohen_kappa([0, 0], [0, 0]) is None
    True
    """
    if len(a) != len(b):
        raise ValueError("both annotators need a label for every item")
    values = sorted(set(a) | set(b))
    if not a or len(values) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(list(a), list(b), labels=values))


# scikit-learn has no Krippendorff's alpha (sklearn.metrics only has the two-rater Cohen's
# kappa), and the `krippendorff` package would be a new dependency for these few lines; the
# nominal alpha from the coincidence matrix, as Krippendorff (2011) defines it, is kept here.
def krippendorff_alpha(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data.

    Parameters
    ----------
    units : iterable of sequence
        Per item, the values it got (any number of annotators, missing ones left out).
        Units with fewer than two values are not pairable and are ignored.

    Returns
    -------
    float or None
        None when undefined (no pairable unit, or one single value throughout).

    Examples
    --------
    >>> round(krippendorff_alpha([[1, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 0]]), 6)   # 1 - 11 * 4 / 72
    0.388889
    >>> krippendorff_alpha([[1, 1], [1, 1]]) is None
    True
    """
    coincidence: dict[tuple, float] = defaultdict(float)
    for unit in units:
        values = list(unit)
        m = len(values)
        if m < 2:
            continue
        counts: dict = defaultdict(int)
        for v in values:
            counts[v] += 1
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                coincidence[(c, k)] += pairs / (m - 1)
    if not coincidence:
        return None
    marginals: dict = defaultdict(float)
    for (c, _k), v in coincidence.items():
        marginals[c] += v
    n = sum(marginals.values())
    observed = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(marginals[c] * marginals[k] for c in marginals for k in marginals if c != k)
    if expected == 0:
        return None
    return 1 - (n - 1) * observed / expected


def label_stats(events: Iterable[dict]) -> dict:
    """Counts and agreement of the standing labels in label events (undo applied; each
    annotator's latest label per comment).

    Parameters
    ----------
    events : iterable of dict

    Returns
    -------
    dict
        - ``events``, ``comments``: how many of each.
        - ``annotators``: per annotator, the comments labeled and the positives per label.
        - ``resolved``: per label, the comments with a resolved label and how many are positive.
        - ``agreement``: per label, the comments that at least two annotators labeled
          (``items``), the share of agreeing annotator pairs (``observed``), the ``measure``
          (``cohen_kappa`` with two annotators, ``krippendorff_alpha`` with more, None with
          one) and its ``value`` (None with one annotator or when it is undefined).
        - ``disagreements``: comments where annotators gave different values for a label,
          with each annotator's labels.

    Examples
    --------
    >>> ev = [{"id": i, "text": "", "annotator": a, "labels": {"slur": v}}
    ...       for i, (x, y) in enumerate([(1, 1), (0, 0), (1, 0), (0, 0)]) for a, v in (("m1", x), ("m2", y))]
    >>> stats = label_stats(ev)
    >>> stats["agreement"]["slur"]["measure"], round(stats["agreement"]["slur"]["value"], 4)
    ('cohen_kappa', 0.5)
    >>> [d["id"] for d in stats["disagreements"]]
    ['2']
    """
    events = list(events)
    standing = latest_by_annotator(events)
    by_item: dict[str, dict[str, dict]] = defaultdict(dict)
    texts: dict[str, str] = {}
    order: list[str] = []
    for (cid, annotator), event in standing.items():
        if cid not in by_item:
            order.append(cid)
        given = event.get("labels")
        labels = given if isinstance(given, dict) else {}
        by_item[cid][annotator] = {k: int(v) for k, v in labels.items() if k in LABELS and v in (0, 1)}
        texts[cid] = event.get("text") or texts.get(cid, "")
    annotators = sorted({a for labels in by_item.values() for a in labels})
    per_annotator = {a: {"comments": 0, **{label: 0 for label in LABELS}} for a in annotators}
    for labels in by_item.values():
        for a, given in labels.items():
            per_annotator[a]["comments"] += 1
            for label in LABELS:
                per_annotator[a][label] += given.get(label, 0)
    resolved = {label: {"known": 0, "positive": 0} for label in LABELS}
    for row in resolve(events):
        for label, value in row["labels"].items():
            if label in resolved:
                resolved[label]["known"] += 1
                resolved[label]["positive"] += int(value)
    measure = "cohen_kappa" if len(annotators) == 2 else "krippendorff_alpha" if len(annotators) > 2 else None
    agreement = {}
    for label in LABELS:
        units = []
        for cid in order:
            values = [labels[label] for labels in by_item[cid].values() if label in labels]
            if len(values) >= 2:
                units.append((cid, {a: labels[label] for a, labels in by_item[cid].items() if label in labels}))
        pairs = agree = 0
        for _cid, given in units:
            vals = list(given.values())
            for i in range(len(vals)):
                for j in range(i + 1, len(vals)):
                    pairs += 1
                    agree += vals[i] == vals[j]
        value = None
        if measure == "cohen_kappa":
            a1, a2 = annotators
            value = cohen_kappa([g[a1] for _c, g in units], [g[a2] for _c, g in units])
        elif measure == "krippendorff_alpha":
            value = krippendorff_alpha([list(g.values()) for _c, g in units])
        agreement[label] = {
            "items": len(units),
            "observed": (agree / pairs) if pairs else None,
            "measure": measure,
            "value": value,
        }
    disagreements = []
    for cid in order:
        given = by_item[cid]
        if len(given) < 2:
            continue
        differ = [label for label in LABELS if len({g[label] for g in given.values() if label in g}) > 1]
        if differ:
            disagreements.append(
                {"id": cid, "text": texts.get(cid, ""), "labels": differ, "by": {a: given[a] for a in sorted(given)}}
            )
    return {
        "events": len(events),
        "comments": len(by_item),
        "annotators": per_annotator,
        "resolved": resolved,
        "agreement": agreement,
        "disagreements": disagreements,
    }
