"""The house rules, checked by the suite: mypy --strict, ruff and ruff format are clean (the package, its
benchmarks and samples; ruff also the tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_is_clean():
    from mypy import api

    paths = [str(ROOT / part) for part in ("replayflow", "benchmarks", "samples")]
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), *paths])
    assert status == 0, stdout + stderr


def test_ruff_is_clean():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "replayflow", "tests", "benchmarks", "samples"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
