"""Deprecated location; moved to moderation.io (readers in moderation.io.readers, records and
errors in moderation.core). Re-exports the names other modules still import from here."""

from .core import FIELDS, Comment, ExtractError  # noqa: F401
from .io.board_text import clean_text  # noqa: F401
from .io.decode import decode  # noqa: F401
from .io.extract import extract, extract_file, extract_frame  # noqa: F401
from .io.readers.dat import parse_dat  # noqa: F401
from .io.readers.html import parse_html  # noqa: F401
from .io.readers.scrape import parse_scrape  # noqa: F401
from .io.readers.tabular import iter_csv, iter_jsonl  # noqa: F401
from .io.registry import INPUT_FORMATS  # noqa: F401
from .io.walk import walk  # noqa: F401
