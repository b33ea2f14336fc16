"""Scale curves: map, parallel, nested child contexts and many waits at 1k / 4k / 16k items.

Each workload runs on the embedded local service (virtual clock) in two invocations: the *first run*
does the new work (steps run, waits park and the invocation suspends), and the *replay* invocation,
after the timers fired, replays all of it and finishes. Both are timed per item; a curve is linear when
the time per item stays flat as the item count grows. The garbage collector's part is shown too (its full
collections in the first run and the time spent collecting, from ``gc.callbacks``): a full collection
traverses every live object, so rescanning the growing heap is what bent the first-run curves.
``tests/core/test_scale.py`` counts the work of the same workloads (lines run, objects the collector
scans, signals made per branch) so that flatness is also checked without a clock.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WORKLOADS", "ScaleRow", "run_scale", "run_workload", "scale_table"]

Workflow = Callable[[Any, Any], Generator[Any, Any, Any]]


def _double(x: int) -> int:
    return x * 2


def _timer_or_step(ctx: Any, item: int, index: int, items: Any) -> Generator[Any, Any, Any]:
    """Half the items park on a timer while the other half run steps."""
    if item % 2:
        yield ctx.wait(seconds=5, name="nap")
        return item
    return (yield ctx.step(_double, item, name="double"))


def map_half_timers(n: int) -> Workflow:
    """``ctx.map`` over ``n`` items, half waiting on a timer, half running a step."""

    def wf(_: Any, ctx: Any) -> Generator[Any, Any, Any]:
        result = yield ctx.map(list(range(n)), _timer_or_step, name="items")
        return len(result.get_results())

    return wf


def parallel_half_timers(n: int) -> Workflow:
    """``ctx.parallel`` of ``n`` branches, half waiting on a timer, half running a step."""

    def branch(i: int) -> Callable[[Any], Generator[Any, Any, Any]]:
        return lambda ctx: _timer_or_step(ctx, i, i, None)

    def wf(_: Any, ctx: Any) -> Generator[Any, Any, Any]:
        result = yield ctx.parallel([branch(i) for i in range(n)], name="branches")
        return len(result.get_results())

    return wf


def nested_children(n: int) -> Workflow:
    """``n`` steps in child contexts two deep (``n / 10`` outer children of 10 steps), then one wait."""

    def inner(ctx: Any, base: int) -> Generator[Any, Any, Any]:
        total = 0
        for j in range(10):
            total += yield ctx.step(_double, base + j, name="s")
        return total

    def outer(ctx: Any, base: int) -> Generator[Any, Any, Any]:
        return (yield ctx.run_in_child_context(lambda c: inner(c, base), name="inner"))

    def wf(_: Any, ctx: Any) -> Generator[Any, Any, Any]:
        total = 0
        for k in range(n // 10):
            total += yield ctx.run_in_child_context(lambda c, k=k: outer(c, k * 10), name="outer")
        yield ctx.wait(seconds=5, name="end")
        return total

    return wf


def many_waits(n: int) -> Workflow:
    """``ctx.map`` over ``n`` items that each wait on a timer (every frame parked at once)."""

    def body(ctx: Any, item: int, index: int, items: Any) -> Generator[Any, Any, Any]:
        yield ctx.wait(seconds=5, name="nap")
        return item

    def wf(_: Any, ctx: Any) -> Generator[Any, Any, Any]:
        result = yield ctx.map(list(range(n)), body, name="waits")
        return len(result.get_results())

    return wf


WORKLOADS: dict[str, Callable[[int], Workflow]] = {
    "map, half on timers": map_half_timers,
    "parallel, half on timers": parallel_half_timers,
    "nested child contexts": nested_children,
    "many waits (map)": many_waits,
}


@dataclass
class Invocation:
    """One invocation of a scale run: wall time, the collector's share and, if counted, the work it did."""

    seconds: float
    work: int = 0
    full_collections: int = 0
    gc_seconds: float = 0.0


class _CollectorWatch:
    """``gc.callbacks`` while an invocation runs: full collections and the time spent in collections."""

    def __init__(self) -> None:
        self.full = 0
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2

    def __enter__(self) -> _CollectorWatch:
        gc.callbacks.insert(0, self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def run_workload(
    name: str, n: int, measure: Callable[[], AbstractContextManager[Any]] | None = None, **options: Any
) -> list[Invocation]:
    """Run workload ``name`` at ``n`` items to its end; one :class:`Invocation` per invocation.

    ``measure()`` wraps every invocation (a work counter with a ``lines`` attribute, say); ``options`` go to
    :func:`replayflow.durable`.
    """
    import replayflow
    from replayflow.local import Limits, LocalDurableService

    durable = replayflow.durable(WORKLOADS[name](n), **options)
    invocations: list[Invocation] = []

    def handler(event: Any, context: Any) -> Any:
        with (measure or nullcontext)() as counter, _CollectorWatch() as watch:
            started = time.perf_counter()
            try:
                return durable(event, context)
            finally:
                elapsed = time.perf_counter() - started
                work = getattr(counter, "lines", 0)
                invocations.append(Invocation(elapsed, work, watch.full, watch.seconds))

    # the curves go past AWS's 3,000 operations per execution on purpose (16k items): raise the quota
    service = LocalDurableService(limits=Limits(max_operations=10 * n + 100))
    service.register("scale", handler)
    result = service.run("scale")
    expected = 2 * sum(range(n // 10 * 10)) if "nested" in name else n
    if not result.succeeded or result.value != expected:
        raise AssertionError(f"{name} at {n}: {result}")
    return invocations


@dataclass
class ScaleRow:
    """Medians of one workload at one size."""

    workload: str
    n: int
    first: list[float] = field(default_factory=list)
    replay: list[float] = field(default_factory=list)
    invocations: int = 0
    #: the first run's full collections and seconds spent collecting, per round
    first_full: list[int] = field(default_factory=list)
    first_gc: list[float] = field(default_factory=list)


def run_scale(ns: tuple[int, ...], rounds: int, log: Callable[[str], None] | None = None) -> list[ScaleRow]:
    """Every workload at every size, ``rounds`` times; the first and the last invocation are timed."""
    rows = []
    for name in WORKLOADS:
        for n in ns:
            row = ScaleRow(name, n)
            for r in range(rounds):
                gc.collect()
                invocations = run_workload(name, n)
                row.first.append(invocations[0].seconds)
                row.replay.append(invocations[-1].seconds)
                row.first_full.append(invocations[0].full_collections)
                row.first_gc.append(invocations[0].gc_seconds)
                row.invocations = len(invocations)
                if log:
                    log(f"  scale {name} N={n:,} round {r + 1}/{rounds}: first {invocations[0].seconds * 1e3:.0f} ms")
            rows.append(row)
    return rows


def scale_table(rows: list[ScaleRow]) -> str:
    """Markdown: per-item cost of the first run and the replay at each size, and its growth."""
    lines = [
        "| workload | items | first run, median | us/item | replay, median | us/item | invocations | "
        "us/item ÷ smallest (first / replay) | first run: full collections, collecting us/item |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base: dict[str, tuple[float, float]] = {}
    for row in rows:
        first, replay = statistics.median(row.first), statistics.median(row.replay)
        per_first, per_replay = first / row.n * 1e6, replay / row.n * 1e6
        smallest = base.setdefault(row.workload, (per_first, per_replay))
        full = statistics.median(row.first_full or [0])
        collecting = statistics.median(row.first_gc or [0]) / row.n * 1e6
        lines.append(
            f"| {row.workload} | {row.n:,} | {first * 1e3:,.1f} ms | {per_first:.1f} | {replay * 1e3:,.1f} ms | "
            f"{per_replay:.1f} | {row.invocations} | {per_first / smallest[0]:.2f} / {per_replay / smallest[1]:.2f} | "
            f"{full:.0f}, {collecting:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    for row in run_scale((1_000, 4_000), 1, log=lambda m: print(m, file=sys.stderr)):
        print(row.workload, row.n, statistics.median(row.first), statistics.median(row.replay))
