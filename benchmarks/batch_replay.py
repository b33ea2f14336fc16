"""``python -m benchmarks.batch_replay``: dry-replay cost of batches, and of the batch identity checks alone.

Min of N repeats in process CPU time (a loaded machine inflates wall time). Run it on two commits to
compare; the identity checks are also timed in isolation, per batch and per item.
"""

from __future__ import annotations

import functools
import time
import timeit
from collections.abc import Callable
from typing import Any

import replayflow
from replayflow.testing import History, replay

REPEATS = 40


def _f(x: Any) -> Any:
    return x


@replayflow.durable
def steps(event: Any, ctx: Any) -> Any:
    for i in range(1000):
        yield ctx.step(_f, i, name="s")
    yield ctx.wait(seconds=5, name="w")


def _item(ctx: Any, x: Any, i: int, items: Any) -> Any:
    return (yield ctx.step(_f, x, name="s"))


@replayflow.durable
def mapped(event: Any, ctx: Any) -> Any:
    yield ctx.map(list(range(200)), _item, name="m")
    yield ctx.wait(seconds=5, name="w")


def _histories() -> dict[str, tuple[Any, History, int]]:
    many = History({})
    for i in range(1000):
        many.step("s", result=i)
    many.wait("w", seconds=5, elapsed=False)
    done = History({})
    with done.map("m", completed=True) as block:
        for i in range(200):
            block.item(result=i)
    done.wait("w", seconds=5, elapsed=False)
    running = History({})
    with running.map("m") as block:
        for i in range(200):
            with block.item():
                if i % 2:
                    running.step("s", result=i)
    return {
        "1,000 steps": (steps, many, 1001),
        "completed map of 200": (mapped, done, 2),
        "running map of 200": (mapped, running, 300),
    }


def _cpu(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    for label, (workflow, history, ops) in _histories().items():
        best = min(_cpu(functools.partial(replay, workflow, history)) for _ in range(REPEATS))
        print(f"{label:22s} {best / ops * 1e6:9.2f} us/op   ({ops} operations, dry replay, min of {REPEATS})")
    try:
        from replayflow._ops.batch import BatchConfig, CompletionConfig, Identity, MapOp, NestingType
    except ImportError:  # a commit from before the identity checks
        return
    op: MapOp[Any] = MapOp(
        list(range(200)), _item, "m", BatchConfig(None, CompletionConfig(), NestingType.NESTED, None, None), None
    )
    identity = Identity(op, "b" * 64, op.branches())
    summary = {"completionReason": "ALL_COMPLETED", "branchCount": 200, "items": []}
    n = 20_000
    count = min(timeit.repeat(lambda: identity.check_count(summary), number=n, repeat=10)) / n
    running = min(timeit.repeat(lambda: identity.check_in_flight({}), number=n, repeat=10)) / n
    print(f"identity: branch count check {count * 1e6:.2f} us per batch; running-batch check {running * 1e6:.2f} us")


if __name__ == "__main__":
    main()
