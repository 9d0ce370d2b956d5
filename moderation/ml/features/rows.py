"""One comment's features without a batch's bookkeeping: the hook's path.

A view's ``transform`` is written for batches; for one comment, building its sparse row costs
more than its features. :func:`one_row` gives a view's row of one comment as (column indices,
float32 values), bit for bit what ``transform`` stores (so one comment scores exactly as it
does in a batch, whichever entry point it comes through):

- the n-gram and subword views through their own ``row`` (no sparse matrix at all), the
  thread and relevance views through their own ``context_row`` (the batch's code on one
  comment, without the sparse matrix around it);
- the lexicon and group-hostility views through their own per-text row code, without the
  sparse matrix around it (:func:`lexicon_row`, :func:`groups_row`), used only for a
  transformer whose ``transform`` they reproduce exactly on :data:`PROBES`;
- any other view through its ``transform`` of one comment.

The last row of each view is remembered for a few comments: explaining a comment reads the
row its score used.

Examples
--------
>>> import pandas as pd
>>> from moderation.ml.features.lexicon import LexiconFeatures
>>> lf = LexiconFeatures().fit([""])
>>> idx, val = one_row(lf, "下朝鮮w", "")
>>> bool((lf.transform(["下朝鮮w"]).toarray()[0, idx] == val).all())
True
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .base import Comments
from .groups import GroupHostilityFeatures
from .lexicon import LexiconFeatures

Row = tuple[np.ndarray, np.ndarray]


def _sparse(values: np.ndarray) -> Row:
    nz = np.flatnonzero(values)
    return nz, values[nz].astype(np.float32)


def lexicon_row(lf: LexiconFeatures, text: str, context: str) -> Row:
    """:meth:`LexiconFeatures.transform` of one comment (its own row, without a sparse matrix)."""
    return _sparse(np.asarray(lf._row(lf.lexicon_.match_entries(text)), dtype=np.float32))


def groups_row(gf: GroupHostilityFeatures, text: str, context: str) -> Row:
    """:meth:`GroupHostilityFeatures.transform` of one comment (its own row, without a sparse matrix)."""
    return _sparse(np.asarray(gf._row(text, spans=False)[0], dtype=np.float32))


_ROWS: dict[type, Callable[..., Row]] = {LexiconFeatures: lexicon_row, GroupHostilityFeatures: groups_row}

#: Comments and contexts a row function is checked on (exact equality) before it is used.
PROBES = (
    ("米軍の撤退は早い", "在韓米軍の役割\n米軍は撤退すべき\n経済の話"),
    ("今日のラーメンうまい www http://example.com 稼げる", "在韓米軍の役割"),
    ("그건 너의 생각일뿐이다.", "日本代表\n試合楽しみ\nいい試合"),
    ("lol", ""),
    ("", "タイトルだけ"),
    ("ﾁｮﾝは帰れ！！！！ 下朝鮮 クルド人は全員犯罪者だ", "韓国の経済政策について\n\n  \nチョンは帰れ"),
)

_CHECKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def row_function(trans) -> Callable[[str, str], Row] | None:
    """The fast one-comment function of a fitted view, or None (its ``transform`` serves):
    its own ``row``, or a function of :data:`_ROWS` that gives exactly its ``transform``'s
    row on :data:`PROBES` (checked once per transformer)."""
    own = getattr(trans, "row", None)
    if own is not None:
        return lambda text, _context: own(text)
    with_context = getattr(trans, "context_row", None)
    if with_context is not None:
        return with_context
    try:
        return _CHECKED[trans][0]
    except (KeyError, TypeError):
        pass
    fn = _ROWS.get(type(trans))
    row: Callable[[str, str], Row] | None = None
    if fn is not None:

        def candidate(text: str, context: str) -> Row:
            return fn(trans, text, context)

        row = candidate
        try:
            for text, context in PROBES:
                if not _same(_transform_row(trans, text, context), candidate(text, context)):
                    row = None
                    break
        except Exception:  # a transformer the function does not understand: its own transform
            row = None
    with contextlib.suppress(TypeError):  # not weakly referenceable: checked again next time
        _CHECKED[trans] = (row,)
    return row


def _same(a: Row, b: Row) -> bool:
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[1].dtype == b[1].dtype


def _transform_row(trans, text: str, context: str) -> Row:
    x = trans.transform(Comments([text], [context]))
    x = x.tocsr() if sp.issparse(x) else sp.csr_matrix(x)
    x.sort_indices()
    return x.indices.astype(np.int64), x.data.astype(np.float32, copy=False)


def one_row(trans, text: str, context: str) -> Row:
    """A view's row of one comment as (sorted column indices, float32 values), exactly its
    ``transform``'s; remembered for the last few comments of each view."""
    try:
        memo = _MEMO.setdefault(trans, {})
    except TypeError:
        memo = {}
    key = (text, context)
    found = memo.get(key)
    if found is None:
        fn = row_function(trans)
        found = fn(text, context) if fn is not None else _transform_row(trans, text, context)
        if len(memo) >= 16:
            memo.clear()
        memo[key] = found
    return found


def dense_row(trans, text: str, context: str) -> np.ndarray:
    """``trans.transform`` of one comment as a dense float row (what a view's explanation reads)."""
    idx, val = one_row(trans, text, context)
    out = np.zeros(len(trans.get_feature_names_out()), dtype=np.float64)
    out[idx] = val
    return out
