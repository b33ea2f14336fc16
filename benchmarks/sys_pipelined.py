"""replayflow with pipelined checkpoints (``@durable(pipelined=True)``): first runs only.

The same workflow and checks as :mod:`benchmarks.sys_replayflow`; steps go on while the steps before them
are checkpointed in batches by the background sender.
"""

from __future__ import annotations

from collections.abc import Callable

from . import sys_replayflow
from .common import Sample

__all__ = ["NAME", "make_first_run"]

NAME = "replayflow, pipelined"


def make_first_run(n: int, latency: float) -> Callable[[], Sample]:
    """N new steps + the final one from an empty history against the stub, checkpoints pipelined."""
    return sys_replayflow.make_first_run(n, latency, pipelined=True)
