"""Files in and out: decoding, walking directories, one reader per input format, atomic writes.

- :mod:`~moderation.io.decode`: bytes to text (encoding detection, binary files refused);
- :mod:`~moderation.io.registry`: the input formats, their readers
  (:mod:`moderation.io.readers`) and format detection; third-party readers plug in here;
- :mod:`~moderation.io.board_text`: what board text looks like (anchors, URLs, dates, …);
- :mod:`~moderation.io.walk`: the files a list of paths names;
- :mod:`~moderation.io.extraction`: :func:`extract`, :func:`extract_file`, :func:`extract_frame`;
- :mod:`~moderation.io.files`: atomic writes, JSONL and CSV rows.

The names below are imported on first use, so ``moderation.io.files`` does not load the readers.

Examples
--------
>>> from moderation.io import INPUT_FORMATS, extract
>>> INPUT_FORMATS[0]
'auto'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "extract": "extraction",
    "extract_file": "extraction",
    "extract_frame": "extraction",
    "INPUT_FORMATS": "registry",
    "Reader": "registry",
    "detect_format": "registry",
    "get_reader": "registry",
    "input_formats": "registry",
    "register": "registry",
    "decode": "decode",
    "detect_encoding": "decode",
    "walk": "walk",
    "atomic_write": "files",
    "write_csv": "files",
    "write_jsonl": "files",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
