"""Feature transformers: scikit-learn estimators that plug into a Pipeline or FeatureUnion.

Every transformer takes comments as a pandas DataFrame with a ``text`` column and an
optional ``context`` column (the thread's title, article and earlier posts), or simply as a
list of strings. Each can also say, for one comment, how much every character of the original
text contributed to a linear model's score (:meth:`char_contributions`): that is how a flag is
explained with spans.

- :class:`CharNgrams`: hashed character n-grams of the normalised or the obfuscation-folded
  view, TF-IDF weighted, computed with numpy over a whole batch at once.
- :class:`SubwordUnits`: a unigram sentencepiece model trained on the training texts,
  TF-IDF over its pieces.
- :class:`LexiconFeatures`: hits of the shipped slur lexicon by kind and category.
- :class:`GroupHostilityFeatures`: a neutral group noun and a hostile construction in one
  clause (group-targeted hostility without a slur), and hostile constructions alone.
- :class:`ThreadFeatures`: similarity to the thread, script/language mismatch, link and
  advertising patterns (for ``off_topic``).

Examples
--------
>>> from moderation.ml.features import build_featurizer
>>> feats = build_featurizer()
>>> X = feats.fit_transform(["チョンは帰れ", "いい天気ですね", "韓国の経済政策について"])
>>> X.shape[0]
3
"""

from __future__ import annotations

from .base import as_frame, hashed_ngrams
from .groups import GroupHostility, GroupHostilityFeatures
from .lexicon import LexiconFeatures
from .ngrams import CharNgrams
from .subwords import SubwordUnits
from .thread import ThreadFeatures, script_shares
from .union import block_slices, build_featurizer

__all__ = [
    "CharNgrams",
    "GroupHostility",
    "GroupHostilityFeatures",
    "LexiconFeatures",
    "SubwordUnits",
    "ThreadFeatures",
    "as_frame",
    "block_slices",
    "build_featurizer",
    "hashed_ngrams",
    "script_shares",
]
