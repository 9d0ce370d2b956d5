"""The classifier: text normalisation, the slur lexicon, feature views, the per-label
estimator with its calibration and thresholds, explanations and model artifacts.

Nothing here knows about files of threads (:mod:`moderation.io`), label files
(:mod:`moderation.labels`) or actions (:mod:`moderation.policy`).
"""
