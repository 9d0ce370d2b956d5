"""The habits CI keeps: lint and format (ruff), types (mypy) and the import layers
(import-linter: apps > training > moderator > policy > labels > ml | io > context > core).
Each check runs the real tool on the real tree and fails with its report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    tool = BIN / args[0] if (BIN / args[0]).exists() else shutil.which(args[0])
    if tool is None:
        pytest.fail(f"{args[0]} is not installed: pip install -e '.[test]'")
    return subprocess.run([str(tool), *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",), ("lint-imports",)],
    ids=lambda c: " ".join(c),
)
def test_code_quality(command):
    result = _run(*command)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
