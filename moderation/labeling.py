"""Deprecated location; moved to moderation.apps.labeling (the tool), moderation.apps.cli.label and
moderation.apps.cli.labels (the commands) and moderation.labels (label files, agreement, export).
Re-exports the names other modules still import from here."""

from .apps.cli.label import default_annotator, label_cmd  # noqa: F401
from .apps.cli.labels import export_cmd, labels_group, print_stats, stats_cmd  # noqa: F401
from .apps.labeling.items import Item, collect_items, offerable  # noqa: F401
from .apps.labeling.model_view import ModelView  # noqa: F401
from .apps.labeling.screen import HELP, MAX_SHOWN_CHARS, REPLY_EXCERPT, Screen  # noqa: F401
from .apps.labeling.session import ENTER_KEYS, LABEL_KEYS, ORDERS, QUIT_KEYS, Session, View  # noqa: F401
from .apps.labeling.terminal import FRAME_END, TerminalError, keys_of, run_terminal  # noqa: F401
from .apps.labeling.worker import Background  # noqa: F401
from .core import LABELS as LABEL_NAMES  # noqa: F401
from .core import LabelFileError, Warn  # noqa: F401
from .labels.agreement import cohen_kappa, krippendorff_alpha, label_stats  # noqa: F401
from .labels.events import check_label_file, read_label_files  # noqa: F401
from .labels.export import EXPORT_COLUMNS, export_rows, write_export  # noqa: F401
