"""Handlers imported by worker processes and driver subprocesses in the tests (module-level, importable)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import replayflow


def _log(input: Any, line: str) -> None:
    with open(Path(input["dir"]) / "log.txt", "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


@replayflow.durable
def crashes_once(input: Any, ctx: Any) -> Any:
    """Step ``a``, then step ``b`` whose first run kills its own process (exit status 7)."""
    a = yield ctx.step(lambda: (_log(input, "a"), "a")[1], name="a")

    def b() -> str:
        _log(input, "b-start")
        marker = Path(input["dir"]) / "crashed"
        if not marker.exists():
            marker.write_text("yes")
            os._exit(7)
        return "b"

    b_result = yield ctx.step(b, name="b")
    return a + b_result


@replayflow.durable
def steps_and_a_wait(input: Any, ctx: Any) -> Any:
    """Steps a and b, an hour's wait, then step c that blocks while the ``block`` file exists."""
    a = yield ctx.step(lambda: (_log(input, "a"), "a")[1], name="a")
    b = yield ctx.step(lambda: (_log(input, "b"), "b")[1], name="b")
    yield ctx.wait(hours=1, name="an-hour")

    def c() -> str:
        _log(input, "c-start")
        while (Path(input["dir"]) / "block").exists():
            time.sleep(0.05)
        _log(input, "c-done")
        return "c"

    c_result = yield ctx.step(c, name="c")
    d = yield ctx.step(lambda: (_log(input, "d"), "d")[1], name="d")
    return a + b + c_result + d


def plain_exit(event: Any, context: Any) -> Any:
    sys.exit(int(event))


def sleeper(event: Any, context: Any) -> Any:
    print(f"sleeping {event}")
    time.sleep(float(event))
    return "woke"


def raises(event: Any, context: Any) -> Any:
    raise ValueError(f"bad {event}")
