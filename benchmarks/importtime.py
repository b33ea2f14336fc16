"""Cold ``import`` time in fresh interpreters (``-X importtime``), and whether boto3 came along.

Both packages are measured with their bytecode cached, as an installed package is (pip compiles a wheel's
modules when it installs them). An editable install under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise
compile replayflow from source on every import while the official SDK's site-packages have their ``.pyc``
files: the child processes get an environment without that variable, and one warm-up run writes the cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

__all__ = ["import_time", "imports_boto3"]


_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _once(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=_ENV,
    )
    for line in out.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6  # cumulative microseconds
    raise RuntimeError(f"no importtime line for {module}:\n{out.stderr[-2000:]}")


def import_time(module: str, runs: int = 7) -> tuple[float, list[float]]:
    """Median and samples of the cumulative import time of ``module``, one fresh process per run."""
    _once(module)  # writes the bytecode cache if it is missing
    samples = [_once(module) for _ in range(runs)]
    return statistics.median(samples), samples


def imports_boto3(module: str) -> bool:
    """Whether ``import module`` puts boto3 (or botocore) into ``sys.modules``."""
    code = f"import sys, {module}; print(int('boto3' in sys.modules or 'botocore' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "1"
