"""Deprecated location; moved to moderation.apps.report."""
from .apps.report import *  # noqa: F401,F403
from .apps.report import console_for, highlighted, print_metrics, print_records, print_scored  # noqa: F401
