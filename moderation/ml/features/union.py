"""The feature pipeline the classifier uses: every view side by side."""

from __future__ import annotations

from sklearn.pipeline import FeatureUnion

from .groups import GroupHostilityFeatures
from .lexicon import LexiconFeatures
from .ngrams import CharNgrams
from .relevance import RelevanceFeatures
from .subwords import SubwordUnits
from .thread import ThreadFeatures


def build_featurizer(
    *, vocab_size: int = 8000, n_features: int = 1 << 19, min_df: int = 2, random_state: int | None = None
) -> FeatureUnion:
    """The feature pipeline the classifier uses: every view side by side.

    Examples
    --------
    >>> [name for name, _ in build_featurizer().transformer_list]
    ['chars', 'folded', 'subwords', 'lexicon', 'groups', 'context', 'relevance']
    """
    return FeatureUnion(
        [
            ("chars", CharNgrams("normalized", (1, 4), n_features, min_df)),
            ("folded", CharNgrams("folded", (2, 4), n_features, min_df)),
            ("subwords", SubwordUnits(vocab_size, min_df, random_state)),
            ("lexicon", LexiconFeatures()),
            ("groups", GroupHostilityFeatures()),
            ("context", ThreadFeatures()),
            ("relevance", RelevanceFeatures()),
        ]
    )


def block_slices(featurizer: FeatureUnion, X_sample) -> dict[str, slice]:
    """Where each block's columns sit in the union's output."""
    out, pos = {}, 0
    for name, trans in featurizer.transformer_list:
        width = trans.transform(X_sample).shape[1]
        out[name] = slice(pos, pos + width)
        pos += width
    return out
