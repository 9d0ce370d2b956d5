"""The labeling tool (``moderation label``): moderators build ground truth in the terminal, fast,
and never lose a label.

- :mod:`~moderation.apps.labeling.items`: the comments offered, with their thread title, the
  posts they reply to and their context (:mod:`moderation.context`, as scoring builds it);
- :mod:`~moderation.apps.labeling.session`: the session as a pure state machine (queue,
  toggles, save, undo, skip, re-ranking) and the view-model of what to show;
- :mod:`~moderation.apps.labeling.model_view`: the model's scores, spans and uncertainty;
- :mod:`~moderation.apps.labeling.screen`: drawing a view with rich;
- :mod:`~moderation.apps.labeling.terminal`: the raw-terminal key loop;
- :mod:`~moderation.apps.labeling.worker`: spans and refits in a forked worker, or between keys.

Label files and their rules (undo events, resolution) belong to :mod:`moderation.labels`;
the tool only appends to them. Importing this package is cheap: pandas, scikit-learn and
rich are loaded when a command needs them.
"""

from .items import Item, collect_items, offerable  # noqa: F401
from .session import LABEL_KEYS, ORDERS, Session, View  # noqa: F401
