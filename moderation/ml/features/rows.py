"""One comment's features from the thread views without sparse matrices: the hook's path.

:class:`~moderation.ml.features.relevance.RelevanceFeatures` and
:class:`~moderation.ml.features.thread.ThreadFeatures` are written for batches: dozens of
scipy sparse operations whose fixed cost (tens of microseconds each) is nothing over 2,000
comments and everything for one. Here the same features of one comment are computed with
small dense arrays over the n-gram buckets that comment and its context use.

These functions mirror the batch code; they are used only while that code is the one they
were checked against (:data:`CHECKED`: a digest of each module's source) and only for a
fitted transformer whose output they reproduce on probe comments
(:func:`row_function`); otherwise the transformer's own ``transform`` is used. Features
agree with ``transform`` to float32 rounding (the sums run in another order).

Examples
--------
>>> import pandas as pd
>>> from moderation.ml.features.thread import ThreadFeatures
>>> X = pd.DataFrame({"text": ["米軍の撤退"], "context": ["在韓米軍の役割"]})
>>> tf = ThreadFeatures().fit(X)
>>> idx, val = thread_row(tf, "米軍の撤退", "在韓米軍の役割")
>>> bool(np.allclose(tf.transform(X).toarray()[0, idx], val, atol=1e-6))
True
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import weakref
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ..text import normalize_text
from . import relevance, thread
from .base import Comments, hashed_ngrams_one
from .groups import GroupHostilityFeatures
from .lexicon import LexiconFeatures
from .relevance import RelevanceFeatures
from .thread import ThreadFeatures

# thread.script_shares for one text: its ranges (disjoint) as bins of one sorted array.
_BOUNDS = np.array(sorted(x for _col, lo, hi in thread._SCRIPT_RANGES for x in (lo, hi + 1)), dtype=np.int64)
_BIN_COLUMN = np.full(len(_BOUNDS) + 1, 4, dtype=np.int64)  # column 4: outside every range
for _col, _lo, _hi in thread._SCRIPT_RANGES:
    _BIN_COLUMN[int(np.searchsorted(_BOUNDS, _lo, side="right"))] = _col


def script_shares_one(text: str) -> np.ndarray:
    """:func:`~moderation.ml.features.thread.script_shares` of one text (the same counts, so
    the same shares) with three numpy calls instead of thirty.

    Examples
    --------
    >>> script_shares_one("韓国はabc").round(2).tolist()
    [0.0, 0.17, 0.33, 0.5]
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    counts = np.bincount(_BIN_COLUMN[np.searchsorted(_BOUNDS, codes, side="right")], minlength=5)[:4]
    out = counts.astype(np.float64)
    total = out.sum()
    return out / total if total > 0 else np.zeros(4)


Row = tuple[np.ndarray, np.ndarray]

#: sha256 of the source of the modules these functions mirror, as they were checked.
CHECKED = {
    "relevance": "bd6d7ac78a1f1807fa1cb180ab8438f56a1a56022eb11330e28aca1fd70adb9d",
    "thread": "4f3f8fb528fb780998c634beac122a46884fd7e7f49ca55be1f8a9002269c514",
}


def source_digest(module) -> str:
    """The sha256 of a module's source (what :data:`CHECKED` records)."""
    return hashlib.sha256(inspect.getsource(module).encode("utf-8")).hexdigest()


@lru_cache(maxsize=256)
def _buckets(text: str, ngram_range: tuple[int, int], n_features: int) -> np.ndarray:
    """The distinct buckets of a text's normalised n-grams (remembered: a thread's title and
    posts come back with every comment of the thread)."""
    out = np.unique(hashed_ngrams_one(normalize_text(text), ngram_range, n_features)[2])
    out.flags.writeable = False
    return out


def _binary(texts: list[str], ngram_range: tuple[int, int], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted buckets the normalised ``texts`` use, and a dense 0/1 float32 row per text
    over them."""
    per_text = [_buckets(t, ngram_range, n_features) for t in texts]
    space = np.unique(np.concatenate(per_text))
    V = np.zeros((len(texts), len(space)), dtype=np.float32)
    for i, b in enumerate(per_text):
        V[i, np.searchsorted(space, b)] = 1.0
    return space, V


def _l2(M: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm as :func:`~moderation.ml.features.base.l2_rows` does (float32)."""
    norms = np.sqrt((M.astype(np.float64) ** 2).sum(axis=-1, keepdims=True))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (M * scale).astype(np.float32)


def _sparse(values: np.ndarray, offset: int = 0) -> Row:
    nz = np.flatnonzero(values)
    return nz + offset, values[nz].astype(np.float32)


# --------------------------------------------------------------------------- relevance


def relevance_row(rf: RelevanceFeatures, text: str, context: str) -> Row:
    """:meth:`RelevanceFeatures.transform` of one comment as (column indices, values)."""
    ngram_range = (int(rf.ngram_range[0]), int(rf.ngram_range[1]))
    lines = [ln for ln in context.split("\n") if ln.strip()]
    nl = len(lines)
    space, V = _binary([text, *lines, context], ngram_range, rf.n_features)
    W = V[: 1 + nl] * rf.idf_[space]
    tw, Lw = W[0], W[1:]
    t_mass = float(tw.sum(dtype=np.float64))
    T = _l2(tw)
    L = _l2(Lw)
    S = L.sum(axis=0, dtype=np.float64)
    S_norm = float(np.sqrt(S @ S))
    Cb = (Lw > 0).any(axis=0)

    coherence = 0.0
    if nl >= 2:
        d_ls = L.astype(np.float64) @ S
        l_norm2 = (L.astype(np.float64) ** 2).sum(axis=1)
        rest = np.sqrt(np.maximum(S_norm**2 - 2 * d_ls + l_norm2, 0))
        loo = np.divide(d_ls - l_norm2, rest, out=np.zeros_like(d_ls), where=rest > 1e-6)
        coherence = float(loo.sum() / nl)
    T64 = T.astype(np.float64)
    sim_whole = float(T64 @ S) / S_norm if S_norm > 0 else 0.0
    sim_title = best = top2 = 0.0
    if nl:
        sims = L.astype(np.float64) @ T64
        sim_title = float(sims[0])
        ordered = np.sort(sims)[::-1]
        best = float(ordered[0])
        top2 = 0.5 * (ordered[0] + ordered[1 if nl >= 2 else 0])
    tw64 = tw.astype(np.float64)
    containment = float(tw64[Cb].sum()) / t_mass if t_mass > 0 else 0.0
    containment_title = float(tw64[Lw[0] > 0].sum()) / t_mass if nl and t_mass > 0 else 0.0
    content = len(relevance._content(normalize_text(text)))
    length = len(text.strip())
    mean_line_mass = float(Lw.sum(axis=1, dtype=np.float64).sum() / nl) if nl else 0.0
    mass_ratio = np.log1p(t_mass) - np.log1p(mean_line_mass)
    phatic = float(content <= 3 or t_mass < 15.0)
    very_short = float(content <= 6)
    p = script_shares_one(text)
    q = script_shares_one("\n".join(lines[1:]))
    mismatch = 0.5 * np.abs(p - q).sum() * float(q.sum() > 0)
    rel_whole = sim_whole - coherence
    gate = 1.0 - phatic
    F = np.nan_to_num(
        np.array(
            [
                sim_whole,
                sim_title,
                best,
                top2,
                containment,
                containment_title,
                coherence,
                rel_whole,
                best - coherence,
                np.log1p(t_mass) / 5.0,
                mass_ratio,
                phatic,
                very_short,
                np.log1p(length) / 5.0,
                mismatch,
                float(nl > 0),
                np.log1p(nl) / 3.0,
                sim_whole * gate,
                containment * gate,
                max(rel_whole, 0) * gate,
                min(rel_whole, 0) * gate,
            ]
        )
    ).astype(np.float32)
    idx, val = _sparse(F)
    n_dense = len(F)
    if not rf.lexical_features:
        return idx, val
    in_context = V[-1] > 0
    present = tw != 0
    parts = [(idx, val)]
    for j, mask in enumerate((present & ~in_context, present & in_context)):
        cols, where = np.unique(space[mask] % rf.lexical_features, return_inverse=True)
        folded = np.bincount(where, weights=tw[mask], minlength=len(cols)).astype(np.float32)
        vals = _l2(folded[None, :])[0]
        parts.append((cols + n_dense + j * rf.lexical_features, vals))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --------------------------------------------------------------------------- thread


def thread_row(tf: ThreadFeatures, text: str, context: str) -> Row:
    """:meth:`ThreadFeatures.transform` of one comment as (column indices, values)."""
    lines = [ln for ln in context.split("\n") if ln.strip()]
    _space, V = _binary([text, context, *lines], (2, 3), tf.n_features)
    V = _l2(V).astype(np.float64)
    whole = float(V[0] @ V[1])
    best = float((V[2:] @ V[0]).max()) if lines else 0.0
    p = script_shares_one(text)
    has_ctx = 1.0 if context.strip() else 0.0
    q = script_shares_one(context) if has_ctx else np.array([0.0, 0.5, 0.5, 0.0])
    urls = len(thread._URL.findall(text))
    ads = len(thread._AD.findall(normalize_text(text)))
    features = np.array(
        [
            whole,
            has_ctx,
            best,
            p[0],
            p[3],
            p[1] + p[2],
            0.5 * np.abs(p - q).sum(),
            np.log1p(urls),
            np.log1p(ads),
            np.log1p(len(text)) / 5.0,
            float(len(text.strip()) <= 3),
            p[0] * (1.0 - q[0]),
        ]
    )
    if tf.n_features_out_ != len(thread._LEGACY_NAMES):
        features = features[thread._KEEP]
    return _sparse(features.astype(np.float32))


# --------------------------------------------------------------------------- lexicon and groups


def lexicon_row(lf: LexiconFeatures, text: str, context: str) -> Row:
    """:meth:`LexiconFeatures.transform` of one comment (its own row, without a sparse matrix)."""
    return _sparse(np.asarray(lf._row(lf.lexicon_.match_entries(text)), dtype=np.float32))


def groups_row(gf: GroupHostilityFeatures, text: str, context: str) -> Row:
    """:meth:`GroupHostilityFeatures.transform` of one comment (its own row, without a sparse matrix)."""
    return _sparse(np.asarray(gf._row(text, spans=False)[0], dtype=np.float32))


# --------------------------------------------------------------------------- choosing

# Per view: the module whose source a mirror was checked against (None: the function calls
# the view's own row code, mirrors nothing), and the function.
_ROWS: dict[type, tuple[str | None, object, Callable]] = {
    RelevanceFeatures: ("relevance", relevance, relevance_row),
    ThreadFeatures: ("thread", thread, thread_row),
    LexiconFeatures: (None, None, lexicon_row),
    GroupHostilityFeatures: (None, None, groups_row),
}

#: Comments and contexts the one-comment functions are checked on before they are used.
PROBES = (
    ("米軍の撤退は早い", "在韓米軍の役割\n米軍は撤退すべき\n経済の話"),
    ("今日のラーメンうまい www http://example.com 稼げる", "在韓米軍の役割"),
    ("그건 너의 생각일뿐이다.", "日本代表\n試合楽しみ\nいい試合"),
    ("lol", ""),
    ("", "タイトルだけ"),
    ("ﾁｮﾝは帰れ！！！！", "韓国の経済政策について\n\n  \nチョンは帰れ"),
)


_CHECKED_ROWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def row_function(trans) -> Callable[[str, str], Row] | None:
    """The one-comment function for a fitted ``trans``, or None: its type has none, its
    module's source is not the one the function was checked against, or it does not give
    ``trans.transform``'s features (within 1e-5) on :data:`PROBES`. Checked once per
    transformer."""
    try:
        return _CHECKED_ROWS[trans][0]
    except (KeyError, TypeError):
        pass
    row = _checked(trans)
    with contextlib.suppress(TypeError):  # not weakly referenceable: checked again next time
        _CHECKED_ROWS[trans] = (row,)
    return row


def dense_row(trans, text: str, context: str) -> np.ndarray:
    """``trans.transform`` of one comment as a dense float row (through its checked
    one-comment function when it has one): what a view's explanation reads."""
    row = row_function(trans)
    if row is None:
        return trans.transform(Comments([text], [context])).toarray()[0]
    idx, val = row(text, context)
    out = np.zeros(len(trans.get_feature_names_out()), dtype=np.float64)
    out[idx] = val
    return out


def _checked(trans) -> Callable[[str, str], Row] | None:
    entry = _ROWS.get(type(trans))
    if entry is None:
        return None
    name, module, fn = entry
    if name is not None and source_digest(module) != CHECKED[name]:
        return None
    memo: dict[tuple[str, str], Row] = {}

    def row(text: str, context: str) -> Row:
        # Remembered for a few comments: explaining a comment reads the row its score used.
        key = (text, context)
        found = memo.get(key)
        if found is None:
            found = fn(trans, text, context)
            if len(memo) >= 16:
                memo.clear()
            memo[key] = found
        return found

    try:
        for text, context in PROBES:
            expected = trans.transform(Comments([text], [context])).toarray()[0]
            got = np.zeros_like(expected)
            idx, val = row(text, context)
            got[idx] = val
            if not np.allclose(got, expected, rtol=0, atol=1e-5):
                return None
    except Exception:  # a transformer this function does not understand: its own transform
        return None
    return row
