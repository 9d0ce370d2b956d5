"""Shared paths and helpers for the test suite (real files, the real CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SEED = ROOT / "seeds" / "000_4f4399744ce36bb6.txt"
SHARED_DATA = ROOT.parent / "shared" / "data" / "ja-toxicity-inspection" / "subset.csv"


def run_cli(
    *args: str, input: str | None = None, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """The installed console script as a real subprocess."""
    exe = Path(sys.executable).with_name("moderation")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moderation"]
    return subprocess.run(
        cmd + list(args),
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def load_expected(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")
