"""Applications on top of the library: the command line (:mod:`moderation.apps.cli`), the
HTTP hook and the labeling tool (:mod:`moderation.apps.labeling`)."""
